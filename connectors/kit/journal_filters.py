"""The request journal's filters, read from the query of ``GET /__requests`` and
``/__requests/count`` (docs/connectors.md, "Request journal").

``journal_filters`` is the routes' dependency: it turns the parameters into what
``Journal.select`` takes, and a filter that could match no call (``method=ANY``, a ``path``
without its ``/``, an ``until`` before ``since``, a header name that is none) into a 422
saying what to fix, never a count of 0. The filters of what a call sent (``query.NAME``,
``header.NAME``, ``body_contains``) see secrets as the journal shows them: a filter on a
secret's value, which would let whoever asks the journal guess it, is refused.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from fastapi import Query, Request

from connectors.kit.errors import InvalidRequestError
from connectors.kit.journal import REDACTED, is_secret, redact, secret_member
from connectors.kit.matching import compile_pattern, encoded_path_problem

# The names GET /__requests and /__requests/count take; a name ending with .NAME stands for
# each name of that prefix (query.province).
FILTERS = (
    "method",
    "path",
    "path_pattern",
    "status",
    "stub",
    "unmatched",
    "since",
    "until",
    "query.NAME",
    "header.NAME",
    "body_contains",
)
MethodFilter = Annotated[str | None, Query(max_length=10)]
PathFilter = Annotated[str | None, Query(max_length=2000)]
StatusFilter = Annotated[int | None, Query(ge=100, le=599)]
StubFilter = Annotated[str | None, Query(min_length=1, max_length=64)]
UnmatchedFilter = Annotated[bool | None, Query()]
TimeFilter = Annotated[str | None, Query(max_length=64)]
BodyFilter = Annotated[str | None, Query(min_length=1, max_length=2000)]
# An ISO time whose "+" came unescaped in a URL, so arrived as a space: "...T08:00:00 07:00".
_SPACED_OFFSET = re.compile(r"(.+T.+) (\d\d(?::?\d\d)?)")


_METHOD = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP method is a token (RFC 9110)


def _method(method: str | None) -> str | None:
    # Empty, it was taken for no filter at all: "method=" counted every call.
    if method is None:
        return None
    if not _METHOD.fullmatch(method):
        raise InvalidRequestError(
            f"method: {method!r} is no HTTP method: give one such as GET or POST (any case), "
            "or leave method out for calls of every method"
        )
    if method.upper() == "ANY":
        # The journal holds each call's own method: "ANY" matched none, and counted 0.
        raise InvalidRequestError(
            "method: ANY is a stub's any method; each call in the journal has its own: leave "
            "method out for calls of every method"
        )
    return method


def _path(path: str | None) -> str | None:
    # Every path the journal holds starts with "/" and holds no query: another matched nothing.
    if path is None:
        return None
    if not path.startswith("/"):
        raise InvalidRequestError(
            f"path: a path starts with '/' (got {path[:60]!r}): give the exact path, such as "
            "/citizens/079203001234, or leave path out for calls of every path"
        )
    if "?" in path:
        raise InvalidRequestError(
            f"path: a path holds no query; the journal's paths have none (got {path[:60]!r})"
        )
    encoded = encoded_path_problem(path)
    if encoded is not None:
        raise InvalidRequestError(f"path: {encoded}")
    return path


def _pattern(path_pattern: str | None) -> re.Pattern[str] | None:
    try:
        return None if path_pattern is None else compile_pattern(path_pattern)
    except ValueError as exc:
        raise InvalidRequestError(f"path_pattern: {exc}") from None


def _instant(name: str, value: str | None) -> dt.datetime | None:
    """A journal time filter: an ISO 8601 date or datetime, UTC unless it has an offset."""
    if value is None:
        return None
    text = value.strip()
    spaced = _SPACED_OFFSET.fullmatch(text)
    if spaced:
        text = f"{spaced[1]}+{spaced[2]}"
    try:
        when = dt.datetime.fromisoformat(text.upper())  # RFC 3339 lets T and Z be lower case
    except ValueError:
        raise InvalidRequestError(
            f"{name}: {value[:40]!r} is not a time: give an ISO 8601 datetime such as "
            "2026-12-06T07:56:16Z, as the journal's time shows it (UTC unless it has an offset)"
        ) from None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


_HEADER_NAME = _METHOD  # a header's name is a token too


def _sent(request: Request) -> tuple[dict[str, str], dict[str, str]]:
    """The ``query.NAME`` and ``header.NAME`` filters: the values each named parameter and
    header (by lower-case name) must have."""
    query: dict[str, str] = {}
    headers: dict[str, str] = {}
    given: dict[str, str] = {}  # header name -> as the filter spelled it, to say which twice
    for key, value in request.query_params.multi_items():
        name = key.partition(".")[2]
        if key.startswith("query."):
            if not name:
                raise InvalidRequestError(
                    f"{key}: give the parameter's name after 'query.', as query.province=79"
                )
            if is_secret(name) and value != REDACTED:
                raise InvalidRequestError(_secret_filter(key, "parameter", REDACTED))
            query[name] = value
        elif key.startswith("header."):
            headers[_header_filter(key, name, value, given)] = value
    return query, headers


def _header_filter(key: str, name: str, value: str, given: dict[str, str]) -> str:
    """The lower-case header name of filter ``key``, or a 422 for one no call could match."""
    if not name:
        raise InvalidRequestError(
            f"{key}: give the header's name after 'header.', as header.X-Road-UserId=officer-01"
        )
    if not _HEADER_NAME.fullmatch(name):
        raise InvalidRequestError(f"{key}: {name[:60]!r} is no header name, which no call sent")
    lower = name.lower()
    if lower in given:
        # Both would have to hold of one header: names match in any case.
        raise InvalidRequestError(
            f"header {lower} is given twice ({given[lower]} and {key}): header names match in "
            "any case; give it once"
        )
    given[lower] = key
    if "\r" in value or "\n" in value:
        raise InvalidRequestError(f"{key}: a header's value has no line break, which no call sent")
    if value != value.strip(" \t"):
        raise InvalidRequestError(
            f"{key}: a header's value has no spaces or tabs at its ends: HTTP drops them, so no "
            f"call could match (got {value[:60]!r})"
        )
    if is_secret(lower) and redact(lower, value) != value:
        raise InvalidRequestError(_secret_filter(f"header.{lower}", "header", redact(lower, value)))
    return lower


def _secret_filter(key: str, kind: str, shown: str) -> str:
    return (
        f"{key}: the journal shows this {kind} redacted, so a filter on its value would let "
        f"whoever asks the journal guess it: give {shown!r} to find the calls that sent one"
    )


def _body_text(text: str | None) -> str | None:
    if text is None:
        return None
    secret = secret_member(text)
    if secret is not None:
        raise InvalidRequestError(
            f"body_contains: the journal shows the value of {secret[0][:60]!r} redacted, so a "
            f"filter on it would let whoever asks the journal guess it: give "
            f"{secret[1]}, or leave the value out"
        )
    return text


async def journal_filters(
    request: Request,
    method: MethodFilter = None,
    path: PathFilter = None,
    path_pattern: PathFilter = None,
    status: StatusFilter = None,
    stub: StubFilter = None,
    unmatched: UnmatchedFilter = None,
    since: TimeFilter = None,
    until: TimeFilter = None,
    body_contains: BodyFilter = None,
) -> dict[str, Any]:
    """The journal's filters, as ``Journal.select`` takes them."""
    start, end = _instant("since", since), _instant("until", until)
    if start is not None and end is not None and end <= start:
        # No call is at or after one time and before an earlier one: a count of 0 said nothing.
        raise InvalidRequestError(
            f"until ({until}) is not after since ({since}): no call could match; give an "
            "until later than since"
        )
    query, headers = _sent(request)
    return {
        "query": query,
        "headers": headers,
        "body": _body_text(body_contains),
        "method": _method(method),
        "path": _path(path),
        "pattern": _pattern(path_pattern),
        "status": status,
        "stub": stub,
        "unmatched": unmatched,
        "since": start,
        "until": end,
    }
