"""How the admin API reads what it is sent: bodies (JSON, and YAML for the registry) and
query parameters, with refusals that say what to send instead of pydantic's words."""

from __future__ import annotations

import email.message
import json
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from sqlalchemy.orm.exc import StaleDataError
from starlette.requests import ClientDisconnect

from hub.core.hints import unknown_key
from hub.registry import service as registry
from hub.registry.yamlio import NESTED, YAML_FIXES, RegistryFileError, decode

# What `curl -d @file.yaml` sends: curl drops a file's line breaks with -d, not with
# --data-binary, and YAML without them rarely parses.
ONE_LINE = (
    "the body came as one line: curl -d @FILE drops a file's line breaks, "
    "send it with --data-binary @FILE"
)
YAML_TYPES = frozenset({"application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml"})
SEND_JSON = "send the body as JSON with the header 'Content-Type: application/json'"
GONE = (
    "the entry was deleted by another change made at the same time, so this one was not "
    "made; read it again (GET) to see what is there"
)
CURL_FORM = "curl -d alone sends it as a form: add -H 'content-type: application/json'"


def media_type(request: Request) -> str | None:
    """The request's content type without its parameters, lower case; None when not sent."""
    value = request.headers.get("content-type")
    if not value:
        return None
    message = email.message.Message()
    message["content-type"] = value
    return message.get_content_type()


def is_json(media: str | None) -> bool:
    return media is not None and media.startswith("application/") and media.endswith("json")


def _query_names(dependant: Dependant) -> set[str]:
    """The query parameters a route reads, its dependencies' included."""
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


class AdminRoute(APIRoute):
    """An admin route: refuses unknown query parameters (a filter misspelt was ignored, and
    the whole list came back; ``?dryrun=true`` applied for real) and one given twice (the
    last was taken), and explains a body it cannot take."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if kwargs.get("status_code") == 204:
            # A 204 has no body, so no Content-Type either (JSONResponse gave one).
            kwargs["response_class"] = Response
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        takes = _query_names(self.dependant)

        async def route(request: Request) -> Response:
            unknown = sorted(set(request.query_params) - takes)
            if unknown:
                known = ", ".join(sorted(takes)) or "none"
                raise HTTPException(
                    400, f"unknown query parameter {unknown[0]!r}; this takes: {known}"
                )
            given = [name for name, _ in request.query_params.multi_items()]
            twice = sorted({name for name in given if given.count(name) > 1})
            if twice:
                # ?client=A&client=B: one of them was taken, the other silently dropped.
                raise HTTPException(
                    400, f"query parameter {twice[0]!r} is given more than once; give it once"
                )
            if is_json(media_type(request)):
                try:
                    sent = await request.body()
                except ClientDisconnect:
                    # Gone, or cut off past the cap (hub/front.py, whose 413 is the answer).
                    raise HTTPException(400, "the body did not arrive whole") from None
                _read_once(sent)
            try:
                return await handler(request)
            except RequestValidationError as exc:
                body = self.body_field.field_info.annotation if self.body_field else None
                raise explained(exc, request, body) from None
            except StaleDataError:
                # The entry read was deleted before this change was written (a 500 before);
                # the session rolled back, so nothing of the change was kept.
                raise HTTPException(409, GONE) from None

        return route


class _Twice(Exception):
    pass


def _each_once(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: set[str] = set()
    for name, _ in pairs:
        if name in seen:
            raise _Twice(name)
        seen.add(name)
    return dict(pairs)


def _read_once(body: bytes) -> None:
    """Refuse a JSON body with a key given twice in one object ({"id": A, ..., "id": B}
    created B: the last was kept silently, where the YAML of the registry refuses it), or
    one that is not UTF-8 (a bare "There was an error parsing the body" before): each a 400,
    a body that cannot be read, as invalid JSON is. Invalid JSON is left to the route, which
    says where it stops."""
    if not body.strip():
        return
    try:
        json.loads(body, object_pairs_hook=_each_once)
    except _Twice as twice:
        raise HTTPException(
            400,
            f"body: the key {str(twice)[:60]!r} is given twice in one object (only the last "
            "would count); give it once",
        ) from None
    except UnicodeDecodeError as exc:
        raise HTTPException(
            400,
            f"the body is not UTF-8 (byte 0x{body[exc.start]:02x} at position {exc.start}): "
            "send the JSON as UTF-8 text",
        ) from None
    except RecursionError:
        # Thousands of [ or { deep: Python's parser gives up (a bare "There was an error
        # parsing the body" before).
        raise HTTPException(400, f"the body is {NESTED}") from None
    except json.JSONDecodeError:
        return
    except ValueError:
        # Not invalid JSON: a whole number longer than Python reads (a bare "There was an
        # error parsing the body" before, naming neither field nor number).
        raise HTTPException(
            400,
            f"the body holds a whole number longer than {sys.get_int_max_str_digits()} "
            "digits, which no field takes: send a number within the field's range",
        ) from None


class RegistryRoute(AdminRoute):
    """``PUT /admin/registry``: takes YAML too (``Content-Type: application/yaml``), as
    ``GET /admin/registry?format=yaml`` gives it; its errors name the line."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            if media_type(request) in YAML_TYPES:
                request = await _yaml_as_json(request)
            return await handler(request)

        return route


async def _yaml_as_json(request: Request) -> Request:
    """The request with its YAML body validated (errors with lines) and given as JSON; the
    parsed document, with where each entry was read, goes along in the scope."""
    data = await request.body()
    try:
        doc = registry.parse_documents([("body", decode(data, "body", "send it as UTF-8"))])
    except RegistryFileError as exc:
        message = str(exc)
        if b"\n" not in data.strip() and ": not valid YAML: " in message:
            # The lines are what is wrong, not their indentation or quotes.
            for _said, fix in YAML_FIXES:
                message = message.removesuffix(f"; {fix}")
            message += f"; {ONE_LINE}"
        raise HTTPException(exc.status, message) from None
    body = json.dumps(doc.model_dump(exclude_unset=True)).encode()
    scope = dict(request.scope)
    scope["headers"] = [
        *(
            (k, v)
            for k, v in request.scope["headers"]
            if k not in (b"content-type", b"content-length")
        ),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    scope["hub.registry_doc"] = doc
    sent = False

    async def receive() -> Any:
        nonlocal sent
        if sent:
            return await request.receive()  # a disconnect, when it comes
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return Request(scope, receive)


def explained(exc: RequestValidationError, request: Request, body: Any = None) -> Exception:
    """A refusal saying what to send when the body was not JSON or is missing; else ``exc``
    in words of its own (without pydantic's "Value error, " before each sentence; an unknown
    key of the body, of type ``body``, with the keys allowed there)."""
    errors = exc.errors()
    body_errors = [e for e in errors if e["loc"] and e["loc"][0] == "body"]
    media = media_type(request)
    if any(e["type"] == "missing" and tuple(e["loc"]) == ("body",) for e in body_errors):
        return HTTPException(422, f"this needs a body: {SEND_JSON} (/docs lists its fields)")
    if not is_json(media) and any(e["type"] != "json_invalid" for e in body_errors):
        got = f"it came as {media}" if media else "it came with no Content-Type"
        also = "; YAML goes with 'Content-Type: application/yaml'" if _registry(request) else ""
        return HTTPException(415, f"{SEND_JSON} ({CURL_FORM}); {got}{also}")
    parts = request.url.path.split("/")
    kind = parts[parts.index("admin") + 1] if "admin" in parts[:-1] else ""
    renamed = _RENAME.get(kind) if request.method == "PATCH" else None
    return RequestValidationError([_worded(e, body, renamed) for e in errors], body=exc.body)


# How to rename an entry, said to a PATCH that sends it an ``id``: by its path's collection.
_RENAME = {
    "members": "a member, create it under the new id with its subsystems, then delete the old "
    "one (its subsystems, services, grants and API keys go with it)",
    "subsystems": "a subsystem, create it under the new id with its services, grants and new "
    "API keys, then delete the old one (its services, grants and keys go with it)",
    "services": "a service, create it under the new id, grant it to the old one's clients, "
    "then delete the old one (or rename it in its provider's file and apply that with "
    "--prune)",
}


def _worded(error: Any, body: Any, renamed: str | None = None) -> Any:
    if error["type"] == "extra_forbidden" and error["loc"][:1] == ("body",):
        # Without its input: "(got 'dup')" after an unknown key tells nothing new.
        said = unknown_key(body, error["loc"][1:])
        if renamed and tuple(error["loc"]) == ("body", "id"):
            said += f". An id cannot change: to rename {renamed}"
        return {**error, "msg": said, "input": None}
    return {**error, "msg": str(error["msg"]).removeprefix("Value error, ")}


def _registry(request: Request) -> bool:
    return request.method == "PUT" and request.url.path.rstrip("/") == "/admin/registry"
