"""transaction log indexes for the listing's sparse filters: a fault and a status other
than 200

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 21:00:00.000000

``GET /api/transactions`` and ``hub tx list`` read newest first by ``seq``. A filter
without an index of its own walked the log back from its newest record until a page had
matched: a status or fault with few or no exchanges read the whole log. Each index here is
``(column, seq)``, read backwards like ``(client, seq)`` (migration 0004), and holds failed
exchanges only: the fault where set, the status where it is not the common 200 (the listing
adds that condition to its query so that the database may use the index).

Measured on a SQLite log of 2,500,000 ``hub tx synth`` records over 365 days, a page of
20 (``browse.page`` in the process, the log in the page cache): status 500 (none) 1,076 ->
0.05 ms, a fault never logged about 0.7 s -> 2 ms; on PostgreSQL (1,000,000 records) the
same 0.6-1.1 s -> 2 ms.

Not indexed: provider, officer (``user_id``) and case (``issue``), which are set on every
exchange that has them. With the three, the gateway's throughput fell by 5.5 % and its CPU
per exchange rose by 3 % (``python -m bench.ab --rounds 6 --seconds 5``, the hub without
and with them, in one run: 7,964 and 7,529 req/s, 1.40 and 1.44 times the provider's CPU);
the two kept cost a successful exchange nothing, as no index entry is written for it. A
listing by those three is bounded by a time window (``--since``/``--until``) instead.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# (name, column, condition): a condition the listing's query implies for that column.
INDEXES = (
    ("ix_transactions_fault_seq", "fault_code", "fault_code IS NOT NULL"),
    ("ix_transactions_status_seq", "status_code", "status_code <> 200"),
)


def upgrade() -> None:
    for name, column, where in INDEXES:
        cond = sa.text(where)
        op.create_index(
            name, "transactions", [column, "seq"], sqlite_where=cond, postgresql_where=cond
        )


def downgrade() -> None:
    for name, _, _ in reversed(INDEXES):
        op.drop_index(name, table_name="transactions")
