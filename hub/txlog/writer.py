"""The log writer: one task that group-commits exchange records, chained and signed.

Each exchange hands its record to ``submit`` and waits; the writer takes everything queued
since its last commit, writes it in one transaction (records, rollups, batch signature,
chain head) and only then releases the waiting exchanges. Concurrent exchanges thus share a
commit, and no response leaves the hub before its record is durable.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import event, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.core.db import create_engine
from hub.core.errors import LoggingFailed
from hub.models import ChainHead, LogBatch, Transaction
from hub.registry.repository import utcnow
from hub.txlog.chain import batch_message, record_hash
from hub.txlog.signing import Signer

log = logging.getLogger(__name__)

BatchHook = Callable[[AsyncConnection, list[dict[str, Any]]], Awaitable[None]]

_tx = Transaction.__table__
_batches = LogBatch.__table__
_head = ChainHead.__table__


def create_writer_engine(url: str) -> AsyncEngine:
    """An engine whose SQLite transactions start with BEGIN IMMEDIATE.

    Two writers (hub workers) read the chain head and then append; a deferred SQLite
    transaction would fail with SQLITE_BUSY_SNAPSHOT instead of waiting its turn.
    """
    engine = create_engine(url, pool_size=2) if not url.startswith("sqlite") else create_engine(url)
    if url.startswith("sqlite"):

        @event.listens_for(engine.sync_engine, "connect")
        def _no_implicit_begin(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None

        @event.listens_for(engine.sync_engine, "begin")
        def _begin_immediate(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


class LogWriter:
    """Group commit of exchange records. ``submit`` returns once the record is durable."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        signer: Signer | None = None,
        batch_max: int = 1000,
        queue_max: int = 50_000,
        hooks: list[BatchHook] | None = None,
    ) -> None:
        self.engine = engine
        self.signer = signer
        self.batch_max = batch_max
        self.queue: asyncio.Queue[tuple[dict[str, Any], asyncio.Future[None]]] = asyncio.Queue(
            queue_max
        )
        self.hooks: list[BatchHook] = list(hooks or [])
        self.is_postgres = engine.dialect.name == "postgresql"
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.committed = 0
        self.failed_batches = 0
        self.last_commit_s = 0.0
        self.healthy = True
        self.on_commit: list[Callable[[int, float], None]] = []

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="log-writer")

    async def stop(self) -> None:
        """Write out everything queued, then end (SIGTERM drains through here)."""
        self._stopping = True
        if self._task is not None:
            await self.queue.join()
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        self._task = None

    async def submit(self, record: dict[str, Any]) -> None:
        """Queue ``record`` and wait for its commit; LoggingFailed when it cannot be written."""
        if self._task is None or self._task.done():
            raise LoggingFailed("the transaction log is not running, so the exchange is refused")
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        try:
            self.queue.put_nowait((record, fut))
        except asyncio.QueueFull:
            raise LoggingFailed(
                "the transaction log is overloaded, so the exchange is refused; retry shortly"
            ) from None
        await fut

    @property
    def depth(self) -> int:
        return self.queue.qsize()

    async def _run(self) -> None:
        while True:
            first = await self.queue.get()
            items = [first]
            while len(items) < self.batch_max and not self.queue.empty():
                items.append(self.queue.get_nowait())
            try:
                await self._commit([rec for rec, _ in items])
            except Exception as exc:
                self.failed_batches += 1
                self.healthy = False
                log.error("log batch of %d failed: %s", len(items), exc)
                err = LoggingFailed(
                    "the exchange could not be recorded in the transaction log, so it is "
                    "refused; retry shortly"
                )
                for _, fut in items:
                    if not fut.done():
                        fut.set_exception(err)
            else:
                self.healthy = True
                for _, fut in items:
                    if not fut.done():
                        fut.set_result(None)
            finally:
                for _ in items:
                    self.queue.task_done()

    async def _commit(self, records: list[dict[str, Any]]) -> None:
        t0 = time.perf_counter()
        async with self.engine.begin() as conn:
            await append(conn, records, signer=self.signer, lock=self.is_postgres)
            for hook in self.hooks:
                await hook(conn, records)
        self.committed += len(records)
        self.last_commit_s = time.perf_counter() - t0
        for callback in self.on_commit:
            callback(len(records), self.last_commit_s)


async def append(
    conn: AsyncConnection,
    records: list[dict[str, Any]],
    *,
    signer: Signer | None,
    lock: bool,
) -> None:
    """Chain ``records`` after the current head and write them, in the caller's transaction."""
    query = select(_head.c.seq, _head.c.record_hash, _head.c.batch_id).where(_head.c.id == 1)
    if lock:
        query = query.with_for_update()
    head = (await conn.execute(query)).one()
    seq, prev, batch_id = head.seq, head.record_hash, head.batch_id + 1
    first_seq = seq + 1
    for rec in records:
        seq += 1
        rec["seq"] = seq
        rec["batch_id"] = batch_id
        rec["prev_hash"] = prev
        prev = rec["record_hash"] = record_hash(prev, rec)
    await conn.execute(insert(_tx), records)
    signature = signer.sign(batch_message(batch_id, first_seq, seq, prev)) if signer else None
    await conn.execute(
        insert(_batches).values(
            id=batch_id,
            first_seq=first_seq,
            last_seq=seq,
            last_hash=prev,
            committed_at=utcnow(),
            key_id=signer.key_id if signer else None,
            signature=signature,
        )
    )
    await conn.execute(
        update(_head).where(_head.c.id == 1).values(seq=seq, record_hash=prev, batch_id=batch_id)
    )
