"""Retention of the per-minute rollups: rows older than ``HUB_MINUTE_ROLLUP_DAYS`` go.

Minute rows serve only the edges of a query; hour and day rows are kept for ever. Before
the horizon (now minus the days, floored to a whole UTC hour) queries count the minutes at
their edges from the log instead (``timeutil.cover``), so they never read a minute row that
may be gone. How far the rows were pruned is recorded as they go (``MinutePrune``), so that
`hub audit verify` tells minute rows deleted after it from pruned ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import String, Table, delete, func, insert, or_, select, update
from sqlalchemy import type_coerce as raw
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.core.db import refusal_message, unreachable_message
from hub.models import MinutePrune
from hub.stats import timeutil as tu
from hub.stats.rollup import COUNT_TABLES

log = logging.getLogger(__name__)
CHUNK = timedelta(days=1)
INTERVAL_S = 3600.0
FIRST_DELAY_S = 60.0
_pruned: Table = MinutePrune.__table__  # type: ignore[assignment]
# As stored: on SQLite a value that is no date failed the read instead of being named.
_READ_PRUNED = select(raw(_pruned.c.pruned_before, String)).where(_pruned.c.id == 1)


def minute_horizon(days: int, now: datetime | None = None) -> datetime | None:
    """The first minute bucket kept (naive UTC, a whole hour), or None when all are kept."""
    if days <= 0:
        return None
    return tu.floor_hour((now or tu.utcnow()) - timedelta(days=days))


async def first_whole_hour(conn: Any) -> datetime | None:
    """The hour of the oldest minute row, or None when no minute row is left.

    ``prune`` deletes from the oldest row up to a whole hour, so the minutes from the oldest
    kept row's hour on are whole, unless rows were deleted otherwise: for a database pruned
    before the prunes were recorded (``read_pruned``), all there is to go by.
    """
    table = COUNT_TABLES["minute"]
    oldest = (await conn.execute(select(func.min(table.c.bucket)))).scalar()
    if oldest is None:
        return None
    return tu.floor_hour(datetime.fromisoformat(oldest) if isinstance(oldest, str) else oldest)


async def read_pruned(conn: Any) -> tuple[bool, datetime | None]:
    """Whether it is known how far the minute rows were pruned, and the whole hour they were
    pruned up to (None: none was). Not known where an older hub pruned (no row).

    ValueError when the stored value is no whole hour: the hub writes none such.
    """
    row = (await conn.execute(_READ_PRUNED)).first()
    if row is None:
        return False, None
    value = row[0]
    if value is None:
        return True, None
    at = None
    if type(value) is datetime:
        at = value
    elif type(value) is str:
        with contextlib.suppress(ValueError):
            at = datetime.fromisoformat(value)
    if at is None or at.tzinfo is not None or at != tu.floor_hour(at):
        raise ValueError(f"pruned_before={value!r} is not a whole hour")
    return True, at


async def whole_minutes_from(conn: Any) -> datetime | None:
    """The hour from which every minute row is there, or None when no minute row is left.

    The horizon a reader computes comes from its own ``HUB_MINUTE_ROLLUP_DAYS``, but the hub
    that pruned may have kept fewer days (another setting, or `hub stats` run from a shell
    without the hub's environment): the minutes between the two horizons read as none.
    Nor is the oldest row enough: a minute logged late (or loaded) before the hours pruned
    is one row of a minute whose others are gone.
    """
    oldest = await first_whole_hour(conn)
    if oldest is None:
        return None
    try:
        _, before = await read_pruned(conn)
    except ValueError:
        before = None  # the oldest row is all there is to go by; the audit says the rest
    return oldest if before is None else max(oldest, before)


async def prune(engine: AsyncEngine, horizon: datetime, *, chunk: timedelta = CHUNK) -> int:
    """Delete minute rows before ``horizon``, one ``chunk`` of buckets per transaction.

    Short transactions keep the log writer's waits for the write lock short. Each records,
    with its delete, how far the minutes are pruned (``MinutePrune``): `hub audit verify`
    holds every minute after it to its hour, and no reader sees the one without the other.
    """
    table = COUNT_TABLES["minute"]
    async with engine.connect() as conn:
        oldest = (await conn.execute(select(func.min(table.c.bucket)))).scalar()
    if oldest is None or oldest >= horizon:
        return 0
    deleted = 0
    start = tu.floor_hour(oldest)
    while start < horizon:
        end = min(start + chunk, horizon)
        async with engine.begin() as conn:
            result = await conn.execute(
                delete(table).where(table.c.bucket >= start, table.c.bucket < end)
            )
            deleted += max(result.rowcount or 0, 0)
            await _record_pruned(conn, end)
        start = end
        await asyncio.sleep(0)  # let the writer's batches through between chunks
    return deleted


async def _record_pruned(conn: Any, before: datetime) -> None:
    """Move the recorded horizon up to ``before``, never back (a hub with more days)."""
    col = _pruned.c.pruned_before
    moved = await conn.execute(
        update(_pruned)
        .where(_pruned.c.id == 1, or_(col.is_(None), col < before))
        .values(pruned_before=before)
    )
    if not moved.rowcount and (await conn.execute(_READ_PRUNED)).first() is None:
        # Pruned by an older hub, or its row deleted: from here on it is known.
        await conn.execute(insert(_pruned).values(id=1, pruned_before=before))


def _failed(exc: Exception) -> None:
    """Log a failed pass. A database that cannot be reached or refuses the statements is
    one line with the reason (its traceback at DEBUG): while PostgreSQL was down, each
    worker's pass logged some 90 lines that said no more than their last. Anything else is
    the hub's own error and keeps its traceback."""
    reason = None
    if isinstance(exc, OSError):
        reason = unreachable_message(exc)
    elif isinstance(exc, DBAPIError):
        reason = refusal_message(exc)
    if reason is None:
        log.exception("pruning the minute rollups failed")
        return
    # The API's advice to try again is the pruner's own to follow: it does, at its next pass.
    reason = reason.split("; try again", 1)[0]
    log.warning("pruning the minute rollups failed: %s; the next pass tries again", reason)
    log.debug("pruning the minute rollups failed", exc_info=True)


class MinutePruner:
    """Prunes the minute rollups shortly after start, then about every hour."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        days: int,
        interval_s: float = INTERVAL_S,
        first_delay_s: float = FIRST_DELAY_S,
    ) -> None:
        self.engine = engine
        self.days = days
        self.interval_s = interval_s
        self.first_delay_s = first_delay_s
        self._task: asyncio.Task[None] | None = None

    async def run_once(self, now: datetime | None = None) -> int:
        """One pass; returns how many minute rows were deleted."""
        horizon = minute_horizon(self.days, now)
        if horizon is None:
            return 0
        began = time.perf_counter()
        deleted = await prune(self.engine, horizon)
        if deleted:
            # WARNING: the level `hub serve` and `hub up` show; at INFO no operator saw it.
            log.warning(
                "deleted %d minute rollup rows before %s in %.2f s",
                deleted,
                tu.iso_utc(horizon),
                time.perf_counter() - began,
            )
        return deleted

    async def start(self) -> None:
        if self.days > 0:
            self._task = asyncio.create_task(self._loop(), name="minute-rollup-retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        await asyncio.sleep(self.first_delay_s)
        while True:
            try:
                await self.run_once()
            except Exception as exc:  # a failed pass is retried at the next one
                _failed(exc)
            await asyncio.sleep(self.interval_s)
