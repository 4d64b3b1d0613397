"""Stubs: tell a running mock "for this request, answer this" (the ``/__stubs`` control).

A ``Stub`` matches on ``method`` (or ``ANY``), ``path`` (exact) or ``path_pattern`` (a regular
expression the whole path must match), and optionally ``query`` (each named parameter has that
value; others may come too) and ``request_headers`` (each named header, in any case, has that
value). It answers ``status`` with ``headers`` and a JSON ``body`` or a ``text``, after
``latency_ms``; with ``times`` it answers that many calls, then no more. ``request_json`` matches
the body: it must parse as JSON and contain the value given (an object's other keys may come too;
lists and other values must be as given), so a stub can answer one ``POST`` and not another;
``request_jsonpath`` does by JSONPath: each expression must find something in the body.
With ``scenario``, ``required_state`` and ``new_state`` a stub answers only in a state of its
scenario, and moves it on (``connectors.kit.scenarios``).

``Stubs`` keeps them in the order they are tried: by ``priority`` (1 first; none is 5, as in
WireMock), then, within a priority, as ``PUT`` gives the list, with the stubs of a ``POST`` in
front (a stub a test adds is usually more specific than those set up before it). The first
live stub that matches answers, before the mock's own handlers; faults come first (see
``connectors.kit.faults``). Matching itself is ``connectors.kit.matching``, how near a path
comes to a stub's ``connectors.kit.nearby``; what a stub may say, ``connectors.kit.stub_model``.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from starlette.types import Receive, Scope, Send

from connectors.kit.bodies import loads
from connectors.kit.errors import describe, with_fields
from connectors.kit.journal import header_holds, query_values
from connectors.kit.matching import (
    body_finds,
    body_holds,
    compile_pattern,
    cut,
    header_values,
    misses,
)
from connectors.kit.nearby import PathShape, edit_distance, near_limit, pairs_of
from connectors.kit.scenarios import Move, Scenarios
from connectors.kit.stub_model import NO_BODY, Stub
from connectors.kit.templating import render

MAX_STUBS = 1000
DEFAULT_PRIORITY = 5  # WireMock's: a stub without a priority comes after those of 1 to 4


@dataclass(eq=False)
class LiveStub:
    """A stub in use: its id, how often it answered, its compiled pattern and answer."""

    id: str
    stub: Stub
    hits: int = 0

    def __post_init__(self) -> None:
        s = self.stub
        self.pattern = compile_pattern(s.path_pattern) if s.path_pattern is not None else None
        self.reads_body = "request_json" in s.model_fields_set or bool(s.request_jsonpath)
        if "body" in s.model_fields_set:
            content: bytes = json.dumps(s.body, ensure_ascii=False, separators=(",", ":")).encode()
            kind: str | None = "application/json"
        elif s.text is not None:
            content, kind = s.text.encode(), "text/plain; charset=utf-8"
        else:
            content, kind = b"", None
        given = {k.lower() for k in s.headers}
        headers = [
            (k.lower().encode(), v.encode())
            for k, given in s.headers.items()
            for v in (given if isinstance(given, list) else [given])
        ]
        if kind is not None and "content-type" not in given:
            headers.append((b"content-type", kind.encode()))
        if s.status not in NO_BODY:
            headers.append((b"content-length", b"%d" % len(content)))
        headers.append((b"x-mock-stub", self.id.encode()))
        self.content = content
        self.raw_headers = headers

    @property
    def live(self) -> bool:
        return self.stub.times is None or self.hits < self.stub.times

    def matches(self, scope: Scope, body: bytes | None = None) -> bool:
        """Whether the call matches; with ``request_json``, only once its ``body`` is read."""
        if not self.matches_all_but_body(scope):
            return False
        s = self.stub
        if "request_json" in s.model_fields_set and not body_holds(body, s.request_json):
            return False
        return not s.request_jsonpath or body_finds(body, s.request_jsonpath)

    @functools.cached_property
    def shape(self) -> PathShape | None:
        """Its ``path_pattern`` cut at its ``/``s, for near misses across paths (worked out
        at the first call no stub answered, not for every stub added)."""
        pattern = self.stub.path_pattern
        return None if pattern is None else PathShape.of_pattern(pattern)

    @functools.cached_property
    def pairs(self) -> frozenset[str]:
        """The pairs of neighbouring characters of its ``path`` (none for a pattern)."""
        return pairs_of(self.stub.path or "")

    def path_distance(self, path: str, limit: int, pairs: frozenset[str]) -> int:
        """How many edits ``path`` (whose ``pairs_of`` is ``pairs``) is from the stub's path,
        or ``limit + 1`` once more."""
        if self.stub.path is not None:
            # Each edit breaks at most two pairs of the path: more of them missing from the
            # stub's path is more edits, told without working the distance out.
            if len(pairs - self.pairs) > 2 * limit:
                return limit + 1
            return edit_distance(self.stub.path, path, limit)
        return limit + 1 if self.shape is None else self.shape.distance(path, limit)

    def path_matches(self, path: str) -> bool:
        if self.pattern is not None:
            return self.pattern.fullmatch(path) is not None
        return path == self.stub.path

    def matches_all_but_body(self, scope: Scope) -> bool:
        s = self.stub
        if s.method != "ANY" and s.method != scope["method"]:
            return False
        if not self.path_matches(scope["path"]):
            return False
        if s.query:
            # A parameter given more than once matches on any of its values.
            given = query_values(scope["query_string"])
            if any(v not in given.get(k, ()) for k, v in s.query.items()):
                return False
        if s.request_headers:
            # So does a header given on several lines, or all of them as the journal joins them.
            headers = header_values(scope)
            if any(not header_holds(headers.get(k, []), v) for k, v in s.request_headers.items()):
                return False
        return True

    def view(self) -> dict[str, Any]:
        times = self.stub.times
        remaining = None if times is None else max(times - self.hits, 0)
        return {"id": self.id, **self.stub.wire(), "hits": self.hits, "remaining": remaining}

    async def answer(self, receive: Receive, send: Send, scope: Scope) -> None:
        # Read the request's body first: the journal then knows its size, and a client still
        # sending is not answered mid-body. A templated stub keeps it, to render from it.
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left
            if self.stub.template:
                chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        done = self
        if self.stub.template:
            done = LiveStub(self.id, render(self.stub, scope, b"".join(chunks)))
        start = {"type": "http.response.start", "status": self.stub.status}
        await send({**start, "headers": done.raw_headers})
        await send({"type": "http.response.body", "body": done.content})


class StubError(ValueError):
    """A stub list cannot be taken as it is; the message says why."""


def read_stubs(path: Path) -> list[Stub]:
    """The stubs of a JSON file holding a list of them, as ``PUT /__stubs`` takes."""
    try:
        # utf-8-sig: a byte order mark (Notepad writes one) is no part of the JSON.
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise StubError(f"cannot read the stubs file {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise StubError(f"the stubs file {path} is not JSON: {exc}") from None
    if not text.strip():
        # A redirect that failed leaves the file empty: "Expecting value" said nothing of it.
        raise StubError(f"the stubs file {path} is empty: write [] for no stubs, or a list of them")
    try:
        given = loads(text)
    except json.JSONDecodeError as exc:
        raise StubError(f"the stubs file {path} is not JSON: {exc}{_trailing_comma(exc)}") from None
    except ValueError as exc:
        raise StubError(f"the stubs file {path} is not JSON: {exc}") from None
    if not isinstance(given, list):
        raise StubError(f"the stubs file {path} must hold a JSON list of stubs ([] for none)")
    stubs, errors = [], []
    for i, item in enumerate(given):
        try:
            stubs.append(Stub.model_validate(item))
        except ValidationError as exc:
            errors += [{**e, "loc": ("body", f"stubs[{i}]", *e["loc"])} for e in exc.errors()]
    if errors:
        raise StubError(f"the stubs file {path}: {describe(with_fields(errors, Stub))}")
    try:
        Stubs().replace(stubs)  # an id given twice, or too many stubs
    except StubError as exc:
        raise StubError(f"the stubs file {path}: {exc}") from None
    return stubs


def _trailing_comma(exc: json.JSONDecodeError) -> str:
    """Where the parser stopped at a closing bracket after a ',' (as JavaScript's literals
    allow), where that comma is: the parser names the bracket, often a line further on."""
    before = exc.doc[: exc.pos].rstrip()
    if not before.endswith(",") or exc.doc[exc.pos : exc.pos + 1] not in ("]", "}"):
        return ""
    at = len(before) - 1
    line = exc.doc.count("\n", 0, at) + 1
    column = at - exc.doc.rfind("\n", 0, at)
    return (
        f"; the ',' at line {line} column {column} comes before {exc.doc[exc.pos]!r}, which "
        "JSON does not allow: delete it"
    )


class Stubs:
    """The live stubs of one app, in the order they are tried."""

    def __init__(self) -> None:
        self.stubs: list[LiveStub] = []
        self.initial: list[Stub] = []
        self.scenarios = Scenarios()
        self._next = 1

    def start_with(self, stubs: list[Stub]) -> None:
        """Serve ``stubs`` now and again after each reset (``hub mock --stubs``)."""
        self.replace(stubs)
        self.initial = stubs

    def _make(self, stubs: list[Stub], taken: set[str]) -> list[LiveStub]:
        # The ids given are set aside first: a stub without one listed before a stub named
        # "s1" took s1 itself, and the list was refused as giving "s1" twice.
        given = [s.id for s in stubs if s.id is not None]
        twice = next((i for i, n in Counter(given).items() if n > 1 or i in taken), None)
        if twice is not None:
            raise StubError(f"id {twice!r} is given twice; give each stub its own")
        taken = taken | set(given)
        ids = itertools.count(self._next)  # taken up only once the stubs are
        made = []
        for stub in stubs:
            stub_id = stub.id or next(f"s{n}" for n in ids if f"s{n}" not in taken)
            taken.add(stub_id)
            made.append(LiveStub(stub_id, stub))
        if len(taken) > MAX_STUBS:
            raise StubError(f"a mock holds at most {MAX_STUBS} stubs; delete some first")
        self._next = next(ids)
        return made

    def replace(self, stubs: list[Stub]) -> list[LiveStub]:
        """Serve ``stubs`` instead, their scenarios from ``Started``: a new set of stubs is a
        new test, which a state left by the last one would only confuse."""
        self.stubs = sorted(self._make(stubs, set()), key=_rank)
        self.scenarios.reset()
        return self.stubs

    def add(self, stubs: list[Stub]) -> list[LiveStub]:
        """Put ``stubs`` in front of those of their priority; a ``ConflictError`` for an id
        already there is the caller's."""
        made = self._make(stubs, {s.id for s in self.stubs})
        self.stubs = sorted(made + self.stubs, key=_rank)  # stable: the order within a priority
        return made

    def taken(self, stubs: Iterable[Stub]) -> str | None:
        """The first given id that a stub already has, or None."""
        ids = {s.id for s in self.stubs}
        return next((s.id for s in stubs if s.id in ids), None)

    def remove(self, stub_id: str) -> LiveStub | None:
        found = next((s for s in self.stubs if s.id == stub_id), None)
        if found is not None:
            self.stubs.remove(found)
            self.scenarios.keep_only(s.stub.scenario for s in self.stubs if s.stub.scenario)
        return found

    def clear(self) -> list[LiveStub]:
        removed, self.stubs = self.stubs, []
        self.scenarios.reset()
        return removed

    def reset(self) -> None:
        """The stubs started with, unused, and ids from ``s1`` again (the journal that named
        the old ones is gone)."""
        self._next = 1
        self.replace(self.initial)

    def needs_body(self, scope: Scope) -> bool:
        """Whether a live stub matching all else would look at the request's body."""
        return any(s.reads_body and s.live and s.matches_all_but_body(scope) for s in self.stubs)

    def find(self, scope: Scope, body: bytes | None = None) -> LiveStub | None:
        """The first live stub matching the request (and its ``body``, once read) in the
        current state of its scenario, or None."""
        for stub in self.stubs:
            if stub.live and self.scenarios.allows(stub.stub) and stub.matches(scope, body):
                return stub
        return None

    def choose(
        self, scope: Scope, body: bytes | None = None
    ) -> tuple[LiveStub, Move | None] | None:
        """The stub that answers the call, taken (a hit, its scenario moved), or None.

        Finding and taking have no ``await`` between them, so no other call of the event
        loop comes in between: of calls made together, one alone takes a stub that moves
        its scenario on, or that has one use left.
        """
        stub = self.find(scope, body)
        if stub is None:
            return None
        stub.hits += 1
        return stub, self.scenarios.move(stub.stub)

    def closest(self, scope: Scope, body: bytes | None = None) -> tuple[LiveStub, list[str]] | None:
        """For a call no stub answered: the stub of its path that misses it least, and how."""
        near = [
            (misses(s, scope, body, self.scenarios.state_of(s.stub)), s)
            for s in self.stubs
            if s.path_matches(scope["path"])
        ]
        if not near:
            return None
        said, stub = min(near, key=lambda pair: len(pair[0]))  # the first of the fewest
        return stub, said

    def nearby(
        self, scope: Scope, body: bytes | None = None
    ) -> tuple[LiveStub, int, list[str]] | None:
        """For a call that no stub of its path missed: the stub of its method whose path it
        comes nearest (a few edits, ``near_limit``), how near, and what it missed, its path
        first; WireMock names such a stub too (``/citizen/1`` for a stub of ``/citizens/1``).

        Only the 404 asks, once per call: a bounded edit distance per stub of the method,
        the first of the nearest kept.
        """
        path, method = scope["path"], scope["method"]
        limit, pairs = near_limit(path), pairs_of(path)
        best: tuple[int, LiveStub] | None = None
        for stub in self.stubs:
            if stub.stub.method not in ("ANY", method):
                continue
            distance = stub.path_distance(path, limit if best is None else best[0] - 1, pairs)
            if distance <= limit and (best is None or distance < best[0]):
                best = (distance, stub)
                if distance == 1:
                    break  # a path that matched would be 0: none comes nearer
        if best is None:
            return None
        distance, stub = best
        s = stub.stub
        wanted = f"path {s.path}" if s.path is not None else f"path_pattern {s.path_pattern}"
        said = [f"{cut(wanted)} (got {cut(path)})"]
        said += misses(stub, scope, body, self.scenarios.state_of(s))
        return stub, distance, said


def _rank(stub: LiveStub) -> int:
    priority = stub.stub.priority
    return DEFAULT_PRIORITY if priority is None else priority
