"""The log writer: one task that group-commits exchange records, chained and signed.

Each exchange hands its record to ``submit`` and waits; the writer takes everything queued
since its last commit, writes it in one transaction (records, rollups, batch signature,
chain head) and only then releases the waiting exchanges. Concurrent exchanges thus share a
commit, and no response leaves the hub before its record is durable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import operator
import sqlite3
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import DateTime, Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.core.errors import LoggingFailed
from hub.models import ChainHead, LogBatch, Transaction
from hub.registry.repository import utcnow
from hub.txlog.chain import batch_message, record_hash
from hub.txlog.signing import Signer
from hub.txlog.sqlite import (
    INLINE_SAFE_HOOKS,
    LOCK_POLL_S,
    LOCK_WAIT_S,
    Checkpointer,
    inline_sqlite,
)

log = logging.getLogger(__name__)

BatchHook = Callable[[AsyncConnection, list[dict[str, Any]]], Awaitable[None]]


class Waiter(Protocol):
    """What waits for a record's commit: an asyncio future, or an object acting like one."""

    def done(self) -> bool: ...
    def set_result(self, result: None) -> None: ...
    def set_exception(self, exception: BaseException) -> None: ...


_tx: Table = Transaction.__table__  # type: ignore[assignment]
_batches: Table = LogBatch.__table__  # type: ignore[assignment]
_head: Table = ChainHead.__table__  # type: ignore[assignment]
# Built once: SQLAlchemy caches a statement's compiled form by its structure, and building
# it anew per batch cost ~0.3 ms of cache-key work (pyinstrument, bench/logwriter.py).
_SELECT_HEAD = select(_head.c.seq, _head.c.record_hash, _head.c.batch_id).where(_head.c.id == 1)
_SELECT_HEAD_LOCKED = _SELECT_HEAD.with_for_update()
_INSERT_TX = insert(_tx)
_INSERT_BATCH = insert(_batches)
_UPDATE_HEAD = update(_head).where(_head.c.id == 1)


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
        linger_rounds: int = 0,
    ) -> None:
        self.engine = engine
        self.signer = signer
        self.batch_max = batch_max
        self.linger_rounds = linger_rounds
        self.queue: asyncio.Queue[tuple[dict[str, Any], Waiter]] = asyncio.Queue(queue_max)
        self.hooks: list[BatchHook] = list(hooks or [])
        self.is_postgres = engine.dialect.name == "postgresql"
        self._task: asyncio.Task[None] | None = None
        self._conn: AsyncConnection | None = None
        self._stopping = False
        self.committed = 0
        self.batches = 0  # committed batches, numbered from 1
        self.failed_batches = 0
        self.last_commit_s = 0.0
        self.healthy = True
        self.on_commit: list[Callable[[int, float], None]] = []
        self.checkpointer: Checkpointer | None = None
        url = engine.url
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            self.checkpointer = Checkpointer(url.database)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="log-writer")

    async def stop(self) -> None:
        """Write out everything queued, then end (SIGTERM drains through here)."""
        self._stopping = True
        if self._task is not None:
            await self.queue.join()
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._task = None
        if self._conn is not None:
            await self._close_hooks(self._conn)
            await self._conn.close()
            self._conn = None
        if self.checkpointer is not None:
            await self.checkpointer.close()

    async def _close_hooks(self, conn: AsyncConnection) -> None:
        """One last transaction for the hooks that keep work across batches (``close``)."""
        closers = [c for hook in self.hooks if (c := getattr(hook, "close", None)) is not None]
        if not closers:
            return
        try:
            if self.checkpointer is not None:
                await self.checkpointer.pause()
            async with conn.begin():
                for close in closers:
                    await close(conn)
        except Exception as exc:  # nothing is lost: the next writer's hooks redo it
            log.warning("the log hooks' last transaction failed: %s", exc)

    async def submit(self, record: dict[str, Any]) -> None:
        """Queue ``record`` and wait for its commit; LoggingFailed when it cannot be written."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.offer(record, fut)
        await fut

    def offer(self, record: dict[str, Any], waiter: Waiter) -> None:
        """Queue ``record``; ``waiter`` gets ``set_result(None)`` once it is committed.

        ``waiter`` is a future, or anything with its ``done``, ``set_result`` and
        ``set_exception`` (the writer process answers its peers that way, without a future
        and a callback per record). Raises LoggingFailed when the record cannot be queued.
        """
        if self._task is None or self._task.done():
            raise LoggingFailed("the transaction log is not running, so the exchange is refused")
        try:
            self.queue.put_nowait((record, waiter))
        except asyncio.QueueFull:
            raise LoggingFailed(
                "the transaction log is overloaded, so the exchange is refused; retry shortly"
            ) from None

    @property
    def depth(self) -> int:
        return self.queue.qsize()

    async def _run(self) -> None:
        while True:
            items = [await self.queue.get()]
            try:
                if self.linger_rounds and not self._stopping:
                    await self._linger()
                while len(items) < self.batch_max and not self.queue.empty():
                    items.append(self.queue.get_nowait())
                await self._write(items)
            except asyncio.CancelledError:
                # Stopped with records waiting (stop() itself waits for the queue first, so
                # only some other cancellation): nobody may wait forever, and the queue's
                # count must close for a later join().
                while not self.queue.empty():
                    items.append(self.queue.get_nowait())
                _settle(
                    items,
                    LoggingFailed(
                        "the transaction log stopped before this exchange's record was "
                        "confirmed, so the exchange is refused; retry shortly"
                    ),
                )
                raise
            finally:
                for _ in items:
                    self.queue.task_done()

    async def _write(self, items: list[tuple[dict[str, Any], Waiter]]) -> None:
        """Commit one batch and settle its waiters, each with the batch's outcome."""
        try:
            await self._commit([rec for rec, _ in items])
        except Exception as exc:
            self.failed_batches += 1
            self.healthy = False
            for hook in self.hooks:  # a hook that keeps state across batches forgets this one
                rolled_back = getattr(hook, "rolled_back", None)
                if rolled_back is not None:
                    rolled_back()
            log.error("log batch of %d failed: %s", len(items), exc)
            _settle(
                items,
                LoggingFailed(
                    "the exchange could not be recorded in the transaction log, so it is "
                    "refused; retry shortly"
                ),
            )
        else:
            self.healthy = True
            _settle(items, None)

    async def _linger(self) -> None:
        """Hold the batch open for a few turns of the event loop while records keep coming.

        A commit costs about 140 us whatever it holds, and about 24 us more per record
        (the writer alone: 164 us a record one at a time, 34 at 32 waiting). Under load the
        exchanges of one wave of provider answers reach ``submit`` over several turns of the
        loop, so a batch taken at once held about 7 of the 32 in flight (wrk at 32
        connections, ``hub serve --log-inline``). Yielding while the queue still grows
        gathered about 16-20 and took the hub from 5,049 to 6,246-6,515 exchanges/s
        (bench/profile_notes.md, fifth round, item 3). A record alone waits two quiet
        turns of the loop; a full batch (``batch_max``, the first record included) none.
        """
        queue = self.queue
        full = self.batch_max - 1  # the batch's first record is already off the queue
        seen = queue.qsize()
        still = 0
        for _ in range(self.linger_rounds):
            if seen >= full:
                return
            await asyncio.sleep(0)
            now = queue.qsize()
            if now == seen:
                still += 1
                if still == 2:
                    return
            else:
                still = 0
                seen = now

    async def _commit(self, records: list[dict[str, Any]]) -> None:
        t0 = time.perf_counter()
        # One connection kept for the writer's life: a pool checkout, its events and the
        # reset-on-return per batch were ~0.2 ms, a fifth of a one-record commit.
        if self._conn is None:
            self._conn = await self.engine.connect()
            if self.checkpointer is not None:
                # No automatic checkpoints from this connection: the Checkpointer runs
                # them from a thread instead (see there for why and the figures).
                async with self._conn.begin():
                    await self._conn.exec_driver_sql("PRAGMA wal_autocheckpoint=0")
        if self.checkpointer is not None:
            await self.checkpointer.pause()
        conn = self._conn
        db = inline_sqlite(conn)
        try:
            if (
                db is not None
                and all(_inline_safe(hook) for hook in self.hooks)
                and all(rec.keys() >= _GIVEN_COLSET for rec in records)
            ):
                await _commit_inline(db, conn, records, self.signer, self.hooks)
            else:
                async with conn.begin():
                    await append(conn, records, signer=self.signer, lock=self.is_postgres)
                    for hook in self.hooks:
                        await hook(conn, records)
        except BaseException:
            self._conn = None  # a broken connection is not reused; the next batch reconnects
            with contextlib.suppress(Exception):
                await conn.close()
            raise
        self.committed += len(records)
        self.batches += 1
        self.last_commit_s = time.perf_counter() - t0
        if self.checkpointer is not None:
            self.checkpointer.after_commit()
        for callback in self.on_commit:
            callback(len(records), self.last_commit_s)


def _inline_safe(hook: BatchHook) -> bool:
    """Whether ``hook`` sends its statements to inline_sqlite(conn) (see INLINE_SAFE_HOOKS)."""
    return hook in INLINE_SAFE_HOOKS or type(hook) in INLINE_SAFE_HOOKS


def _settle(items: list[tuple[dict[str, Any], Waiter]], error: BaseException | None) -> None:
    """Release a batch's waiters: committed (``error`` None) or refused with ``error``."""
    for _, waiter in items:
        if waiter.done():
            continue
        if error is None:
            waiter.set_result(None)
        else:
            waiter.set_exception(error)


async def append(
    conn: AsyncConnection,
    records: list[dict[str, Any]],
    *,
    signer: Signer | None,
    lock: bool,
) -> None:
    """Chain ``records`` after the current head and write them, in the caller's transaction."""
    db = inline_sqlite(conn)
    if db is not None and all(rec.keys() >= _GIVEN_COLSET for rec in records):
        _append_inline(db, records, signer)
        return
    sql = _SQL.get(conn.dialect.paramstyle)
    if sql is None:  # a driver this module has no plain SQL for: SQLAlchemy all the way
        await _append_core(conn, records, signer=signer, lock=lock)
        return
    head: Any = (await conn.exec_driver_sql(sql["head_locked" if lock else "head"])).one()
    seq, prev, batch_id = head[0], head[1], head[2] + 1
    first_seq = seq + 1
    for rec in records:
        seq += 1
        rec["seq"] = seq
        rec["batch_id"] = batch_id
        rec["prev_hash"] = prev
        prev = rec["record_hash"] = record_hash(prev, rec)
    await _insert_records(conn, records)
    signature = signer.sign(batch_message(batch_id, first_seq, seq, prev)) if signer else None
    committed_at: Any = utcnow()
    if conn.dialect.name == "sqlite":
        committed_at = _sqlite_value(committed_at)
    key_id = signer.key_id if signer else None
    await conn.exec_driver_sql(
        sql["batch"], (batch_id, first_seq, seq, prev, committed_at, key_id, signature)
    )
    await conn.exec_driver_sql(sql["move_head"], (seq, prev, batch_id))


async def _commit_inline(
    db: sqlite3.Connection,
    conn: AsyncConnection,
    records: list[dict[str, Any]],
    signer: Signer | None,
    hooks: list[BatchHook],
) -> None:
    """One batch on the writer's own SQLite connection, BEGIN to COMMIT, below SQLAlchemy.

    SQLAlchemy's transaction around the batch (its begin event, the greenlet hops, the
    aiosqlite adapter's commit) was about half of a batch's time once the statements
    inside went direct: a writer process at 10.7 records a commit spent 1.05 ms per
    commit, against 0.54 ms for the same statements on sqlite3 alone (bench/profile_notes.md,
    third round). The lock is still taken without blocking the event loop.
    """
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            db.execute("BEGIN IMMEDIATE")
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        await asyncio.sleep(LOCK_POLL_S)
    try:
        _append_inline(db, records, signer)
        for hook in hooks:
            await hook(conn, records)  # inline-safe: their statements go to ``db`` as well
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise


def _append_inline(
    db: sqlite3.Connection, records: list[dict[str, Any]], signer: Signer | None
) -> None:
    """``append`` on the writer's own SQLite connection, inside its open transaction."""
    sql = _SQL["qmark"]
    seq, prev, batch_id = db.execute(sql["head"]).fetchone()
    batch_id += 1
    first_seq = seq + 1
    rows = []
    for rec in records:
        seq += 1
        rec["seq"] = seq
        rec["batch_id"] = batch_id
        rec["prev_hash"] = prev
        started = rec["started_at"]
        if _ONLY_STARTED_AT and type(started) is datetime and started.tzinfo is None:
            # One isoformat for the chain's text and the row's (1.5 us, timeit): SQLite's
            # form differs only by the space at index 10, after the always 10-wide date.
            iso = started.isoformat(timespec="microseconds")
            prev = rec["record_hash"] = record_hash(prev, rec, iso)
            row = list(_ROW(rec))
            row[_STARTED_AT] = f"{iso[:10]} {iso[11:]}"
            rows.append(tuple(row))
        else:
            prev = rec["record_hash"] = record_hash(prev, rec)
            rows.extend(_sqlite_rows([rec]))
    db.executemany(sql["records"], rows)
    signature = signer.sign(batch_message(batch_id, first_seq, seq, prev)) if signer else None
    key_id = signer.key_id if signer else None
    committed_at = _sqlite_value(utcnow())
    db.execute(sql["batch"], (batch_id, first_seq, seq, prev, committed_at, key_id, signature))
    db.execute(sql["move_head"], (seq, prev, batch_id))


async def _append_core(
    conn: AsyncConnection, records: list[dict[str, Any]], *, signer: Signer | None, lock: bool
) -> None:
    """``append`` in SQLAlchemy Core statements, for drivers without plain SQL above."""
    head = (await conn.execute(_SELECT_HEAD_LOCKED if lock else _SELECT_HEAD)).one()
    seq, prev, batch_id = head.seq, head.record_hash, head.batch_id + 1
    first_seq = seq + 1
    for rec in records:
        seq += 1
        rec["seq"] = seq
        rec["batch_id"] = batch_id
        rec["prev_hash"] = prev
        prev = rec["record_hash"] = record_hash(prev, rec)
    await conn.execute(_INSERT_TX, records)
    signature = signer.sign(batch_message(batch_id, first_seq, seq, prev)) if signer else None
    await conn.execute(
        _INSERT_BATCH,
        {
            "id": batch_id,
            "first_seq": first_seq,
            "last_seq": seq,
            "last_hash": prev,
            "committed_at": utcnow(),
            "key_id": signer.key_id if signer else None,
            "signature": signature,
        },
    )
    await conn.execute(_UPDATE_HEAD, {"seq": seq, "record_hash": prev, "batch_id": batch_id})


def _plain_sql(mark: Callable[[int], str]) -> dict[str, str]:
    cols = tuple(c.name for c in _tx.columns)
    return {
        "head": "SELECT seq, record_hash, batch_id FROM chain_head WHERE id = 1",
        "head_locked": "SELECT seq, record_hash, batch_id FROM chain_head WHERE id = 1 FOR UPDATE",
        "records": f"INSERT INTO transactions ({', '.join(cols)}) "
        f"VALUES ({', '.join(mark(i) for i in range(1, len(cols) + 1))})",
        "batch": "INSERT INTO log_batches (id, first_seq, last_seq, last_hash, committed_at, "
        f"key_id, signature) VALUES ({', '.join(mark(i) for i in range(1, 8))})",
        "move_head": f"UPDATE chain_head SET seq = {mark(1)}, record_hash = {mark(2)}, "
        f"batch_id = {mark(3)} WHERE id = 1",
    }


# The writer's statements as plain SQL in each driver's parameter style. Through
# SQLAlchemy Core, a one-record batch took 0.61 ms of which the four statements' compile
# cache lookups and parameter processing were about 0.2 ms (pyinstrument,
# bench/logwriter.py); the hub answers only after this commit, so it is latency too.
_SQL = {"qmark": _plain_sql(lambda _i: "?"), "numeric_dollar": _plain_sql(lambda i: f"${i}")}


_TX_COLUMNS = tuple(c.name for c in _tx.columns)
_TX_COLSET = frozenset(_TX_COLUMNS)
_ROW = operator.itemgetter(*_TX_COLUMNS)  # a record's values in column order
_DATETIME_AT = tuple(i for i, c in enumerate(_tx.columns) if isinstance(c.type, DateTime))
_STARTED_AT = _TX_COLUMNS.index("started_at")
_ONLY_STARTED_AT = _DATETIME_AT == (_STARTED_AT,)  # so the chain's text of it serves the row
_GIVEN_COLSET = _TX_COLSET - {"seq", "batch_id", "prev_hash", "record_hash"}  # append sets these


async def _insert_records(conn: AsyncConnection, records: list[dict[str, Any]]) -> None:
    """One executemany of plain tuples, below SQLAlchemy's per-row parameter processing.

    That processing (construct_params, the SQLite DATETIME bind processor) was about 15 %
    of the writer's time at 1,000 records a batch (cProfile, bench/logwriter.py). Records
    missing a column take the ordinary path, so column defaults still apply to them.
    """
    sql = _SQL.get(conn.dialect.paramstyle, {}).get("records")
    if sql is None or not all(rec.keys() >= _TX_COLSET for rec in records):
        await conn.execute(_INSERT_TX, records)
        return
    rows = _sqlite_rows(records) if conn.dialect.name == "sqlite" else list(map(_ROW, records))
    await conn.exec_driver_sql(sql, rows)


def _sqlite_rows(records: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The records as SQLite parameter rows: values in column order, datetimes as text.

    itemgetter and the DateTime columns alone: converting every value took 3.2 us a
    record against 1.7-1.8 (timeit, the bench record), and this runs in the writer's
    commit.
    """
    rows = []
    for rec in records:
        row = list(_ROW(rec))
        for i in _DATETIME_AT:
            row[i] = _sqlite_value(row[i])
        rows.append(tuple(row))  # SQLAlchemy's executemany takes tuples, not lists
    return rows


def _sqlite_value(value: Any) -> Any:
    # SQLAlchemy stores a SQLite DATETIME as "YYYY-MM-DD HH:MM:SS.ffffff", ignoring tzinfo.
    if type(value) is datetime:
        if value.tzinfo is not None:  # naive already, as a rule: see chain._datetime
            value = value.replace(tzinfo=None)
        return value.isoformat(" ", "microseconds")
    return value
