"""The log writer alone: records per second it commits, and bytes each record takes.

Drives ``hub.txlog.writer.LogWriter`` directly (no HTTP), on a fresh SQLite file and, when
a PostgreSQL server answers, on a fresh database there; with and without the statistics
feature's rollup hook (the hub always runs with it: it folds the batches into the
rollups every 0.25 s).
The records are built before the clock starts, so the figure is the writer's alone.
"""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hub.core.ids import request_id
from hub.gateway.records import b64sha512

PG_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
BODY = b'{"id": "079203001234", "full_name": "Nguy\xe1\xbb\x85n V\xc4\x83n An"}' * 4


@dataclass
class WriterResult:
    engine: str
    concurrency: int
    records: int
    seconds: float
    batches: int
    bytes_per_record: float | None
    rollups: bool = False

    @property
    def rate(self) -> float:
        return self.records / self.seconds

    @property
    def mean_batch(self) -> float:
        return self.records / self.batches if self.batches else 0.0


def record(i: int) -> dict[str, Any]:
    """A record shaped like the gateway's for the bench exchange (pseudonymised path)."""
    rid = request_id()  # as the gateway makes them: time-ordered
    return {
        "id": rid,
        "request_id": rid,
        "client": "VN/GOV/BTP/civil-status",
        "service": "VN/GOV/BCA/population/citizen-lookup",
        "provider": "VN/GOV/BCA/population",
        "method": "GET",
        "path": "/citizens/~Zq3vX0c1mJkS2eQp",
        "user_id": "officer-01",
        "issue": "HS-2024-000123",
        "status_code": 200,
        "succeeded": True,
        "fault_code": None,
        "request_bytes": 0,
        "response_bytes": 312,
        "started_at": datetime.now(UTC).replace(tzinfo=None),
        "total_ms": 1.234 + i % 7,
        "upstream_ms": 0.9,
        "hub_ms": 0.334,
        "request_hash": b64sha512(b""),
        "response_hash": b64sha512(BODY),
        "request_body": None,
        "response_body": None,
    }


async def drive(
    url: str, workdir: Path, *, records: int, concurrency: int, rollups: bool = False
) -> WriterResult:
    from hub.stats.rollup import Folder
    from hub.txlog.signing import Signer
    from hub.txlog.sqlite import create_writer_engine
    from hub.txlog.writer import LogWriter

    signer = Signer.from_file(workdir / "writer-signing.pem", create=True)
    engine = create_writer_engine(url)
    writer = LogWriter(engine, signer=signer, hooks=[Folder()] if rollups else [])
    await writer.start()
    per_task = records // concurrency
    batches = 0
    # Built before the clock starts: building a record (uuid4, two SHA-512s, datetime.now)
    # cost about a fifth of the timed section in the first version of this bench. Dealt
    # round-robin, so each batch holds records made one after another, as the gateway's
    # are: built per producer, a batch of 17 took one from each of 17 runs made at
    # different times, and its request ids and start times fell on a page of their
    # indexes each (16.3 and 16.7 WAL frames a commit for those two, against 3.0 and 2.8
    # dealt round-robin; 51.7 frames a commit in all against 24.8).
    warm = _dealt(50 * 8, 8)
    timed = _dealt(per_task * concurrency, concurrency)

    def count(_n: int, _s: float) -> None:
        nonlocal batches
        batches += 1

    async def producer(recs: list[dict[str, Any]]) -> None:
        for rec in recs:
            await writer.submit(rec)

    try:
        await asyncio.gather(*(producer(w) for w in warm))  # warm-up: connection, caches
        writer.on_commit.append(count)
        t0 = time.perf_counter()
        await asyncio.gather(*(producer(t) for t in timed))
        seconds = time.perf_counter() - t0
    finally:
        await writer.stop()
        await engine.dispose()
    kind = "postgresql" if url.startswith("postgresql") else "sqlite"
    return WriterResult(kind, concurrency, per_task * concurrency, seconds, batches, None, rollups)


def _dealt(n: int, producers: int, make: Callable[[int], Any] = record) -> list[list[Any]]:
    """``n`` records made in order, dealt to ``producers`` lists like cards: the producers
    take turns, so the writer's queue receives them in the order they were made."""
    made = [make(i) for i in range(n)]
    return [made[k::producers] for k in range(producers)]


def sqlite_run(
    workdir: Path, *, records: int, concurrency: int, rollups: bool = False
) -> WriterResult:
    """Fresh SQLite file; bytes per record from the file size after a WAL checkpoint."""
    import sqlite3

    from hub.core.migrate import upgrade

    db = workdir / f"writer-{concurrency}{'-rollups' if rollups else ''}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    url = f"sqlite+aiosqlite:///{db}"
    upgrade(url)
    empty = _checkpointed_size(db, sqlite3)
    result = _run(drive(url, workdir, records=records, concurrency=concurrency, rollups=rollups))
    with sqlite3.connect(db) as conn:
        total = conn.execute("SELECT count(*) FROM transactions").fetchone()[0]
    result.bytes_per_record = (_checkpointed_size(db, sqlite3) - empty) / max(1, total)
    return result


def _checkpointed_size(db: Path, sqlite3: Any) -> int:
    conn = sqlite3.connect(db)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return db.stat().st_size


def postgres_run(
    workdir: Path, *, records: int, concurrency: int, rollups: bool = False
) -> WriterResult | str:
    """A fresh database on the local server; the reason as text when there is none."""
    try:
        return _run(_postgres(workdir, records=records, concurrency=concurrency, rollups=rollups))
    except (OSError, ImportError) as exc:
        return f"no PostgreSQL at {PG_URL} ({type(exc).__name__}: {exc})"


async def _postgres(
    workdir: Path, *, records: int, concurrency: int, rollups: bool
) -> WriterResult:
    import asyncpg
    from sqlalchemy.engine import make_url

    from hub.core.migrate import upgrade_async

    base = make_url(PG_URL)
    admin = base.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"hubbench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin, timeout=5)
    await conn.execute(f'CREATE DATABASE "{name}"')
    await conn.close()
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        await upgrade_async(url)
        result = await drive(
            url, workdir, records=records, concurrency=concurrency, rollups=rollups
        )
        dsn = base.set(drivername="postgresql", database=name).render_as_string(hide_password=False)
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute("VACUUM ANALYZE transactions")
            size = await conn.fetchval(
                "SELECT pg_total_relation_size('transactions') "
                "+ pg_total_relation_size('log_batches')"
            )
            total = await conn.fetchval("SELECT count(*) FROM transactions")
        finally:
            await conn.close()
        result.bytes_per_record = size / max(1, total)
        return result
    finally:
        conn = await asyncpg.connect(admin)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


def _run(coro: Any) -> Any:
    import uvloop

    return uvloop.run(coro)
