"""The raw log for browsing: one page of records, or one record, at a time
(``GET /api/transactions``, ``hub tx``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, literal_column, select, true
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from hub.models import Transaction

Conn = AsyncConnection | AsyncSession
_tx = Transaction.__table__

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
    # Every field of a record the spec names, bodies and the chain's own hashes aside
    # (GET /api/transactions/{id} has those).
    "request_hash",
    "response_hash",
)


# The status is indexed only where it is not the common 200 (migration 0012): this term,
# written as the index's condition, lets the database use that index for any other status.
COMMON_STATUS = 200
# A literal, not a bound parameter: SQLite matches a partial index's condition only to the
# same constant.
_UNUSUAL_STATUS = _tx.c.status_code != literal_column(str(COMMON_STATUS))


# A time window of at most this many records is read through the index on started_at and
# sorted by seq; a wider one is walked newest first, within the seqs its records have.
WINDOW_SORTED = 10_000


def unindexed(column: Any) -> Any:
    """``column``'s values, which no index offers the database: ``coalesce(x, x)`` is x."""
    return func.coalesce(column, column)


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
    """Newest first, up to ``limit`` records older than ``before_seq`` matching the filters.

    A window (``since``, ``until``) is read one of two ways, by its size. Left to itself
    SQLite walked a client's records from the newest back to a window of last January, and
    past it to the first record when the page did not fill (3 s on a log of 2.5 million),
    or sorted all the records of ten months to give twenty (5 s).
    """
    window = [
        *([_tx.c.started_at >= since] if since is not None else []),
        *([_tx.c.started_at < until] if until is not None else []),
    ]
    few = bool(window) and await _at_most(conn, window, WINDOW_SORTED)
    # A few records: read them all by time, no other index. Else: their seqs bound the
    # walk through seq or a filter's index, and time is only checked.
    indexed = unindexed if few else (lambda c: c)
    conds = [indexed(_tx.c[k]) == v for k, v in equal.items() if v is not None]
    status = equal.get("status_code")
    if status is not None and status != COMMON_STATUS and not few:
        conds.append(_UNUSUAL_STATUS)
    if before_seq is not None:
        conds.append(indexed(_tx.c.seq) < before_seq)
    if no_fault:
        conds.append(_tx.c.fault_code.is_(None))
    if not window or few:
        return await _page(conn, [*window, *conds], limit)
    checked = [
        *([unindexed(_tx.c.started_at) >= since] if since is not None else []),
        *([unindexed(_tx.c.started_at) < until] if until is not None else []),
    ]
    # A page is most often in the seqs just before the last page's, or the newest (an
    # export of `hub tx list --all` reads a thousand pages, and `--since 30d` starts at the
    # newest; each paid the window's first and last seqs below). A page filled there is the
    # page: every record it passed over is newer than those it did not reach.
    start = before_seq
    if start is None:
        start = int((await conn.execute(select(func.max(_tx.c.seq)))).scalar() or 0) + 1
    near = [_tx.c.seq >= start - NEAR_SEQS, _tx.c.seq < start, *checked, *conds]
    rows = await _page(conn, near, limit)
    if len(rows) == limit:
        return rows
    first, last = (await conn.execute(_seqs(window))).one()
    if first is None:
        return []
    return await _page(conn, [_tx.c.seq >= first, _tx.c.seq <= last, *checked, *conds], limit)


# How far back from the previous page's last record the next page is looked for first.
NEAR_SEQS = 20_000


async def _page(conn: Conn, conds: list[Any], limit: int) -> list[dict[str, Any]]:
    query = (
        select(*(_tx.c[c] for c in LIST_COLUMNS))
        .where(and_(true(), *conds))
        .order_by(_tx.c.seq.desc())
        .limit(limit)
    )
    return [dict(r._mapping) for r in (await conn.execute(query)).all()]


async def _at_most(conn: Conn, window: list[Any], n: int) -> bool:
    """Whether the window holds at most ``n`` records: at most n + 1 entries of the index
    on started_at read."""
    some = select(_tx.c.seq).where(*window).limit(n + 1).subquery()
    return int((await conn.execute(select(func.count()).select_from(some))).scalar_one()) <= n


def _seqs(window: list[Any]) -> Any:
    """The first and last seq of the window's records, read through the index on started_at.

    ``seq + 0``: PostgreSQL reads min(seq) and max(seq) from either end of the primary key
    until a record falls in the window (0.5 s for a January on a log of a million)."""
    seq = _tx.c.seq + 0
    return select(func.min(seq), func.max(seq)).where(*window)


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
