"""Minute rollups older than HUB_MINUTE_ROLLUP_DAYS are pruned; answers stay exact."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from hub.core.db import create_engine
from hub.models import StatsDay, StatsHour, StatsMinute, Transaction
from hub.stats import retention, service
from hub.stats.timeutil import InputError
from tests.stats.conftest import log_records, record

NOW = datetime(2024, 8, 1, 12, 0)
DAYS = 35
HORIZON = datetime(2024, 6, 27, 12, 0)


@pytest.fixture
async def history(db_url: str) -> str:
    """A record every 47 minutes over the 60 days before NOW."""
    start = NOW - timedelta(days=60)
    times = [start + timedelta(minutes=47 * i, seconds=13) for i in range(60 * 1440 // 47)]
    await log_records(db_url, [record(t) for t in times])
    return db_url


async def _n(conn, stmt) -> int:  # type: ignore[no-untyped-def]
    return int((await conn.execute(stmt)).scalar() or 0)


async def _count(engine, stmt) -> int:  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        return int((await conn.execute(stmt)).scalar() or 0)


async def test_prune_drops_old_minutes_only_and_answers_stay_exact(history: str) -> None:
    engine = create_engine(history)
    try:
        assert retention.minute_horizon(DAYS, NOW) == HORIZON
        assert retention.minute_horizon(0, NOW) is None
        hours = await _count(engine, select(func.sum(StatsHour.count)))
        days = await _count(engine, select(func.sum(StatsDay.count)))
        since_after = "2024-07-10T08:13:00Z"
        async with engine.connect() as conn:
            after_before = await service.summary(
                conn, tz="UTC", since=since_after, now=NOW, minute_horizon=HORIZON
            )
        old = await _count(engine, select(func.count()).where(StatsMinute.bucket < HORIZON))
        assert old > 0
        pruner = retention.MinutePruner(engine, days=DAYS)
        assert await pruner.run_once(NOW) == old
        assert await _count(engine, select(func.count()).where(StatsMinute.bucket < HORIZON)) == 0
        assert await _count(engine, select(func.count()).where(StatsMinute.bucket >= HORIZON))
        assert await _count(engine, select(func.sum(StatsHour.count))) == hours
        assert await _count(engine, select(func.sum(StatsDay.count))) == days
        assert await pruner.run_once(NOW) == 0

        async with engine.connect() as conn:
            s = await service.summary(
                conn, tz="UTC", since="2024-06-10T08:13:00Z", until="2024-06-20T17:29:00Z",
                now=NOW, minute_horizon=HORIZON,
            )  # fmt: skip
            assert (s.since, s.until) == (
                "2024-06-10T08:00:00.000000Z",
                "2024-06-20T18:00:00.000000Z",
            )
            logged = await _n(conn, select(func.count()).where(
                Transaction.started_at >= datetime(2024, 6, 10, 8),
                Transaction.started_at < datetime(2024, 6, 20, 18)))  # fmt: skip
            assert s.total == logged > 0
            across = await service.summary(
                conn, tz="UTC", since="2024-06-10T08:13:00Z", now=NOW, minute_horizon=HORIZON
            )
            logged = await _n(conn, select(func.count()).where(
                Transaction.started_at >= datetime(2024, 6, 10, 8)))  # fmt: skip
            assert across.since == "2024-06-10T08:00:00.000000Z"
            assert across.total == logged
            after = await service.summary(
                conn, tz="UTC", since=since_after, now=NOW, minute_horizon=HORIZON
            )
            assert after == after_before
            assert after.since == "2024-07-10T08:13:00.000000Z"
            top = await service.top(conn, tz="UTC", since="2024-06-10T08:13:00Z", now=NOW,
                                    minute_horizon=HORIZON)  # fmt: skip
            assert top.rows[0].count == logged
    finally:
        await engine.dispose()


async def test_minute_timeseries_before_the_horizon_is_refused(history: str) -> None:
    engine = create_engine(history)
    try:
        async with engine.connect() as conn:
            with pytest.raises(InputError, match="kept for 35 days.*bucket=hour"):
                await service.timeseries(
                    conn, tz="UTC", bucket="minute", since="2024-06-20", until="2024-06-21",
                    now=NOW, minute_horizon=HORIZON,
                )  # fmt: skip
            recent = await service.timeseries(conn, tz="UTC", bucket="minute", since="3h",
                                              now=NOW, minute_horizon=HORIZON)  # fmt: skip
            logged = await _n(conn, select(func.count()).where(
                Transaction.started_at >= NOW - timedelta(hours=3)))  # fmt: skip
            assert sum(p.total for p in recent.points) == logged > 0
    finally:
        await engine.dispose()
