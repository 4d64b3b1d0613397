"""A circuit breaker per provider, so a failing provider is not hammered while it is down.

closed: exchanges pass; outcomes are counted in one-second buckets over the last
``window_s``. When at least ``min_requests`` were seen and the share of failures reaches
``failure_ratio``, the circuit opens.
open: the gateway answers 503 Server.ServiceUnavailable at once, for ``open_s``.
half_open: one probe exchange at a time is let through; a success closes the circuit with a
clean window, a failure opens it again for another ``open_s``.

A failure is what the hub could not get an answer for or a 5xx from the provider; a 4xx is
the caller's problem and counts as a success. Nothing is retried: the breaker only decides
whether to try.

``allow`` answers with a ticket that ``record`` takes back: an exchange let through before
the circuit opened can finish while the probe is out (a service timeout longer than
``open_s``), and only the probe's own outcome may decide the half-open circuit.

A provider whose address or timeout an operator changes starts afresh (``readdressed``,
``forget``): the failures counted were the old settings', and a corrected ``base_url`` was
otherwise refused as "failing" until the circuit half-opened.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from hub.registry.cache import Snapshot

State = Literal["closed", "open", "half_open"]
PASS = 1  # allow's ticket for an exchange let through while closed; probes get 2, 3, ...


class _Circuit:
    __slots__ = ("buckets", "total", "failed", "opened_at", "probe_at", "probe")

    def __init__(self) -> None:
        self.buckets: deque[list[int]] = deque()  # [second, total, failed]
        self.total = 0
        self.failed = 0
        self.opened_at: float | None = None
        self.probe_at: float | None = None  # when the half-open probe in flight started
        self.probe = 0  # that probe's ticket


class Breaker:
    """Per-provider circuits; ``allow`` before forwarding, ``record`` after."""

    def __init__(
        self,
        *,
        window_s: float,
        min_requests: int,
        failure_ratio: float,
        open_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.window_s = window_s
        self.min_requests = min_requests
        self.failure_ratio = failure_ratio
        self.open_s = open_s
        self.clock = clock
        self._circuits: dict[str, _Circuit] = {}
        self._tickets = PASS
        self.opened = 0  # how many times any circuit opened

    def forget(self, providers: set[str]) -> None:
        """Drop the circuits of ``providers``: closed, with an empty window."""
        for provider in providers:
            self._circuits.pop(provider, None)

    def state(self, provider: str) -> State:
        c = self._circuits.get(provider)
        if c is None or c.opened_at is None:
            return "closed"
        return "open" if self.clock() - c.opened_at < self.open_s else "half_open"

    def states(self) -> dict[str, State]:
        return {p: self.state(p) for p in self._circuits}

    def retry_after(self, provider: str) -> float:
        """Seconds until the circuit lets an exchange try the provider again: the rest of the
        open time; a second while a half-open probe is out (it usually reports within one)."""
        c = self._circuits.get(provider)
        if c is None or c.opened_at is None:
            return 0.0
        left = self.open_s - (self.clock() - c.opened_at)
        return left if left > 0 else 1.0

    def allow(self, provider: str) -> int:
        """0 to refuse the exchange, else the ticket to give ``record`` with its outcome."""
        c = self._circuits.get(provider)
        if c is None or c.opened_at is None:
            return PASS
        now = self.clock()
        if now - c.opened_at < self.open_s:
            return 0
        # Half-open: one probe at a time; a probe that never reported frees its slot after
        # open_s so a lost one cannot keep the circuit shut.
        if c.probe_at is not None and now - c.probe_at < self.open_s:
            return 0
        self._tickets += 1
        c.probe_at, c.probe = now, self._tickets
        return c.probe

    def record(self, provider: str, ok: bool, ticket: int = PASS) -> None:
        c = self._circuits.get(provider)
        if c is None:
            c = self._circuits[provider] = _Circuit()
        now = self.clock()
        if c.opened_at is not None:
            if ticket != c.probe:
                return  # let through before the circuit opened, or a probe given up on
            c.probe_at, c.probe = None, 0
            if ok:
                c.opened_at = None
                c.buckets.clear()
                c.total = c.failed = 0
            else:
                c.opened_at = now
            return
        self._count(c, now, ok)
        if c.total >= self.min_requests and c.failed >= self.failure_ratio * c.total:
            c.opened_at = now
            self.opened += 1

    def _count(self, c: _Circuit, now: float, ok: bool) -> None:
        second = int(now)
        while c.buckets and c.buckets[0][0] <= second - self.window_s:
            _, total, failed = c.buckets.popleft()
            c.total -= total
            c.failed -= failed
        if not c.buckets or c.buckets[-1][0] != second:
            c.buckets.append([second, 0, 0])
        bucket = c.buckets[-1]
        bucket[1] += 1
        c.total += 1
        if not ok:
            bucket[2] += 1
            c.failed += 1


def readdressed(old: Snapshot, new: Snapshot) -> set[str]:
    """The providers of which a service ``old`` held is forwarded otherwise in ``new``: to
    another address or with another timeout, or no longer at all (deleted or renamed)."""
    moved = set()
    for sid, before in old.services.items():
        after = new.services.get(sid)
        if after is None or (after.base_url, after.timeout_s) != (
            before.base_url,
            before.timeout_s,
        ):
            moved.add(before.provider)
    return moved
