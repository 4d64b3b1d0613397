"""The statistics' SQL: rollup sums over time ranges (the raw log for browsing single
transactions is read in hub/stats/records.py).

The rollups count the log up to their mark (hub/stats/rollup.py); the records after it, a
fraction of a second of the log, are read and summed here with the same code, so every
count equals the log's. Each rollup query reads the mark in the same statement, so it is
the mark of the state that query saw, whatever the writer folded meanwhile.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from hub.gateway.paths import METASERVICES
from hub.models import Transaction
from hub.stats.histogram import bin_of
from hub.stats.records import unindexed
from hub.stats.retention import whole_minutes_from
from hub.stats.rollup import (
    COUNT_KEY,
    COUNT_SUMS,
    COUNT_TABLES,
    LATENCY_TABLES,
    MARK,
    Rollup,
    records_after,
)
from hub.stats.timeutil import utcnow

Conn = AsyncConnection | AsyncSession
Ranges = dict[str, list[tuple[datetime, datetime]]]
_tx = Transaction.__table__
FILTERS = ("client", "service", "provider")
SUMS = ("count", "succeeded", "request_bytes", "response_bytes", "total_ms", "hub_ms")


# Spans one query takes at most. SQLite nests ``a OR b OR ...`` one level per term and
# refuses past 1,000 levels ("Expression tree is too large"): monthly buckets since 1905
# are some 2,900 spans of days and hours.
MAX_SPANS = 200
# Spans further apart than this go to queries of their own (``_chunks``).
MAX_GAP = timedelta(days=1)
# The faults that are a provider's doing: its answer broken or missing, or too late.
PROVIDER_FAULTS = ("Server.ServiceFailed", "Server.ServiceTimeout")


async def _holding(
    conn: Conn, column: Any, spans: list[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    """The spans that can hold rows: none ending before the first, none starting after now.

    A yearly series from 1900 to 2999 was some 2,200 spans of hours at its edges, each query
    of 200 of them a scan of the whole hour table (2 s on 400 days of data); the data's own
    years are a few spans. Records are stamped when they start, before their commit, so
    none starts in the future (an hour's margin for clocks).
    """
    if not spans or column is None:
        return spans
    # Two queries in one statement: SQLite reads min() or max() alone from the end of an
    # index, both in one select made it scan the whole index (0.3 s on a log of 2.5 million
    # records, and again on the latency rollups, for every statistic).
    bounds = select(
        select(func.min(column)).scalar_subquery(), select(func.max(column)).scalar_subquery()
    )
    first, last = (await conn.execute(bounds)).one()
    if first is None:  # nothing folded yet: the records after the mark may be anywhere
        return spans
    first, last = (datetime.fromisoformat(v) if isinstance(v, str) else v for v in (first, last))
    # Rows not folded yet (the tail) are the newest, so they start before now.
    latest = max(last, utcnow()) + timedelta(hours=1)
    return [(a, b) for a, b in spans if a <= latest and b > first]


def _chunks(
    spans: list[tuple[datetime, datetime]],
) -> Iterator[list[tuple[datetime, datetime]]]:
    """``spans`` in queries of at most MAX_SPANS, none reaching over a gap wider than
    MAX_GAP: a query's spans are read within their outer bounds (``_where``), and a year's
    summary has its edge hours at either end of the year, so its hourly query read every
    hour row of the year between them (0.7 s with a client filter, on 2.5 million records)."""
    chunk: list[tuple[datetime, datetime]] = []
    for span in sorted(spans):
        if chunk and (len(chunk) == MAX_SPANS or span[0] - chunk[-1][1] > MAX_GAP):
            yield chunk
            chunk = []
        chunk.append(span)
    if chunk:
        yield chunk


def _where(
    column: Any,
    table: Any,
    ranges: list[tuple[datetime, datetime]],
    filters: dict[str, Any],
    *,
    log: bool = False,
) -> Any:
    """Rows of ``table`` in ``ranges`` of ``column`` matching ``filters``; ``log``: the
    table is the log, and the ranges the minutes at a range's edges."""
    conds = [or_(*(and_(column >= a, column < b) for a, b in ranges))]
    # One span is a range already: the same bounds twice took the 30-day summary of
    # bench/stats_bench.py from 16 to 20 ms (300,000 records).
    if not log and len(ranges) > 1:
        # For an OR of spans SQLite scanned the whole rollup table: 150 ms a query on 120
        # days of synthetic hours, 1 ms within these bounds. On the log it takes each span
        # through the index on its own, which bounds would turn into one long range scan.
        conds += [column >= min(a for a, _ in ranges), column < max(b for _, b in ranges)]
    for k, v in filters.items():
        if v is not None:
            # On the log the spans are read through the index on started_at. An equality
            # on the client drew SQLite to the (client, seq) index instead, which read each
            # of the client's records of the year (0.7 s a query on a log of 2.5 million):
            # records.unindexed: the same values, which no index offers.
            conds.append((unindexed(table.c[k]) if log else table.c[k]) == v)
    return and_(*conds)


class _Tail:
    """The records after a rollup mark, summed like the rollups; read once per mark."""

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.before: int | None = None
        self._at: dict[int, Rollup] = {}

    async def start(self) -> None:
        """Read the mark before any rollup query (see ``mark_of``)."""
        found = (await self.conn.execute(MARK)).scalar()
        self.before = int(found or 0)

    def mark_of(self, rows: Sequence[Any]) -> int:
        # A query that found no rollup rows has no mark column to read: no record up to
        # its mark falls in its ranges, so the tail from any earlier mark adds exactly the
        # records after.
        assert self.before is not None
        return int(rows[0].mark) if rows else self.before

    async def at(self, mark: int) -> Rollup:
        found = self._at.get(mark)
        if found is None:
            found = self._at[mark] = Rollup(await records_after(self.conn, mark)).grains()
        return found


class _Sums:
    """A row of tail sums, read as count_sums' rows are (attributes and ``_mapping``)."""

    __slots__ = ("_mapping",)

    def __init__(self, mapping: dict[str, Any]) -> None:
        self._mapping = mapping

    def __getattr__(self, name: str) -> Any:
        try:
            return self._mapping[name]
        except KeyError:
            raise AttributeError(name) from None


def _in(bucket: Any, spans: list[tuple[datetime, datetime]]) -> bool:
    return any(a <= bucket < b for a, b in spans)


def _matches(key: tuple[Any, ...], filters: dict[str, Any]) -> bool:
    # key: (bucket, client, service, provider, ...), as in the rollup tables
    return all(v is None or key[1 + FILTERS.index(k)] == v for k, v in filters.items())


_SUM_AT = tuple(COUNT_SUMS.index(s) for s in SUMS)


def _tail_counts(
    sums: dict[Any, list[float]],
    spans: list[tuple[datetime, datetime]],
    group: tuple[str, ...],
    filters: dict[str, Any],
) -> list[_Sums]:
    at = tuple(COUNT_KEY.index(g) for g in group)
    acc: dict[tuple[Any, ...], list[float]] = {}
    for key, values in sums.items():
        if not (_in(key[0], spans) and _matches(key, filters)):
            continue
        gkey = tuple(key[i] for i in at)
        row = acc.setdefault(gkey, [0] * len(SUMS))
        for j, i in enumerate(_SUM_AT):
            row[j] += values[i]
    return [_Sums(dict(zip(group + SUMS, (*k, *v), strict=True))) for k, v in acc.items()]


async def count_sums(
    conn: Conn, ranges: Ranges, *, group: tuple[str, ...], filters: dict[str, Any]
) -> list[Any]:
    """Sums of the count rollups over ``ranges`` (per grain), grouped by ``group`` columns,
    the records after the rollups' mark included.

    The same group can come back more than once (per grain, per query, and from the
    tail); callers add them up. Rows give each sum by attribute and through ``_mapping``.
    The ``log`` grain (minutes whose rows may be pruned) is summed from the log itself.
    """
    out: list[Any] = []
    if ranges.get("minute"):
        ranges = await _whole_minutes(conn, ranges)
    tail = _Tail(conn)
    await tail.start()
    for grain, all_spans in ranges.items():
        column = _tx.c.started_at if grain == "log" else COUNT_TABLES[grain].c.bucket
        for spans in _chunks(await _holding(conn, column, all_spans)):
            if grain == "log":
                out.extend(await _log_sums(conn, spans, group=group, filters=filters))
                continue
            t = COUNT_TABLES[grain]
            cols = [t.c[g] for g in group]
            query = (
                select(
                    *cols,
                    *(func.sum(t.c[s]).label(s) for s in SUMS),
                    MARK.scalar_subquery().label("mark"),
                )
                .where(_where(t.c.bucket, t, spans, filters))
                .group_by(*cols)
            )
            rows = (await conn.execute(query)).all()
            out.extend(rows)
            recent = await tail.at(tail.mark_of(rows))
            out.extend(_tail_counts(recent.counts[grain], spans, group, filters))
    return out


async def _whole_minutes(conn: Conn, ranges: Ranges) -> Ranges:
    """``ranges`` with the minute spans whose rows may be gone moved to ``log``: those before
    the minutes pruned or the oldest minute row's hour, whatever retention the caller's
    horizon assumed."""
    kept = await whole_minutes_from(conn)
    minutes: list[tuple[datetime, datetime]] = []
    gone: list[tuple[datetime, datetime]] = []
    for a, b in ranges["minute"]:
        cut = b if kept is None else min(max(a, kept), b)
        if a < cut:
            gone.append((a, cut))
        if cut < b:
            minutes.append((cut, b))
    if not gone:
        return ranges
    return {**ranges, "minute": minutes, "log": sorted([*ranges.get("log", []), *gone])}


_LOG_SUMS = {
    "count": func.count(),
    "succeeded": func.sum(case((_tx.c.succeeded, 1), else_=0)),
    "request_bytes": func.sum(_tx.c.request_bytes),
    "response_bytes": func.sum(_tx.c.response_bytes),
    "total_ms": func.sum(_tx.c.total_ms),
    "hub_ms": func.sum(_tx.c.hub_ms),
}


async def _log_sums(
    conn: Conn,
    spans: list[tuple[datetime, datetime]],
    *,
    group: tuple[str, ...],
    filters: dict[str, Any],
) -> list[_Sums]:
    """``count_sums`` over ``spans`` from the log itself, per minute like ``stats_minute``.

    For the minutes before the retention horizon, whose rows may be pruned: a few minutes
    at a range's edges, read through the index on ``started_at``.
    """
    bind = conn.get_bind() if isinstance(conn, AsyncSession) else conn
    # SQLite keeps the time as text ("2024-06-01 17:05:42.000000"): its first 16
    # characters are the minute.
    minute = (
        func.substr(_tx.c.started_at, 1, 16)
        if bind.dialect.name == "sqlite"
        else func.date_trunc("minute", _tx.c.started_at)
    )
    exprs = {
        "bucket": minute,
        "fault_code": func.coalesce(_tx.c.fault_code, ""),  # as the rollups keep "no fault"
    }
    cols = [(exprs[g] if g in exprs else _tx.c[g]).label(g) for g in group]
    query = (
        select(*cols, *(expr.label(name) for name, expr in _LOG_SUMS.items()))
        .where(_where(_tx.c.started_at, _tx, spans, filters, log=True))
        .group_by(*cols)
    )
    out = []
    for row in (await conn.execute(query)).all():
        values = dict(row._mapping)
        if isinstance(values.get("bucket"), str):
            values["bucket"] = datetime.fromisoformat(values["bucket"])
        out.append(_Sums(values))
    return out


async def latency_bins(
    conn: Conn, ranges: Ranges, *, filters: dict[str, Any]
) -> tuple[dict[int, int], dict[int, int]]:
    """Histograms (bin -> count) of total and hub-added latency over hour-aligned ``ranges``."""
    total: dict[int, int] = {}
    hub: dict[int, int] = {}
    tail = _Tail(conn)
    await tail.start()
    for grain, all_spans in ranges.items():
        if all_spans and grain not in LATENCY_TABLES:
            raise ValueError("latency histograms have no minute grain; use hour_cover")
        column = LATENCY_TABLES[grain].c.bucket if all_spans else None
        for spans in _chunks(await _holding(conn, column, all_spans)):
            t = LATENCY_TABLES[grain]
            query = (
                select(
                    t.c.bin,
                    func.sum(t.c.n_total),
                    func.sum(t.c.n_hub),
                    MARK.scalar_subquery().label("mark"),
                )
                .where(_where(t.c.bucket, t, spans, filters))
                .group_by(t.c.bin)
            )
            rows = (await conn.execute(query)).all()
            for index, n_total, n_hub, _mark in rows:
                total[index] = total.get(index, 0) + int(n_total)
                hub[index] = hub.get(index, 0) + int(n_hub)
            recent = await tail.at(tail.mark_of(rows))
            for key, (n_total, n_hub) in recent.latency[grain].items():
                if _in(key[0], spans) and _matches(key, filters):
                    total[key[4]] = total.get(key[4], 0) + n_total
                    hub[key[4]] = hub.get(key[4], 0) + n_hub
    return total, hub


async def log_latency_bins(
    conn: Conn,
    spans: list[tuple[datetime, datetime]],
    *,
    filters: dict[str, Any],
    total: dict[int, int],
    hub: dict[int, int],
) -> None:
    """Add the records started in ``spans`` to the histograms ``total`` and ``hub``, binned
    as the rollups bin them: the parts of an hour at a range's edges, which the hourly
    histograms cannot split (they made a 2-minute range's p50 one of its whole hour)."""
    if not spans:
        return
    query = select(_tx.c.total_ms, _tx.c.hub_ms).where(
        _where(_tx.c.started_at, _tx, spans, filters, log=True)
    )
    for total_ms, hub_ms in (await conn.execute(query)).all():
        b = bin_of(total_ms)
        total[b] = total.get(b, 0) + 1
        b = bin_of(hub_ms)
        hub[b] = hub.get(b, 0) + 1


def reached(service: str, provider: str, fault: str) -> bool:
    """Whether exchanges of a rollup key reached the provider: it answered (no fault), or
    the call failed or timed out. What the hub refused itself never did, and neither did a
    metaservice: the hub answers those (getOpenAPI from its cache for a minute). A hub's own
    failure (Server.InternalError) may come before or after the call: it counts as the hub's."""
    if fault and fault not in PROVIDER_FAULTS:
        return False
    return not any(service == f"{provider}/{m}" for m in METASERVICES)


async def provider_errors(conn: Conn, since: datetime) -> dict[str, tuple[int, int]]:
    """provider -> (exchanges that reached it, its errors) since ``since``, from the minute
    rollups (``reached`` decides on a rollup row's key alike for the rollups and the tail).

    An error is a 5xx the provider answered, or a call it failed or let time out. The hub's
    own refusals are not the provider's, nor its exchanges: a service an operator disabled
    (503) made a healthy provider's error rate rise, and refused callers (403, 429) diluted
    the rate of a provider that failed every call it was sent.
    """
    t = COUNT_TABLES["minute"]
    meta = or_(*(t.c.service == t.c.provider + f"/{m}" for m in sorted(METASERVICES)))
    asked = and_(or_(t.c.fault_code == "", t.c.fault_code.in_(PROVIDER_FAULTS)), ~meta)
    errors = func.sum(case((t.c.status_code >= 500, t.c.count), else_=0))
    query = (
        select(t.c.provider, func.sum(t.c.count), errors, MARK.scalar_subquery().label("mark"))
        .where(t.c.bucket >= since, asked)
        .group_by(t.c.provider)
    )
    tail = _Tail(conn)
    await tail.start()
    rows = (await conn.execute(query)).all()
    out = {p: (int(n), int(e or 0)) for p, n, e, _mark in rows}
    recent = await tail.at(tail.mark_of(rows))
    for key, values in recent.counts["minute"].items():
        if key[0] >= since and reached(key[2], key[3], key[5]):
            n, e = out.get(key[3], (0, 0))
            fails = int(values[0]) if key[4] >= 500 else 0
            out[key[3]] = (n + int(values[0]), e + fails)
    return out
