"""Rollups against the log: time-zone edges, percentiles of a known distribution, atomicity
with the records, synthetic history, and counting records logged before the rollups."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hub.core.db import create_engine
from hub.core.errors import LoggingFailed
from hub.core.migrate import upgrade, upgrade_async
from hub.models import StatsDay, StatsMinute, Transaction
from hub.stats import rollup, service, synth
from hub.txlog.audit import verify_log
from hub.txlog.repository import append
from hub.txlog.sqlite import create_writer_engine
from hub.txlog.writer import LogWriter
from tests.stats.conftest import exact_percentile, log_records, record

TZ = "Asia/Ho_Chi_Minh"
NOW = datetime(2024, 8, 1)
EDGES = [
    datetime(2024, 6, 1, 16, 59, 59),  # 23:59:59 on 1 June in Hồ Chí Minh City
    datetime(2024, 6, 1, 17, 0, 0),  # 00:00 on 2 June there
    datetime(2024, 6, 1, 23, 30),  # 06:30 on 2 June there, still 1 June in UTC
    datetime(2024, 6, 30, 16, 30),  # 23:30 on 30 June
    datetime(2024, 6, 30, 17, 30),  # 00:30 on 1 July
]


@pytest.fixture
async def edges(db_url: str) -> str:
    await log_records(db_url, [record(t) for t in EDGES])
    return db_url


async def _with(db_url: str, fn, **kw):  # type: ignore[no-untyped-def]
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            return await fn(conn, now=NOW, **kw)
    finally:
        await engine.dispose()


async def test_an_hour_the_clocks_repeat_is_two_buckets_told_apart(db_url: str) -> None:
    # Berlin set its clocks back from 03:00 to 02:00 on 27 October 2024: 02:30 came twice,
    # at 00:30 and at 01:30 UTC. The two hours were two points both labelled 02:00, and the
    # CSV export, which has only the label, two rows no spreadsheet could tell apart.
    await log_records(db_url, [record(datetime(2024, 10, 27, 0, 30)),
                               record(datetime(2024, 10, 27, 1, 30)),
                               record(datetime(2024, 10, 27, 1, 40))])  # fmt: skip
    ts = await _with(db_url, service.timeseries, tz="Europe/Berlin", bucket="hour",
                     since="2024-10-27T01:00", until="2024-10-27T04:00")  # fmt: skip
    assert [(p.label, p.total) for p in ts.points] == [
        ("2024-10-27T01:00", 0),
        ("2024-10-27T02:00+02:00", 1),
        ("2024-10-27T02:00+01:00", 2),
        ("2024-10-27T03:00", 0),
    ]
    minutes = await _with(db_url, service.timeseries, tz="Europe/Berlin", bucket="minute",
                          since="2024-10-27T01:29:00Z", until="2024-10-27T01:31:00Z")  # fmt: skip
    labels = [p.label for p in minutes.points]
    assert labels == ["2024-10-27T02:29+01:00", "2024-10-27T02:30+01:00"]
    # Any other hour keeps the label people write.
    days = await _with(db_url, service.timeseries, tz="Europe/Berlin", bucket="hour",
                       since="2024-10-27T05:00", until="2024-10-27T06:00")  # fmt: skip
    assert [p.label for p in days.points] == ["2024-10-27T05:00"]


async def test_local_days_start_at_local_midnight(edges: str) -> None:
    ts = await _with(edges, service.timeseries, tz=TZ, bucket="day", since="2024-06-01",
                     until="2024-06-03")  # fmt: skip
    assert [(p.label, p.total) for p in ts.points] == [("2024-06-01", 1), ("2024-06-02", 2)]
    assert ts.points[0].start == "2024-06-01T00:00:00+07:00"
    utc = await _with(edges, service.timeseries, tz="UTC", bucket="day", since="2024-06-01",
                      until="2024-06-02")  # fmt: skip
    assert [(p.label, p.total) for p in utc.points] == [("2024-06-01", 3)]


async def test_local_months_and_growth(edges: str) -> None:
    ts = await _with(edges, service.timeseries, tz=TZ, bucket="month", since="2024-06-01",
                     until="2024-07-31")  # fmt: skip
    assert [(p.label, p.total) for p in ts.points] == [("2024-06", 4), ("2024-07", 1)]
    g = await _with(edges, service.growth, tz=TZ, period="month", since="2024-06-01",
                    until="2024-07-31")  # fmt: skip
    assert [(p.period, p.total, p.change, p.change_pct) for p in g.periods] == [
        ("2024-06", 4, 4, None),
        ("2024-07", 1, -3, -75.0),
    ]


async def test_an_until_alone_ends_the_default_span(edges: str) -> None:
    # Without since, the default span counted back from now, not from the until given:
    # the days before 3 June (the log's edges, two months before NOW) were refused with
    # "since must be before until", as if the operator had asked for a range backwards.
    ts = await _with(edges, service.timeseries, tz=TZ, bucket="day", until="2024-06-03")
    assert len(ts.points) == 30
    assert ts.points[-1].label == "2024-06-02"
    assert [(p.label, p.total) for p in ts.points if p.total] == [
        ("2024-06-01", 1),
        ("2024-06-02", 2),
    ]
    hours = await _with(edges, service.timeseries, tz=TZ, bucket="hour",
                        until="2024-06-02T01:00")  # fmt: skip
    assert hours.until == "2024-06-01T18:00:00.000000Z"
    assert [p.label for p in hours.points][:2] == ["2024-06-01T01:00", "2024-06-01T02:00"]
    assert sum(p.total for p in hours.points) == 2
    g = await _with(edges, service.growth, tz=TZ, period="month", until="2024-07-01")
    assert [(p.period, p.total) for p in g.periods][-2:] == [("2024-05", 0), ("2024-06", 4)]
    assert len(g.periods) == 12


async def test_summary_ranges_follow_the_time_zone(edges: str) -> None:
    day2 = await _with(edges, service.summary, tz=TZ, since="2024-06-02", until="2024-06-03")
    assert day2.total == 2
    late = await _with(edges, service.summary, tz=TZ, since="2024-06-01T23:30:00Z",
                       until="2024-06-02T00:00:00Z")  # fmt: skip
    assert late.total == 1
    hour = await _with(
        edges,
        service.timeseries,
        tz=TZ,
        bucket="hour",
        since="2024-06-01T23:00:00+07:00",
        until="2024-06-02T01:00:00+07:00",
    )
    assert [p.total for p in hour.points] == [1, 1]


async def test_percentiles_of_a_known_distribution(db_url: str) -> None:
    rng = random.Random(7)
    # Log-uniform from 0.2 ms to 20 s: every bin of the histogram gets used.
    totals = [10 ** rng.uniform(-0.7, 4.3) for _ in range(3000)]
    hubs = [rng.expovariate(1.0) + 0.05 for _ in range(3000)]
    start = datetime(2024, 6, 1, 3)
    pairs = zip(totals, hubs, strict=True)
    await log_records(
        db_url, [record(start, total_ms=round(t, 3), hub_ms=round(h, 3)) for t, h in pairs]
    )
    s = await _with(db_url, service.summary, tz=TZ, since="2024-06-01", until="2024-06-02")
    assert s.total == 3000
    for q in (50, 95, 99):
        exact = exact_percentile([round(t, 3) for t in totals], q)
        assert getattr(s.latency_ms, f"p{q}") == pytest.approx(exact, rel=0.05)
        exact_hub = exact_percentile([round(h, 3) for h in hubs], q)
        assert getattr(s.hub_ms, f"p{q}") == pytest.approx(exact_hub, rel=0.05)


async def _count(engine, table) -> int:  # type: ignore[no-untyped-def]
    async with engine.connect() as conn:
        column = table.count if table is not Transaction else 1
        return int((await conn.execute(select(func.coalesce(func.sum(column), 0)))).scalar_one())


async def test_a_failed_batch_leaves_neither_records_nor_counts(db_url: str) -> None:
    engine = create_writer_engine(db_url)

    async def broken(_conn, _records) -> None:  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full")

    writer = LogWriter(engine, hooks=[rollup.add_records, broken])
    await writer.start()
    try:
        with pytest.raises(LoggingFailed):
            await writer.submit(record(datetime(2024, 6, 1)))
        writer.hooks.remove(broken)
        await writer.submit(record(datetime(2024, 6, 1)))
    finally:
        await writer.stop()
    assert await _count(engine, Transaction) == 1
    assert await _count(engine, StatsMinute) == 1
    assert await _count(engine, StatsDay) == 1
    await engine.dispose()


async def test_synthetic_history_is_chained_and_counted(db_url: str) -> None:
    engine = create_writer_engine(db_url)
    try:
        report = await synth.load(engine, records=5000, days=10, secret="s" * 20, seed=3,
                                  end=NOW, batch_size=1500)  # fmt: skip
        assert report.records == 5000
        audit = await verify_log(engine)
        assert audit.ok and audit.records == 5000
        async with engine.connect() as conn:
            s = await service.summary(conn, tz=TZ, now=NOW)
            faults = dict(
                (await conn.execute(
                    select(Transaction.fault_code, func.count()).group_by(Transaction.fault_code)
                )).all()
            )  # fmt: skip
            verify = await service.top(conn, tz=TZ, by="service", limit=1, now=NOW)
        assert s.total == 5000
        assert s.by_fault == {k: v for k, v in faults.items() if k}
        assert 0 < s.failed < 500  # a small error share
        assert verify.rows[0].key == "VN/GOV/BCA/population/citizen-verify"
    finally:
        await engine.dispose()


async def test_migration_counts_records_logged_before_it(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/old.db"

    await asyncio.to_thread(upgrade, url, "0001")
    engine = create_writer_engine(url)

    async with engine.begin() as conn:
        await append(conn, [record(t) for t in EDGES], signer=None, lock=False)
    await upgrade_async(url)
    async with engine.connect() as conn:
        s = await service.summary(conn, tz=TZ, now=NOW)
    await engine.dispose()
    assert s.total == len(EDGES)


async def test_a_range_at_any_instants_counts_and_ranks_exactly_its_records(db_url: str) -> None:
    # An hour of exchanges, each second a different latency, slow at the top of the hour:
    # a range of a few minutes and seconds inside it was counted to whole minutes and
    # ranked with the whole hour (p50 43 % off, p95 550 % off on a live hub).
    base = datetime(2024, 6, 1, 10, 0, 0)
    records = [
        record(
            base + timedelta(seconds=s, microseconds=500_000),
            total_ms=500.0 if s < 600 else 5.0 + (s % 50),
            hub_ms=0.3 + (s % 7) / 10,
            status_code=200 if s % 11 else 503,
            succeeded=bool(s % 11),
            fault_code=None if s % 11 else "Server.ServiceUnavailable",
        )
        for s in range(3600)
    ]
    await log_records(db_url, records)
    since, until = "2024-06-01T10:13:30.25Z", "2024-06-01T10:15:20Z"
    start, end = datetime(2024, 6, 1, 10, 13, 30, 250_000), datetime(2024, 6, 1, 10, 15, 20)
    inside = [r for r in records if start <= r["started_at"] < end]
    s = await _with(db_url, service.summary, tz=TZ, since=since, until=until)
    assert s.total == len(inside) == 110
    assert s.failed == sum(not r["succeeded"] for r in inside)
    assert s.by_fault == {"Server.ServiceUnavailable": 10}
    assert s.response_bytes == sum(r["response_bytes"] for r in inside)
    for q in (50, 95, 99):
        exact = exact_percentile([r["total_ms"] for r in inside], q)
        assert getattr(s.latency_ms, f"p{q}") == pytest.approx(exact, rel=0.05)
        exact_hub = exact_percentile([r["hub_ms"] for r in inside], q)
        assert getattr(s.hub_ms, f"p{q}") == pytest.approx(exact_hub, rel=0.05)
    assert (s.since, s.until) == ("2024-06-01T10:13:30.250000Z", "2024-06-01T10:15:20.000000Z")
    m = await _with(db_url, service.matrix, tz=TZ, since=since, until=until)
    assert m.total == 110
    # Within one minute, and across the hour's edge with whole minutes between.
    one = await _with(db_url, service.summary, tz=TZ, since="2024-06-01T10:20:10Z",
                      until="2024-06-01T10:20:40Z")  # fmt: skip
    assert one.total == 30
    wide = await _with(db_url, service.summary, tz=TZ, since="2024-06-01T09:59:59Z",
                       until="2024-06-01T10:01:00.5Z")  # fmt: skip
    assert wide.total == 60 and wide.latency_ms.p50 == pytest.approx(500.0, rel=0.05)


async def test_the_bucket_still_filling_counts_up_to_until_as_the_summary_does(
    db_url: str,
) -> None:
    # The dashboard asks the series and the summary for one instant (until): the series
    # counted its current hour whole, with what was logged after that instant, and its
    # bars came out above the tiles by what the hub logged between the two requests.
    base = datetime(2024, 6, 1, 10, 0)
    await log_records(db_url, [record(base + timedelta(minutes=m, seconds=s))
                               for m in (5, 20, 40) for s in (10, 50)])  # fmt: skip
    since, until = "2024-06-01T09:00:00Z", "2024-06-01T10:20:30Z"
    now = datetime(2024, 6, 1, 10, 45)  # the hour 10:00-11:00 is not over
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            ts = await service.timeseries(conn, tz=TZ, bucket="hour", since=since, until=until,
                                          now=now)  # fmt: skip
            s = await service.summary(conn, tz=TZ, since=ts.since, until=until, now=now)
            in_minute = base + timedelta(minutes=20, seconds=40)  # 10:20-10:21 not over
            minutes = await service.timeseries(conn, tz=TZ, bucket="minute",
                since="2024-06-01T10:19:00Z", until=until, now=in_minute)  # fmt: skip
            over = await service.timeseries(conn, tz=TZ, bucket="hour", since=since,
                                            until=until, now=base + timedelta(hours=1))  # fmt: skip
    finally:
        await engine.dispose()
    assert [(p.label, p.total) for p in ts.points] == [("2024-06-01T16:00", 0),
                                                      ("2024-06-01T17:00", 3)]  # fmt: skip
    assert s.total == sum(p.total for p in ts.points) == 3
    assert ts.until == s.until == "2024-06-01T10:20:30.000000Z"  # the instant counted to
    assert [p.total for p in minutes.points] == [0, 1]
    assert [p.total for p in over.points] == [0, 6]  # an hour over is counted whole
    assert over.until == "2024-06-01T11:00:00.000000Z"
