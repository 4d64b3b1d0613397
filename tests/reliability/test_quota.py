"""Quotas: exact in one process, shared by processes through Redis, answered with 429."""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from hub.app import create_app
from hub.registry.cache import RegistryCache, Snapshot
from hub.reliability.quota import LocalQuotas, QuotaPolicy, RedisQuotas
from tests.reliability.conftest import RHub, running_hub
from tests.reliability.fakes import CLIENT, LOOKUP, OTHER, PURPOSE, FaultyProvider, registry_doc
from tests.reliability.procs import apply_registry, hub_env, hub_process, issue_key
from tests.support import ADMIN, REDIS_URL, make_settings, serve

TZ = "Asia/Ho_Chi_Minh"


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def policy(quotas: dict[str, tuple[int | None, int | None]], default=(None, None)) -> QuotaPolicy:
    registry = RegistryCache(sessions=None)  # type: ignore[arg-type]
    registry.snapshot = Snapshot(quotas=quotas)
    return QuotaPolicy(registry, default, TZ)


def local_noon() -> float:
    return datetime(2026, 3, 2, 12, 0, 0, tzinfo=ZoneInfo(TZ)).timestamp()


def test_per_second_quota_is_exact_and_refusals_do_not_count() -> None:
    clock = Clock(local_noon() + 0.25)
    quotas = LocalQuotas(policy({CLIENT: (3, None)}), clock)
    assert [quotas.take(CLIENT) for _ in range(3)] == [None, None, None]
    assert quotas.take(CLIENT) == pytest.approx(0.75)  # until the next second
    assert quotas.take(CLIENT) is not None
    clock.now += 0.75  # next window: three more, the refusals above did not use them
    assert [quotas.take(CLIENT) for _ in range(4)][:3] == [None, None, None]
    assert quotas.take(OTHER) is None  # no quota for another client


def test_per_day_quota_resets_at_local_midnight() -> None:
    midnight = datetime(2026, 3, 3, tzinfo=ZoneInfo(TZ)).timestamp()
    clock = Clock(midnight - 3600)
    quotas = LocalQuotas(policy({CLIENT: (None, 2)}), clock)
    assert quotas.take(CLIENT) is None and quotas.take(CLIENT) is None
    assert quotas.take(CLIENT) == pytest.approx(3600)  # Retry-After: the day's end
    clock.now = midnight
    assert quotas.take(CLIENT) is None


def test_a_client_over_both_quotas_is_told_to_wait_for_the_day_not_the_second() -> None:
    """Retry-After is when a call passes: the second's end would only be refused again."""
    midnight = datetime(2026, 3, 3, tzinfo=ZoneInfo(TZ)).timestamp()
    clock = Clock(midnight - 3600 + 0.25)
    quotas = LocalQuotas(policy({CLIENT: (2, 2)}), clock)
    assert quotas.take(CLIENT) is None and quotas.take(CLIENT) is None
    assert quotas.take(CLIENT) == pytest.approx(3600 - 0.25)
    clock.now += 0.75  # the next second: still refused, as the wait said
    assert quotas.take(CLIENT) == pytest.approx(3600 - 1)


def test_the_hub_default_applies_where_a_subsystem_sets_none() -> None:
    p = policy({CLIENT: (None, 100)}, default=(5, 1000))
    assert p.limits(CLIENT) == (5, 100)
    assert p.limits(OTHER) == (5, 1000)


async def test_over_quota_is_answered_429_with_retry_after_and_logged(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with running_hub(sqlite_url, tmp_path) as hub:
        admin = {"Authorization": f"Bearer {ADMIN}"}
        resp = await hub.client.patch(
            f"/admin/subsystems/{CLIENT}", json={"quota_per_day": 3}, headers=admin
        )
        assert resp.status_code == 200 and resp.json()["quota_per_day"] == 3
        statuses = [
            (await hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE))).status_code
            for _ in range(3)
        ]
        assert statuses == [200, 200, 200]
        refused = await hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE))
        assert refused.status_code == 429
        assert refused.headers["X-Road-Error"] == "Client.RateLimited"
        assert 1 <= int(refused.headers["Retry-After"]) <= 86400
        assert "over its quota" in refused.json()["message"]
        assert hub.provider.calls == 3
        rec = (await hub.records())[-1]
        assert (rec.status_code, rec.fault_code) == (429, "Client.RateLimited")


async def test_quotas_round_trip_through_the_registry_yaml(sqlite_url: str, tmp_path: Path) -> None:
    async with running_hub(sqlite_url, tmp_path) as hub:
        admin = {"Authorization": f"Bearer {ADMIN}"}
        bad = await hub.client.patch(
            f"/admin/subsystems/{CLIENT}", json={"quota_rps": 0}, headers=admin
        )
        assert bad.status_code == 422 and "quota_rps" in bad.text
        await hub.client.patch(
            f"/admin/subsystems/{CLIENT}", json={"quota_rps": 7, "quota_per_day": 70},
            headers=admin,
        )  # fmt: skip
        doc = (await hub.client.get("/admin/registry", headers=admin)).json()
        (sub,) = [s for s in doc["subsystems"] if s["id"] == CLIENT]
        assert (sub["quota_rps"], sub["quota_per_day"]) == (7, 70)
        again = await hub.client.put("/admin/registry", json=doc, headers=admin)
        assert again.status_code == 200 and again.json()["updated"] == 0
        assert hub.app.state.registry.snapshot.quotas[CLIENT] == (7, 70)


needs_redis = pytest.mark.skipif(
    not REDIS_URL, reason="shared quotas need a Redis: set HUB_TEST_REDIS_URL=redis://..."
)


def patient(quotas: RedisQuotas) -> RedisQuotas:
    """``quotas`` waiting up to 30 s, not 0.5, for a connection and for Redis's answer.

    These tests are about counting. With the hub's 0.5 s, a test process paused that long
    on a loaded machine read as a Redis gone, counted alone, and let through more than the
    quota (the timeouts have their own tests, against a Redis that hangs).
    """
    pool = quotas.client.connection_pool
    pool.timeout = 30
    pool.connection_kwargs.update(socket_timeout=30, socket_connect_timeout=30)
    return quotas


@pytest.mark.redis
@needs_redis
async def test_redis_quotas_are_shared_and_exact_across_instances() -> None:
    assert REDIS_URL
    prefix = f"hub:test-{uuid.uuid4().hex[:8]}:quota:"
    p = policy({CLIENT: (None, 25)})
    a, b = patient(RedisQuotas(p, REDIS_URL, prefix)), patient(RedisQuotas(p, REDIS_URL, prefix))
    try:
        results = await asyncio.gather(*[(a if i % 2 else b)(CLIENT) for i in range(60)])
        assert sum(r is None for r in results) == 25
        assert all(0 < r <= 86400 for r in results if r is not None)
    finally:
        for key in await a.client.keys(prefix + "*"):
            await a.client.delete(key)
        await a.close()
        await b.close()


@pytest.mark.redis
@needs_redis
async def test_redis_tells_a_client_over_both_quotas_to_wait_for_the_day() -> None:
    assert REDIS_URL
    prefix = f"hub:test-{uuid.uuid4().hex[:8]}:quota:"
    quotas = patient(RedisQuotas(policy({CLIENT: (2, 2)}), REDIS_URL, prefix))
    try:
        results = await asyncio.gather(*[quotas(CLIENT) for _ in range(3)])
        assert sorted(results, key=lambda r: r or 0)[:2] == [None, None]
        (wait,) = [r for r in results if r is not None]
        # The day's end, not the second's (1 s or less): a day-full client retrying then
        # is only refused again. Redis's clock and ours differ by far less than a minute.
        now = time.time()
        day_end = datetime.fromtimestamp(now, ZoneInfo(TZ)).replace(
            hour=0, minute=0, second=0, microsecond=0
        ) + timedelta(days=1)
        assert wait == pytest.approx(day_end.timestamp() - now, abs=60)
    finally:
        for key in await quotas.client.keys(prefix + "*"):
            await quotas.client.delete(key)
        await quotas.close()


async def test_an_unreachable_redis_falls_back_to_counting_in_the_process() -> None:
    p = policy({CLIENT: (None, 2)})
    quotas = RedisQuotas(p, "redis://127.0.0.1:1", "hub:test:quota:")
    try:
        assert [await quotas(CLIENT) is None for _ in range(3)] == [True, True, False]
    finally:
        await quotas.close()


async def test_a_redis_that_hangs_is_asked_again_only_after_a_pause() -> None:
    connections: list[asyncio.StreamWriter] = []

    async def hang(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)  # accepts, reads nothing, answers nothing

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    now = [1000.0]
    p = policy({CLIENT: (None, 3)})
    quotas = RedisQuotas(p, f"redis://127.0.0.1:{port}/0", "hub:test:quota:", clock=lambda: now[0])
    try:
        # The first call waits out the socket timeout; the next ones count in the process at
        # once, without a new connection, until the pause is over.
        answers = [await quotas(CLIENT) is None for _ in range(5)]
        assert answers == [True, True, True, False, False]
        assert len(connections) == 1
        now[0] += RedisQuotas.RETRY_AFTER_S + 0.1
        assert await quotas(CLIENT) is not None  # still over the local count, Redis asked
        assert len(connections) == 2
    finally:
        for w in connections:
            w.close()
        server.close()
        await quotas.close()


@pytest.mark.redis
@needs_redis
async def test_a_burst_wider_than_the_redis_connection_pool_is_still_counted_once() -> None:
    """redis-py refused the 101st concurrent call ("Too many connections"), and the hub took
    that for a Redis gone: each worker counted alone for 5 s, letting through N times the
    quota. Calls past the pool now wait for a connection."""
    assert REDIS_URL
    prefix = f"hub:test-{uuid.uuid4().hex[:8]}:quota:"
    quotas = patient(RedisQuotas(policy({CLIENT: (None, 120)}), REDIS_URL, prefix))
    try:
        results = await asyncio.gather(*[quotas(CLIENT) for _ in range(400)])
        assert sum(r is None for r in results) == 120
        assert quotas._retry_at == 0.0  # never fell back to counting alone
    finally:
        for key in await quotas.client.keys(prefix + "*"):
            await quotas.client.delete(key)
        await quotas.close()


@pytest.mark.redis
@needs_redis
async def test_connections_a_restarted_redis_closed_are_replaced_without_counting_alone() -> None:
    """After Redis restarted, each pooled connection it had closed failed once when next
    used, and each failure made the process count alone for RETRY_AFTER_S: a worker with
    many pooled connections counted alone, 5 s at a time, for half a minute and more."""
    import redis.asyncio as aioredis

    assert REDIS_URL
    prefix = f"hub:test-{uuid.uuid4().hex[:8]}:quota:"
    quotas = patient(RedisQuotas(policy({CLIENT: (None, 1000)}), REDIS_URL, prefix))
    other = aioredis.from_url(REDIS_URL)
    try:
        await asyncio.gather(*[quotas(CLIENT) for _ in range(20)])  # several pooled
        pooled = list(quotas.client.connection_pool._available_connections)
        assert len(pooled) > 1
        for conn in pooled:  # as a restart does: the server closes them all
            host, port = conn._writer.get_extra_info("sockname")[:2]
            await other.client_kill(f"{host}:{port}")
        for _ in range(len(pooled) + 1):
            await quotas(CLIENT)
            assert quotas._retry_at == 0.0  # asked Redis, did not count alone
        (key,) = await other.keys(prefix + "*:d:*")
        assert int(await other.get(key)) == 20 + len(pooled) + 1
    finally:
        for key in await other.keys(prefix + "*"):
            await other.delete(key)
        await other.aclose()
        await quotas.close()


async def test_a_burst_against_a_redis_that_hangs_waits_no_longer_than_one_timeout() -> None:
    connections: list[asyncio.StreamWriter] = []

    async def hang(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(writer)

    server = await asyncio.start_server(hang, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    quotas = RedisQuotas(policy({CLIENT: (None, 50)}), f"redis://127.0.0.1:{port}/0")
    try:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        results = await asyncio.gather(*[quotas(CLIENT) for _ in range(2000)])
        # Each call waits for a connection to Redis and for its answer, 0.5 s at most each,
        # then counts in the process: exactly the quota, as one process counts. One timeout
        # after another, 64 connections at a time, would be 2000 / 64 * 0.5 s = 15.6 s; the
        # bound leaves a loaded machine five times the 1 s a call may wait.
        assert loop.time() - t0 < 6
        assert sum(r is None for r in results) == 50
    finally:
        for w in connections:
            w.close()
        server.close()
        await quotas.close()


def quota_prefix(db_url: str, tmp_path: Path) -> str:
    """The Redis key prefix a hub on ``db_url`` counts its quotas under (nothing connects)."""
    app = create_app(make_settings(db_url, tmp_path, redis_url="redis://127.0.0.1:1/0"))
    return app.state.extras["quotas"].prefix


def test_nodes_logging_in_with_another_password_share_the_quota_counters(tmp_path: Path) -> None:
    """A password rotated one node at a time: the nodes already given the new password and
    those still on the old one count one quota, not one each (the same database)."""
    old = quota_prefix("postgresql+asyncpg://hub:old-pw@db.internal:5432/hub", tmp_path)
    new = quota_prefix("postgresql+asyncpg://hub:new%40pw@db.internal:5432/hub", tmp_path)
    assert old == new
    assert old == quota_prefix("postgresql+asyncpg://hub@db.internal:5432/hub", tmp_path)
    # Another database keeps counters of its own, and a URL without a password counts
    # where it did before (an upgrade splits no counters there).
    assert old != quota_prefix("postgresql+asyncpg://hub:old-pw@db.internal:5432/other", tmp_path)
    plain = "postgresql+asyncpg://hub@db.internal:5432/hub"
    assert old == f"hub:{hashlib.sha256(plain.encode()).hexdigest()[:12]}:quota:"


@pytest.mark.redis
@pytest.mark.slow
@needs_redis
async def test_two_hub_processes_together_let_through_no_more_than_the_quota(
    tmp_path: Path,
) -> None:
    assert REDIS_URL
    quota = 40
    db_url = f"sqlite+aiosqlite:///{tmp_path}/hub.db"
    env = hub_env(tmp_path, db_url, HUB_REDIS_URL=REDIS_URL)
    provider = FaultyProvider()
    async with serve(provider) as base_url:
        doc = registry_doc(base_url)
        doc["subsystems"][1]["quota_per_day"] = quota  # CLIENT
        await apply_registry(env, doc, tmp_path)
        async with (
            hub_process(env, tmp_path) as one,
            hub_process(env, tmp_path) as two,
            httpx.AsyncClient(timeout=30) as http,
        ):
            key = await issue_key(one.url, CLIENT)
            headers = {"X-Road-Client": CLIENT, "Authorization": f"Bearer {key}", **PURPOSE}
            await asyncio.sleep(0.5)  # the second hub reloads the registry (0.2 s poll)
            answers = await asyncio.gather(
                *[http.get((one, two)[i % 2].url + LOOKUP, headers=headers) for i in range(100)]
            )
    statuses = [r.status_code for r in answers]
    assert statuses.count(200) == quota
    assert statuses.count(429) == 100 - quota
    assert provider.calls == quota


_ = RHub  # re-exported fixture type, for readers of these tests


def test_the_day_boundary_follows_a_daylight_saving_change() -> None:
    """The zone's offset is remembered for a minute at most, so a change is seen in time."""
    p = QuotaPolicy(RegistryCache(sessions=None), (None, None), "Europe/Berlin")  # type: ignore[arg-type]
    change = datetime(2026, 3, 29, 1, 0, tzinfo=ZoneInfo("UTC")).timestamp()  # 02:00 CET
    assert p.utc_offset_s(change - 30) == 3600  # winter time
    assert p.utc_offset_s(change - 1) == 3600
    assert p.utc_offset_s(change) == 7200  # summer time from the change on
    assert p.utc_offset_s(change - 1) == 3600  # and back, for a clock that goes back


async def test_the_sentence_and_retry_after_give_the_same_wait(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with running_hub(sqlite_url, tmp_path) as hub:
        for wait, after in ((0.4, "1"), (2.2, "3"), (7.0, "7")):

            async def quota(_client: str, wait: float = wait) -> float:
                return wait

            hub.app.gateway.quota = quota
            refused = await hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE))
            assert refused.status_code == 429 and refused.headers["Retry-After"] == after
            # Whole seconds, rounded up, in both (the sentence said "retry in 0 s" for 0.4).
            assert refused.json()["message"].endswith(f"over its quota; retry in {after} s")
