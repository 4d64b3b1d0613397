"""The raw log for browsing: one page of records, or one record, at a time
(``GET /api/transactions``, ``hub tx``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select, true
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
