"""Counting records logged before the rollup tables existed (run by migration 0002)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Connection

from hub.models import Transaction
from hub.stats.rollup import FOLDED_COLUMNS, statements

_tx = Transaction.__table__
CHUNK = 50_000
COLUMNS = ("seq", *FOLDED_COLUMNS)  # seq to page by, and what a Rollup reads


def backfill_sync(conn: Connection) -> int:
    """Add every logged record to the rollups (which must be empty); returns how many."""
    last, done = 0, 0
    cols = [_tx.c[name] for name in COLUMNS]
    while True:
        rows = conn.execute(
            select(*cols).where(_tx.c.seq > last).order_by(_tx.c.seq).limit(CHUNK)
        ).all()
        if not rows:
            return done
        for stmt, params in statements(conn.dialect.name, [r._asdict() for r in rows]):
            conn.execute(stmt, params)
        last = rows[-1].seq
        done += len(rows)
