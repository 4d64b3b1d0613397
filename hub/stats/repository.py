"""All SQL of the statistics feature: rollup sums over time ranges, and the raw log for
browsing single transactions (never for statistics)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, case, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from hub.models import Transaction
from hub.stats.rollup import COUNT_TABLES, LATENCY_TABLES

Conn = AsyncConnection | AsyncSession
Ranges = dict[str, list[tuple[datetime, datetime]]]
_tx = Transaction.__table__
FILTERS = ("client", "service", "provider")
SUMS = ("count", "succeeded", "request_bytes", "response_bytes", "total_ms", "hub_ms")


def _where(table: Any, ranges: list[tuple[datetime, datetime]], filters: dict[str, Any]) -> Any:
    spans = or_(*(and_(table.c.bucket >= a, table.c.bucket < b) for a, b in ranges))
    conds = [spans] + [table.c[k] == v for k, v in filters.items() if v is not None]
    return and_(*conds)


async def count_sums(
    conn: Conn, ranges: Ranges, *, group: tuple[str, ...], filters: dict[str, Any]
) -> list[Row[Any]]:
    """Sums of the count rollups over ``ranges`` (per grain), grouped by ``group`` columns.

    The same group can come back once per grain; callers add them up.
    """
    out: list[Row[Any]] = []
    for grain, spans in ranges.items():
        if not spans:
            continue
        t = COUNT_TABLES[grain]
        cols = [t.c[g] for g in group]
        query = (
            select(*cols, *(func.sum(t.c[s]).label(s) for s in SUMS))
            .where(_where(t, spans, filters))
            .group_by(*cols)
        )
        out.extend((await conn.execute(query)).all())
    return out


async def latency_bins(
    conn: Conn, ranges: Ranges, *, filters: dict[str, Any]
) -> tuple[dict[int, int], dict[int, int]]:
    """Histograms (bin -> count) of total and hub-added latency over hour-aligned ``ranges``."""
    total: dict[int, int] = {}
    hub: dict[int, int] = {}
    for grain, spans in ranges.items():
        if not spans:
            continue
        if grain not in LATENCY_TABLES:
            raise ValueError("latency histograms have no minute grain; use hour_cover")
        t = LATENCY_TABLES[grain]
        query = (
            select(t.c.bin, func.sum(t.c.n_total), func.sum(t.c.n_hub))
            .where(_where(t, spans, filters))
            .group_by(t.c.bin)
        )
        for index, n_total, n_hub in (await conn.execute(query)).all():
            total[index] = total.get(index, 0) + int(n_total)
            hub[index] = hub.get(index, 0) + int(n_hub)
    return total, hub


async def provider_errors(conn: Conn, since: datetime) -> dict[str, tuple[int, int]]:
    """provider -> (exchanges, 5xx answers) since ``since``, from the minute rollups."""
    t = COUNT_TABLES["minute"]
    errors = func.sum(case((t.c.status_code >= 500, t.c.count), else_=0))
    query = (
        select(t.c.provider, func.sum(t.c.count), errors)
        .where(t.c.bucket >= since)
        .group_by(t.c.provider)
    )
    return {p: (int(n), int(e or 0)) for p, n, e in (await conn.execute(query)).all()}


# --- the raw log, one page or one record at a time ---------------------------------------

LIST_COLUMNS = (
    "seq",
    "id",
    "request_id",
    "started_at",
    "client",
    "service",
    "provider",
    "method",
    "path",
    "user_id",
    "issue",
    "status_code",
    "succeeded",
    "fault_code",
    "request_bytes",
    "response_bytes",
    "total_ms",
    "upstream_ms",
    "hub_ms",
)


async def transactions(
    conn: Conn,
    *,
    before_seq: int | None,
    limit: int,
    since: datetime | None,
    until: datetime | None,
    equal: dict[str, Any],
    no_fault: bool,
) -> list[dict[str, Any]]:
    """Newest first, up to ``limit`` records older than ``before_seq`` matching the filters."""
    conds = [_tx.c[k] == v for k, v in equal.items() if v is not None]
    if before_seq is not None:
        conds.append(_tx.c.seq < before_seq)
    if since is not None:
        conds.append(_tx.c.started_at >= since)
    if until is not None:
        conds.append(_tx.c.started_at < until)
    if no_fault:
        conds.append(_tx.c.fault_code.is_(None))
    query = (
        select(*(_tx.c[c] for c in LIST_COLUMNS))
        .where(and_(true(), *conds))
        .order_by(_tx.c.seq.desc())
        .limit(limit)
    )
    return [dict(r._mapping) for r in (await conn.execute(query)).all()]


# The X-Road-Id is indexed only where it differs from the request id (migration 0005);
# this term, written as the index's condition, lets the database use that index.
_CHOSEN_ID = _tx.c.id != _tx.c.request_id


async def transaction(conn: Conn, ident: str) -> dict[str, Any] | None:
    """The record with this request id, else the newest with this X-Road-Id."""
    # Past the first query no record has request_id == ident, so every record with
    # id == ident has an id of its client's choosing.
    for cond in (_tx.c.request_id == ident, and_(_tx.c.id == ident, _CHOSEN_ID)):
        query = select(_tx).where(cond).order_by(_tx.c.seq.desc()).limit(1)
        row = (await conn.execute(query)).first()
        if row is not None:
            return dict(row._mapping)
    return None


async def count_same_id(conn: Conn, xroad_id: str) -> int:
    """Records with this X-Road-Id: those of a client's choosing, and the one it names."""
    chosen = select(func.count()).select_from(_tx).where(_tx.c.id == xroad_id, _CHOSEN_ID)
    own = (
        select(func.count())
        .select_from(_tx)
        .where(_tx.c.request_id == xroad_id, _tx.c.id == xroad_id)
    )
    return int((await conn.execute(chosen)).scalar_one()) + int(
        (await conn.execute(own)).scalar_one()
    )
