"""The circuit breaker: opens on a failure share, answers 503 while open, probes half-open."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx

from hub.reliability.breaker import Breaker
from tests.reliability.conftest import running_hub
from tests.reliability.fakes import LOOKUP, PROVIDER, PURPOSE
from tests.support import ADMIN, free_port

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
    probe = b.allow(P)
    assert probe and not b.allow(P)  # one probe at a time
    b.record(P, False, probe)  # the probe failed: open again for open_s
    assert b.state(P) == "open" and not b.allow(P)
    clock.now += 5
    probe = b.allow(P)
    assert probe
    b.record(P, True, probe)
    assert b.state(P) == "closed" and b.allow(P) and b.allow(P)


def test_a_lost_probe_does_not_keep_the_circuit_shut() -> None:
    clock = Clock()
    b = breaker(clock)
    for _ in range(4):
        b.record(P, False)
    clock.now += 5
    lost = b.allow(P)  # this probe never reports back...
    clock.now += 5
    probe = b.allow(P)
    assert lost and probe
    b.record(P, False, lost)  # ...until after the next one went out: not the one to decide
    assert b.state(P) == "half_open"
    b.record(P, True, probe)
    assert b.state(P) == "closed"


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


async def test_a_stale_outcome_does_not_stand_in_for_the_half_open_probe(
    sqlite_url: str, tmp_path: Path
) -> None:
    # An exchange let through before the circuit opened can finish while the probe is out
    # (a service whose timeout is longer than HUB_BREAKER_OPEN_S): its outcome says nothing
    # about the provider now. It closed the circuit, let a second probe through, and the
    # real probe's failure was then dropped.
    settings = {"breaker_min_requests": 4, "breaker_failure_ratio": 0.5, "breaker_open_s": 5}
    async with running_hub(sqlite_url, tmp_path, **settings) as hub:
        b: Breaker = hub.app.state.extras["breaker"]
        b.clock = Clock()

        async def get() -> httpx.Response:
            call = hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE))
            return await asyncio.wait_for(call, 10)

        hub.provider.hold = stale_hold = asyncio.Event()
        stale = asyncio.create_task(get())
        await asyncio.wait_for(hub.provider.wait_in_flight(1), 10)
        hub.provider.hold = None
        hub.provider.mode = "error"
        for _ in range(4):
            assert (await get()).status_code == 500
        assert b.state(PROVIDER) == "open"

        b.clock.now += 5
        hub.provider.hold = probe_hold = asyncio.Event()
        try:
            probe = asyncio.create_task(get())
            await asyncio.wait_for(hub.provider.wait_in_flight(2), 10)
            hub.provider.mode = "ok"
            stale_hold.set()
            assert (await stale).status_code == 200
            assert b.state(PROVIDER) == "half_open"
            hub.provider.hold = None
            second = await get()  # still one probe at a time
            assert (second.status_code, second.headers["Retry-After"]) == (503, "1")
            hub.provider.mode = "error"
            probe_hold.set()
            assert (await probe).status_code == 500
            assert b.state(PROVIDER) == "open"  # the probe's failure decides
        finally:  # a request still held would keep the provider from stopping
            stale_hold.set()
            probe_hold.set()


async def test_an_operator_correcting_a_providers_address_closes_its_circuit(
    sqlite_url: str, tmp_path: Path
) -> None:
    # A service given a wrong base_url opened its provider's circuit; the operator's
    # correction took effect only when the circuit half-opened (HUB_BREAKER_OPEN_S later),
    # and meanwhile every service of the provider, reached at the right address, was
    # refused "is failing" too. The failures counted were those of the old address.
    settings = {"breaker_min_requests": 4, "breaker_failure_ratio": 0.5, "breaker_open_s": 60}
    wrong = {"endpoints": [], "base_url": f"http://127.0.0.1:{free_port()}"}
    async with running_hub(sqlite_url, tmp_path, {"moved": wrong}, **settings) as hub:
        b: Breaker = hub.app.state.extras["breaker"]
        moved = f"/r1/{PROVIDER}/moved/citizens"
        for _ in range(4):
            assert (await hub.client.get(moved, headers=hub.headers(**PURPOSE))).status_code == 502
        assert b.state(PROVIDER) == "open"
        admin = {"Authorization": f"Bearer {ADMIN}"}
        fixed = await hub.client.patch(
            f"/admin/services/{PROVIDER}/moved", json={"base_url": None}, headers=admin
        )
        assert fixed.status_code == 200, fixed.text
        assert b.state(PROVIDER) == "closed"
        resp = await hub.client.get(moved, headers=hub.headers(**PURPOSE))
        assert resp.status_code == 200, resp.text
        assert (await hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE))).status_code == 200


async def test_a_change_that_leaves_the_providers_address_keeps_its_circuit(
    sqlite_url: str, tmp_path: Path
) -> None:
    # Only what decides whether forwarding fails (an address, a timeout) resets a circuit:
    # a description edited while the provider is down must not let the next calls through.
    settings = {"breaker_min_requests": 4, "breaker_failure_ratio": 0.5, "breaker_open_s": 60}
    async with running_hub(sqlite_url, tmp_path, **settings) as hub:
        b: Breaker = hub.app.state.extras["breaker"]
        hub.provider.mode = "error"
        for _ in range(4):
            assert (await hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE))).status_code == 500
        admin = {"Authorization": f"Bearer {ADMIN}"}
        edited = await hub.client.patch(
            f"/admin/services/{PROVIDER}/lookup", json={"description": "edited"}, headers=admin
        )
        assert edited.status_code == 200, edited.text
        assert b.state(PROVIDER) == "open"


async def test_a_longer_timeout_set_by_an_operator_closes_the_circuit_its_timeouts_opened(
    sqlite_url: str, tmp_path: Path
) -> None:
    settings = {"breaker_min_requests": 4, "breaker_failure_ratio": 0.5, "breaker_open_s": 60}
    short = {"endpoints": [], "timeout_ms": 50}
    async with running_hub(sqlite_url, tmp_path, {"slow": short}, **settings) as hub:
        b: Breaker = hub.app.state.extras["breaker"]
        hub.provider.delay_s = 0.2
        slow = f"/r1/{PROVIDER}/slow/citizens"
        for _ in range(4):
            assert (await hub.client.get(slow, headers=hub.headers(**PURPOSE))).status_code == 504
        assert b.state(PROVIDER) == "open"
        admin = {"Authorization": f"Bearer {ADMIN}"}
        longer = await hub.client.patch(
            f"/admin/services/{PROVIDER}/slow", json={"timeout_ms": 5000}, headers=admin
        )
        assert longer.status_code == 200, longer.text
        assert (await hub.client.get(slow, headers=hub.headers(**PURPOSE))).status_code == 200
