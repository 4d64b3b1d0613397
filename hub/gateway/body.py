"""A request body: read from ASGI within the service's limit, and checked against the
service's request schema (``Client.PayloadTooLarge``, ``Client.InvalidPayload``; a body
that is no JSON, or that repeats a key in one object, ``Client.BadRequest``)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import orjson
from referencing.exceptions import Unresolvable

from hub.core import errors
from hub.core.hints import did_you_mean
from hub.registry.cache import ServiceEntry
from hub.registry.request_schema import composed_hint

# How deep a body checked against a request schema may nest (arrays and objects, the body
# itself the first level). jsonschema recurses into each level, and writes the value into
# its messages with repr: a body of 1,000 nested arrays (2 KB) raised RecursionError, a 500.
# 64 is far past any exchange standard's bodies; orjson itself refuses past 1,024.
MAX_BODY_DEPTH = 64


def validate(service: ServiceEntry, body: bytes) -> None:
    """Refuse ``body`` unless it is JSON that meets ``service``'s request schema."""
    assert service.validator is not None
    try:
        doc = orjson.loads(body) if body else None
    except orjson.JSONDecodeError as exc:
        said = _not_utf8(body) or exc
        raise errors.BadRequest(f"the body is not valid JSON: {said}{_as_form(body)}") from None
    if doc is not None and _too_deep(body, doc):
        raise errors.InvalidPayload(
            f"the body nests deeper than {MAX_BODY_DEPTH} levels of arrays and objects; "
            f"the request schema of {service.id} is checked to {MAX_BODY_DEPTH} at most"
        )
    try:
        key = _repeated_key(body, doc) if doc is not None else None
        error = None if key is not None else next(iter(service.validator.iter_errors(doc)), None)
    except RecursionError:
        # The last resort: a schema that recurses more per level (or json, in the repeat
        # check, on a body past MAX_BODY_DEPTH, should that limit be raised).
        raise errors.InvalidPayload(
            f"the body nests too deeply for the request schema of {service.id} to be "
            "checked; send a flatter body"
        ) from None
    except Unresolvable as exc:  # a schema stored before the registry checked its $refs
        raise errors.ServiceUnavailable(
            f"the request schema of {service.id} has a $ref that resolves to nothing "
            f"({exc}); the service cannot be called until its schema is fixed"
        ) from None
    if key is not None:
        raise errors.BadRequest(
            f"the body repeats the key {orjson.dumps(key[:100]).decode()} in one object; "
            "send each key once (the hub checks the last value, and the provider's parser "
            "may read the first)"
        )
    if error is not None and doc is None:
        raise errors.InvalidPayload(
            f"the request has no body; {service.id} takes a JSON body that matches its "
            "request schema"
        )
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(body)"
        raise errors.InvalidPayload(
            f"the body does not match the request schema of {service.id}: at {where}: "
            f"{schema_problem(error)[:300]}{composed_hint(service.validator, doc, body, where)}"
        )


async def read_body(receive: Callable, service: ServiceEntry) -> bytes:
    """The body from ASGI's ``receive``, refused as soon as it passes the limit."""
    limit = service.max_body_bytes
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise errors.BadRequest("the client went away before sending its whole body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise errors.PayloadTooLarge(
                f"the body is over the limit of {limit} bytes of {service.id}"
            )
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


def _too_deep(body: bytes, doc: Any) -> bool:
    """Whether ``doc`` (parsed from ``body``) nests deeper than MAX_BODY_DEPTH levels.

    A body with fewer brackets than the limit cannot nest past it: two counts in C (0.18 us
    with the comparison for a citizen-verify body, timeit) spare the walk, which only
    bodies with many brackets take, and which costs less than the validation that follows.
    """
    if body.count(b"[") + body.count(b"{") <= MAX_BODY_DEPTH:
        return False
    level = [doc]
    for _ in range(MAX_BODY_DEPTH):
        inner: list[Any] = []
        for node in level:
            if isinstance(node, dict):
                inner += [v for v in node.values() if isinstance(v, (dict, list))]
            elif isinstance(node, list):
                inner += [v for v in node if isinstance(v, (dict, list))]
        if not inner:
            return False
        level = inner
    return True


class _Repeated(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) < len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Repeated(key)
            seen.add(key)
    return obj


def _repeated_key(body: bytes, doc: Any) -> str | None:
    """The first key that ``body`` repeats in one of its objects (decoded), if any.

    orjson keeps a repeated key's last value, so the schema checks that one; a provider's
    parser may act on the first. A count rules repeats out without parsing again: outside
    strings each colon is one member, and orjson writes each member of ``doc`` with one
    colon and a string's colons as they are. So unless the body spells a colon as an escape
    (``\\u003a``), it has as many colons as ``doc`` written again when no member was
    dropped, and more when one was. Only a body with more colons, or an escaped one, is
    parsed again, with ``json``, which hands an object's members over before the dict.

    timeit (best of 7 on a shared 2-core machine, so ranges): on a 300-byte citizen-verify
    body this check takes 1.6-3.5 us, its \\u escapes or not; orjson.loads 1.1, validate()
    as a whole 115-200 before and after (the schema's validation is most of it). On a 100 KB
    body of 655 records: 0.3-0.6 ms; orjson.loads 0.7-1.1 ms, validate() 58-100 ms. Parsing
    every body again with ``json`` and the hook costs 11-24 us and 2.4-6 ms instead; a Python
    walk counting members in place of orjson.dumps, 2 us and 4.6 ms.
    """
    try:
        written = orjson.dumps(doc)
    except orjson.JSONEncodeError:  # past its 254 levels, which MAX_BODY_DEPTH keeps out
        written = b""
    if b"\\u003" not in body and body.count(b":") == written.count(b":"):
        return None
    try:
        json.loads(body, object_pairs_hook=_unique_pairs)
    except _Repeated as exc:
        return exc.key
    except ValueError:  # a form orjson reads and json does not: orjson's document is checked
        pass
    return None


def _as_form(body: bytes) -> str:
    """A hint when ``body`` is form fields (``curl -d 'id=1'``): the JSON object meant."""
    if body[:1] in (b"{", b"[", b'"') or b"=" not in body:
        return ""
    try:
        fields = parse_qsl(body[:1000].decode(), strict_parsing=True, max_num_fields=3)
    except (ValueError, UnicodeDecodeError):  # not fields, or more than three
        fields = parse_qsl(body[:200].decode("utf-8", "replace"))[:3]
    if not fields:
        return ""
    shown = json.dumps(dict(fields), ensure_ascii=False)
    return (
        f"; it reads as form fields (name=value&...): send them as one JSON object, such as {shown}"
    )


def _not_utf8(body: bytes) -> str | None:
    """Where ``body`` stops being UTF-8, if it does: orjson's words for it named line 1,
    column 1 wherever the byte was."""
    try:
        body.decode()
    except UnicodeDecodeError as exc:
        before = body[: exc.start].decode()
        line, column = before.count("\n") + 1, len(before) - before.rfind("\n")
        return (
            f"it is not UTF-8 (send the text as UTF-8): byte 0x{body[exc.start]:02x} at "
            f"line {line}, column {column}"
        )
    return None


def _closed_fields(error: Any) -> str | None:
    """An object's keys that a schema with ``additionalProperties: false`` does not take, in
    words, each with the field it was likely meant to be (jsonschema names them alone)."""
    schema, doc = error.schema, error.instance
    if not isinstance(schema, dict) or not isinstance(doc, dict):
        return None
    fields = list(schema.get("properties") or {})
    patterns = list(schema.get("patternProperties") or {})
    try:
        extra = [k for k in doc if k not in fields and not any(re.search(p, k) for p in patterns)]
    except re.error:  # a pattern Python reads otherwise than the schema's dialect
        return None
    if not extra:
        return None
    named = []
    for key in extra[:10]:
        named.append(repr(key) + did_you_mean(key, fields, quoted=True))
    what = "is not a field of it" if len(extra) == 1 else "are not fields of it"
    takes = f"; it takes {', '.join(fields)}" if fields else ""
    return f"{', '.join(named)} {what}{takes}"


# jsonschema's own words for these repeat the whole list or text ("[...] is too long") and
# leave out the limit: say the size and the limit instead.
_SIZES = {
    "maxItems": ("item", "more than the {} it takes"),
    "minItems": ("item", "fewer than the {} it needs"),
    "maxLength": ("character", "more than the {} it takes"),
    "minLength": ("character", "fewer than the {} it needs"),
}


def _size_problem(error: Any) -> str | None:
    if error.validator not in _SIZES or not isinstance(error.instance, list | str):
        return None
    unit, bound = _SIZES[error.validator]
    n = len(error.instance)
    count = "no" if n == 0 else str(n)
    return f"{count} {unit}{'' if n == 1 else 's'}, {bound.format(error.validator_value)}"


def schema_problem(error: Any) -> str:
    """What to fix: for a choice of forms (anyOf, oneOf), what each form asks for.

    jsonschema's own message for them repeats the whole body ("{...} is not valid under any
    of the given schemas") and says nothing of what would be.
    """
    if error.validator == "additionalProperties" and error.validator_value is False:
        said = _closed_fields(error)
        if said is not None:
            return said
    sized = _size_problem(error)
    if sized is not None:
        return sized
    if error.validator in ("anyOf", "oneOf") and error.context:
        own = f"{error.instance!r} "
        if not all(str(sub.message).startswith(own) for sub in error.context):
            forms = sorted({sub.message for sub in error.context})
            return "it must meet one of these: " + "; or ".join(forms)
        # Every form refused the value itself: name it once, then what each form asked.
        asked = sorted(
            {
                "has " + size if (size := _size_problem(sub)) else str(sub.message)[len(own) :]
                for sub in error.context
            }
        )
        return f"{own[:-1][:60]} meets none of the forms it may take: it " + "; it ".join(asked)
    return str(error.message)
