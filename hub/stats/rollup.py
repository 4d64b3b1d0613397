"""Folding log records into the rollup tables, a fraction of a second behind the log.

A batch is first summed in memory (one row per key and grain), then written with one
``INSERT ... ON CONFLICT DO UPDATE SET n = n + excluded.n`` per table. The statement is the
same on SQLite and PostgreSQL. The log writer's hook (``Folder``) gathers its batches and
folds them every ``FOLD_EVERY_S``, in the transaction of the batch that is then being
written, together with the rollup mark: the last sequence number the rollups count. The
mark and the sums commit together or not at all, so a record is in the rollups exactly when
its ``seq`` is at most the mark, and readers count the records after it from the log
(hub/stats/repository.py): counts still equal the log's at any moment, a crash loses
nothing (the next fold reads the records after the mark back from the log), and several
writers on one log never count a record twice.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Table, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.models import (
    LatencyDay,
    LatencyHour,
    RollupMark,
    StatsDay,
    StatsHour,
    StatsMinute,
    Transaction,
)
from hub.stats.histogram import bin_of
from hub.stats.upserts import dicts, driver_sql, upsert, upsert_rows
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
    """The sums of some records, per grain, ready to be added to the tables.

    Records are added at minute grain (``add``, as often as needed); the hour and day
    grains are summed from those once, when first asked for (``grains``, ``sums``).
    """

    def __init__(self, records: Iterable[dict[str, Any]] = ()) -> None:
        self.counts: dict[str, dict[CountKey, list[float]]] = {g: {} for g in COUNT_TABLES}
        self.latency: dict[str, dict[LatencyKey, list[int]]] = {g: {} for g in LATENCY_TABLES}
        self._coarse = False
        self.add(records)

    def grains(self) -> Rollup:
        """This rollup with every grain summed; it takes no more records afterwards."""
        if not self._coarse:
            self._coarsen()
            self._coarse = True
        return self

    def add(self, records: Iterable[dict[str, Any]]) -> None:
        if self._coarse:
            raise RuntimeError("a Rollup takes no records once its grains are summed")
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
        fold_grain(self.counts["minute"], self.counts["hour"], "hour")
        fold_grain(self.counts["hour"], self.counts["day"], "day")
        fold_grain(self.latency["hour"], self.latency["day"], "day")

    def sums(self) -> Iterator[tuple[Table, tuple[str, ...], tuple[str, ...], dict[Any, list]]]:
        """(table, key columns, summed columns, key -> sums) for each table to add to."""
        self.grains()
        for grain, table in COUNT_TABLES.items():
            if self.counts[grain]:
                yield table, COUNT_KEY, COUNT_SUMS, self.counts[grain]
        for grain, table in LATENCY_TABLES.items():
            if self.latency[grain]:
                yield table, LATENCY_KEY, LATENCY_SUMS, self.latency[grain]


def fold_grain(src: dict[Any, list[Any]], dst: dict[Any, list[Any]], grain: str) -> None:
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


def statements(dialect: str, records: Iterable[dict[str, Any]]) -> list[tuple[Any, list[dict]]]:
    """The upserts that add ``records`` to every rollup table."""
    return [
        (upsert(dialect, table, key, cols), dicts(sums, key, cols))
        for table, key, cols, sums in Rollup(records).sums()
    ]


async def add_records(conn: AsyncConnection, records: list[dict[str, Any]]) -> None:
    """Count ``records`` (appended, so numbered) in the rollups now, in the caller's transaction.

    For loads that write the log in large transactions of their own (hub/stats/synth.py);
    the log writer folds through a ``Folder`` instead.
    """
    if records:
        await fold(conn, records[-1]["seq"], Rollup(records), records[0]["seq"])


async def fold(
    conn: AsyncConnection, last: int, rollup: Rollup | None = None, first: int | None = None
) -> bool:
    """Count the log up to ``last`` in the rollups and move the mark there.

    ``rollup`` may hold the records ``first`` to ``last``; it is used when the mark stands
    just before ``first``, and otherwise (another writer's records in between, a batch that
    was rolled back, a crash) the records after the mark are read back from the log. Runs
    in the caller's transaction, after the records up to ``last`` were appended in it or
    committed; on PostgreSQL the mark's row is locked, so folds on several nodes wait for
    each other instead of counting the same records twice. True when it read the log back.
    """
    db = inline_sqlite(conn)
    mark = await _read_mark(conn, db)
    if mark >= last:
        return False
    read_back = rollup is None or first != mark + 1
    if read_back:
        rollup = Rollup(await records_after(conn, mark, last))
    assert rollup is not None
    dialect = conn.dialect
    # The writer's own SQLite connection takes the statements directly: through
    # exec_driver_sql, the five upserts of a one-record batch cost about 200 us of CPU
    # against about 40 us in SQLite (cProfile, bench/profile_notes.md).
    for table, key, cols, sums in rollup.sums():
        sql, bucket = driver_sql(dialect, table, key, cols)
        if bucket is None:
            params = [(*k, *v) for k, v in sums.items()]
        else:
            params = [(bucket(k[0]), *k[1:], *v) for k, v in sums.items()]
        if db is not None:
            upsert_rows(db, sql, params)
        else:
            await conn.exec_driver_sql(sql, params)
    if db is not None:
        db.execute(_MARK_SQL["move"], (last,))
    else:
        await conn.execute(_mark.update().where(_mark.c.id == 1).values(seq=last))
    return read_back


# How often the log writer folds its batches into the rollups, and past how many records
# it folds at once. Folding in every commit cost the hub about 4 % of its CPU under load
# (python -m bench.ab: 1.29 against 1.24 times the provider's CPU per exchange, five
# upserts a batch of ~17 against one fold every 0.25 s, 0.654 against 0.783 of bare's
# req/s; bench/profile_notes.md, tenth round). Readers add at most about this much of the
# log themselves (hub/stats/repository.py).
FOLD_EVERY_S = 0.25
FOLD_RECORDS = 20_000


class Folder:
    """The log writer's batch hook: sums its batches and folds them every ``every_s``.

    Each batch is added to a ``Rollup`` in memory (the per-record work stays spread over
    the batches); the fold itself, the upserts and the mark, runs in the transaction of
    the batch that finds the last fold ``every_s`` old or ``most`` records behind. A batch
    that fails is rolled back with whatever fold it carried: ``rolled_back`` forgets what
    was gathered, and the next fold reads the records after the mark back from the log.
    """

    def __init__(self, every_s: float = FOLD_EVERY_S, most: int = FOLD_RECORDS) -> None:
        self.every_s = every_s
        self.most = most
        self.folds = 0
        self.read_back = 0  # folds that had to read the log back
        self._reset()

    def _reset(self) -> None:
        self._rollup: Rollup | None = Rollup()
        self._first: int | None = None
        self._last: int | None = None
        self._held = 0
        self._since = 0.0

    async def __call__(self, conn: AsyncConnection, records: list[dict[str, Any]]) -> None:
        if not records:
            return
        first, last = records[0]["seq"], records[-1]["seq"]
        if self._last is None:
            self._first = first
            self._since = time.monotonic()
        elif first != self._last + 1:
            self._rollup = None  # another writer's records lie between: read back instead
        self._last = last
        self._held += len(records)
        if self._rollup is not None:
            self._rollup.add(records)
        if self._held >= self.most or time.monotonic() - self._since >= self.every_s:
            await self.fold(conn)

    async def fold(self, conn: AsyncConnection) -> None:
        """Fold what is gathered now, in ``conn``'s transaction."""
        if self._last is None:
            return
        rollup, first, last = self._rollup, self._first, self._last
        self._reset()
        if await fold(conn, last, rollup, first):
            self.read_back += 1
        self.folds += 1

    async def close(self, conn: AsyncConnection) -> None:
        """The writer stops: fold what is left, so the tables count the whole log."""
        await self.fold(conn)

    def rolled_back(self) -> None:
        """The batch last given failed and was rolled back, with any fold it carried."""
        self._reset()


_tx: Table = Transaction.__table__  # type: ignore[assignment]
_mark: Table = RollupMark.__table__  # type: ignore[assignment]
# What a Rollup reads of each record.
FOLDED_COLUMNS = (
    "started_at",
    "client",
    "service",
    "provider",
    "status_code",
    "fault_code",
    "succeeded",
    "request_bytes",
    "response_bytes",
    "total_ms",
    "hub_ms",
    "upstream_ms",
)
_MARK_SQL = {
    "read": "SELECT seq FROM rollup_mark WHERE id = 1",
    "move": "UPDATE rollup_mark SET seq = ? WHERE id = 1",
    "after": f"SELECT {', '.join(FOLDED_COLUMNS)} FROM transactions "
    "WHERE seq > ? AND seq <= ? ORDER BY seq",
}
MARK = select(_mark.c.seq).where(_mark.c.id == 1)


async def _read_mark(conn: AsyncConnection, db: sqlite3.Connection | None) -> int:
    if db is not None:
        row = db.execute(_MARK_SQL["read"]).fetchone()
    else:
        query = MARK.with_for_update() if conn.dialect.name == "postgresql" else MARK
        row = (await conn.execute(query)).first()
    if row is None:
        raise RuntimeError("the rollup mark is missing: run `hub db upgrade`")
    return int(row[0])


async def records_after(conn: Any, mark: int, last: int | None = None) -> list[dict[str, Any]]:
    """The logged records after ``mark`` (up to ``last``), as much of them as a Rollup reads."""
    db = inline_sqlite(conn) if isinstance(conn, AsyncConnection) else None
    if db is not None:
        rows = db.execute(_MARK_SQL["after"], (mark, last if last is not None else 2**62))
        out = [dict(zip(FOLDED_COLUMNS, row, strict=True)) for row in rows]
        for rec in out:  # stored as SQLAlchemy stores a DATETIME on SQLite: text
            rec["started_at"] = datetime.fromisoformat(rec["started_at"])
        return out
    query = select(*(_tx.c[c] for c in FOLDED_COLUMNS)).where(_tx.c.seq > mark)
    if last is not None:
        query = query.where(_tx.c.seq <= last)
    return [row._asdict() for row in (await conn.execute(query.order_by(_tx.c.seq))).all()]


INLINE_SAFE_HOOKS.update((add_records, Folder))
