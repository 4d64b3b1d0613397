"""Retention of the per-minute rollups: rows older than ``HUB_MINUTE_ROLLUP_DAYS`` go.

Minute rows serve only the edges of a query; hour and day rows are kept for ever. Before
the horizon (now minus the days, floored to a whole UTC hour) queries count the minutes at
their edges from the log instead (``timeutil.cover``), so they never read a minute row that
may be gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.stats import timeutil as tu
from hub.stats.rollup import COUNT_TABLES

log = logging.getLogger(__name__)
CHUNK = timedelta(days=1)
INTERVAL_S = 3600.0
FIRST_DELAY_S = 60.0


def minute_horizon(days: int, now: datetime | None = None) -> datetime | None:
    """The first minute bucket kept (naive UTC, a whole hour), or None when all are kept."""
    if days <= 0:
        return None
    return tu.floor_hour((now or tu.utcnow()) - timedelta(days=days))


async def first_whole_hour(conn: Any) -> datetime | None:
    """The hour from which every minute row is still there (that of the oldest one kept),
    or None when no minute row is left.

    The horizon a reader computes comes from its own ``HUB_MINUTE_ROLLUP_DAYS``, but the hub
    that pruned may have kept fewer days (another setting, or `hub stats` and `hub audit
    verify` run from a shell without the hub's environment): the minutes between the two
    horizons read as none. ``prune`` deletes from the oldest row up to a whole hour, so the
    minutes from the oldest kept row's hour on are whole.
    """
    table = COUNT_TABLES["minute"]
    oldest = (await conn.execute(select(func.min(table.c.bucket)))).scalar()
    if oldest is None:
        return None
    return tu.floor_hour(datetime.fromisoformat(oldest) if isinstance(oldest, str) else oldest)


async def prune(engine: AsyncEngine, horizon: datetime, *, chunk: timedelta = CHUNK) -> int:
    """Delete minute rows before ``horizon``, one ``chunk`` of buckets per transaction.

    Short transactions keep the log writer's waits for the write lock short.
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
        start = end
        await asyncio.sleep(0)  # let the writer's batches through between chunks
    return deleted


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
            except Exception:  # a failed pass is retried at the next one
                log.exception("pruning the minute rollups failed")
            await asyncio.sleep(self.interval_s)
