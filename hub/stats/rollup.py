"""Folding log records into the rollup tables, inside the log writer's transaction.

A batch is first summed in memory (one row per key and grain), then written with one
``INSERT ... ON CONFLICT DO UPDATE SET n = n + excluded.n`` per table. The statement is the
same on SQLite and PostgreSQL, and because it runs in the transaction that appends the
records, a count can never disagree with the log: both commit, or neither does.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.models import LatencyDay, LatencyHour, StatsDay, StatsHour, StatsMinute
from hub.stats.histogram import bin_of
from hub.txlog.sqlite import INLINE_SAFE_HOOKS, inline_sqlite

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
        # The log writer runs this for every batch: locals, one dict lookup per key, and
        # bucket starts memoised (datetime.replace costs more than the rest of the loop).
        floors: dict[tuple[int, ...], tuple[datetime, datetime]] = {}
        for r in records:
            s = r["started_at"]
            fkey = (s.minute, s.hour, s.day, s.month, s.year)
            found = floors.get(fkey)
            if found is None:
                m = s.replace(second=0, microsecond=0)
                found = floors[fkey] = (m, m.replace(minute=0))
            m, h = found
            client, service, provider = r["client"], r["service"], r["provider"]
            total_ms, hub_ms = r["total_ms"], r["hub_ms"]
            key = (m, client, service, provider, r["status_code"], r["fault_code"] or "")
            row = minute.get(key)
            if row is None:
                minute[key] = [
                    1,
                    1 if r["succeeded"] else 0,
                    r["request_bytes"],
                    r["response_bytes"],
                    total_ms,
                    hub_ms,
                    r["upstream_ms"] or 0.0,
                ]
            else:
                row[0] += 1
                row[1] += 1 if r["succeeded"] else 0
                row[2] += r["request_bytes"]
                row[3] += r["response_bytes"]
                row[4] += total_ms
                row[5] += hub_ms
                row[6] += r["upstream_ms"] or 0.0
            lkey = (h, client, service, provider, bin_of(total_ms))
            lrow = hours.get(lkey)
            if lrow is None:
                hours[lkey] = [1, 0]
            else:
                lrow[0] += 1
            lkey = (h, client, service, provider, bin_of(hub_ms))
            lrow = hours.get(lkey)
            if lrow is None:
                hours[lkey] = [0, 1]
            else:
                lrow[1] += 1

    def _coarsen(self) -> None:
        # Hours and days are sums of the batch's minutes (and hours): far fewer rows than
        # records, so this costs little next to the per-record pass.
        _fold(self.counts["minute"], self.counts["hour"], "hour")
        _fold(self.counts["hour"], self.counts["day"], "day")
        _fold(self.latency["hour"], self.latency["day"], "day")

    def sums(self) -> Iterator[tuple[Table, tuple[str, ...], tuple[str, ...], dict[Any, list]]]:
        """(table, key columns, summed columns, key -> sums) for each table to add to."""
        for grain, table in COUNT_TABLES.items():
            if self.counts[grain]:
                yield table, COUNT_KEY, COUNT_SUMS, self.counts[grain]
        for grain, table in LATENCY_TABLES.items():
            if self.latency[grain]:
                yield table, LATENCY_KEY, LATENCY_SUMS, self.latency[grain]


def _fold(src: dict[Any, list[Any]], dst: dict[Any, list[Any]], grain: str) -> None:
    # A batch's keys share one or two buckets, and datetime.replace costs 1.4 us: once per
    # bucket, not per key (a bench batch of 18 has about 20 latency keys; Rollup() went
    # from 88 to 67 us a batch of 18, timeit).
    coarse_of: dict[datetime, datetime] = {}
    for key, values in src.items():
        bucket: datetime = key[0]
        coarse = coarse_of.get(bucket)
        if coarse is None:
            coarse = coarse_of[bucket] = (
                bucket.replace(minute=0) if grain == "hour" else bucket.replace(hour=0, minute=0)
            )
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
        (upsert(dialect, table, key, cols), _dicts(sums, key, cols))
        for table, key, cols, sums in Rollup(records).sums()
    ]


_compiled: dict[tuple[str, str], tuple[str, Any]] = {}


def _driver_sql(dialect: Any, table: Table, key: tuple[str, ...], sums: tuple[str, ...]) -> Any:
    """The upsert compiled once per dialect, and the converter of its bucket parameter.

    Rollups are written for every log batch, and synthetic loads write millions of rows:
    compiling and binding through the ORM each time cost more than the database's work.
    """
    cache_key = (dialect.name, table.name)
    found = _compiled.get(cache_key)
    if found is None:
        compiled = upsert(dialect.name, table, key, sums).compile(dialect=dialect)
        if tuple(compiled.positiontup or ()) != key + sums:
            raise RuntimeError(f"unexpected parameter order in the upsert of {table.name}")
        bucket = table.c.bucket.type.dialect_impl(dialect).bind_processor(dialect)
        if bucket is not None:
            # A batch's rows share a few buckets: SQLite's string form of each was ~1 % of
            # the hub's CPU under load (py-spy), formatted anew for every row and table.
            bucket = functools.lru_cache(maxsize=256)(bucket)
        found = _compiled[cache_key] = (str(compiled), bucket)
    return found


async def add_records(conn: AsyncConnection, records: list[dict[str, Any]]) -> None:
    """The log writer's batch hook: count ``records`` in the caller's transaction."""
    dialect = conn.dialect
    # The writer's own SQLite connection takes the statements directly: through
    # exec_driver_sql, the five upserts of a one-record batch cost about 200 us of CPU
    # against about 40 us in SQLite (cProfile, bench/profile_notes.md).
    db = inline_sqlite(conn)
    for table, key, cols, sums in Rollup(records).sums():
        sql, bucket = _driver_sql(dialect, table, key, cols)
        if bucket is None:
            params = [(*k, *v) for k, v in sums.items()]
        else:
            params = [(bucket(k[0]), *k[1:], *v) for k, v in sums.items()]
        if db is not None:
            _upsert_rows(db, sql, params)
        else:
            await conn.exec_driver_sql(sql, params)


# Rows a multi-row upsert takes at most: SQLite allows 32,766 parameters a statement, and
# each (table, row count) is a statement of its own in the connection's cache.
MULTI_ROWS = 32
_multi: dict[tuple[str, int], str] = {}


def _upsert_rows(db: sqlite3.Connection, sql: str, params: list[tuple[Any, ...]]) -> None:
    """``db.executemany(sql, params)`` as one multi-row upsert per ``MULTI_ROWS`` rows.

    The latency tables take about 20 rows a batch each under load (a bench batch of 17
    exchanges with spread latencies): 65 against 45 us a table through one statement
    (SQLite, WAL, 3,000 batches; bench/profile_notes.md, eighth round). SQLite takes the
    rows in order, as executemany does, and a Rollup has one row per key anyway.
    """
    if len(params) == 1:
        db.execute(sql, params[0])
        return
    for start in range(0, len(params), MULTI_ROWS):
        chunk = params[start : start + MULTI_ROWS]
        found = _multi.get((sql, len(chunk)))
        if found is None:
            head, sep, tail = sql.partition(" VALUES ")
            values, close, conflict = tail.partition(") ")
            if not (sep and close and conflict.startswith("ON CONFLICT")):
                raise RuntimeError(f"unexpected upsert form: {sql[:80]}")
            rows = ", ".join([values + ")"] * len(chunk))
            found = _multi[(sql, len(chunk))] = f"{head} VALUES {rows} {conflict}"
        db.execute(found, [value for row in chunk for value in row])


INLINE_SAFE_HOOKS.add(add_records)
