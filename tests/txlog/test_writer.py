"""The group-commit writer: every record committed once, chained, shared commits."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from hub.core.db import create_engine
from hub.core.errors import LoggingFailed
from hub.models import LogBatch, Transaction
from hub.txlog.audit import verify_log
from hub.txlog.signing import Signer
from hub.txlog.sqlite import create_writer_engine
from hub.txlog.writer import LogWriter


def record(i: int, writer: str = "a") -> dict[str, Any]:
    return {
        "id": f"{writer}-{i}",
        "request_id": f"{writer}-req-{i}",
        "client": "VN/GOV/BTP/civil-status",
        "service": "VN/GOV/BCA/population/citizen-lookup",
        "provider": "VN/GOV/BCA/population",
        "method": "GET",
        "path": "/citizens/~abc",
        "user_id": "officer",
        "issue": "HS-1",
        "status_code": 200,
        "succeeded": True,
        "fault_code": None,
        "request_bytes": 0,
        "response_bytes": 120,
        "started_at": datetime.now(UTC).replace(tzinfo=None),
        "total_ms": 1.5,
        "upstream_ms": 1.0,
        "hub_ms": 0.5,
        "request_hash": "x",
        "response_hash": "y",
        "request_body": None,
        "response_body": None,
    }


async def _count(url: str) -> tuple[int, int]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            n = await conn.scalar(select(func.count()).select_from(Transaction))
            b = await conn.scalar(select(func.count()).select_from(LogBatch))
            return int(n or 0), int(b or 0)
    finally:
        await engine.dispose()


async def test_concurrent_submits_share_commits_and_chain(db_url: str, tmp_path: Path) -> None:
    signer = Signer.from_file(tmp_path / "k.pem", create=True)
    engine = create_writer_engine(db_url)
    writer = LogWriter(engine, signer=signer)
    await writer.start()
    await asyncio.gather(*(writer.submit(record(i)) for i in range(500)))
    await writer.stop()
    await engine.dispose()

    records, batches = await _count(db_url)
    assert records == 500
    assert 1 <= batches < 500  # group commit: exchanges waiting together share a commit
    read = create_engine(db_url)
    report = await verify_log(read, public_key=signer.public_key)
    await read.dispose()
    assert report.ok, report.problems
    assert report.records == 500 and report.signatures_checked == batches


@pytest.mark.parametrize("linger", [0, 8])
async def test_lingering_gathers_records_that_arrive_turn_by_turn(
    sqlite_url: str, linger: int
) -> None:
    """Exchanges reach ``submit`` over several turns of the event loop under load."""
    engine = create_writer_engine(sqlite_url)
    writer = LogWriter(engine, linger_rounds=linger)
    sizes: list[int] = []
    writer.on_commit.append(lambda n, _s: sizes.append(n))
    await writer.start()

    async def arrive(i: int) -> None:
        for _ in range(i // 4):  # four records reach submit in each turn of the loop
            await asyncio.sleep(0)
        await writer.submit(record(i))

    await asyncio.gather(*(arrive(i) for i in range(16)))
    await writer.stop()
    await engine.dispose()
    assert sum(sizes) == 16
    if linger:
        assert sizes == [16]  # held open while the queue grew
    else:
        assert len(sizes) > 1 and sizes[0] < 16  # taken as soon as the first arrived


async def test_a_lone_record_is_not_held(sqlite_url: str) -> None:
    """With nothing else arriving, lingering ends after two quiet turns of the loop."""
    engine = create_writer_engine(sqlite_url)
    writer = LogWriter(engine, linger_rounds=1000)
    await writer.start()
    turns = 0
    done = False

    async def count_turns() -> None:
        nonlocal turns
        while not done:
            turns += 1
            await asyncio.sleep(0)

    counter = asyncio.create_task(count_turns())
    await writer.submit(record(1))  # warm: the first commit opens the connection
    turns = 0
    await writer.submit(record(2))
    done = True
    await counter
    await writer.stop()
    await engine.dispose()
    assert turns < 10  # two quiet turns and the commit's own awaits, not a thousand


async def test_lingering_ends_once_a_full_batch_waits(sqlite_url: str) -> None:
    """Records arriving on every turn never hold a full batch back."""
    engine = create_writer_engine(sqlite_url)
    writer = LogWriter(engine, batch_max=8, linger_rounds=1000)
    sizes: list[int] = []
    arrived: list[int] = []  # records submitted when each batch committed
    await writer.start()
    await writer.submit(record(0))  # warm: the first commit opens the connection
    submitted = 0
    writer.on_commit.append(lambda n, _s: (sizes.append(n), arrived.append(submitted)))

    async def arrive(i: int) -> None:
        nonlocal submitted
        for _ in range(i):  # one record reaches submit on each turn of the loop
            await asyncio.sleep(0)
        submitted += 1
        await writer.submit(record(i))

    await asyncio.gather(*(arrive(i) for i in range(1, 25)))
    await writer.stop()
    await engine.dispose()
    assert sum(sizes) == 24 and max(sizes) <= 8
    assert sizes[0] == 8
    assert arrived[0] < 12  # committed once full, not after the last of the 24 arrived


async def test_a_writer_cancelled_while_lingering_refuses_its_records(sqlite_url: str) -> None:
    engine = create_writer_engine(sqlite_url)
    writer = LogWriter(engine, linger_rounds=1000)
    await writer.start()

    async def keep_arriving() -> None:
        i = 0
        while True:  # the queue grows every turn, so the writer keeps lingering
            i += 1
            writer.offer(record(i), asyncio.get_running_loop().create_future())
            await asyncio.sleep(0)

    feeder = asyncio.create_task(keep_arriving())
    waiting = asyncio.create_task(writer.submit(record(0)))
    for _ in range(20):
        await asyncio.sleep(0)
    assert writer._task is not None
    writer._task.cancel()
    feeder.cancel()
    with pytest.raises(LoggingFailed, match="stopped"):
        await asyncio.wait_for(waiting, 5)
    await engine.dispose()


async def test_two_writers_extend_one_chain(db_url: str, tmp_path: Path) -> None:
    """Two hub workers append to the same log without forking the chain."""
    signer = Signer.from_file(tmp_path / "k.pem", create=True)
    engines = [create_writer_engine(db_url), create_writer_engine(db_url)]
    writers = [LogWriter(e, signer=signer, batch_max=20) for e in engines]
    for w in writers:
        await w.start()
    await asyncio.gather(
        *(
            w.submit(record(i, name))
            for i in range(200)
            for w, name in zip(writers, "ab", strict=True)
        )
    )
    for w, e in zip(writers, engines, strict=True):
        await w.stop()
        await e.dispose()
    read = create_engine(db_url)
    report = await verify_log(read, public_key=signer.public_key)
    await read.dispose()
    assert report.ok, report.problems
    assert report.records == 400


async def test_submit_refuses_when_not_running(sqlite_url: str) -> None:
    engine = create_writer_engine(sqlite_url)
    writer = LogWriter(engine)
    with pytest.raises(LoggingFailed):
        await writer.submit(record(1))
    await engine.dispose()


async def test_full_queue_refuses_rather_than_waits(sqlite_url: str) -> None:
    engine = create_writer_engine(sqlite_url)
    writer = LogWriter(engine, queue_max=1)
    await writer.start()
    first = asyncio.create_task(writer.submit(record(1)))
    second = asyncio.create_task(writer.submit(record(2)))
    third = asyncio.create_task(writer.submit(record(3)))
    results = await asyncio.gather(first, second, third, return_exceptions=True)
    assert any(isinstance(r, LoggingFailed) for r in results)
    assert any(r is None for r in results)
    await writer.stop()
    await engine.dispose()
    assert (await _count(sqlite_url))[0] == sum(r is None for r in results)


async def test_a_held_chain_head_fails_the_batch_instead_of_hanging(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: SQLite's lock wait is covered in tests/reliability")
    from hub.txlog import sqlite as writer_sqlite

    monkeypatch.setattr(writer_sqlite, "LOCK_WAIT_S", 0.3)
    holder = create_engine(db_url)
    engine = create_writer_engine(db_url)
    writer = LogWriter(engine)
    await writer.start()
    try:
        async with holder.begin() as conn:
            await conn.execute(text("SELECT * FROM chain_head WHERE id = 1 FOR UPDATE"))
            with pytest.raises(LoggingFailed):
                await asyncio.wait_for(writer.submit(record(1)), timeout=10)
        await writer.submit(record(2))  # the lock is gone: the writer goes on by itself
    finally:
        await writer.stop()
        await engine.dispose()
        await holder.dispose()
    assert (await _count(db_url))[0] == 1


async def test_a_connection_closed_between_batches_is_replaced_before_the_next(
    db_url: str,
) -> None:
    # The writer keeps one connection; PostgreSQL closed it meanwhile (a restart, a DBA,
    # idle_session_timeout on a quiet night): the next batch failed on it, and its exchanges,
    # already carried out by their providers, were answered 503 Server.LoggingFailed.
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only: SQLite's file has no server to close it")
    killer = create_engine(db_url)
    engine = create_writer_engine(db_url)
    writer = LogWriter(engine)
    await writer.start()
    try:
        await writer.submit(record(1))
        async with killer.connect() as conn:
            killed = await conn.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        assert killed >= 1  # the writer's connection
        await asyncio.sleep(0.5)  # the kill reaches the writer's side of the connection
        await asyncio.wait_for(writer.submit(record(2)), timeout=10)
        assert writer.failed_batches == 0
    finally:
        await writer.stop()
        await engine.dispose()
        await killer.dispose()
    assert (await _count(db_url))[0] == 2


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 11, 22, 5, 0, 0),  # no microseconds: still written with them
        datetime(2026, 11, 22, 5, 0, 0, 123456),
        datetime(2026, 11, 22, 5, 0, 0, 123456, tzinfo=UTC),
        datetime(2026, 11, 22, 12, 0, 0, 1, tzinfo=timezone(timedelta(hours=7))),
    ],
)
def test_sqlite_datetimes_are_written_as_sqlalchemy_writes_them(value: datetime) -> None:
    from sqlalchemy import DateTime
    from sqlalchemy.dialects import sqlite

    from hub.txlog.repository import _sqlite_value

    dialect = sqlite.dialect()
    processor = DateTime().dialect_impl(dialect).bind_processor(dialect)
    assert processor is not None
    # SQLAlchemy keeps a SQLite DATETIME's wall time and drops the zone.
    assert _sqlite_value(value) == processor(value.replace(tzinfo=None))


async def test_a_chain_head_deleted_around_the_hub_is_named_in_its_log(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    engine = create_writer_engine(db_url)
    writer = LogWriter(engine)
    await writer.start()
    try:
        await writer.submit(record(1))
        async with engine.begin() as conn:
            await conn.execute(text("DELETE FROM chain_head"))
        with pytest.raises(LoggingFailed):
            await asyncio.wait_for(writer.submit(record(2)), timeout=10)
    finally:
        await writer.stop()
        await engine.dispose()
    # It said "cannot unpack non-iterable NoneType object" (SQLite) or "No row was found
    # when one was required" (PostgreSQL): the operator was not told what broke.
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "the chain head (table chain_head) is gone" in said, said
