"""The statistics held to the log by ``hub audit verify``: the rollup tables (hub/stats/)
against the records they count, read in the audit's one pass over the log."""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import DateTime, String, bindparam, select, text
from sqlalchemy import literal_column as sql
from sqlalchemy import type_coerce as raw
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.stats.rollup import COUNT_KEY, COUNT_SUMS, COUNT_TABLES, fold_grain
from hub.txlog.forms import bad_form

# The count rollups compared with the log itself, and the order of their sums: whole
# numbers (exchanges, bytes) first, then floats (milliseconds).
_COUNT_TABLES = (COUNT_TABLES["hour"], COUNT_TABLES["day"])
_INTS, _FLOATS = COUNT_SUMS[:4], COUNT_SUMS[4:]
PARTITION = 10_000


class Statistics:
    """The rollup tables against the records up to the rollup mark, in the walk's one pass.

    The hour and day tables are held to the log: both sides are summed per UTC day, the
    whole-number sums (exchanges, successes, bytes) exactly, the milliseconds to rounding,
    and a fingerprint: every row's counts weighted by a keyed hash of its key (bucket,
    client, service, provider, status, fault) under this run's random key, so counts moved
    between the rows of a day change it too, and no one can move them so that it holds
    without knowing the key. Memory grows with the days, not with the rows.

    The other tables are held to those in SQL (``_CONSISTENT``): the minute rows, within
    their retention (``HUB_MINUTE_ROLLUP_DAYS`` and the hour recorded as pruned up to; older
    ones may be gone, and queries no longer read them), add up to their hour's rows (an hour
    they count fewer exchanges of is named as such, ``_LOST``), and the latency histograms to the
    exchanges of their hour and day. Summing the log at every grain and latency bin in Python
    doubled the time of the whole check. Not seen that way: counts moved between the minutes
    of one hour, or between the latency bins of one hour.
    """

    def __init__(self, mark: int, horizon: datetime | None) -> None:
        self.mark = mark
        self.horizon = horizon  # minute rows from here on are compared; None: none are
        self.secret = secrets.token_bytes(16)  # this run's key of the fingerprint
        self.mix = [secrets.randbits(24) | 1 for _ in _INTS]  # a weight for each count
        self.log: dict[tuple[str, datetime], list[Any]] = {}
        self.table: dict[tuple[str, datetime], list[Any]] = {}
        self.found: list[str] = []  # problems found in the tables alone
        self._days: dict[datetime, datetime] = {}
        self._hours: dict[tuple[int, int, int, int], datetime] = {}

    def _day(self, bucket: datetime) -> datetime:
        day = self._days.get(bucket)
        if day is None:
            day = self._days[bucket] = bucket.replace(hour=0, minute=0, second=0, microsecond=0)
        return day

    def _add(
        self,
        into: dict[tuple[str, datetime], list[Any]],
        name: str,
        items: Iterable[tuple[tuple[Any, ...], Sequence[Any]]],
    ) -> None:
        """Add rows (key, sums) to their days' sums in ``into``."""
        secret, days, day_of = self.secret, self._days, self._day
        blake2b = hashlib.blake2b
        m0, m1, m2, m3 = self.mix
        for key, (n, ok, req, resp, total, hub, upstream) in items:
            day = days.get(key[0]) or day_of(key[0])
            slot = into.get((name, day))
            if slot is None:
                slot = into[(name, day)] = [0, 0, 0, 0, 0, 0.0, 0.0, 0.0]
            slot[0] += n
            slot[1] += ok
            slot[2] += req
            slot[3] += resp
            # Linear in the sums, so a key's records summed in several parts (chunks of the
            # log) weigh what their one row in the table weighs. A keyed BLAKE2b, not hash():
            # Python's hash is no secret where PYTHONHASHSEED is set, and two keys that
            # collide could trade counts unseen.
            weight = int.from_bytes(blake2b(repr(key).encode(), key=secret, digest_size=8).digest())
            slot[4] += weight * (m0 * n + m1 * ok + m2 * req + m3 * resp)
            slot[5] += total
            slot[6] += hub
            slot[7] += upstream

    async def read_tables(self, conn: AsyncConnection) -> None:
        """Sum the hour and day tables (in the snapshot the mark was read in)."""
        sqlite = conn.dialect.name == "sqlite"
        names = (*COUNT_KEY, *_INTS, *_FLOATS)
        for table in _COUNT_TABLES:
            cols: list[Any] = [table.c[c] for c in names]
            if sqlite:  # as stored (as the audit's walk reads), and whether as the hub writes it
                cols[0] = raw(table.c.bucket, String)
                cols.append(sql(bad_form([table.c[c] for c in names])))
            async with conn.stream(select(*cols)) as result:
                async for part in result.partitions(PARTITION):
                    self._add(self.table, table.name, self._rows(table.name, part, sqlite))

    async def check_tables(self, conn: AsyncConnection) -> None:
        """The tables not held to the log against those that are (``_CONSISTENT``).

        Each is one statement, so it reads the tables at one instant whenever it runs: the
        log writer folds into every table of a batch in one transaction.
        """
        dialect = conn.dialect.name
        lost = False
        if self.horizon is not None:
            lost = await self._lost_minutes(conn, _LOST[dialect])
        for what, query in _CONSISTENT[dialect]:
            statement = text(query)
            if ":h" in query:
                if self.horizon is None or lost:
                    continue  # the minute rows are not checked, or said so already
                statement = statement.bindparams(bindparam("h", self.horizon, DateTime))
            row = (await conn.execute(statement)).first()
            if row is not None:
                self.found.append(f"statistics disagree with the log: {what} at {_key(row)}")

    async def _lost_minutes(self, conn: AsyncConnection, query: str) -> bool:
        """Hours the minute rows kept count fewer exchanges of than stats_hour: their rows
        were deleted (the oldest ones, to look pruned). True when there are some."""
        statement = text(query).bindparams(bindparam("h", self.horizon, DateTime))
        first_at, last_at, hours, lost = (await conn.execute(statement)).one()
        if not hours:
            return False
        first, last = _as_datetime(first_at), _as_datetime(last_at)
        span = (
            f"from {first:%Y-%m-%d %H:%M} to {last + timedelta(hours=1):%Y-%m-%d %H:%M} (UTC)"
            if first is not None and last is not None
            else f"from {first_at!r:.40} to {last_at!r:.40}"  # stats_hour names them, too
        )
        kept = (
            "no minute row was pruned"
            if self.horizon == datetime.min
            else f"the hub prunes none from {self.horizon:%Y-%m-%d %H:%M} on"
        )
        self.found.append(
            f"statistics disagree with the log: stats_minute has lost the minutes of "
            f"{int(lost):,} exchange{'s' * (lost != 1)}, in {hours:,} hour{'s' * (hours != 1)} "
            f"{span} that stats_hour counts: "
            f"their rows were deleted, or their counts lowered ({kept})"
        )
        return True

    def _rows(
        self, name: str, rows: Sequence[Any], sqlite: bool
    ) -> Iterator[tuple[tuple[Any, ...], Sequence[Any]]]:
        """A count table's rows as (key, sums), the bucket read as a datetime."""
        width, end = len(COUNT_KEY), len(COUNT_KEY) + len(_INTS) + len(_FLOATS)
        parsed: dict[Any, datetime] = {}
        for row in rows:
            at = parsed.get(row[0])
            if at is None:
                at = parsed[row[0]] = _as_datetime(row[0]) or datetime.min
            if (sqlite and row[-1]) or at is datetime.min:
                if len(self.found) < 3:
                    self.found.append(
                        f"statistics were changed: a row of {name} is not stored the way the "
                        f"hub writes it ({tuple(row[:end])!r:.200})"
                    )
                continue
            yield (at, *row[1:width]), row[width:end]

    def add_records(self, records: list[dict[str, Any]]) -> None:
        """Sum records (all up to the mark) as the rollups key them (``rollup.Rollup``: a
        test holds the two to the same sums; that one also sums minutes and latency bins,
        three times the work)."""
        hours: dict[tuple[Any, ...], list[Any]] = {}
        floors = self._hours
        for r in records:
            s = r["started_at"]
            at = (s.hour, s.day, s.month, s.year)
            hour = floors.get(at)
            if hour is None:
                hour = floors[at] = s.replace(minute=0, second=0, microsecond=0)
            key = (hour, r["client"], r["service"], r["provider"], r["status_code"],
                   r["fault_code"] or "")  # fmt: skip
            try:  # SQLite: a sum that is no number (the record's hash said so) is left out
                req, resp = r["request_bytes"] + 0, r["response_bytes"] + 0
                total, hub, up = r["total_ms"] + 0.0, r["hub_ms"] + 0.0, r["upstream_ms"] or 0.0
                up += 0.0
            except TypeError:
                continue
            ok = 1 if r["succeeded"] else 0
            row = hours.get(key)
            if row is None:
                hours[key] = [1, ok, req, resp, total, hub, up]
            else:
                row[0] += 1
                row[1] += ok
                row[2] += req
                row[3] += resp
                row[4] += total
                row[5] += hub
                row[6] += up
        self._add(self.log, _COUNT_TABLES[0].name, hours.items())
        days: dict[tuple[Any, ...], list[Any]] = {}
        fold_grain(hours, days, "day")  # as the rollups fold their hours into days
        self._add(self.log, _COUNT_TABLES[1].name, days.items())

    def problems(self) -> list[str]:
        out = []
        zero = [0] * (len(_INTS) + 1) + [0.0] * len(_FLOATS)
        for table in _COUNT_TABLES:
            days = sorted(day for name, day in {*self.log, *self.table} if name == table.name)
            differ = []
            for day in days:
                ours = self.log.get((table.name, day), zero)
                theirs = self.table.get((table.name, day), zero)
                why = _difference(ours, theirs)
                if why:
                    differ.append((day, why))
            if differ:
                day, why = differ[0]
                total_log = sum(v[0] for (n, _), v in self.log.items() if n == table.name)
                total_table = sum(v[0] for (n, _), v in self.table.items() if n == table.name)
                more = f" and {len(differ) - 1} more days" if len(differ) > 1 else ""
                out.append(
                    f"statistics disagree with the log: {table.name} on {day:%Y-%m-%d} (UTC)"
                    f"{more}: {why}; in all it counts {total_table:,} exchanges, the log "
                    f"{total_log:,} up to the rollup mark seq={self.mark}"
                )
        return out + self.found


def _difference(ours: list[Any], theirs: list[Any]) -> str | None:
    """How a day's sums of the log (``ours``) and of a table (``theirs``) differ, if at all."""
    n = len(_INTS)
    for i, name in enumerate(_INTS):
        if ours[i] != theirs[i]:
            return f"{name} {theirs[i]:,} in the table, {ours[i]:,} in the log"
    if ours[n] != theirs[n]:
        return "the same totals, split differently between hours, clients or statuses"
    for j, name in enumerate(_FLOATS):
        a, b = ours[n + 1 + j], theirs[n + 1 + j]
        if not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-6):
            # Three decimals, or as many more as it takes to show them differ: a sum moved by
            # less than a thousandth read "37.419 in the table, 37.419 in the log".
            places = next((p for p in range(3, 10) if f"{a:.{p}f}" != f"{b:.{p}f}"), 9)
            return f"{name} {b:,.{places}f} in the table, {a:,.{places}f} in the log"
    return None


# The minute rows held to their hours: from ``:h`` (read in the audit's snapshot), and past
# whatever the pruner recorded since, read in the same statement: a prune that commits while
# the check runs (on a connection of its own) deletes rows before what it records with them.
_KEPT = (
    "bucket >= :h AND bucket >= COALESCE((SELECT pruned_before FROM minute_prune WHERE id = 1), :h)"
)


def _consistent(floor: Callable[[str], str]) -> list[tuple[str, str]]:
    """(what, SQL giving the key of a row where it fails, if any) of each check of one table
    against another. ``floor(grain)``: SQL of ``bucket`` floored to the grain.

    Each sums the first table's rows minus the second's per key: one scan of each and one
    grouping (two EXCEPTs took 2.5 times as long on SQLite and PostgreSQL).
    """
    key = ("client", "service", "provider")
    counts = ("count", "succeeded", "request_bytes", "response_bytes")
    checks = (
        (
            "stats_minute does not add up to stats_hour",
            (floor("hour"), *key, "status_code", "fault_code"), counts,
            f"stats_minute WHERE {_KEPT}",
            ("bucket", *key, "status_code", "fault_code"), counts,
            f"stats_hour WHERE {_KEPT}",
        ),
        (
            "stats_latency_hour does not add up to the exchanges of stats_hour",
            ("bucket", *key), ("n_total", "n_hub"), "stats_latency_hour",
            ("bucket", *key), ("count", "count"), "stats_hour",
        ),
        (
            "stats_latency_day does not add up to the exchanges of stats_day",
            ("bucket", *key), ("n_total", "n_hub"), "stats_latency_day",
            ("bucket", *key), ("count", "count"), "stats_day",
        ),
    )  # fmt: skip
    out = []
    for what, key_a, sums_a, from_a, key_b, sums_b, from_b in checks:
        first = ", ".join(
            [f"{k} AS k{i}" for i, k in enumerate(key_a)]
            + [f"{v} AS v{i}" for i, v in enumerate(sums_a)]
        )
        second = ", ".join([*key_b, *(f"-{v}" for v in sums_b)])
        keys = ", ".join(f"k{i}" for i in range(len(key_a)))
        differ = " OR ".join(f"sum(v{i}) <> 0" for i in range(len(sums_a)))
        out.append(
            (
                what,
                f"SELECT {keys} FROM (SELECT {first} FROM {from_a} UNION ALL "
                f"SELECT {second} FROM {from_b}) AS u GROUP BY {keys} HAVING {differ} LIMIT 1",
            )
        )
    return out


def _lost(floor: Callable[[str], str]) -> str:
    """SQL of the hours (first, last, how many) whose minute rows count fewer exchanges than
    their stats_hour rows, and how many fewer."""
    return (
        "SELECT min(h.bucket), max(h.bucket), count(*), sum(h.n - COALESCE(m.n, 0)) FROM "
        f"(SELECT bucket, sum(count) AS n FROM stats_hour WHERE {_KEPT} GROUP BY bucket) AS h "
        f"LEFT JOIN (SELECT {floor('hour')} AS bucket, sum(count) AS n FROM stats_minute "
        f"WHERE {_KEPT} GROUP BY {floor('hour')}) AS m ON m.bucket = h.bucket "
        "WHERE h.n > COALESCE(m.n, 0)"
    )


# SQLite keeps a bucket as SQLAlchemy writes it: "YYYY-MM-DD HH:MM:SS.ffffff".
_CONSISTENT = {
    "sqlite": _consistent(
        lambda grain: (
            "substr(bucket, 1, 14) || '00:00.000000'"
            if grain == "hour"
            else "substr(bucket, 1, 11) || '00:00:00.000000'"
        )
    ),
    "postgresql": _consistent(lambda grain: f"date_trunc('{grain}', bucket)"),
}
_LOST = {
    "sqlite": _lost(lambda grain: "substr(bucket, 1, 14) || '00:00.000000'"),
    "postgresql": _lost(lambda grain: f"date_trunc('{grain}', bucket)"),
}


def _key(row: Sequence[Any]) -> str:
    """A rollup row's key as an operator reads it, the same from either engine."""
    parts = []
    for value in row:
        at = _as_datetime(value)
        parts.append(
            f"{at:%Y-%m-%d %H:%M}" if at is not None else repr(value) if value == "" else str(value)
        )
    return f"({', '.join(parts)})"[:300]


def _as_datetime(value: Any) -> datetime | None:
    if type(value) is datetime:
        return value
    if type(value) is str and len(value) == 26 and value[10] == " ":
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None
