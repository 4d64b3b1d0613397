"""The circuit breaker: opens on a failure share, answers 503 while open, probes half-open."""

from __future__ import annotations

from pathlib import Path

from hub.reliability.breaker import Breaker
from tests.reliability.conftest import running_hub
from tests.reliability.fakes import LOOKUP, PROVIDER, PURPOSE

P = "VN/GOV/BCA/population"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock) -> Breaker:
    return Breaker(window_s=10, min_requests=4, failure_ratio=0.5, open_s=5, clock=clock)


def test_it_opens_only_with_enough_requests_and_a_high_enough_failure_share() -> None:
    clock = Clock()
    b = breaker(clock)
    for ok in (False, False, False):
        b.record(P, ok)
    assert b.state(P) == "closed"  # three failures, but fewer than min_requests
    b.record(P, True)  # 3 of 4 failed
    assert b.state(P) == "open" and not b.allow(P)


def test_successes_keep_it_closed_and_old_failures_leave_the_window() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(6):
        b.record(P, True)
    for _ in range(5):
        b.record(P, False)  # 5 of 11: under half
    assert b.state(P) == "closed"
    clock.now += 11  # everything above is outside the 10 s window now
    for ok in (True, True, True, False):
        b.record(P, ok)
    assert b.state(P) == "closed"


def test_half_open_lets_one_probe_through_and_its_outcome_decides() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(4):
        b.record(P, False)
    clock.now += 5
    assert b.state(P) == "half_open"
    assert b.allow(P) and not b.allow(P)  # one probe at a time
    b.record(P, False)  # the probe failed: open again for open_s
    assert b.state(P) == "open" and not b.allow(P)
    clock.now += 5
    assert b.allow(P)
    b.record(P, True)
    assert b.state(P) == "closed" and b.allow(P) and b.allow(P)


def test_a_lost_probe_does_not_keep_the_circuit_shut() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(4):
        b.record(P, False)
    clock.now += 5
    assert b.allow(P)  # this probe never reports back
    clock.now += 5
    assert b.allow(P)


def test_outcomes_of_exchanges_started_before_it_opened_are_ignored() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(4):
        b.record(P, False)
    b.record(P, True)  # a slow exchange let through earlier finishes now
    assert b.state(P) == "open"


async def test_the_gateway_answers_503_while_the_circuit_is_open(
    sqlite_url: str, tmp_path: Path
) -> None:
    settings = {"breaker_min_requests": 4, "breaker_failure_ratio": 0.5, "breaker_open_s": 5}
    async with running_hub(sqlite_url, tmp_path, **settings) as hub:
        b: Breaker = hub.app.state.extras["breaker"]
        clock = Clock()
        b.clock = clock
        hub.provider.mode = "error"
        for _ in range(4):
            resp = await hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE))
            assert resp.status_code == 500  # the provider's own answer, passed through
        assert b.state(PROVIDER) == "open"
        calls = hub.provider.calls
        resp = await hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE))
        assert resp.status_code == 503
        assert resp.headers["X-Road-Error"] == "Server.ServiceUnavailable"
        assert "circuit is open" in resp.json()["message"]
        # When to come back, as a 429 says (it said "retry later" and no time).
        assert resp.headers["Retry-After"] == "5"
        assert resp.json()["message"].endswith("retry in 5 s")
        clock.now += 3.5
        resp = await hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE))
        assert (resp.status_code, resp.headers["Retry-After"]) == (503, "2")
        clock.now -= 3.5
        assert hub.provider.calls == calls  # the provider was spared
        rec = (await hub.records())[-1]
        assert (rec.status_code, rec.fault_code) == (503, "Server.ServiceUnavailable")

        hub.provider.mode = "ok"
        clock.now += 5
        assert b.state(PROVIDER) == "half_open"
        probe = await hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE))
        assert probe.status_code == 200
        assert b.state(PROVIDER) == "closed"
