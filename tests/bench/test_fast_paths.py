"""The second performance round's shortcuts give the same results as the plain paths.

Nothing here is timed: each test checks that a faster path (the writer's own SQLite
connection, the checkpoints from a thread, the metrics' cached children) writes, counts or
keeps exactly what the slower one did.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import os
import sqlite3
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from sqlalchemy import select, text

from hub.core.db import create_engine
from hub.core.settings import Settings
from hub.models import StatsMinute, Transaction
from hub.stats import rollup, upserts
from hub.stats.metrics import LATENCY_BUCKETS, Metrics
from hub.txlog import sqlite as writer_mod
from hub.txlog.audit import verify_log
from hub.txlog.repository import append
from hub.txlog.signing import Signer
from hub.txlog.sqlite import Checkpointer, create_writer_engine, inline_sqlite
from hub.txlog.writer import LogWriter
from tests.support import QuietWriter

KEPT_HASH = base64.b64encode(hashlib.sha512(b"kept").digest()).decode()


def record(i: int, client: str = "VN/GOV/BTP/civil-status") -> dict[str, Any]:
    return {
        "id": f"x-{i}",
        "request_id": f"req-{i}",
        "client": client,
        "service": "VN/GOV/BCA/population/citizen-lookup",
        "provider": "VN/GOV/BCA/population",
        "method": "GET",
        "path": f"/citizens/~p{i}",
        "user_id": "officer",
        "issue": "HS-1",
        "status_code": 200 if i % 5 else 504,
        "succeeded": bool(i % 5),
        "fault_code": None if i % 5 else "Server.ServiceTimeout",
        "request_bytes": i % 3,
        "response_bytes": 100 + i,
        "started_at": datetime(2026, 11, 2, 3, i % 60, i % 60, 1000 * i),
        "total_ms": 1.25 + i,
        "upstream_ms": None if i % 7 == 0 else 0.75,
        "hub_ms": 0.5,
        "request_hash": "rq",
        # A kept body hashes to its response_hash, as the audit checks.
        "response_hash": KEPT_HASH if i % 4 == 0 else "rs",
        "request_body": None,
        "response_body": "kept" if i % 4 == 0 else None,
    }


async def _rows(url: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            tx = (await conn.execute(select(Transaction.__table__).order_by("seq"))).all()
            stats = (
                await conn.execute(
                    select(StatsMinute.__table__).order_by(*StatsMinute.__table__.primary_key)
                )
            ).all()
            return [tuple(r) for r in tx], [tuple(r) for r in stats]
    finally:
        await engine.dispose()


async def _write_through_writer(url: str, batches: list[list[dict[str, Any]]]) -> None:
    """The log writer's own commits: on SQLite, BEGIN to COMMIT below SQLAlchemy."""
    writer = LogWriter(create_writer_engine(url), hooks=[rollup.add_records])
    try:
        for batch in batches:
            await writer._commit(batch)
        assert writer._conn is not None and inline_sqlite(writer._conn) is not None
        assert writer.batches == len(batches)
    finally:
        await writer.stop()
        await writer.engine.dispose()


async def _write(url: str, batches: list[list[dict[str, Any]]], *, inline: bool) -> None:
    engine = create_writer_engine(url) if inline else create_engine(url)
    try:
        async with engine.connect() as conn:
            assert (inline_sqlite(conn) is not None) is inline
            for batch in batches:
                async with conn.begin():
                    await append(conn, batch, signer=None, lock=False)
                    await rollup.add_records(conn, batch)
    finally:
        await engine.dispose()


async def test_the_inline_sqlite_path_writes_what_sqlalchemy_writes(tmp_path: Path) -> None:
    from hub.core.migrate import upgrade_async

    names = ("inline", "plain", "writer")
    urls = [f"sqlite+aiosqlite:///{tmp_path}/{name}.db" for name in names]
    for url, name in zip(urls, names, strict=True):
        await upgrade_async(url)
        batches = [[record(i) for i in range(b * 7, b * 7 + 7)] for b in range(6)]
        if name == "writer":
            await _write_through_writer(url, batches)
        else:
            await _write(url, batches, inline=name == "inline")
    inline_rows, plain_rows, writer_rows = [await _rows(url) for url in urls]
    assert len(inline_rows[0]) == 42 and inline_rows[1]
    assert inline_rows == plain_rows  # records, chain hashes and rollup sums alike
    assert writer_rows == plain_rows


async def _checkpoints_done(checkpointer: Checkpointer) -> None:
    """Wait until the checkpoint thread has nothing running or queued (a PASSIVE one that
    finds the WAL long queues a RESTART from its done callback)."""
    while (job := checkpointer._running or checkpointer._restart) is not None:
        with contextlib.suppress(Exception):
            await asyncio.shield(job)
        await asyncio.sleep(0)  # let the done callbacks run


async def _wal_after_one_record_commits(
    db: Path, checkpoint_every: int | None, monkeypatch: pytest.MonkeyPatch
) -> tuple[int, int, int, int, Signer]:
    """300 one-record commits (the most pages per record) through a writer whose checkpoint
    thread runs after every ``checkpoint_every``-th commit (None: only after the first) and
    is waited for, so the WAL's high-water mark does not depend on when the thread gets its
    turn: (WAL bytes, checkpoints, restarts, the writer connection's wal_autocheckpoint,
    signer)."""
    from hub.core.migrate import upgrade_async

    url = f"sqlite+aiosqlite:///{db}"
    await upgrade_async(url)
    monkeypatch.setattr(writer_mod, "RESTART_FRAMES", 64)
    signer = Signer.from_file(db.with_suffix(".pem"), create=True)
    engine = create_writer_engine(url)
    writer = LogWriter(engine, signer=signer, hooks=[rollup.add_records])
    checkpointer = writer.checkpointer
    assert checkpointer is not None
    await writer.start()
    try:
        for i in range(300):
            due = i == 0 or (checkpoint_every is not None and (i + 1) % checkpoint_every == 0)
            checkpointer._next = 0.0 if due else float("inf")
            await writer.submit(record(i))
            await _checkpoints_done(checkpointer)
        assert writer._conn is not None
        own = inline_sqlite(writer._conn)
        assert own is not None
        autocheckpoint = own.execute("PRAGMA wal_autocheckpoint").fetchone()[0]
        wal_size = await asyncio.to_thread(os.path.getsize, f"{db}-wal")
        runs, restarts = checkpointer.runs, checkpointer.restarts
    finally:
        await writer.stop()
        await engine.dispose()
    return wal_size, runs, restarts, autocheckpoint, signer


async def test_checkpoints_from_the_thread_keep_the_wal_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The control: one checkpoint at the first commit, then none for the run, so the WAL
    # keeps every frame the 300 commits write (3,900-4,800 frames, 16-20 MB, measured).
    control, *_ = await _wal_after_one_record_commits(tmp_path / "control.db", None, monkeypatch)
    # A checkpoint every 10th commit: the 10 commits before it leave more than 64 frames
    # (about 160), so each PASSIVE checkpoint is followed by a RESTART, and the next commit
    # writes the WAL from its start. The file keeps its high-water mark, about 190 frames
    # (760 KB). Left to the thread's own timing, the mark ranged 200-2,100 frames on a
    # 2-core machine, which made a bound on it fail in CI.
    db = tmp_path / "hub.db"
    wal_size, runs, restarts, autocheckpoint, signer = await _wal_after_one_record_commits(
        db, 10, monkeypatch
    )
    assert runs == 31 and restarts == 30, (runs, restarts)
    assert wal_size < control / 10, (wal_size, control)
    read = create_engine(f"sqlite+aiosqlite:///{db}")
    try:
        report = await verify_log(read, public_key=signer.public_key)
        async with read.connect() as conn:
            counted = (await conn.execute(text("SELECT sum(count) FROM stats_minute"))).scalar()
    finally:
        await read.dispose()
    assert report.ok, report.problems
    assert report.records == 300 and counted == 300
    assert autocheckpoint == 0  # the writer's connection never checkpoints in the loop


def _reference(records: list[dict[str, Any]], with_client: bool) -> bytes:
    """What the observer produced before its children were cached: labels() each time."""
    r = CollectorRegistry(auto_describe=True)
    labels = ["service", "provider", "fault_code"] + (["client"] if with_client else [])
    lat = ["service", "provider"] + (["client"] if with_client else [])
    ex = Counter(
        "hub_exchanges",
        "Exchanges logged, by service, provider and fault code (none: no fault).",
        labels,
        registry=r,
    )
    failed = Counter("hub_exchanges_failed", "Exchanges that did not succeed.", labels, registry=r)
    req = Counter("hub_request_bytes", "Request body bytes received.", lat, registry=r)
    resp = Counter("hub_response_bytes", "Response body bytes sent.", lat, registry=r)

    def hist(name: str, doc: str) -> Histogram:
        return Histogram(name, doc, lat, buckets=LATENCY_BUCKETS, registry=r)

    total = hist("hub_exchange_duration_seconds", "Whole exchange as the hub measured it.")
    up = hist("hub_upstream_duration_seconds", "Time spent waiting for the provider.")
    added = hist("hub_added_duration_seconds", "Time the hub itself added to the exchange.")
    for rec in records:
        service = rec["service"] or "-"
        provider = service.rpartition("/")[0] or "-"  # the series' provider, from the service
        key = [service, provider, rec["fault_code"] or "none"]
        lk = [service, provider]
        if with_client:
            key.append(rec["client"] or "-")
            lk.append(rec["client"] or "-")
        ex.labels(*key).inc()
        if not rec["succeeded"]:
            failed.labels(*key).inc()
        req.labels(*lk).inc(rec["request_bytes"])
        resp.labels(*lk).inc(rec["response_bytes"])
        total.labels(*lk).observe(rec["total_ms"] / 1000)
        if rec["upstream_ms"] is not None:
            up.labels(*lk).observe(rec["upstream_ms"] / 1000)
        added.labels(*lk).observe(rec["hub_ms"] / 1000)
    return generate_latest(r)


@pytest.mark.parametrize("with_client", [False, True])
def test_cached_metric_children_count_like_labels(with_client: bool) -> None:
    records = [record(i, client=f"VN/GOV/C/c{i % 3}") for i in range(40)]
    records[3]["service"] = ""  # refused before a service was known
    settings = Settings(metrics_client_label=with_client)
    metrics = Metrics(settings, QuietWriter())  # type: ignore[arg-type]
    for rec in records:
        metrics.observe(rec)
    ours = [
        line
        for line in metrics.render().decode().splitlines()
        if line.startswith(
            ("hub_exchange", "hub_request", "hub_response", "hub_upstream", "hub_added")
        )
        and "_created" not in line
        and not line.startswith("hub_exchanges_unlogged")  # the gateway's, not observed
    ]
    expected = [
        line
        for line in _reference(records, with_client).decode().splitlines()
        if not line.startswith("#") and "_created" not in line
    ]
    assert sorted(ours) == sorted(expected)


def test_libsodium_signatures_are_the_ones_cryptography_makes(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from hub.txlog.signing import verify

    signer = Signer.from_file(tmp_path / "k.pem", create=True)
    reference = load_pem_private_key((tmp_path / "k.pem").read_bytes(), password=None)
    for i in range(50):
        message = f"hub-log-batch|{i}|{i * 17 + 1}|{i * 17 + 17}|{i:064x}".encode()
        signature = signer.sign(message)
        assert base64.b64decode(signature) == reference.sign(message)  # type: ignore[union-attr]
        assert verify(signer.public_key, message, signature)
        assert not verify(signer.public_key, message + b"x", signature)


def test_multi_row_upserts_add_what_executemany_adds(tmp_path: Path) -> None:
    from sqlalchemy.dialects import sqlite as sqlite_dialect

    from hub.core.migrate import upgrade

    table = rollup.LATENCY_TABLES["hour"]
    sql, _ = upserts.driver_sql(
        sqlite_dialect.dialect(), table, rollup.LATENCY_KEY, rollup.LATENCY_SUMS
    )
    key = ("2026-12-01 10:00:00.000000", "VN/GOV/A/a", "VN/GOV/B/b/s", "VN/GOV/B/b")
    # Past MULTI_ROWS, so the rows split into statements; half of them meet existing rows.
    first = [(*key, b, b % 3, 1) for b in range(0, 2 * upserts.MULTI_ROWS + 5, 2)]
    second = [(*key, b, 1, b % 2) for b in range(0, 2 * upserts.MULTI_ROWS + 5)]
    tables = {}
    for how in ("executemany", "multi"):
        db = tmp_path / f"{how}.db"
        upgrade(f"sqlite+aiosqlite:///{db}")
        conn = sqlite3.connect(db, isolation_level=None)
        for rows in (first, second, second[:1]):
            if how == "executemany":
                conn.executemany(sql, rows)
            else:
                upserts.upsert_rows(conn, sql, rows)
        tables[how] = conn.execute(
            f"SELECT bin, n_total, n_hub FROM {table.name} ORDER BY bin"
        ).fetchall()
        conn.close()
    assert len(tables["multi"]) == len(second)
    assert tables["multi"] == tables["executemany"]
    assert tables["multi"][0] == (0, 0 + 1 + 1, 1 + 0 + 0)
