"""Folding log records into the rollup tables, inside the log writer's transaction.

A batch is first summed in memory (one row per key and grain), then written with one
``INSERT ... ON CONFLICT DO UPDATE SET n = n + excluded.n`` per table. The statement is the
same on SQLite and PostgreSQL, and because it runs in the transaction that appends the
records, a count can never disagree with the log: both commit, or neither does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.models import LatencyDay, LatencyHour, StatsDay, StatsHour, StatsMinute
from hub.stats.histogram import bin_of

COUNT_TABLES: dict[str, Table] = {
    "minute": StatsMinute.__table__,  # type: ignore[dict-item]
    "hour": StatsHour.__table__,  # type: ignore[dict-item]
    "day": StatsDay.__table__,  # type: ignore[dict-item]
}
LATENCY_TABLES: dict[str, Table] = {
    "hour": LatencyHour.__table__,  # type: ignore[dict-item]
    "day": LatencyDay.__table__,  # type: ignore[dict-item]
}
COUNT_KEY = ("bucket", "client", "service", "provider", "status_code", "fault_code")
COUNT_SUMS = (
    "count",
    "succeeded",
    "request_bytes",
    "response_bytes",
    "total_ms",
    "hub_ms",
    "upstream_ms",
)
LATENCY_KEY = ("bucket", "client", "service", "provider", "bin")
LATENCY_SUMS = ("n_total", "n_hub")

CountKey = tuple[datetime, str, str, str, int, str]
LatencyKey = tuple[datetime, str, str, str, int]


class Rollup:
    """The sums of one batch of records, per grain, ready to be added to the tables."""

    def __init__(self, records: Iterable[dict[str, Any]]) -> None:
        self.counts: dict[str, dict[CountKey, list[float]]] = {g: {} for g in COUNT_TABLES}
        self.latency: dict[str, dict[LatencyKey, list[int]]] = {g: {} for g in LATENCY_TABLES}
        self._add(records)
        self._coarsen()

    def _add(self, records: Iterable[dict[str, Any]]) -> None:
        minute = self.counts["minute"]
        hours = self.latency["hour"]
        for r in records:
            started: datetime = r["started_at"]
            m = started.replace(second=0, microsecond=0)
            client, service, provider = r["client"], r["service"], r["provider"]
            key = (m, client, service, provider, r["status_code"], r["fault_code"] or "")
            row = minute.get(key)
            if row is None:
                row = minute[key] = [0, 0, 0, 0, 0.0, 0.0, 0.0]
            row[0] += 1
            row[1] += 1 if r["succeeded"] else 0
            row[2] += r["request_bytes"]
            row[3] += r["response_bytes"]
            row[4] += r["total_ms"]
            row[5] += r["hub_ms"]
            row[6] += r["upstream_ms"] or 0.0
            h = m.replace(minute=0)
            for index, col in ((bin_of(r["total_ms"]), 0), (bin_of(r["hub_ms"]), 1)):
                lkey = (h, client, service, provider, index)
                lrow = hours.get(lkey)
                if lrow is None:
                    lrow = hours[lkey] = [0, 0]
                lrow[col] += 1

    def _coarsen(self) -> None:
        # Hours and days are sums of the batch's minutes (and hours): far fewer rows than
        # records, so this costs little next to the per-record pass.
        _fold(self.counts["minute"], self.counts["hour"], "hour")
        _fold(self.counts["hour"], self.counts["day"], "day")
        _fold(self.latency["hour"], self.latency["day"], "day")

    def rows(self) -> Iterator[tuple[Table, tuple[str, ...], tuple[str, ...], list[dict]]]:
        """(table, key columns, summed columns, rows) for each table with something to add."""
        for grain, table in COUNT_TABLES.items():
            if self.counts[grain]:
                yield (
                    table,
                    COUNT_KEY,
                    COUNT_SUMS,
                    _dicts(self.counts[grain], COUNT_KEY, COUNT_SUMS),
                )
        for grain, table in LATENCY_TABLES.items():
            if self.latency[grain]:
                yield (
                    table,
                    LATENCY_KEY,
                    LATENCY_SUMS,
                    _dicts(self.latency[grain], LATENCY_KEY, LATENCY_SUMS),
                )


def _fold(src: dict[Any, list[Any]], dst: dict[Any, list[Any]], grain: str) -> None:
    for key, values in src.items():
        bucket: datetime = key[0]
        coarse = bucket.replace(minute=0) if grain == "hour" else bucket.replace(hour=0, minute=0)
        ckey = (coarse, *key[1:])
        row = dst.get(ckey)
        if row is None:
            dst[ckey] = list(values)
        else:
            for i, v in enumerate(values):
                row[i] += v


def _dicts(
    sums: dict[Any, list[Any]], key: tuple[str, ...], cols: tuple[str, ...]
) -> list[dict[str, Any]]:
    return [dict(zip(key + cols, (*k, *v), strict=True)) for k, v in sums.items()]


def upsert(dialect: str, table: Table, key: tuple[str, ...], sums: tuple[str, ...]) -> Any:
    """``INSERT ... ON CONFLICT (key) DO UPDATE SET col = col + excluded.col``."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert(table)
    return stmt.on_conflict_do_update(
        index_elements=list(key),
        set_={c: table.c[c] + stmt.excluded[c] for c in sums},
    )


def statements(dialect: str, records: Iterable[dict[str, Any]]) -> list[tuple[Any, list[dict]]]:
    """The upserts that add ``records`` to every rollup table."""
    return [
        (upsert(dialect, table, key, sums), rows)
        for table, key, sums, rows in Rollup(records).rows()
    ]


async def add_records(conn: AsyncConnection, records: list[dict[str, Any]]) -> None:
    """The log writer's batch hook: count ``records`` in the caller's transaction."""
    for stmt, rows in statements(conn.dialect.name, records):
        await conn.execute(stmt, rows)
