"""The log writer: one task that group-commits exchange records, chained and signed.

Each exchange hands its record to ``submit`` and waits; the writer takes everything queued
since its last commit, writes it in one transaction (records, rollups, batch signature,
chain head) and only then releases the waiting exchanges. Concurrent exchanges thus share a
commit, and no response leaves the hub before its record is durable.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, Generator
from datetime import datetime
from typing import Any

import aiosqlite
from sqlalchemy import Table, event, insert, select, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.util import await_

from hub.core.db import create_engine
from hub.core.errors import LoggingFailed
from hub.models import ChainHead, LogBatch, Transaction
from hub.registry.repository import utcnow
from hub.txlog.chain import CHAINED_FIELDS, _text, batch_message
from hub.txlog.signing import Signer

log = logging.getLogger(__name__)

BatchHook = Callable[[AsyncConnection, list[dict[str, Any]]], Awaitable[None]]

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

# SQLite: an attempt to take the write lock never blocks (the connection runs in the event
# loop); while another writer or a checkpoint holds it, the writer retries this often.
LOCK_POLL_S = 0.001
LOCK_WAIT_S = 30.0  # ... and how long the writer keeps trying before the batch fails


def create_writer_engine(url: str) -> AsyncEngine:
    """The log writer's own engine: SQLite runs inline and begins with BEGIN IMMEDIATE.

    Two writers (hub workers) read the chain head and then append; a deferred SQLite
    transaction would fail with SQLITE_BUSY_SNAPSHOT instead of waiting its turn.
    """
    if not url.startswith("sqlite"):
        return create_engine(url, pool_size=2)
    path = make_url(url).database or ":memory:"

    async def connect() -> aiosqlite.Connection:
        return await _InlineSqlite(
            lambda: sqlite3.connect(path, timeout=0, check_same_thread=False), 64
        )

    engine = create_engine(url, async_creator=connect)

    @event.listens_for(engine.sync_engine, "connect")
    def _no_implicit_begin(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        # The connection runs in the event loop (see _InlineSqlite), so it must never block
        # waiting for a lock: BEGIN IMMEDIATE below waits its turn asynchronously. (With a
        # 2 ms busy timeout, each attempt during a WAL checkpoint blocked the loop 2 ms.)
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=0")
        # The log's indexes on random ids (id, request_id) touch pages all over the file;
        # SQLite's default 2 MB page cache misses on most of them once the log is large.
        cur.execute("PRAGMA cache_size=-65536")
        cur.close()
        driver = getattr(dbapi_conn, "driver_connection", None)
        if isinstance(driver, _InlineSqlite):
            _record.info[INLINE_SQLITE] = driver._conn  # see inline_sqlite()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin_immediate(conn: Any) -> None:
        deadline = time.monotonic() + LOCK_WAIT_S
        while True:
            try:
                conn.exec_driver_sql("BEGIN IMMEDIATE")
                return
            except OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
            # Inside SQLAlchemy's greenlet: await_ yields to the event loop, so the other
            # writer's commit and every exchange go on while this one waits.
            await_(asyncio.sleep(LOCK_POLL_S))

    return engine


INLINE_SQLITE = "hub.inline_sqlite"


def inline_sqlite(conn: AsyncConnection) -> sqlite3.Connection | None:
    """The plain ``sqlite3`` connection under ``conn`` when it is the writer's inline one.

    Statements inside the writer's transaction may go to it directly, skipping
    SQLAlchemy's and aiosqlite's layers: a one-record commit (11 statements with the
    rollups) took about 640 us of CPU of which SQLite's own work was about 150 us; the rest
    was the per-statement execution context, greenlet switches and aiosqlite's cursor
    objects (cProfile, bench/profile_notes.md). The transaction itself (BEGIN IMMEDIATE,
    COMMIT) still goes through SQLAlchemy, so hooks and errors behave as before.
    """
    return conn.info.get(INLINE_SQLITE)


class _RunInline:
    """Stands in for aiosqlite's queue to its thread: runs each call at once, here."""

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:
            if future is not None:
                future.set_exception(exc)
        else:
            if future is not None:
                future.set_result(result)


class _InlineSqlite(aiosqlite.Connection):
    """aiosqlite's interface without its thread: SQLite calls run in the event loop.

    Measured (bench/logwriter.py, 1 record per commit): 2.7 ms per commit through
    aiosqlite's thread, most of it the event loop and that thread handing the GIL back and
    forth around each of a batch's ~8 statements; a commit itself takes about 20 us in
    SQLite (WAL, synchronous=NORMAL: no fsync). Under load the hand-offs also starved the
    loop: the hub did 500-700 exchanges/s at half a core. Inline, a statement costs its
    own microseconds and nothing else.
    """

    def __init__(self, connector: Callable[[], sqlite3.Connection], chunk: int) -> None:
        super().__init__(connector, chunk)
        self._tx = _RunInline()  # type: ignore[assignment]

    def __await__(self) -> Generator[Any, None, aiosqlite.Connection]:
        return self._connect().__await__()  # no thread to start


CHECKPOINT_EVERY_S = 0.1  # SQLite: how often the WAL is checkpointed (when it grew)
# ... and past how many WAL frames (pages; 4 KiB each) a checkpoint also restarts the WAL.
RESTART_FRAMES = 8192
RESTART_WAIT_MS = 50  # how long a restarting checkpoint may wait for the lock or readers


class Checkpointer:
    """Checkpoints the writer's SQLite WAL from a worker thread, off the event loop.

    The writer's connection has automatic checkpoints off (see LogWriter._commit): SQLite
    runs them inside a commit, here in the event loop, and a checkpoint's fsyncs take
    milliseconds (most of the 8.6 ms p99 of hub-added latency at light load). Instead,
    ``after_commit`` starts a checkpoint on a separate connection in a thread when the
    last one is at least ``every_s`` old and none is running.

    A PASSIVE checkpoint copies the WAL's pages into the database without waiting for
    anyone, but under steady load it never lets the WAL start over: SQLite rewinds the WAL
    only when a write begins with every frame copied, and the writer has always appended
    a commit or two since the checkpoint began (measured: the WAL grew by 240 MB/s at 32
    waiting). So once the WAL holds ``RESTART_FRAMES`` frames, a RESTART checkpoint
    follows: the writer holds its next commit back (``pause``, an asynchronous wait; the
    loop goes on) while the thread copies the few frames left and syncs the database
    file, then the next commit writes the WAL from its start again.

    Measured with the writer alone at 32 waiting (rollups on): checkpoints inside the
    writer's commits (SQLite's default, every 1,000 pages) gave about 11,000 records/s and
    a 4 MiB WAL; from this thread, about 16,500 records/s and a WAL file that levels off
    at 60 MiB (a commit of 32 records rewrites some 100 pages: the records' and the
    indexes' leaves, the rollup rows, the chain head; restarting at 4,096 frames gave
    45 MiB and 14,500 records/s, at 16,384 frames 92 MiB and 17,000). Durability is
    unchanged: a commit is durable once it is in the WAL, and a checkpoint only copies
    what is already there.
    """

    def __init__(self, path: str, every_s: float = CHECKPOINT_EVERY_S) -> None:
        self.path = path
        self.every_s = every_s
        self.runs = 0
        self.restarts = 0
        self.last: tuple[int, int, int] | None = None  # (busy, WAL frames, checkpointed)
        self._conn: sqlite3.Connection | None = None
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="checkpoint")
        self._running: asyncio.Future[Any] | None = None
        self._restart: asyncio.Future[Any] | None = None
        self._next = 0.0  # the first commit starts one

    def after_commit(self) -> None:
        now = time.monotonic()
        if now < self._next or self._running is not None:
            return
        self._next = now + self.every_s
        self._running = asyncio.get_running_loop().run_in_executor(
            self._pool, self._checkpoint, "PASSIVE"
        )
        self._running.add_done_callback(self._done)

    async def pause(self) -> None:
        """The writer's wait before a commit while a RESTART checkpoint runs."""
        if self._restart is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._restart)

    def _checkpoint(self, mode: str) -> tuple[int, int, int]:
        # Always on the pool's one thread, so the connection never changes threads.
        if self._conn is None:
            self._conn = sqlite3.connect(
                self.path, timeout=RESTART_WAIT_MS / 1000, isolation_level=None
            )
        row = self._conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        return (row[0], row[1], row[2])

    def _done(self, future: asyncio.Future[Any]) -> None:
        self._running = None
        if future.cancelled():
            return
        exc = future.exception()
        if exc is not None:
            log.warning("WAL checkpoint failed (the next one retries): %s", exc)
            return
        self.runs += 1
        self.last = future.result()
        if self.last[1] >= RESTART_FRAMES and self._restart is None:
            self._restart = asyncio.get_running_loop().run_in_executor(
                self._pool, self._checkpoint, "RESTART"
            )
            self._restart.add_done_callback(self._restarted)

    def _restarted(self, future: asyncio.Future[Any]) -> None:
        self._restart = None
        if future.cancelled():
            return
        exc = future.exception()
        if exc is not None:
            log.warning("WAL restart failed (the next checkpoint retries): %s", exc)
            return
        self.restarts += 1
        self.last = future.result()

    async def close(self) -> None:
        """Wait for running checkpoints, run a last one, and drop the connection."""
        loop = asyncio.get_running_loop()
        for job in (self._running, self._restart):
            if job is not None:
                with contextlib.suppress(Exception):
                    await job
        with contextlib.suppress(Exception):
            self.last = await loop.run_in_executor(self._pool, self._checkpoint, "PASSIVE")
        if self._conn is not None:
            await loop.run_in_executor(self._pool, self._conn.close)
            self._conn = None
        self._pool.shutdown(wait=False)


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
        self._conn: AsyncConnection | None = None
        self._stopping = False
        self.committed = 0
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
            await self._conn.close()
            self._conn = None
        if self.checkpointer is not None:
            await self.checkpointer.close()

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
        try:
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
        self.last_commit_s = time.perf_counter() - t0
        if self.checkpointer is not None:
            self.checkpointer.after_commit()
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
        prev = rec["record_hash"] = fast_record_hash(prev, rec)
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


def _append_inline(
    db: sqlite3.Connection, records: list[dict[str, Any]], signer: Signer | None
) -> None:
    """``append`` on the writer's own SQLite connection, inside its open transaction."""
    sql = _SQL["qmark"]
    seq, prev, batch_id = db.execute(sql["head"]).fetchone()
    batch_id += 1
    first_seq = seq + 1
    for rec in records:
        seq += 1
        rec["seq"] = seq
        rec["batch_id"] = batch_id
        rec["prev_hash"] = prev
        prev = rec["record_hash"] = fast_record_hash(prev, rec)
    db.executemany(
        sql["records"], [tuple(_sqlite_value(rec[c]) for c in _TX_COLUMNS) for rec in records]
    )
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
        prev = rec["record_hash"] = fast_record_hash(prev, rec)
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
    if conn.dialect.name == "sqlite":
        rows = [tuple(_sqlite_value(rec[c]) for c in _TX_COLUMNS) for rec in records]
    else:
        rows = [tuple(rec[c] for c in _TX_COLUMNS) for rec in records]
    await conn.exec_driver_sql(sql, rows)


def _sqlite_value(value: Any) -> Any:
    # SQLAlchemy stores a SQLite DATETIME as "YYYY-MM-DD HH:MM:SS.ffffff", ignoring tzinfo.
    if type(value) is datetime:
        return value.replace(tzinfo=None).isoformat(" ", "microseconds")
    return value


def _float3(value: float) -> str:
    return f"{value:.3f}"


def _datetime(value: datetime) -> str:
    return value.replace(tzinfo=None).isoformat(timespec="microseconds")


# chain._text by exact type: one dict lookup instead of a chain of isinstance calls, which
# made record_hash a third of the writer's time at 1,000 records a batch (cProfile).
# Anything else (subclasses, odd types) goes to chain._text itself, so hashes are the same.
_TEXT: dict[type, Callable[[Any], str]] = {
    str: str,
    int: str,
    bool: lambda v: "1" if v else "0",
    float: _float3,
    type(None): lambda _v: "\x00",
    datetime: _datetime,
}


def fast_record_hash(prev_hash: str, record: dict[str, Any]) -> str:
    """``chain.record_hash``, the same digest, computed faster."""
    text = "\x1f".join((_TEXT.get(type(v)) or _text)(v) for v in map(record.get, CHAINED_FIELDS))
    return hashlib.sha256(f"{prev_hash}\x1e{text}".encode()).hexdigest()
