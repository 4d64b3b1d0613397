"""SQLite for the log writer: run inline in the event loop, and checkpoint off it.

The writer's SQLite connection runs its statements in the event loop's own thread instead of
aiosqlite's worker thread (the hand-offs between the two cost more than the statements), takes
the write lock without ever blocking the loop, and leaves WAL checkpoints to a background
thread (``Checkpointer``), so an fsync never stalls the exchanges. The figures behind each
choice are in the comments and in bench/profile_notes.md.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import sqlite3
import time
from collections.abc import Callable, Generator
from typing import Any

import aiosqlite
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.util import await_

from hub.core.db import create_engine

log = logging.getLogger(__name__)

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
        # A chain head locked by someone else (a stuck session, a DBA) must turn into
        # 503 Server.LoggingFailed after a while, not into exchanges that hang for ever.
        settings = {"lock_timeout": str(int(LOCK_WAIT_S * 1000))}
        return create_engine(url, pool_size=2, connect_args={"server_settings": settings})
    path = make_url(url).database or ":memory:"

    async def connect() -> aiosqlite.Connection:
        return await _InlineSqlite(
            lambda: sqlite3.connect(
                path, timeout=0, check_same_thread=False, cached_statements=MULTI_ROW_CACHE
            ),
            64,
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
# Prepared statements the writer's connection keeps: the rollups' multi-row upserts are one
# statement per table and row count (hub/stats/rollup.py), beside the writer's own few.
MULTI_ROW_CACHE = 512
# Batch hooks (functions, or the classes of hook objects) whose statements go to
# inline_sqlite(conn) when there is one, and never through ``conn`` itself: the writer may
# then run the whole batch below SQLAlchemy.
INLINE_SAFE_HOOKS: set[object] = set()


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
        if (result := _outcome(future, "WAL checkpoint failed")) is None:
            return
        self.runs += 1
        self.last = result
        if result[1] >= RESTART_FRAMES and self._restart is None:
            self._restart = asyncio.get_running_loop().run_in_executor(
                self._pool, self._checkpoint, "RESTART"
            )
            self._restart.add_done_callback(self._restarted)

    def _restarted(self, future: asyncio.Future[Any]) -> None:
        self._restart = None
        if (result := _outcome(future, "WAL restart failed")) is None:
            return
        self.restarts += 1
        self.last = result

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


def _outcome(future: asyncio.Future[Any], failed: str) -> tuple[int, int, int] | None:
    """A finished checkpoint's (busy, WAL frames, checkpointed); None, logged, if it failed."""
    if future.cancelled():
        return None
    exc = future.exception()
    if exc is not None:
        log.warning("%s (the next checkpoint retries): %s", failed, exc)
        return None
    return future.result()  # type: ignore[no-any-return]
