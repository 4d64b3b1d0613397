"""Templated answers: a stub with ``"template": true`` echoes what it was asked.

Its ``body`` strings (at any depth; an object's keys stay as given), ``text`` and answer
``headers`` may hold placeholders, rendered afresh for each call it answers::

    {{ request.path }}          the decoded path          {{ request.path.2 }}  its 3rd segment
    {{ request.method }}        GET, POST...              {{ request.query.page }}  first value
    {{ request.headers.NAME }}  any case; lines joined with ", ", as the journal shows them
    {{ request.json.a.b.0 }}    a member of the JSON body ({{ request.json }}: all of it)
    {{ jsonpath '$.items[0].id' }}  the same by JSONPath (jsonpath-ng's extended grammar)
    {{ now }}                   UTC, ISO 8601         {{ uuid }}  a random UUID (version 4)

A body string that is exactly one placeholder takes the JSON value found (a number stays a
number); anywhere else a value is written as text, JSON for what is not a string. A value the
call lacks renders as empty text: a test sees at once what was missing, and a mock that only
echoes has nothing better to say (a 500 would blame the mock). ``now`` and ``uuid`` are the
same everywhere in one answer, so its ``Location`` and its body's id agree. A header's value
beyond printable ASCII is percent-encoded, and the values together are cut at 8 KiB.
``\\{{ ... }}`` is written as it stands, braces and all, and ``\\}}`` a lone ``}}``. ``check``
refuses, when the stub is given, what could not render; ``render`` gives the stub as it
answers one call.
"""

from __future__ import annotations

import datetime as dt
import difflib
import json
import math
import re
import uuid
import warnings
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from jsonpath_ng.ext import parse as parse_jsonpath
from starlette.types import Scope

from connectors.kit.journal import query_values
from connectors.kit.matching import header_values

if TYPE_CHECKING:
    from connectors.kit.stub_model import Stub

FORMS = (
    "request.path, request.path.N, request.method, request.query.NAME, request.headers.NAME, "
    "request.json, request.json.a.b.0, jsonpath '$.a.b[0]', now, uuid"
)
_NAMED = ("request.path", "request.method", "request.json", "now", "uuid")
# An HTTP header name (RFC 9110), as stub_model has it (which imports this module).
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_INDEX = re.compile(r"[0-9]{1,9}")
_WORD = re.compile(r"\S+")  # a query parameter's name, the keys of request.json
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# A request's JSON nesting deeper is read as none: put in a stub's body (itself at most 100
# levels), the answer must still serialise within Python's recursion limit.
_REQUEST_DEPTH = 100
_SHOWN = 60
# What an answer's rendered header values take together, at most: past it a value is cut. A
# call's own text echoed whole (a 1 MB JSON member) went out in one header line that no client
# read (curl stops at 100 KB, Python's http.client at a 64 KiB line, httpx and Node at a 16 KiB
# head, the hub at a 64 KiB one). 8 KiB leaves room for the rest of the head under them all.
HEADERS_ROOM = 8192
MISSING: Any = object()


class TemplateError(ValueError):
    """A template that could not render; the message names the placeholder and what to fix."""


@dataclass(frozen=True, slots=True)
class Placeholder:
    """One ``{{ ... }}``: what it reads (``kind``) and where (``arg``)."""

    source: str
    kind: str
    arg: Any = None


Parts = tuple[str | Placeholder, ...]


@lru_cache(maxsize=4096)
def parse(text: str) -> Parts:
    """``text`` as literal pieces and placeholders, or a ``TemplateError``."""
    parts: list[str | Placeholder] = []
    literal: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("\\{{", i):
            # As in Handlebars, the whole of an escaped "{{ ... }}" is literal, its "}}" too.
            end = text.find("}}", i + 3)
            stop = i + 3 if end < 0 else end + 2
            literal.append(text[i + 1 : stop])
            i = stop
        elif text.startswith("\\}}", i):
            literal.append("}}")
            i += 3
        elif text.startswith("{{", i):
            end, after = text.find("}}", i + 2), text.find("{{", i + 2)
            if end < 0 or 0 <= after < end:
                raise TemplateError(
                    f"unbalanced braces: '{{{{' at character {i} is not closed by '}}}}' "
                    f"before {'the end' if end < 0 else 'the next {{'} (write \\{{{{ for a "
                    "literal one)"
                )
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(_placeholder(text[i : end + 2]))
            i = end + 2
        elif text.startswith("}}", i):
            raise TemplateError(
                f"unbalanced braces: '}}}}' at character {i} closes no '{{{{' (write \\}}}} for "
                "a literal one)"
            )
        else:
            literal.append(text[i])
            i += 1
    if literal:
        parts.append("".join(literal))
    return tuple(parts)


def _placeholder(source: str) -> Placeholder:
    expr, shown = source[2:-2].strip(), _cut(source)
    if not expr:
        raise TemplateError(f"empty placeholder {shown}: give one of {FORMS}")
    if expr in _NAMED:
        return Placeholder(source, expr)
    if expr == "jsonpath" or expr.startswith(("jsonpath ", "jsonpath'", 'jsonpath"')):
        return Placeholder(source, "jsonpath", _jsonpath(expr[8:].strip(), shown))
    segment = expr.removeprefix("request.path.")
    if segment != expr and _INDEX.fullmatch(segment):
        return Placeholder(source, "segment", int(segment))
    name = expr.removeprefix("request.query.")
    if name != expr and _WORD.fullmatch(name):
        return Placeholder(source, "query", name)
    name = expr.removeprefix("request.headers.")
    if name != expr:
        if not _TOKEN.fullmatch(name):
            raise TemplateError(
                f"{name[:40]!r} in {shown} is not a header name: use letters, digits and '-'"
            )
        return Placeholder(source, "header", name.lower())
    keys = expr.removeprefix("request.json.")
    if keys != expr and _WORD.fullmatch(keys) and all(keys.split(".")):
        return Placeholder(source, "json", tuple(keys.split(".")))
    close = difflib.get_close_matches(expr, _NAMED, n=1)
    meant = f" (did you mean {{{{ {close[0]} }}}}?)" if close else ""
    braces = " (no triple braces: nothing is HTML-escaped here)" if expr.startswith("{") else ""
    raise TemplateError(f"unknown placeholder {shown}{meant}{braces}: give one of {FORMS}")


def _jsonpath(quoted: str, shown: str) -> Any:
    if len(quoted) < 2 or quoted[0] not in "'\"" or quoted[-1] != quoted[0]:
        raise TemplateError(
            f"give the JSONPath in quotes: {{{{ jsonpath '$.items[0].id' }}}} (got {shown})"
        )
    path = quoted[1:-1]
    if not path.startswith("$"):
        raise TemplateError(f"bad JSONPath in {shown}: it must start with '$'")
    try:
        return _compiled(path)
    except Exception as exc:  # jsonpath-ng raises bare Exceptions from its lexer and parser
        raise TemplateError(f"bad JSONPath in {shown}: {exc}") from None


@lru_cache(maxsize=1024)
def _compiled(path: str) -> Any:
    with warnings.catch_warnings():
        # jsonpath-ng deprecates '&' in filters for '&&'; both still parse the same.
        warnings.simplefilter("ignore", DeprecationWarning)
        return parse_jsonpath(path)


def check(stub: Stub) -> None:
    """Refuse a templated ``stub`` whose body, text or headers would not render, naming the
    field (``body.items[0].id``) and the placeholder."""
    for where, text in _templates(stub):
        try:
            parse(text)
        except TemplateError as exc:
            raise TemplateError(f"{where}: {exc}") from None


def _templates(stub: Stub) -> list[tuple[str, str]]:
    found = []
    if "body" in stub.model_fields_set:
        stack: list[tuple[str, Any]] = [("body", stub.body)]
        while stack:
            where, value = stack.pop()
            if isinstance(value, str):
                found.append((where, value))
            elif isinstance(value, dict):
                stack += [(f"{where}.{k}", v) for k, v in reversed(value.items())]
            elif isinstance(value, list):
                stack += [(f"{where}[{i}]", v) for i, v in reversed(list(enumerate(value)))]
    if stub.text is not None:
        found.append(("text", stub.text))
    for name, given in stub.headers.items():
        if isinstance(given, list):
            found += [(f"headers.{name}[{i}]", v) for i, v in enumerate(given)]
        else:
            found.append((f"headers.{name}", given))
    return found


def render(stub: Stub, scope: Scope, body: bytes) -> Stub:
    """``stub`` with its body, text and headers rendered for one call (checked when given)."""
    call = _Call(scope, body)
    update: dict[str, Any] = {}
    if "body" in stub.model_fields_set:
        update["body"] = _json(stub.body, call)
    if stub.text is not None:
        update["text"] = call.text(parse(stub.text))
    if stub.headers:
        room, headers = HEADERS_ROOM, {}
        for name, given in stub.headers.items():
            values = []
            for template in given if isinstance(given, list) else [given]:
                values.append(call.header(template, room))
                room -= len(values[-1])
            headers[name] = values if isinstance(given, list) else values[0]
        update["headers"] = headers
    return stub.model_copy(update=update)


def _json(value: Any, call: _Call) -> Any:
    if isinstance(value, str):
        parts = parse(value)
        if len(parts) == 1 and isinstance(parts[0], Placeholder):
            found = call.value(parts[0])
            return "" if found is MISSING else found
        return call.text(parts)
    if isinstance(value, dict):
        return {k: _json(v, call) for k, v in value.items()}
    if isinstance(value, list):
        return [_json(v, call) for v in value]
    return value


class _Call:
    """What the placeholders read of one call; each part worked out once, when first asked."""

    def __init__(self, scope: Scope, body: bytes) -> None:
        self.scope, self.body = scope, body
        self.now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")[:-6] + "Z"
        self.uuid = str(uuid.uuid4())

    @cached_property
    def segments(self) -> list[str]:
        # Split before decoding, so an encoded "/" (%2F) stays in its segment.
        raw = self.scope.get("raw_path")
        if raw is None:
            return self.scope["path"].split("/")[1:]
        return [unquote(s) for s in raw.decode("latin-1").partition("?")[0].split("/")[1:]]

    @cached_property
    def query(self) -> dict[str, list[str]]:
        return query_values(self.scope["query_string"])

    @cached_property
    def headers(self) -> dict[str, list[str]]:
        return header_values(self.scope)

    @cached_property
    def json(self) -> Any:
        try:
            found = json.loads(self.body, parse_constant=_no_constant)
        except (ValueError, RecursionError):  # not JSON (NaN included), or too deep to read
            return MISSING
        return found if _usable(found) else MISSING

    def value(self, placeholder: Placeholder) -> Any:
        """The placeholder's value for this call: a string, a JSON value, or ``MISSING``."""
        kind, arg = placeholder.kind, placeholder.arg
        if kind in ("now", "uuid"):
            return getattr(self, kind)
        if kind == "request.method":
            return self.scope["method"]
        if kind == "request.path":
            return self.scope["path"]
        if kind == "segment":
            return self.segments[arg] if arg < len(self.segments) else MISSING
        if kind == "query":
            return self.query.get(arg, [MISSING])[0]
        if kind == "header":
            lines = self.headers.get(arg)
            return ", ".join(lines) if lines else MISSING
        if self.json is MISSING:
            return MISSING
        if kind == "jsonpath":
            try:
                matches = [m.value for m in arg.find(self.json)]
            except Exception:  # an extension given a value of another type (`sorted` of
                return MISSING  # text and numbers) raises: it finds nothing there
            return MISSING if not matches else matches[0] if len(matches) == 1 else matches
        return _member(self.json, () if kind == "request.json" else arg)

    def text(self, parts: Parts) -> str:
        return "".join(p if isinstance(p, str) else _text(self.value(p)) for p in parts)

    def header(self, template: str, room: int) -> str:
        """A header's value, rendered: what is not printable ASCII percent-encoded (UTF-8),
        as a line break would split the answer and h11 refuses the rest mid-answer; cut,
        between two characters, to ``room`` characters at most."""
        # Each character takes one at least: no more than room of them can fit.
        text = self.text(parse(template)).lstrip(" \t")[: max(room, 0)]
        pieces, size = [], 0
        for char in text:
            piece = char if " " <= char <= "~" or char == "\t" else _escaped(char)
            size += len(piece)
            if size > room:
                break
            pieces.append(piece)
        return "".join(pieces).rstrip(" \t")  # HTTP drops them at the ends; h11 refuses them


def _member(value: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        if isinstance(value, dict) and key in value:
            value = value[key]
        elif isinstance(value, list) and _INDEX.fullmatch(key) and int(key) < len(value):
            value = value[int(key)]
        else:
            return MISSING
    return value


def _text(value: Any) -> str:
    if value is MISSING:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _escaped(char: str) -> str:
    return "".join(f"%{b:02X}" for b in char.encode("utf-8", "surrogatepass"))


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is no JSON")


def _usable(value: Any) -> bool:
    """Whether a request's JSON can go into an answer: not too deep, no lone surrogate (a
    ``\\ud800`` escape), which no UTF-8 answer could carry, and no number past a double's
    range (``1e400``), which Python reads as inf and would write as ``Infinity``, no JSON."""
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return False
        elif isinstance(item, float):
            if not math.isfinite(item):
                return False
        elif isinstance(item, dict | list):
            if level > _REQUEST_DEPTH:
                return False
            if isinstance(item, dict):
                stack += [(k, level) for k in item]
                item = item.values()
            stack += [(v, level + 1) for v in item]
    return True


def _cut(text: str) -> str:
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."
