"""Rollups folded behind the log: counts equal the log's before, during and after a fold,
through failed batches, crashes and two writers on one log."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from hub.core.db import create_engine
from hub.core.errors import LoggingFailed
from hub.models import LatencyHour, RollupMark, StatsMinute, Transaction
from hub.stats import repository as repo
from hub.stats import rollup, service
from hub.stats import timeutil as tu
from hub.txlog.repository import append
from hub.txlog.sqlite import create_writer_engine
from hub.txlog.writer import LogWriter
from tests.stats.conftest import record

TZ = "UTC"
START = datetime(2024, 6, 1, 10, 0)
NOW = datetime(2024, 6, 2)
NEVER = 3600.0  # a Folder that folds only when the writer stops


def _records(n: int, **fields: Any) -> list[dict[str, Any]]:
    """``n`` records a minute apart, every fifth a provider fault, two clients in turn."""
    out = []
    for i in range(n):
        failed = i % 5 == 4
        out.append(
            record(
                START + timedelta(minutes=i),
                client=("VN/GOV/BTP/civil-status", "VN/PROV/79/one-stop")[i % 2],
                status_code=503 if failed else 200,
                succeeded=not failed,
                fault_code="Server.ServiceFailed" if failed else None,
                total_ms=1.0 + i,
                hub_ms=0.5,
                request_bytes=i,
                **fields,
            )
        )
    return out


async def _state(url: str) -> tuple[int, int, int, int]:
    """(records in the log, exchanges in the minute table, latency rows' exchanges, mark)."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            logged = await conn.scalar(select(func.count()).select_from(Transaction))
            minute = await conn.scalar(select(func.coalesce(func.sum(StatsMinute.count), 0)))
            latency = await conn.scalar(select(func.coalesce(func.sum(LatencyHour.n_total), 0)))
            mark = await conn.scalar(select(RollupMark.seq))
        return int(logged or 0), int(minute or 0), int(latency or 0), int(mark or 0)
    finally:
        await engine.dispose()


async def _seen(url: str) -> dict[str, Any]:
    """What an operator reads: summary, per-client totals, per-hour points, provider errors."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            s = await service.summary(conn, tz=TZ, since="2024-06-01", until="2024-06-02", now=NOW)
            by_client = await service.top(conn, tz=TZ, by="client", limit=5, now=NOW,
                                          since="2024-06-01", until="2024-06-02")  # fmt: skip
            hours = await service.timeseries(conn, tz=TZ, bucket="hour", since="2024-06-01T10:00",
                                             until="2024-06-01T12:00", now=NOW)  # fmt: skip
            errors = await repo.provider_errors(conn, START)
        return {
            "total": s.total,
            "failed": s.failed,
            "by_fault": s.by_fault,
            "request_bytes": s.request_bytes,
            "p50": s.latency_ms.p50,
            "by_client": {r.key: r.count for r in by_client.rows},
            "hours": [p.total for p in hours.points],
            "errors": errors,
        }
    finally:
        await engine.dispose()


def _expected(records: list[dict[str, Any]]) -> dict[str, Any]:
    failed = [r for r in records if not r["succeeded"]]
    clients: dict[str, int] = {}
    for r in records:
        clients[r["client"]] = clients.get(r["client"], 0) + 1
    hours = [sum(1 for r in records if r["started_at"].hour == h) for h in (10, 11)]
    return {
        "total": len(records),
        "failed": len(failed),
        "by_fault": {"Server.ServiceFailed": len(failed)} if failed else {},
        "request_bytes": sum(r["request_bytes"] for r in records),
        "by_client": clients,
        "hours": hours,
        "errors": {records[0]["provider"]: (len(records), len(failed))},
    }


async def _append_unfolded(url: str, records: list[dict[str, Any]]) -> None:
    """Append and commit ``records`` without folding them, as a writer killed before its fold."""
    engine = create_writer_engine(url)
    try:
        async with engine.begin() as conn:
            await append(conn, records, signer=None, lock=engine.dialect.name == "postgresql")
    finally:
        await engine.dispose()


def _without_p50(seen: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in seen.items() if k != "p50"}


async def test_counts_equal_the_log_before_and_after_the_fold(db_url: str) -> None:
    folder = rollup.Folder(every_s=NEVER)
    writer = LogWriter(create_writer_engine(db_url), hooks=[folder])
    await writer.start()
    recs = _records(100)
    try:
        await asyncio.gather(*(writer.submit(r) for r in recs))
        # Nothing folded yet: the tables are empty, readers count the log after the mark.
        assert await _state(db_url) == (100, 0, 0, 0)
        before = await _seen(db_url)
        assert _without_p50(before) == _expected(recs)
    finally:
        await writer.stop()  # the writer's last fold
        await writer.engine.dispose()
    assert await _state(db_url) == (100, 100, 100, 100)
    after = await _seen(db_url)
    assert after == before  # the latency percentiles too: same bins, other side of the mark
    assert folder.folds == 1 and folder.read_back == 0


async def test_a_rolled_back_batch_is_not_counted_and_the_fold_reads_the_log(db_url: str) -> None:
    folder = rollup.Folder(every_s=NEVER)

    async def broken(_conn: Any, _records: Any) -> None:
        raise RuntimeError("disk full")

    writer = LogWriter(create_writer_engine(db_url), hooks=[folder])
    await writer.start()
    good, lost, late = _records(3), _records(1), _records(2)
    try:
        for r in good:
            await writer.submit(r)
        writer.hooks.append(broken)
        with pytest.raises(LoggingFailed):
            await writer.submit(lost[0])
        writer.hooks.remove(broken)
        for r in late:
            await writer.submit(r)
    finally:
        await writer.stop()
        await writer.engine.dispose()
    # The failed batch's gathered sums were dropped with the batches before it, so the
    # last fold counted the log itself: the five committed records, not the refused one.
    assert folder.read_back == 1
    assert await _state(db_url) == (5, 5, 5, 5)
    assert _without_p50(await _seen(db_url)) == _expected(good + late)


async def test_records_committed_without_their_fold_are_counted_and_folded_later(
    db_url: str,
) -> None:
    """A writer killed between its commits and its fold: readers and the next fold agree."""
    recs = _records(30)
    await _append_unfolded(db_url, recs[:20])
    assert await _state(db_url) == (20, 0, 0, 0)
    assert _without_p50(await _seen(db_url)) == _expected(recs[:20])
    folder = rollup.Folder(every_s=0.0)  # folds with every batch
    writer = LogWriter(create_writer_engine(db_url), hooks=[folder])
    await writer.start()
    try:
        for r in recs[20:]:
            await writer.submit(r)
        # The first fold found the mark behind its own batch and read the log back.
        assert folder.read_back == 1 and folder.folds == 10
        assert await _state(db_url) == (30, 30, 30, 30)
    finally:
        await writer.stop()
        await writer.engine.dispose()
    assert _without_p50(await _seen(db_url)) == _expected(recs)


async def test_two_writers_on_one_log_count_every_record_once(db_url: str) -> None:
    # Folds every 15 records or more: across batches of both writers, interleaved.
    folders = [rollup.Folder(every_s=NEVER, most=15), rollup.Folder(every_s=NEVER, most=15)]
    writers = [LogWriter(create_writer_engine(db_url), batch_max=7, hooks=[f]) for f in folders]
    for w in writers:
        await w.start()
    recs = _records(120)
    try:
        for wave in range(0, 120, 10):  # each writer commits a batch of 5 in turn
            await asyncio.gather(
                *(writers[i % 2].submit(r) for i, r in enumerate(recs[wave : wave + 10]))
            )
        logged, minute, latency, mark = await _state(db_url)
        assert logged == 120 and minute == latency == mark  # folded up to the mark, no more
        assert _without_p50(await _seen(db_url)) == _expected(recs)
    finally:
        for w in writers:
            await w.stop()
            await w.engine.dispose()
    assert await _state(db_url) == (120, 120, 120, 120)
    # Each writer's batches were interleaved with the other's, so folds read the log back.
    assert sum(f.read_back for f in folders) > 0, [(f.folds, f.read_back) for f in folders]
    assert sum(f.folds for f in folders) > 2


async def test_a_range_without_folded_rows_still_counts_the_log_after_the_mark(
    db_url: str,
) -> None:
    """The rollup query that finds no rows has no mark to read: the one read before it serves."""
    await _append_unfolded(db_url, _records(4))
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            rows = await repo.count_sums(
                conn, tu.cover(START, START + timedelta(hours=1)), group=("client",), filters={}
            )
    finally:
        await engine.dispose()
    counted: dict[str, int] = {}
    for row in rows:
        counted[row.client] = counted.get(row.client, 0) + int(row._mapping["count"])
    assert counted == {"VN/GOV/BTP/civil-status": 2, "VN/PROV/79/one-stop": 2}


async def test_operator_totals_through_a_running_hub_never_skip_or_double_a_record(
    hub: Any,
) -> None:
    """Exchanges flow while the operator polls the summary across several folds: each total
    lies between the exchanges answered before the poll and those sent before its answer."""
    from tests.gateway.conftest import CITIZEN, PROVIDER
    from tests.stats.conftest import AUTH

    folder = next(h for h in hub.app.state.writer.hooks if isinstance(h, rollup.Folder))
    folder.every_s = 0.05  # several folds within the test
    path = f"/r1/{PROVIDER}/citizen-lookup/citizens/{CITIZEN}"
    headers = hub.headers(**{"X-Road-UserId": "officer-01", "X-Road-Issue": "HS-0001"})
    sent = answered = 0
    stop = asyncio.Event()

    async def exchanges() -> None:
        nonlocal sent, answered
        while not stop.is_set():
            sent += 8
            replies = await asyncio.gather(
                *(hub.client.get(path, headers=headers) for _ in range(8))
            )
            assert all(r.status_code == 200 for r in replies)
            answered += 8

    load = asyncio.create_task(exchanges())
    seen: list[tuple[int, int, int]] = []
    try:
        while folder.folds < 4 or len(seen) < 10:
            low = answered
            resp = await hub.client.get("/api/stats/summary", headers=AUTH)
            assert resp.status_code == 200, resp.text
            seen.append((low, resp.json()["total"], sent))
            assert len(seen) < 500, "the folder never folded"
    finally:
        stop.set()
        await load
    for low, total, high in seen:
        assert low <= total <= high
    totals = [total for _, total, _ in seen]
    assert totals == sorted(totals)
    final = (await hub.client.get("/api/stats/summary", headers=AUTH)).json()["total"]
    assert final == answered == len(await hub.records())


def test_the_folder_lets_the_writer_run_its_batches_below_sqlalchemy() -> None:
    from hub.txlog.writer import _inline_safe

    async def other(_conn: Any, _records: Any) -> None:
        return None

    assert _inline_safe(rollup.Folder()) and _inline_safe(rollup.add_records)
    assert not _inline_safe(other)
