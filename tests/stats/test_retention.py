"""Minute rollups older than HUB_MINUTE_ROLLUP_DAYS are pruned; answers stay exact."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from hub.core.db import create_engine
from hub.models import MinutePrune, StatsDay, StatsHour, StatsMinute, Transaction
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
            # Before the horizon the minutes at the edges come from the log: the range
            # stays as asked, and its counts exact.
            assert (s.since, s.until) == (
                "2024-06-10T08:13:00.000000Z",
                "2024-06-20T17:29:00.000000Z",
            )
            logged = await _n(conn, select(func.count()).where(
                Transaction.started_at >= datetime(2024, 6, 10, 8, 13),
                Transaction.started_at < datetime(2024, 6, 20, 17, 29)))  # fmt: skip
            assert s.total == logged > 0
            across = await service.summary(
                conn, tz="UTC", since="2024-06-10T08:13:00Z", now=NOW, minute_horizon=HORIZON
            )
            logged = await _n(conn, select(func.count()).where(
                Transaction.started_at >= datetime(2024, 6, 10, 8, 13)))  # fmt: skip
            assert across.since == "2024-06-10T08:13:00.000000Z"
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


async def test_a_pass_that_deletes_says_so_where_the_hub_logs(
    history: str, caplog: pytest.LogCaptureFixture
) -> None:
    # `hub serve` and `hub up` show warnings and above: at INFO the line never reached anyone.
    caplog.set_level(logging.WARNING)
    engine = create_engine(history)
    try:
        deleted = await retention.MinutePruner(engine, days=DAYS).run_once(NOW)
        assert deleted > 0
        assert f"deleted {deleted} minute rollup rows" in caplog.text
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


KOLKATA = ZoneInfo("Asia/Kolkata")  # UTC+05:30: local midnight is 18:30 UTC


def _midnight(day: date) -> datetime:
    """Local midnight of ``day`` in Kolkata, as naive UTC (computed apart from the hub)."""
    local = datetime.combine(day, datetime.min.time(), tzinfo=KOLKATA)
    return local.astimezone(UTC).replace(tzinfo=None)


async def _logged_between(conn, a: datetime, b: datetime) -> int:  # type: ignore[no-untyped-def]
    return await _n(conn, select(func.count()).where(
        Transaction.started_at >= a, Transaction.started_at < b))  # fmt: skip


async def test_local_days_in_a_half_hour_zone_stay_exact_before_the_horizon(
    history: str,
) -> None:
    # Edges widened to whole UTC hours put 18:00-18:30 UTC, the last half hour of a
    # Kolkata day, into the next day, and labelled each day a day early.
    around = [datetime(2024, 6, d, 18, m) for d in range(8, 14) for m in (5, 29, 30, 55)]
    await log_records(history, [record(t) for t in around])
    engine = create_engine(history)
    try:
        await retention.MinutePruner(engine, days=DAYS).run_once(NOW)
        async with engine.connect() as conn:
            days = [date(2024, 6, 10) + timedelta(days=i) for i in range(30)]  # to 9 July
            ts = await service.timeseries(
                conn, tz="Asia/Kolkata", bucket="day", since="2024-06-10", until="2024-07-10",
                now=NOW, minute_horizon=HORIZON,
            )  # fmt: skip
            assert ts.since == "2024-06-09T18:30:00.000000Z"
            assert ts.until == "2024-07-09T18:30:00.000000Z"
            expected = [
                (str(d), await _logged_between(conn, _midnight(d), _midnight(d + timedelta(1))))
                for d in days
            ]
            assert [(p.label, p.total) for p in ts.points] == expected
            assert ts.points[0].start == "2024-06-10T00:00:00+05:30"

            growth = await service.growth(
                conn, tz="Asia/Kolkata", period="day", since="2024-06-10", until="2024-06-14",
                now=NOW, minute_horizon=HORIZON,
            )  # fmt: skip
            assert [(p.period, p.total) for p in growth.periods] == expected[:4]
            before = await _logged_between(conn, _midnight(date(2024, 6, 9)), _midnight(days[0]))
            assert growth.periods[0].change == expected[0][1] - before

            months = await service.timeseries(
                conn, tz="Asia/Kolkata", bucket="month", since="2024-06-01", until="2024-07-31",
                now=NOW, minute_horizon=HORIZON,
            )  # fmt: skip
            june, july, august = (_midnight(date(2024, m, 1)) for m in (6, 7, 8))
            assert [(p.label, p.total) for p in months.points] == [
                ("2024-06", await _logged_between(conn, june, july)),
                ("2024-07", await _logged_between(conn, july, august)),
            ]

            day = await service.summary(
                conn, tz="Asia/Kolkata", since="2024-06-12", until="2024-06-13",
                now=NOW, minute_horizon=HORIZON,
            )  # fmt: skip
            assert (day.since, day.total) == ("2024-06-11T18:30:00.000000Z", expected[2][1])
    finally:
        await engine.dispose()


@pytest.mark.parametrize("kept_days", [5, 0])
async def test_minutes_pruned_under_a_shorter_retention_are_counted_from_the_log(
    history: str, kept_days: int
) -> None:
    # The hub kept 5 days of minutes (or none are left); the reader (`hub stats` from a
    # shell without the hub's HUB_MINUTE_ROLLUP_DAYS, or a hub restarted with more days)
    # believes in 35. The minutes at the edges between the two horizons were read from the
    # emptied minute table and counted 0: 4310 exchanges where the log held 4363.
    engine = create_engine(history)
    try:
        pruned_to = NOW - timedelta(days=kept_days) if kept_days else NOW + timedelta(days=1)
        assert await retention.prune(engine, pruned_to) > 0
        since, until = datetime(2024, 7, 10, 8, 13), datetime(2024, 7, 20, 17, 29)
        async with engine.connect() as conn:
            s = await service.summary(
                conn, tz="UTC", since=f"{since:%Y-%m-%dT%H:%M}Z", until=f"{until:%Y-%m-%dT%H:%M}Z",
                now=NOW, minute_horizon=HORIZON,
            )  # fmt: skip
            assert s.total == await _logged_between(conn, since, until) > 0
            hours = await service.timeseries(
                conn, tz="Asia/Kolkata", bucket="hour", since="2024-07-15T09:00",
                until="2024-07-16T09:00", now=NOW, minute_horizon=HORIZON,
            )  # fmt: skip
            edges = [datetime.fromisoformat(p.start).astimezone(UTC).replace(tzinfo=None)
                     for p in hours.points] + [datetime(2024, 7, 16, 3, 30)]  # fmt: skip
            assert [p.total for p in hours.points] == [
                await _logged_between(conn, a, b) for a, b in zip(edges, edges[1:], strict=False)
            ]
    finally:
        await engine.dispose()


async def test_a_minute_logged_late_before_the_pruned_hours_keeps_answers_exact(
    history: str,
) -> None:
    # The hub pruned the minutes before 5 days ago; then a record of 12 July came in (a
    # late or loaded one) and its minute row made the oldest one. Its hour on was taken as
    # whole, and the minutes between it and the pruned hours were read as none: 319
    # exchanges where the log held 320.
    engine = create_engine(history)
    try:
        assert await retention.prune(engine, NOW - timedelta(days=5)) > 0
        await log_records(history, [record(datetime(2024, 7, 12, 10, 30))])
        # Each edge's minutes hold a record (one every 47 minutes: 17:46:13 is one).
        since, until = datetime(2024, 7, 10, 8, 13), datetime(2024, 7, 20, 17, 50)
        async with engine.connect() as conn:
            s = await service.summary(
                conn, tz="UTC", since=f"{since:%Y-%m-%dT%H:%M}Z", until=f"{until:%Y-%m-%dT%H:%M}Z",
                now=NOW, minute_horizon=HORIZON,
            )  # fmt: skip
            assert s.total == await _logged_between(conn, since, until) > 0
    finally:
        await engine.dispose()


async def test_the_pruner_records_how_far_it_pruned_as_it_deletes(history: str) -> None:
    engine = create_engine(history)
    try:
        async with engine.connect() as conn:
            assert (await conn.execute(select(MinutePrune.pruned_before))).all() == [(None,)]
        assert await retention.MinutePruner(engine, days=DAYS).run_once(NOW) > 0
        async with engine.connect() as conn:
            assert await retention.read_pruned(conn) == (True, HORIZON)
        # A horizon further back (a hub restarted with more days) never moves it back.
        assert await retention.prune(engine, HORIZON - timedelta(days=3)) == 0
        async with engine.connect() as conn:
            assert await retention.read_pruned(conn) == (True, HORIZON)
    finally:
        await engine.dispose()


async def test_a_pass_without_the_database_is_one_line_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """While PostgreSQL was down, each worker's pass logged a traceback of some 90 lines
    that said no more than its last; the operator's journal gets the reason in one line."""
    caplog.set_level(logging.DEBUG, logger=retention.log.name)
    # Nothing listens on port 1: asyncpg raises the socket's own ConnectionRefusedError.
    engine = create_engine("postgresql+asyncpg://hub@127.0.0.1:1/hub")
    pruner = retention.MinutePruner(engine, days=DAYS, interval_s=3600, first_delay_s=0)
    try:
        await pruner.start()
        for _ in range(200):
            if any(r.levelno >= logging.WARNING for r in caplog.records):
                break
            await asyncio.sleep(0.05)
    finally:
        await pruner.stop()
        await engine.dispose()
    shown = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(shown) == 1
    assert shown[0].exc_info is None
    message = shown[0].getMessage()
    assert message.startswith("pruning the minute rollups failed: the database cannot be reached")
    assert message.endswith("; the next pass tries again") and "try again once" not in message
    assert "\n" not in message
    # The traceback is still there for whoever asks for DEBUG.
    assert any(r.levelno == logging.DEBUG and r.exc_info for r in caplog.records)
