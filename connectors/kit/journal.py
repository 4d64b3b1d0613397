"""The request journal: what a mock received, for tests that check what was called.

Each call of the mock (not its ``/__`` controls) is an ``Entry`` in a bounded deque, newest
last: the raw method, path, query and headers, the body's size and its first ``BODY_KEPT``
bytes, and, as the call goes on, the status answered, the stub or fault that applied (and the
scenario that stub moved) and the duration. Turning
that into JSON (decoding, redacting secrets) waits for ``GET /__requests``, so a call costs an
append and a few attribute sets. ``Journal.select`` finds calls by method, path, status, the
stub that answered, whether anything did (``unmatched``: neither a service nor a stub),
arrival time, and what was sent: a query parameter's or a header's value, a text of the body.

Headers, query parameters, the JSON body's fields and a form body's pairs whose names suggest
a secret (``Authorization``, cookies, keys, tokens, passwords) are shown as ``[redacted]``; an
``Authorization`` keeps its scheme (``Bearer [redacted]``). The filters see them so too: a
filter that matched a secret's value would let whoever asks the journal guess it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import time
from collections import deque
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote_plus, urlencode

from starlette.types import Scope

if TYPE_CHECKING:
    from connectors.kit.scenarios import Move

JOURNAL_SIZE = 1000
PREVIEW = 200  # characters of the body shown
_PREVIEWED = 4 * PREVIEW  # bytes read for the preview: enough for PREVIEW characters of UTF-8
# Bytes of each body kept for body_contains: more than any request of the mocks' services (a
# land transfer of ten parties on each side is a few KB). An entry with a body this long or
# longer takes about 17 KB (1.3 KB when 800 bytes were kept), so a full journal of them about
# 17 MB (measured with tracemalloc, docs/connectors.md "Request journal").
BODY_KEPT = 16 * 1024
REDACTED = "[redacted]"
_SECRET = re.compile(
    r"authorization|cookie|token|secret|passw|api[-_]?key|client[-_]?key|session|signature"
    r"|credential|private[-_]?key|^(?:key|pwd|pin|otp|passcode)$",
    re.IGNORECASE,
)
# A JSON member: its name, the colon, and its value (a string, cut short or not, or a scalar).
_MEMBER = re.compile(r'"((?:[^"\\]|\\.)*)"(\s*:\s*)("(?:[^"\\]|\\.)*"?|[^\s,}\]{\[][^\s,}\]]*)')
# A pair of a form body (``application/x-www-form-urlencoded``, what ``curl -d`` and an OAuth
# token request send): the ``&`` or start before it, its name, and its value, still encoded.
_FORM_PAIR = re.compile(r"(^|&)([^=&]*)=([^&]*)")


class Entry:
    """One call as received; filled in while it is answered."""

    __slots__ = (
        "seq",
        "at",
        "started",
        "method",
        "path",
        "query",
        "headers",
        "size",
        "head",
        "status",
        "stub",
        "scenario",
        "fault",
        "delay",
        "duration",
        "unmatched",
    )

    def __init__(self, seq: int, scope: Scope) -> None:
        self.seq = seq
        self.at = time.time()
        self.started = time.perf_counter()
        self.method: str = scope["method"]
        self.path: str = scope["path"]
        self.query: bytes = scope["query_string"]
        self.headers: list[tuple[bytes, bytes]] = scope["headers"]
        self.size = 0
        self.head = b""
        self.status: int | None = None
        self.stub: str | None = None
        self.scenario: Move | None = None
        self.fault: str | None = None
        self.delay = 0.0
        self.duration: float | None = None
        self.unmatched = False  # neither a service nor a stub answered it

    def took(self, chunk: bytes) -> None:
        """Note a piece of the request body."""
        self.size += len(chunk)
        if len(self.head) < BODY_KEPT:
            self.head += chunk[: BODY_KEPT - len(self.head)]

    def done(self) -> None:
        if self.duration is None:
            self.duration = time.perf_counter() - self.started

    @property
    def time(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.at, dt.UTC)

    def sent_query(self, wanted: dict[str, str]) -> bool:
        """Whether each named query parameter has that value (one given several times, any
        of them), a secret's as the journal shows it."""
        given = query_values(self.query)
        return all(
            (name in given) if _SECRET.search(name) else value in given.get(name, ())
            for name, value in wanted.items()
        )

    def sent_headers(self, wanted: dict[str, str]) -> bool:
        """Whether each named header (lower case) has that value, a secret's as the journal
        shows it: on any of its lines, or on all of them joined as the journal joins them."""
        given: dict[str, list[str]] = {}
        for raw_name, raw_value in self.headers:
            name = raw_name.decode("latin-1")
            if name in wanted:
                given.setdefault(name, []).append(header_text(raw_value))
        for name, value in wanted.items():
            values = given.get(name, [])
            if _SECRET.search(name) and values:
                # As the journal shows it: a line redacted, or all of them joined and redacted.
                held = value in {redact(name, v) for v in (*values, ", ".join(values))}
            else:
                held = header_holds(values, value)
            if not held:
                return False
        return True

    def sent_text(self, text: str) -> bool:
        """Whether the body kept holds ``text``, its secrets redacted as the journal shows."""
        return text in redact_body(self.head.decode("utf-8", "replace"))

    def view(self) -> dict[str, Any]:
        headers: dict[str, str] = {}
        size = self.size
        for raw_name, raw_value in self.headers:
            name, value = raw_name.decode("latin-1"), header_text(raw_value)
            if name == "content-length" and not size and value.isdigit():
                size = int(value)  # a body nobody read: the handler did not need it
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        preview = redact_body(self.head[:_PREVIEWED].decode("utf-8", "replace"))[:PREVIEW]
        return {
            "id": self.seq,
            "time": self.time.isoformat(),
            "method": self.method,
            "path": self.path,
            "query": _query(self.query),
            "headers": {k: redact(k, v) for k, v in headers.items()},
            "body_size": size,
            "body_preview": preview,
            "status": self.status,
            "stub": self.stub,
            "scenario": None if self.scenario is None else self.scenario.view(),
            "fault": self.fault,
            "delay_ms": round(self.delay * 1000, 3),
            "duration_ms": None if self.duration is None else round(self.duration * 1000, 3),
            "unmatched": self.unmatched,
        }


def header_text(raw: bytes) -> str:
    """A header value as its sender wrote it: UTF-8 (what clients send beyond ASCII), else
    Latin-1 (HTTP's old default, which any bytes decode as)."""
    try:
        return raw.decode()
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def query_values(raw: bytes) -> dict[str, list[str]]:
    """A query string's parameters, each with every value it was given, decoded."""
    values: dict[str, list[str]] = {}
    for name, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        values.setdefault(name, []).append(value)
    return values


def header_holds(values: list[str], wanted: str) -> bool:
    """Whether a header sent on lines ``values`` has ``wanted``: on one line, or on all of
    them joined with ``", "`` as the journal shows them."""
    return wanted in values or (len(values) > 1 and ", ".join(values) == wanted)


def is_secret(name: str) -> bool:
    """Whether a header, query parameter or JSON member of this name is shown redacted."""
    return _SECRET.search(name) is not None


def secret_member(text: str) -> tuple[str, str] | None:
    """The name of the first member of JSON ``text`` whose value is a secret the journal would
    hide (``"password": "hunter2"``), or of such a pair of a form (``password=hunter2``), with
    how the journal shows it; or None."""
    for member in _MEMBER.finditer(text):
        name, _, value = member.groups()
        if _SECRET.search(name) and value != f'"{REDACTED}"':
            return name, f'\'"{name[:60]}": "{REDACTED}"\' (as the body spaces it)'
    if _is_form(text):
        for pair in _FORM_PAIR.finditer(text):
            _, name, value = pair.groups()
            if value not in ("", REDACTED) and _SECRET.search(unquote_plus(name)):
                return name, f"'{name[:60]}={REDACTED}'"
    return None


def redact(name: str, value: str) -> str:
    """``value`` of header or parameter ``name``, ``[redacted]`` if its name suggests a secret."""
    if not _SECRET.search(name):
        return value
    scheme, _, rest = value.partition(" ")
    return f"{scheme} {REDACTED}" if name.endswith("authorization") and rest else REDACTED


def redact_body(text: str) -> str:
    """JSON ``text`` with the values of members whose names suggest a secret ``[redacted]``;
    a form body (``a=1&password=x``) with the values of such pairs so."""
    if _is_form(text):
        return _FORM_PAIR.sub(_hidden_pair, text)
    if not _SECRET.search(text):
        return text

    def hidden(member: re.Match[str]) -> str:
        name, colon, value = member.groups()
        return f'"{name}"{colon}"{REDACTED}"' if _SECRET.search(name) else member[0]

    return _MEMBER.sub(hidden, text)


def _is_form(text: str) -> bool:
    """Whether ``text`` reads as a form body rather than JSON: pairs, and no JSON opening."""
    return "=" in text and text.lstrip()[:1] not in ("{", "[", '"')


def _hidden_pair(pair: re.Match[str]) -> str:
    start, name, _ = pair.groups()
    # Names are matched decoded, as the server reads them (``client%5Fsecret``).
    return f"{start}{name}={REDACTED}" if _SECRET.search(unquote_plus(name)) else pair[0]


def _query(raw: bytes) -> str:
    text = raw.decode("latin-1")
    pairs = parse_qsl(text, keep_blank_values=True)
    if not any(_SECRET.search(k) for k, _ in pairs):
        return text
    shown = [(k, REDACTED if _SECRET.search(k) else v) for k, v in pairs]
    return urlencode(shown, safe="[]/:,")


class Journal:
    """The last ``size`` calls of one app, and how many fell off since it was last cleared."""

    def __init__(self, size: int = JOURNAL_SIZE) -> None:
        self.size = size
        self.entries: deque[Entry] = deque(maxlen=size)
        # Never restarted, not by clear() either: a test holding an id from before a clear
        # or a reset must not find it on another call.
        self._seq = itertools.count(1)
        self._opened = 0  # since the last clear(), for dropped

    def open(self, scope: Scope) -> Entry:
        """Record a call as it arrives (so one still waiting is already counted)."""
        entry = Entry(next(self._seq), scope)
        self.entries.append(entry)
        self._opened += 1
        return entry

    @property
    def dropped(self) -> int:
        return self._opened - len(self.entries)

    def clear(self) -> int:
        """Forget every call; return how many there were. Ids go on from where they were."""
        held = len(self.entries)
        self.entries.clear()
        self._opened = 0
        return held

    def select(
        self,
        *,
        method: str | None = None,
        path: str | None = None,
        pattern: re.Pattern[str] | None = None,
        status: int | None = None,
        stub: str | None = None,
        unmatched: bool | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        query: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        body: str | None = None,
    ) -> list[Entry]:
        """The calls matching every filter given, newest first; ``since`` is inclusive,
        ``until`` not (the times as the journal shows them, to the microsecond). ``query``
        and ``headers`` (by lower-case name) name values sent, ``body`` a text of the body."""
        wanted = method.upper() if method else None
        return [
            e
            for e in reversed(self.entries)
            if (wanted is None or e.method == wanted)
            and (path is None or e.path == path)
            and (pattern is None or pattern.fullmatch(e.path))
            and (status is None or e.status == status)
            and (stub is None or e.stub == stub)
            and (unmatched is None or e.unmatched == unmatched)
            and (since is None or e.time >= since)
            and (until is None or e.time < until)
            and (not query or e.sent_query(query))
            and (not headers or e.sent_headers(headers))
            and (body is None or e.sent_text(body))
        ]
