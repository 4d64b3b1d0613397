"""Provider errors a handler raises; the kit turns them into JSON ``Problem`` answers.

::

    ProviderError (status, type)        -> {"type": ..., "message": ...}
    ├── ForbiddenError      403 Forbidden  a mock's controls asked through the hub
    ├── NotFoundError       404 NotFound   "no data" (Circular 13/2017)
    ├── ConflictError       409 Conflict   the write contradicts the current state
    ├── InvalidRequestError 422 InvalidRequest  the request itself is wrong: what to fix
    ├── UnprocessableError  422 Unprocessable  well-formed, but refers to something wrong
    └── UpstreamError       502 UpstreamFailed  a call through the hub failed

A request the route's own models refuse (FastAPI's ``RequestValidationError``: a wrong field,
a missing parameter, a body that is not JSON) gets the same answer as ``InvalidRequestError``,
422 ``InvalidRequest``, with one sentence saying what to fix: ``"error_rate: must be at most 1
(got 5)"``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from http import HTTPStatus
from typing import Any, get_args

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from connectors.kit.nearby import PathShape, did_you_mean, near_limit

CONTROLS = ("/__health", "/__reset", "/__faults", "/__stubs", "/__scenarios", "/__requests")
_WIREMOCK_ADMIN = {
    "mappings": "/__stubs",
    "requests": "/__requests",
    "reset": "/__reset",
    "scenarios": "/__scenarios",
    "near-misses": "the 404 of a call no stub answers, which names the closest stub,",
}
# Past this many, a sentence stops helping: the rest are counted.
MAX_ERRORS = 5
_PLACES = {"query": "query parameter ", "path": "path parameter ", "header": "header "}
_SHOULD = re.compile(r"^(Input|String|List|Value|Dictionary|Tuple|Set|Data) should ")
_BOUNDS = {
    "less_than_equal": ("le", "at most"),
    "greater_than_equal": ("ge", "at least"),
    "less_than": ("lt", "less than"),
    "greater_than": ("gt", "more than"),
}


class ProviderError(Exception):
    """Base of the errors a connector answers with itself (never the hub's X-Road errors)."""

    status_code = 400
    type = "BadRequest"

    def __init__(self, message: str) -> None:
        message = _LONG_QUOTE.sub(_cut_quote, message)
        super().__init__(message)
        self.message = message


# A value quoted whole in a message ("'7777...' is not a personal identification number"):
# a 60,000-character id came back whole. Its start and its length say enough.
_LONG_QUOTE = re.compile(r"'([^'\n]{81,})'")


def _cut_quote(found: re.Match[str]) -> str:
    return f"'{found[1][:40]}...' ({len(found[1]):,} characters)"


class ForbiddenError(ProviderError):
    status_code = 403
    type = "Forbidden"


class NotFoundError(ProviderError):
    status_code = 404
    type = "NotFound"


class ConflictError(ProviderError):
    status_code = 409
    type = "Conflict"


class InvalidRequestError(ProviderError):
    status_code = 422
    type = "InvalidRequest"


class UnprocessableError(ProviderError):
    status_code = 422
    type = "Unprocessable"


class UpstreamError(ProviderError):
    status_code = 502
    type = "UpstreamFailed"


async def provider_error_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProviderError)
    return JSONResponse({"type": exc.type, "message": exc.message}, status_code=exc.status_code)


async def http_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """The router's own 404 and 405 (no route, or not this method) in the mocks' shape.

    They were ``{"detail": "Not Found"}``, so a call no service and no stub answered (a stub
    used up, a path mistyped) said nothing of why.
    """
    assert isinstance(exc, StarletteHTTPException)
    call = f"{request.method} {request.url.path}"
    headers = dict(exc.headers or {})
    if exc.status_code == 404 and exc.detail == "Not Found" and request.url.path.startswith("/__"):
        kind, message = "NotFound", _no_control(call, request.url.path)
    elif exc.status_code == 404 and exc.detail == "Not Found":
        kind = "NotFound"
        message = f"no service of this mock and no stub answers {call}" + (
            await _near_miss(request, across_paths=True)
            or ": GET /openapi.json lists the services, GET /__stubs the stubs"
        )
    elif exc.status_code == 405:
        kind = "MethodNotAllowed"
        # The router names the methods of the first route of the path only.
        headers["Allow"] = _allowed(request) or headers.get("Allow", "")
        message = f"{call}: this path takes {headers['Allow'] or 'other methods'} only"
        message += await _near_miss(request)
    else:
        kind, message = HTTPStatus(exc.status_code).phrase.replace(" ", ""), str(exc.detail)
    body = {"type": kind, "message": message}
    return JSONResponse(body, status_code=exc.status_code, headers=headers)


def _allowed(request: Request) -> str:
    """The methods of every route of the request's path, in the order the app declares them."""
    methods: dict[str, None] = {}
    for route in request.app.router.routes:
        if route.matches(request.scope)[0] != Match.NONE:
            methods.update(dict.fromkeys(getattr(route, "methods", None) or ()))
    if "GET" in methods and "HEAD" in methods:
        del methods["HEAD"]  # as FastAPI's routes: HEAD of a GET goes without saying
    return ", ".join(methods)


def _no_control(call: str, path: str) -> str:
    """For ``/__...`` no control has: the controls there are, and WireMock's that it meant."""
    said = f"no control {call}: this mock's controls are {', '.join(CONTROLS)}"
    admin = path.removeprefix("/__admin/").split("/")[0] if path.startswith("/__admin/") else ""
    if admin in _WIREMOCK_ADMIN:
        said += f" (WireMock's /__admin/{admin} is {_WIREMOCK_ADMIN[admin]} here)"
    return said + " (docs/connectors.md)"


async def _near_miss(request: Request, *, across_paths: bool = False) -> str:
    """``; the closest stub 'x' did not answer: ...`` for a call that a stub of its path missed,
    else "". ``across_paths`` (a 404: no route has the path) names a stub of a nearby path
    too, or the service whose path it nearly is (``: did you mean GET /citizens/{id} ...``)."""
    if request.url.path.startswith("/__"):
        return ""
    stubs = getattr(request.app, "stubs", None)
    near: tuple[Any, int, list[str]] | None = None
    if stubs is not None and stubs.stubs:
        body = await request.body() if any(s.reads_body for s in stubs.stubs) else None
        same = stubs.closest(request.scope, body)
        if same is not None:
            near = (same[0], 0, same[1])
        elif across_paths:
            near = stubs.nearby(request.scope, body)
    service = _nearby_service(request) if across_paths else None
    if service is not None and (near is None or service[0] < near[1]):
        return (
            f": did you mean {service[1]}? GET /openapi.json lists the services, GET /__stubs "
            "the stubs"
        )
    if near is None or not near[2]:
        return ""
    stub, _, said = near
    return (
        f"; the closest stub {stub.id!r} did not answer: {', '.join(said)} "
        f"(GET /__stubs/{stub.id} shows it)"
    )


def _nearby_service(request: Request) -> tuple[int, str] | None:
    """The service of the call's method whose path the call's comes nearest, within a few
    edits: how near, and ``GET /citizens/{id} (service citizen-lookup)``."""
    manifest = getattr(request.app.state, "manifest", None)
    if manifest is None:
        return None
    path, method = request.scope["path"], request.method
    limit = near_limit(path)
    best: tuple[int, str] | None = None
    for spec in manifest.services:
        if spec.method != method:
            continue
        distance = PathShape.of_template(spec.path).distance(path, limit)
        if distance <= limit and (best is None or distance < best[0]):
            best = (distance, f"{spec.method} {spec.path} (service {spec.code})")
    return best


async def validation_error_handler(request: Request, exc: Exception) -> JSONResponse:
    """A 422 ``InvalidRequest`` whose message says, in one sentence, what to fix.

    FastAPI's own answer was a list of pydantic errors (``{"detail": [{"loc": ..., "msg":
    ...}]}``), unlike every other answer of the mocks, and it echoed each wrong input (a NaN
    then failed the answer's own encoding, and the client got a 500).
    """
    assert isinstance(exc, RequestValidationError)
    errors = with_fields(list(exc.errors()), _body_model(request))
    invalid_json = next((e for e in errors if e.get("type") == "json_invalid"), None)
    if invalid_json is not None:
        message = _invalid_json(invalid_json, exc.body)
    else:
        message = describe(errors, request.headers.get("content-type", ""))
    return JSONResponse({"type": "InvalidRequest", "message": message}, status_code=422)


def with_fields(errors: list[Any], model: Any) -> list[Any]:
    """``errors``, each unknown field's with the fields of the model it was sent to (as
    ``ctx["fields"]``), so that its sentence can name the one meant: "leave it out" was the
    advice, and a stub without its mistyped ``"stauts": 404`` answers 200."""
    out = []
    for error in errors:
        if error.get("type") == "extra_forbidden" and "fields" not in (error.get("ctx") or {}):
            # loc[0] is where it was sent (body, query...), loc[-1] the unknown field.
            found = _model_at(_model_in(model), error.get("loc", ())[1:-1])
            if found is not None:
                fields = [field.alias or name for name, field in found.model_fields.items()]
                error = {**error, "ctx": {**(error.get("ctx") or {}), "fields": fields}}
        out.append(error)
    return out


def _body_model(request: Request) -> Any:
    """The model of the route's body, when it takes one."""
    params = getattr(getattr(request.scope.get("route"), "dependant", None), "body_params", [])
    return params[0].field_info.annotation if len(params) == 1 else None


def _model_at(model: type[BaseModel] | None, path: tuple[Any, ...]) -> type[BaseModel] | None:
    """The model at ``path`` below ``model``; a part that is no field (a list's index, a
    key of a mapping of models, ``stubs[0]``) keeps the model it is in."""
    for part in path:
        field = model.model_fields.get(str(part)) if model is not None else None
        if field is not None:
            model = _model_in(field.annotation)
    return model


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model ``annotation`` holds: itself, or that of ``list[...]``, ``X | None``..."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next(filter(None, map(_model_in, get_args(annotation))), None)


def describe(errors: list[Any], content_type: str = "application/json") -> str:
    """pydantic's ``errors`` as sentences saying what to fix, the first ``MAX_ERRORS``."""
    said = [_sentence(error, content_type) for error in errors[:MAX_ERRORS]]
    if len(errors) > MAX_ERRORS:
        said.append(f"and {len(errors) - MAX_ERRORS} more")
    return "; ".join(said) or "the request is not valid"


def _invalid_json(error: Any, body: Any) -> str:
    # FastAPI puts the character offset where parsing stopped in the location, and the text.
    loc = error.get("loc", ())
    pos = loc[1] if len(loc) > 1 and isinstance(loc[1], int) else None
    reason = str((error.get("ctx") or {}).get("error", "JSON decode error")).lower()
    if pos is None:
        return f"the body is not valid JSON: {reason}"
    where = f"character {pos}"
    if isinstance(body, str):
        line = body.count("\n", 0, pos) + 1
        column = pos - body.rfind("\n", 0, pos)
        where = f"line {line}, column {column} ({where})"
    return f"the body is not valid JSON: {reason} at {where}"


def _sentence(error: Any, content_type: str) -> str:
    """``where: what is wrong (got what was sent)`` for one pydantic error."""
    kind = error.get("type", "")
    loc = [str(p) for p in error.get("loc", ())]
    place, path = (loc[0], loc[1:]) if loc else ("body", [])
    where = _PLACES.get(place, "") + ".".join(path) if path else "the body"
    value = error.get("input")
    if kind == "missing":
        return f"{where} is required" if path else "the body is missing: send a JSON object"
    if kind == "extra_forbidden":
        fields = (error.get("ctx") or {}).get("fields")
        if not fields:
            return f"{where} is not a field of this request; leave it out"
        meant = did_you_mean(loc[-1], fields)
        return f"{where} is not a field of this request{meant}; it takes {', '.join(fields)}"
    if kind in ("model_attributes_type", "model_type", "dict_type") and not path:
        if isinstance(value, str | bytes) and "json" not in content_type.lower():
            return (
                "the body must be a JSON object sent with Content-Type: application/json "
                f"(got {content_type or 'no Content-Type'})"
            )
        return f"the body must be a JSON object (got {_json_kind(value)})"
    if kind in ("value_error", "assertion_error"):
        # The connector's own validators: their message is the sentence, naming the field
        # itself where that reads better, and it shows the value where that helps.
        said = str((error.get("ctx") or {}).get("error") or error.get("msg", ""))
        return said if not path or said.startswith(path[-1]) else f"{where}: {said}"
    if kind in ("too_short", "too_long") and isinstance(value, str):
        # An optional text of a write (schemas.common.Text | None) is measured as a
        # "Value" with "items after validation": told as the characters they are.
        bound = (error.get("ctx") or {}).get("min_length" if kind == "too_short" else "max_length")
        if kind == "too_short" and not value.strip():
            kind = "string_too_short"  # blank: said so below
        else:
            words = "at least" if kind == "too_short" else "at most"
            what = f"must have {words} {bound} characters"
            return f"{where}: {what}{_got(value, quoted=place == 'body')}"
    if kind == "string_too_short" and isinstance(value, str) and not value.strip():
        # The text models strip spaces first (schemas.common.Text): "   " is empty to them.
        return f"{where}: must not be blank{_got(value, quoted=place == 'body')}"
    if kind in _BOUNDS:
        key, words = _BOUNDS[kind]
        bound = (error.get("ctx") or {}).get(key)
        what = f"must be {words} {_number(bound)}"
    else:
        what = _SHOULD.sub("must ", error.get("msg", "is not valid"))
    return f"{where}: {what}{_got(value, quoted=place == 'body')}"


def _number(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _json_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, str | bytes):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "null" if value is None else type(value).__name__


def _got(value: Any, *, quoted: bool) -> str:
    if isinstance(value, dict | list | tuple) or value is None:
        return f" (got {_json_kind(value)})"
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    # Query, path and header values are always text: quotes would only suggest they belong.
    shown = json.dumps(value, ensure_ascii=False, default=str) if quoted else str(value)
    return f" (got {shown[:60]}{'...' if len(shown) > 60 else ''})"


def unknown_query(
    code: str,
    unknown: list[str],
    names: tuple[str, ...],
    *,
    meant: Callable[[str], str | None] | None = None,
) -> str:
    """``unknown query parameter 'x' (did you mean 'y'?): CODE takes ...``; ``meant`` may
    guess the name meant before the closest of ``names`` is looked for."""
    said = []
    for name in unknown[:MAX_ERRORS]:
        shown = name if len(name) <= 40 else name[:37] + "..."
        guess = meant(name) if meant is not None else None
        hint = f" (did you mean '{guess}'?)" if guess else did_you_mean(name, names)
        said.append(f"'{shown}'{hint}")
    if len(unknown) > MAX_ERRORS:
        said.append(f"and {len(unknown) - MAX_ERRORS} more")
    takes = f"takes {', '.join(names)}" if names else "takes no query parameters"
    plural = "s" if len(unknown) > 1 else ""
    return f"unknown query parameter{plural} {', '.join(said)}: {code} {takes}"
