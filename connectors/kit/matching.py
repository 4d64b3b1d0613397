"""Whether a call meets a stub's criteria, and, for a call that no stub answered, why not.

A query parameter or header sent more than once matches on any of its values; a header also
matches on all its values joined with ``", "``, as the journal shows them. ``misses`` lists
what keeps a stub from answering a call (``method POST (got GET)``, ``query v=1 (got 2)``,
``used up (times 1)``, ``scenario 'transfer' is in state 'Started' (needs 'submitted')``), so
the mock's 404 can name the closest stub as WireMock's does (one of a nearby path:
``connectors.kit.nearby``).
"""

from __future__ import annotations

import importlib
import json
import re
import unicodedata
import warnings
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from jsonpath_ng.ext import parse as parse_jsonpath
from starlette.types import Scope

from connectors.kit.journal import (
    REDACTED,
    header_holds,
    header_text,
    is_secret,
    query_values,
    redact,
    redact_body,
)

_regex_parser: Any
try:  # the parser re.compile uses; private, so the check below is skipped if it moves
    _regex_parser = importlib.import_module("re._parser")
except ImportError:  # pragma: no cover
    _regex_parser = None

if TYPE_CHECKING:
    from connectors.kit.stubs import LiveStub

_SHOWN = 60  # characters of a value quoted in a miss
_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


def encoded_path_problem(path: str) -> str | None:
    """Why ``path`` cannot match as given, if it is percent-encoded (``/files/a%20b``)."""
    # The server decodes a call's path before anything sees it: "/files/a%20b" arrives as
    # "/files/a b", so a stub of the encoded form, copied from a URL, never answered.
    if _ESCAPE.search(path) is None:
        return None
    return (
        f"calls are matched on their decoded path, as the journal shows it: give "
        f"{unquote(path)[:60]!r} (got {path[:60]!r})"
    )


def compile_pattern(pattern: str) -> re.Pattern[str]:
    """``pattern`` compiled, or a ``ValueError`` saying why it is no pattern of a path.

    Every path starts with ``/``, so an empty pattern, or one that must start with another
    character (``citizens/.*``), could match no call: a stub of it never answered, and a
    journal count of it was 0 whatever the mock received.
    """
    if not pattern:
        raise ValueError(
            "an empty pattern matches no path (every path starts with '/'): give a regular "
            "expression the whole path must match, such as /citizens/.*"
        )
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"not a regular expression: {exc} (got {pattern[:60]!r})") from None
    first = _first_characters(pattern)
    if first and "/" not in first:
        raise ValueError(
            f"no path can match it: every path starts with '/', and this pattern starts with "
            f"{' or '.join(repr(c) for c in sorted(first))} (got {pattern[:60]!r}); begin it "
            "with /"
        )
    return compiled


def _first_characters(pattern: str) -> set[str] | None:
    """The characters every match of ``pattern`` must start with, or None if not plain."""
    if _regex_parser is None:  # pragma: no cover
        return None
    try:
        return _leading(_regex_parser.parse(pattern))
    except Exception:  # a parser that changed shape: no check rather than a refusal
        return None


def _leading(items: Any) -> set[str] | None:
    p = _regex_parser
    for op, arg in items:
        if op is p.AT:  # ^, \b...: they match no character
            continue
        if op is p.LITERAL:
            return {chr(arg)}
        if op is p.SUBPATTERN:  # a group: (group, add_flags, del_flags, items)
            return _leading(arg[-1])
        if op is p.BRANCH:  # a|b: every branch must say
            found: set[str] = set()
            for branch in arg[1]:
                first = _leading(branch)
                if not first:
                    return None
                found |= first
            return found
        return None  # a class, a repeat, any character...: not worked out
    return None  # matches the empty string here: what comes after the group decides


def header_values(scope: Scope) -> dict[str, list[str]]:
    """The call's headers by lower-case name, each with every line it came in."""
    values: dict[str, list[str]] = {}
    for name, value in scope["headers"]:
        values.setdefault(name.decode("latin-1"), []).append(header_text(value))
    return values


def contains(given: Any, wanted: Any) -> bool:
    """Whether JSON ``given`` holds ``wanted``: an object's other keys may come too."""
    if isinstance(wanted, dict):
        return isinstance(given, dict) and all(
            k in given and contains(given[k], v) for k, v in wanted.items()
        )
    if isinstance(wanted, list):
        return (
            isinstance(given, list)
            and len(given) == len(wanted)
            and all(contains(g, w) for g, w in zip(given, wanted, strict=True))
        )
    if isinstance(wanted, bool) or isinstance(given, bool):
        return given is wanted  # True == 1 in Python, never in JSON
    return bool(given == wanted)


@lru_cache(maxsize=1024)
def compile_jsonpath(path: str) -> Any:
    """``path`` parsed as JSONPath (jsonpath-ng's extended grammar, as the templates' and the
    replay's), or a ``ValueError`` saying why it is none."""
    if not path.startswith("$"):
        raise ValueError(f"bad JSONPath: it must start with '$' (got {path[:60]!r})")
    try:
        with warnings.catch_warnings():
            # jsonpath-ng deprecates '&' in filters for '&&'; both still parse the same.
            warnings.simplefilter("ignore", DeprecationWarning)
            return parse_jsonpath(path)
    except Exception as exc:  # jsonpath-ng raises bare Exceptions from its lexer and parser
        raise ValueError(f"bad JSONPath: {exc} (got {path[:60]!r})") from None


def _json_of(body: bytes | None) -> Any:
    """The body's JSON, or ``_NOT_JSON``."""
    try:
        return _NOT_JSON if body is None else json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or too deep for Python's parser
        return _NOT_JSON


_NOT_JSON = object()


def finds(path: str, given: Any) -> bool:
    """Whether JSONPath ``path`` finds anything in JSON ``given``."""
    try:
        return bool(compile_jsonpath(path).find(given))
    except Exception:  # a filter comparing text with a number raises: it finds nothing there
        return False


def body_finds(body: bytes | None, paths: list[str]) -> bool:
    """Whether each JSONPath of ``paths`` finds something in the JSON body."""
    given = _json_of(body)
    return given is not _NOT_JSON and all(finds(path, given) for path in paths)


def body_holds(body: bytes | None, wanted: Any) -> bool:
    try:
        return body is not None and contains(json.loads(body), wanted)
    except (ValueError, RecursionError):  # not JSON, or too deep for Python's parser
        return False


def misses(live: LiveStub, scope: Scope, body: bytes | None, state: str | None) -> list[str]:
    """What keeps ``live``, a stub of the call's path, from answering it, in words; [] if
    nothing does. ``state`` is the current state of the stub's scenario, if it has one."""
    s = live.stub
    said = []
    if s.method not in ("ANY", scope["method"]):
        said.append(f"method {s.method} (got {scope['method']})")
    if s.query:
        given = query_values(scope["query_string"])
        for name, value in s.query.items():
            if value not in given.get(name, ()):
                got = given.get(name, [])
                form = next((_forms(v, value) for v in got if _nfc(v) == _nfc(value)), None)
                # Hidden as the journal hides them: the 404 goes back to the caller.
                hidden = form or _got([redact(name, v) for v in got])
                said.append(f"query {name}={cut(redact(name, value))} (got {hidden})")
    if s.request_headers:
        headers = header_values(scope)
        for name, value in s.request_headers.items():
            if not header_holds(headers.get(name, []), value):
                got = [redact(name, v) for v in headers.get(name, [])]
                said.append(f"header {name}: {cut(redact(name, value))} (got {_got(got)})")
    if "request_json" in s.model_fields_set and not body_holds(body, s.request_json):
        wanted = json.dumps(s.request_json, ensure_ascii=False, separators=(",", ":"))
        shown = redact_body(wanted)
        said.append(f"request_json {cut(shown)} ({_body_form(body, s.request_json)})")
    if s.request_jsonpath:
        given = _json_of(body)
        for path in s.request_jsonpath:
            if given is _NOT_JSON or not finds(path, given):
                why = "the body is not JSON" if given is _NOT_JSON else "found nothing in the body"
                # Hidden as request_json's members are: the 404 goes back to the caller.
                shown = REDACTED if is_secret(path) else cut(path)
                said.append(f"request_jsonpath {shown} ({why})")
    if not live.live:
        said.append(f"used up (times {s.times})")
    if s.required_state is not None and state != s.required_state:
        said.append(f"scenario {s.scenario!r} is in state {state!r} (needs {s.required_state!r})")
    return said


def _nfc(value: Any) -> Any:
    """JSON ``value`` with its text in Unicode NFC."""
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, dict):
        return {_nfc(k): _nfc(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_nfc(v) for v in value]
    return value


def _form(text: str) -> str:
    for form in ("NFC", "NFD"):
        if unicodedata.is_normalized(form, text):
            return form
    return "mixed"


def _forms(got: str, wanted: str) -> str:
    # "Nguyễn" composed and decomposed look alike: say why they still differ.
    return f"it in another Unicode form ({_form(got)}, not {_form(wanted)})"


def _body_form(body: bytes | None, wanted: Any) -> str:
    """Why the body does not hold ``wanted``: not at all, or in another Unicode form."""
    try:
        given = json.loads(body or b"")
        if contains(_nfc(given), _nfc(wanted)):
            got, shown = (json.dumps(v, ensure_ascii=False) for v in (given, wanted))
            return f"the body holds {_forms(got, shown)}"
    except (ValueError, RecursionError):  # a body too deep to read holds no stub's JSON
        pass
    return "the body does not hold it"


def cut(text: str) -> str:
    """``text``, cut to the length a miss quotes."""
    return text if len(text) <= _SHOWN else text[:_SHOWN] + "..."


def _got(values: list[str] | None) -> str:
    return ", ".join(cut(v) for v in values) if values else "none"
