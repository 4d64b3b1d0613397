"""Checking a response against a step's ``expect`` and taking its ``capture``s."""

from __future__ import annotations

import contextlib
import json
import re
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import orjson
from jsonpath_ng.ext import parse as _parse_jsonpath
from jsonpath_ng.jsonpath import Child, Fields, Index, Root
from multidict import MultiMapping

from hub.replay.results import CaptureFailure, Failure, show_json
from hub.replay.templating import (
    MissingVariable,
    Template,
    as_text,
    kind_of,
    no_item,
    no_key,
    render_value,
)

if TYPE_CHECKING:
    from hub.replay.plan import ExchangePlan

NO_MATCH = "<nothing matched>"
ABSENT = "<absent>"  # a header the answer does not carry
_UNSET: Any = object()


class JSONPathError(ValueError):
    """A JSONPath that does not parse."""


@lru_cache(maxsize=1024)
def compile_jsonpath(path: str) -> Any:
    """Parse a JSONPath once (jsonpath-ng's extended grammar: filters, arithmetic)."""
    if not path.startswith("$"):
        raise JSONPathError(f"bad JSONPath {path!r}: it must start with '$'")
    try:
        with warnings.catch_warnings():
            # jsonpath-ng deprecates '&' in filters for '&&'; both still parse the same.
            warnings.simplefilter("ignore", DeprecationWarning)
            return _parse_jsonpath(path)
    except Exception as exc:  # jsonpath-ng raises bare Exceptions from its lexer and parser
        raise JSONPathError(f"bad JSONPath {path!r}: {exc}") from None


@dataclass(slots=True)
class Reply:
    """The parts of a response the checks look at."""

    status: int
    headers: MultiMapping[str]  # case-insensitive; a repeated header keeps every value
    body: bytes
    elapsed_ms: float
    _json: Any = _UNSET
    _exact: Any = _UNSET

    def json(self) -> Any:
        if self._json is _UNSET:
            self._json = orjson.loads(self.body)  # ValueError when not JSON
        return self._json

    def exact_json(self) -> Any:
        """The body as :meth:`json` has it, but read again by the standard library when
        orjson turned an integer beyond 64 bits into a float (that lost its last digits).
        Asked only when a check failed or a capture holds such a float: never on the way of
        a check that holds."""
        if self._exact is _UNSET:
            self._exact = self.json()
            # Digits beyond Python's limit (4300) stay as orjson read them.
            if inexact(self._exact):
                with contextlib.suppress(ValueError):
                    self._exact = json.loads(self.body)
        return self._exact

    @property
    def x_road_id(self) -> str | None:
        return self.headers.get("X-Road-Id")

    def excerpt(self) -> str:
        return self.body[:500].decode("utf-8", "replace")


def resolve(path: Any, variables: Mapping[str, Any]) -> Any:
    """A compiled JSONPath; a templated one is rendered and parsed (cached) first."""
    return resolved(path, variables)[0]


def resolved(path: Any, variables: Mapping[str, Any]) -> tuple[Any, str | None]:
    """:func:`resolve`, and the rendered text of a templated path (None for a plain one)."""
    if isinstance(path, Template):
        rendered = path.render(variables)
        if path.whole and not isinstance(rendered, str):
            raise JSONPathError(f"{{{{ {path.names[0]} }}}} is {rendered!r}, not a JSONPath")
        return compile_jsonpath(str(rendered)), str(rendered)
    return path, None


def _shown_path(source: str, rendered: str | None) -> str:
    """A JSONPath as it was used: rendered, with the template it came from."""
    if rendered is None or rendered == source:
        return source
    return f"{rendered} (from {source})"


def find(compiled_path: Any, document: Any) -> Any:
    """The value(s) a JSONPath selects: one value, a list of several, or NO_MATCH."""
    matches = compiled_path.find(document)
    if not matches:
        return NO_MATCH
    if len(matches) == 1:
        return matches[0].value
    return [m.value for m in matches]


def why_no_match(compiled_path: Any, document: Any) -> str | None:
    """Where ``document`` parts from a JSONPath that matched nothing, in words, or None.

    The path's keys and indices are walked from ``$`` as far as the document goes: a typo
    (``$.itmes``) is then named with the keys that are there, where "got <nothing matched>"
    and a body excerpt cut at 300 characters left a tester to find it. A filter or a
    wildcard that matched nothing says no more, but for an empty list or mapping.
    """
    segments: list[Any] = []
    node = compiled_path
    while isinstance(node, Child):
        segments.insert(0, node.right)
        node = node.left
    if not isinstance(node, Root):
        return None  # $..id and the like: no single place to point at
    value, walked = document, "$"
    for segment in segments:
        if isinstance(segment, Fields) and len(segment.fields) == 1 and segment.fields != ("*",):
            key = segment.fields[0]
            if not isinstance(value, dict):
                return f"{walked} is {kind_of(value)}, not a mapping"
            if key not in value:
                return no_key(walked, value, key)
            value = value[key]
            walked += f".{key}" if _PLAIN_KEY.fullmatch(key) else f"[{json.dumps(key)}]"
        elif isinstance(segment, Index) and len(segment.indices) == 1:
            index = segment.indices[0]
            if not isinstance(value, list):
                return f"{walked} is {kind_of(value)}, not a list"
            if not -len(value) <= index < len(value):
                return no_item(walked, value)
            value = value[index]
            walked += f"[{index}]"
        else:
            if isinstance(value, list | dict) and not value:
                return f"{walked} is {kind_of(value)}"
            return None
    return None


_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# orjson reads integers from -2**63 to 2**64 - 1 as such; beyond, as floats.
_EXACT_LIMIT = float(2**63)


def inexact(value: Any) -> bool:
    """``value`` holds a float that may be an integer orjson could not hold (beyond 64 bits)."""
    if isinstance(value, float):
        return abs(value) >= _EXACT_LIMIT and value.is_integer()
    if isinstance(value, list):
        return any(inexact(item) for item in value)
    if isinstance(value, dict):
        return any(inexact(item) for item in value.values())
    return False


def same_json(got: Any, expected: Any) -> bool:
    """JSON equality: ``true`` is not ``1`` at any depth (Python's ``==`` says it is)."""
    if isinstance(got, bool) or isinstance(expected, bool):
        return type(got) is type(expected) and got == expected
    if isinstance(got, dict) and isinstance(expected, dict):
        return got.keys() == expected.keys() and all(
            same_json(got[key], expected[key]) for key in got
        )
    if isinstance(got, list) and isinstance(expected, list):
        return len(got) == len(expected) and all(
            same_json(g, e) for g, e in zip(got, expected, strict=True)
        )
    return bool(got == expected)


def _fail(reply: Reply, kind: str, what: str, expected: Any, got: Any) -> Failure:
    return Failure(
        kind=kind,
        what=what,
        expected=expected,
        got=got,
        x_road_id=reply.x_road_id,
        status=reply.status,
        body=reply.excerpt(),
    )


def _document(reply: Reply) -> Any:
    try:
        return reply.json()
    except ValueError:
        return _UNSET


def check(plan: ExchangePlan, reply: Reply, variables: Mapping[str, Any]) -> Failure | None:
    """The expectations of ``plan`` that ``reply`` breaks, all of them (the first with the
    others under ``also``), or None."""
    failures = list(_broken(plan, reply, variables))
    if not failures:
        return None
    first, *others = failures
    first.also = others
    return first


def _broken(plan: ExchangePlan, reply: Reply, variables: Mapping[str, Any]) -> Iterator[Failure]:
    if plan.status is not None and reply.status not in plan.status:
        expected = plan.status[0] if len(plan.status) == 1 else list(plan.status)
        yield _fail(reply, "status", "", expected, reply.status)
    for name, compiled in plan.expect_headers:
        values = reply.headers.getall(name, [])
        # As the scenario writes an expectation, in the JSON report: null for absent, a list
        # for any one of them; "absent" and "one of [...]" were text a header can hold.
        shown = None if not values else values[0] if len(values) == 1 else values
        if compiled is None:
            if values:
                yield _header_failure(reply, name, None, shown)
            continue
        try:
            expected = render_value(compiled, variables)
        except MissingVariable as exc:
            yield _missing(reply, f"headers {name}", exc)
            continue
        # A header is text: a variable's true is "true", as a request header sends it.
        texts = [as_text(e) for e in expected] if isinstance(expected, list) else None
        if not _header_holds(values, [as_text(expected)] if texts is None else texts):
            yield _header_failure(reply, name, as_text(expected) if texts is None else texts, shown)
    if plan.expect_json:
        document = _document(reply)
        if document is _UNSET:
            yield _fail(reply, "json", "body", "a JSON body", reply.excerpt() or "<empty>")
        else:
            for source, path, compiled in plan.expect_json:
                try:
                    expected = render_value(compiled, variables)
                    compiled_path, rendered = resolved(path, variables)
                except MissingVariable as exc:
                    yield _missing(reply, f"json {source}", exc)
                    continue
                except JSONPathError as exc:
                    yield _fail(reply, "json", source, "a valid JSONPath", str(exc))
                    continue
                got = find(compiled_path, document)
                if not same_json(got, expected) and reply.exact_json() is not document:
                    got = find(compiled_path, reply.exact_json())  # 30 digits, as sent
                if not same_json(got, expected):
                    failure = _fail(reply, "json", _shown_path(source, rendered), expected, got)
                    if got is NO_MATCH:
                        failure.note = why_no_match(compiled_path, document)
                    yield failure
    if plan.max_ms is not None and reply.elapsed_ms > plan.max_ms:
        failure = _fail(reply, "max_ms", "", plan.max_ms, round(reply.elapsed_ms, 1))
        failure.text = f"took {reply.elapsed_ms:.1f} ms, over the {plan.max_ms:g} ms allowed"
        yield failure


def _header_failure(
    reply: Reply, name: str, expected: str | list[str] | None, got: str | list[str] | None
) -> Failure:
    """A header not as expected; in words, null is "absent" (expected) or ABSENT (got), a
    list "one of [...]", and a value that reads like those is quoted."""
    failure = _fail(reply, "headers", name, expected, got)
    if expected is None:
        failure.expected_text = "absent"
    elif isinstance(expected, list):
        failure.expected_text = f"one of {show_json(expected)}"
    elif _MISREAD.fullmatch(expected):
        failure.expected_text = show_json(expected)
    if got is None:
        failure.got_text = ABSENT
    elif isinstance(got, str) and _MISREAD.fullmatch(got):
        failure.got_text = show_json(got)
    return failure


# A header's value that would read as the words above.
_MISREAD = re.compile(r"absent|<absent>|one of .*", re.DOTALL)


def _header_holds(values: list[str], wanted: list[str]) -> bool:
    """A header repeated in the answer holds if one of its values is wanted, or the field
    value RFC 9110 combines them to (``a, b``); a Set-Cookie is never combined, and a list
    such as Vary may come as one line or several."""
    if any(value in wanted for value in values):
        return True
    return len(values) > 1 and ", ".join(values) in wanted


def _missing(reply: Reply, what: str, exc: MissingVariable) -> Failure:
    failure = _fail(reply, "template", what, f"a value for {exc.name!r}", str(exc))
    failure.text = str(exc)
    return failure


def capture(plan: ExchangePlan, reply: Reply, variables: dict[str, Any]) -> Failure | None:
    """Store each capture in ``variables``; a capture that matches nothing fails the step."""
    if not plan.capture:
        return None
    document = _document(reply)
    for name, source, templated, match, header in plan.capture:
        if header is not None:
            values = reply.headers.getall(header, [])
            if not values and match != "all":
                failure = _fail(reply, "capture", name, f"a header {header}", ABSENT)
                failure.capture = CaptureFailure(name, "no_header", header=header)
                return failure
            variables[name] = _header_captured(header, values, match)
            continue
        template = source if isinstance(templated, Template) else None
        try:
            path, rendered = resolved(templated, variables)
        except MissingVariable as exc:
            failure = _missing(reply, f"capture {name}", exc)
            failure.capture = CaptureFailure(
                name, "undefined_variable", template=template, detail=str(exc)
            )
            return failure
        except JSONPathError as exc:
            failure = _fail(reply, "capture", name, f"a JSONPath from {source}", str(exc))
            failure.capture = CaptureFailure(
                name, "bad_jsonpath", template=template, detail=str(exc)
            )
            return failure
        got = _captured(path, document, match)
        if inexact(got):  # an id of 30 digits is kept as such, not as 1.2e+29
            got = _captured(path, reply.exact_json(), match)
        if got is NO_MATCH:
            why = NO_MATCH if document is not _UNSET else "a body that is not JSON"
            where = _shown_path(source, rendered)
            failure = _fail(reply, "capture", name, f"a value at {where}", why)
            if document is not _UNSET:
                failure.note = why_no_match(path, document)
            failure.capture = CaptureFailure(
                name,
                "no_match" if document is not _UNSET else "not_json",
                jsonpath=source if rendered is None else rendered,
                template=template,
                detail=failure.note,
            )
            return failure
        variables[name] = got
    return None


def _header_captured(header: str, values: list[str], match: str) -> Any:
    """What a capture keeps of a header the answer carries on one line or several: with
    ``one``, the field value RFC 9110 combines them to (``a, b``, which ``expect: headers:``
    holds too), but a Set-Cookie's list, as its values hold commas and are never combined."""
    if match == "all":
        return values
    if match == "first" or len(values) == 1:
        return values[0]
    return values if header.lower() == "set-cookie" else ", ".join(values)


def _captured(path: Any, document: Any, match: str) -> Any:
    """What a capture takes from ``document`` (``_UNSET``: a body that is not JSON)."""
    if match == "one":
        return NO_MATCH if document is _UNSET else find(path, document)
    values = [] if document is _UNSET else [m.value for m in path.find(document)]
    return values if match == "all" else (values[0] if values else NO_MATCH)
