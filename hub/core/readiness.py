"""Whether the hub can take exchanges: /readyz's log check, and the probe that finds when the
log's database takes writes again after a failed batch."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

if TYPE_CHECKING:
    from hub.app import HubState

READY_PROBE_S = 2.0
LOG_PROBE_EVERY_S = 0.5


async def probe_log(state: HubState) -> None:
    """After a failed batch, find when the database takes writes again.

    The gateway refuses exchanges while the log's last write failed (LogWriter.refusal), so
    no batch comes to clear it: this probe does, at once after the failure and then every
    LOG_PROBE_EVERY_S (a killed database connection costs the exchanges of one probe).
    """
    # Not `while True`: a cancellation that lands in the probe's database call was seen
    # swallowed there (aiosqlite under SQLAlchemy), and the shutdown's wait for this task
    # then never ended.
    failed = asyncio.Event()  # a batch failed: probe at once, not at the next turn
    state.writer.on_failure.append(failed.set)
    while not state.stopping:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(failed.wait(), LOG_PROBE_EVERY_S)
        failed.clear()
        if not state.writer.healthy and state.writer.linked and await takes_writes(state):
            state.writer.recovered()


def log_takes_exchanges(state: HubState) -> bool:
    """Whether the gateway lets exchanges through to the log now: not while its last write
    failed, nor while a commit is stuck (another process holding SQLite's lock), when it
    refuses every exchange with 503 (LogWriter.refusal)."""
    return state.writer.healthy and state.writer.refusal(time.perf_counter()) is None


async def takes_writes(state: HubState) -> bool:
    """Whether the log's database takes a write now (``write_probe``), within READY_PROBE_S."""
    for _ in range(2):
        try:
            await write_probe(
                state.engine,
                sqlite=state.settings.is_sqlite,
                busy_ms=state.settings.sqlite_busy_timeout_ms,
            )
        except DBAPIError as exc:
            if not exc.connection_invalidated:
                return False
            # The pool's connections were lost (a server restart; on SQLite, ones opened
            # while the file refused writes, which stay read-only): the pool drops them all,
            # and the next try has a fresh connection.
        except Exception:
            return False
        else:
            return True
    return False


async def write_probe(engine: AsyncEngine, *, sqlite: bool, busy_ms: int) -> None:
    """Raise unless the database takes a write now: the chain head moved and put back.

    A lock, a read-only file or a full disk fails it as they failed the log writer's batch;
    it changes nothing (the head keeps its values), and it gives up within READY_PROBE_S.
    The head really moves: SQLite commits nothing for an update to the same values, and
    that passed on a file that refused every write. ``busy_ms``: the SQLite lock wait the
    pooled connection goes back with.
    """
    wait_ms = int(READY_PROBE_S * 1000)
    # The statement's own lock wait is the probe's, not the 30 s an exchange may wait; the
    # outer bound is for anything else that hangs.
    async with asyncio.timeout(READY_PROBE_S * 3), engine.begin() as conn:
        if sqlite:
            await conn.exec_driver_sql(f"PRAGMA busy_timeout = {wait_ms}")
        else:
            await conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{wait_ms}ms'")
        try:
            await conn.execute(text("UPDATE chain_head SET seq = seq + 1 WHERE id = 1"))
            await conn.execute(text("UPDATE chain_head SET seq = seq - 1 WHERE id = 1"))
        finally:
            if sqlite and not conn.invalidated:  # an invalidated one is not pooled again
                await conn.exec_driver_sql(f"PRAGMA busy_timeout = {busy_ms}")
