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
import sqlite3
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.core.errors import LoggingFailed
from hub.txlog.repository import GIVEN_COLUMNS, append, append_inline, landed
from hub.txlog.signing import Signer
from hub.txlog.sqlite import (
    INLINE_SAFE_HOOKS,
    LOCK_POLL_S,
    LOCK_WAIT_S,
    Checkpointer,
    inline_sqlite,
)

# A commit takes milliseconds (a batch of 1,000 on PostgreSQL, about 50); one that has waited
# this long is stuck behind a lock, and new exchanges are refused before they are forwarded.
STALL_S = 2.0

log = logging.getLogger(__name__)

BatchHook = Callable[[AsyncConnection, list[dict[str, Any]]], Awaitable[None]]


class Waiter(Protocol):
    """What waits for a record's commit: an asyncio future, or an object acting like one."""

    def done(self) -> bool: ...
    def set_result(self, result: None) -> None: ...
    def set_exception(self, exception: BaseException) -> None: ...


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
        self.busy_since = 0.0  # perf_counter when the batch being committed began; 0 idle
        self.on_commit: list[Callable[[int, float], None]] = []
        self.on_failure: list[Callable[[], None]] = []  # a batch failed (hub/app.py probes)
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

    def recovered(self) -> None:
        """The database takes writes again (a probe said so): healthy, if still running.

        ``healthy`` otherwise changes only with a batch's outcome, and a hub whose readiness
        keeps traffic away gets no batch to clear it (/readyz stayed 503 after the fault).
        """
        if self._task is not None and not self._task.done():
            self.healthy = True

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
        self.busy_since = time.perf_counter()
        records = [rec for rec, _ in items]
        try:
            try:
                await self._commit(records)
            except Exception as exc:
                if not (self.is_postgres and _connection_lost(exc)):
                    raise
                # The server ended the connection inside the batch's transaction (a DBA's
                # pg_terminate_backend, a failover, a proxy's reset) while the database is
                # up: the exchanges were carried out already, so write the batch again on
                # a new connection, once, rather than refuse them.
                log.warning(
                    "log batch of %d lost its connection, written again: %s", len(items), exc
                )
                self._hooks_rolled_back()
                await self._commit(records, again=True)
        except Exception as exc:
            self.failed_batches += 1
            self.healthy = False
            for callback in self.on_failure:
                callback()
            self._hooks_rolled_back()
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
        finally:
            self.busy_since = 0.0

    def _hooks_rolled_back(self) -> None:
        """A hook that keeps state across batches forgets the batch that failed."""
        for hook in self.hooks:
            rolled_back = getattr(hook, "rolled_back", None)
            if rolled_back is not None:
                rolled_back()

    linked = True  # in this process: nothing to connect to (see RemoteLogWriter)

    async def connect(self) -> None:
        """Nothing to do: the writer runs in this process."""

    def refusal(self, now: float) -> str | None:
        """Why a new exchange must not reach its provider now (``now``: perf_counter).

        An exchange is forwarded before its record is written (the record holds the answer),
        so a log that cannot write would let providers serve exchanges that nobody can
        prove: a birth registered at the provider whose client got 503 and sent it again.
        The gateway asks this first, and refuses at once while the last batch failed (until
        a probe finds the database taking writes: hub/app.py) or while a commit has been
        stuck for STALL_S (another process holding SQLite's lock, a locked chain head).
        """
        if self._task is None or self._task.done():
            return "the transaction log is not running"
        if not self.healthy:
            return "the transaction log's last write failed"
        if self.busy_since and now - self.busy_since > STALL_S:
            return f"the transaction log's current write has waited {now - self.busy_since:.0f} s"
        return None

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

    async def _commit(self, records: list[dict[str, Any]], *, again: bool = False) -> None:
        """Write one batch; ``again``: its first attempt lost its connection (see _write)."""
        t0 = time.perf_counter()
        if self.is_postgres and self._conn is not None and _closed(self._conn):
            # The server closed the kept connection since the last batch (a restart, a DBA,
            # idle_session_timeout): this batch would fail on it, after its exchanges
            # were carried out. The driver already knows, so asking costs no round trip.
            stale, self._conn = self._conn, None
            with contextlib.suppress(Exception):
                await stale.invalidate()
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
                and all(rec.keys() >= GIVEN_COLUMNS for rec in records)
            ):
                await _commit_inline(db, conn, records, self.signer, self.hooks)
            else:
                async with conn.begin():
                    # A COMMIT whose answer was lost may have landed: then it is not
                    # written twice, and its waiters are told it is committed.
                    if not (again and await landed(conn, records)):
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


def _closed(conn: AsyncConnection) -> bool:
    """Whether the driver knows the server closed ``conn`` (asyncpg: ``is_closed()``)."""
    try:
        driver: Any = conn.sync_connection.connection.driver_connection  # type: ignore[union-attr]
        return bool(driver.is_closed())
    except Exception:  # invalidated already, or no such method: the batch will tell
        return False


def _connection_lost(exc: BaseException) -> bool:
    """Whether ``exc`` says the connection was lost, not that the database refused the batch.

    SQLAlchemy marks an error ``connection_invalidated`` when the driver finds its connection
    closed after it (asyncpg: "connection was closed in the middle of operation", "cannot
    switch to state ..", "connection is closed"); a constraint, a full disk or a lock wait
    leave the connection open. ConnectionError: the socket's own, unwrapped.
    """
    return isinstance(exc, ConnectionError) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )


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
        append_inline(db, records, signer)
        for hook in hooks:
            await hook(conn, records)  # inline-safe: their statements go to ``db`` as well
        db.execute("COMMIT")
    except BaseException:
        if db.in_transaction:
            db.execute("ROLLBACK")
        raise
