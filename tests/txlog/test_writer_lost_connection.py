"""The log writer keeps a batch whose PostgreSQL connection is lost inside its transaction.

A DBA's pg_terminate_backend, a failover or a proxy's reset during a batch failed it: the
exchanges in it, already carried out by their providers, were answered 503
Server.LoggingFailed and had no record, though the database was up the whole time. The
writer now reconnects and writes the batch again, once; a COMMIT whose answer was lost may
have landed, so it looks for the batch's records first.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.core.db import create_engine
from hub.core.errors import LoggingFailed
from hub.models import LogBatch, StatsMinute, Transaction
from hub.stats import rollup
from hub.txlog.audit import verify_log
from hub.txlog.signing import Signer
from hub.txlog.sqlite import create_writer_engine
from hub.txlog.writer import LogWriter
from tests.support import POSTGRES_URL, database
from tests.txlog.test_writer import record

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="needs HUB_TEST_POSTGRES_URL"),
]

RECORDS = 20
NEVER = 3600.0  # a Folder that folds only when the writer stops


@pytest.fixture
async def pg_url(tmp_path: Path) -> AsyncIterator[str]:
    async with database("postgres", tmp_path) as url:
        yield url


class CutInside:
    """A batch hook: PostgreSQL ends the writer's backend while the batch's transaction is
    open, for the first ``times`` batch attempts, and has ended it when the hook returns."""

    def __init__(self, url: str, times: int = 1) -> None:
        self.killer = create_engine(url)
        self.left = times
        self.cuts = 0

    async def __call__(self, conn: AsyncConnection, records: list[dict[str, Any]]) -> None:
        if not self.left:
            return
        self.left -= 1
        pid = await conn.scalar(text("SELECT pg_backend_pid()"))
        async with self.killer.connect() as other:
            # With a timeout, pg_terminate_backend returns once the backend has exited.
            gone = await other.scalar(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid})
        assert gone
        self.cuts += 1


class _AnswerLost:
    """asyncpg's transaction of one batch, whose COMMIT lands but whose answer never comes."""

    def __init__(self, transaction: Any, driver: Any) -> None:
        self.transaction, self.driver = transaction, driver

    async def commit(self) -> None:
        await self.transaction.commit()
        self.driver.terminate()  # the connection drops before the client reads the answer
        raise asyncpg.ConnectionDoesNotExistError(
            "connection was closed in the middle of operation"
        )

    async def rollback(self) -> None:
        await self.transaction.rollback()


class LoseTheCommitsAnswer:
    """A batch hook: the first batch's COMMIT is carried out, and its connection then lost."""

    def __init__(self) -> None:
        self.lost = 0

    async def __call__(self, conn: AsyncConnection, records: list[dict[str, Any]]) -> None:
        if self.lost:
            return
        self.lost += 1
        # SQLAlchemy's asyncpg adapter commits through the asyncpg transaction it keeps.
        adapter: Any = conn.sync_connection.connection.dbapi_connection  # type: ignore[union-attr]
        adapter._transaction = _AnswerLost(adapter._transaction, adapter._connection)


async def _stored(url: str, signer: Signer) -> tuple[int, int, int, int]:
    """(records, distinct request ids, batches, exchanges in the rollups); verify passes."""
    engine = create_engine(url)
    try:
        report = await verify_log(engine, public_key=signer.public_key)
        assert report.ok, report.problems
        async with engine.connect() as conn:
            n = await conn.scalar(select(func.count()).select_from(Transaction))
            ids = await conn.scalar(select(func.count(func.distinct(Transaction.request_id))))
            batches = await conn.scalar(select(func.count()).select_from(LogBatch))
            counted = await conn.scalar(select(func.coalesce(func.sum(StatsMinute.count), 0)))
        assert report.records == n and report.signatures_checked == batches
        return int(n or 0), int(ids or 0), int(batches or 0), int(counted or 0)
    finally:
        await engine.dispose()


async def _submit_all(writer: LogWriter, n: int = RECORDS) -> list[BaseException | None]:
    return list(
        await asyncio.gather(*(writer.submit(record(i)) for i in range(n)), return_exceptions=True)
    )


async def test_a_connection_cut_inside_a_batch_costs_no_record(pg_url: str, tmp_path: Path) -> None:
    signer = Signer.from_file(tmp_path / "k.pem", create=True)
    cut = CutInside(pg_url)
    # The Folder gathers the batch before the cut: written again, it must count it once.
    writer = LogWriter(
        create_writer_engine(pg_url), signer=signer, hooks=[rollup.Folder(every_s=NEVER), cut]
    )
    await writer.start()
    try:
        results = await _submit_all(writer)
        assert results == [None] * RECORDS
        assert cut.cuts == 1
        assert writer.failed_batches == 0 and writer.healthy
    finally:
        await writer.stop()
        await writer.engine.dispose()
        await cut.killer.dispose()
    records, ids, batches, counted = await _stored(pg_url, signer)
    assert records == ids == counted == RECORDS
    assert batches == writer.batches


async def test_a_commit_that_landed_before_its_connection_was_lost_is_not_written_twice(
    pg_url: str, tmp_path: Path
) -> None:
    signer = Signer.from_file(tmp_path / "k.pem", create=True)
    lose = LoseTheCommitsAnswer()
    writer = LogWriter(
        create_writer_engine(pg_url), signer=signer, hooks=[rollup.Folder(every_s=NEVER), lose]
    )
    await writer.start()
    try:
        results = await _submit_all(writer)
        assert results == [None] * RECORDS  # their records are in the log: not refused
        assert lose.lost == 1
        assert writer.failed_batches == 0 and writer.committed == RECORDS
        await writer.submit(record(RECORDS))  # the chain goes on after the landed batch
    finally:
        await writer.stop()
        await writer.engine.dispose()
    records, ids, batches, counted = await _stored(pg_url, signer)
    assert records == ids == counted == RECORDS + 1
    assert batches == writer.batches


async def test_a_batch_is_written_again_only_once(pg_url: str, tmp_path: Path) -> None:
    signer = Signer.from_file(tmp_path / "k.pem", create=True)
    cut = CutInside(pg_url, times=2)
    writer = LogWriter(create_writer_engine(pg_url), signer=signer, hooks=[cut])
    await writer.start()
    try:
        with pytest.raises(LoggingFailed):
            await writer.submit(record(0))
        assert cut.cuts == 2 and writer.failed_batches == 1
        await writer.submit(record(1))  # the next batch takes a new connection
    finally:
        await writer.stop()
        await writer.engine.dispose()
        await cut.killer.dispose()
    assert (await _stored(pg_url, signer))[:3] == (1, 1, 1)


async def test_a_batch_the_database_refuses_is_not_written_again(
    pg_url: str, tmp_path: Path
) -> None:
    calls = 0

    async def refused(conn: AsyncConnection, records: list[dict[str, Any]]) -> None:
        nonlocal calls
        calls += 1
        await conn.execute(text("SELECT 1 / 0"))  # the connection stays: not a lost one

    signer = Signer.from_file(tmp_path / "k.pem", create=True)
    writer = LogWriter(create_writer_engine(pg_url), signer=signer, hooks=[refused])
    await writer.start()
    try:
        with pytest.raises(LoggingFailed):
            await writer.submit(record(0))
    finally:
        await writer.stop()
        await writer.engine.dispose()
    assert calls == 1 and writer.failed_batches == 1
    assert (await _stored(pg_url, signer))[:3] == (0, 0, 0)
