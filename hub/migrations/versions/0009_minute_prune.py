"""stats: how far the minute rollups were pruned

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-08 10:00:00.000000

Minute rows older than HUB_MINUTE_ROLLUP_DAYS are pruned, and `hub audit verify` took the
minutes before the oldest row's hour as pruned: rows deleted from the oldest on, inside the
days kept, went unseen. The pruner now records here the hour it pruned up to, in the
transaction that deletes. A database an older hub may have pruned starts from its oldest
minute row's hour, all the audit went by before; one with no rollups yet from nothing
pruned (NULL). One with hour rows but no minute row left gets no row: nothing tells how far
its minutes were pruned, and the audit goes on as before until the next prune says so.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def _oldest_hour(bind: sa.Connection) -> tuple[bool, datetime | None]:
    """Whether the rollups count anything yet, and the hour of the oldest minute row."""
    counted = bind.execute(sa.text("SELECT 1 FROM stats_hour LIMIT 1")).first() is not None
    oldest = bind.execute(sa.text("SELECT min(bucket) FROM stats_minute")).scalar()
    if isinstance(oldest, str):  # SQLite keeps the text SQLAlchemy wrote
        oldest = datetime.fromisoformat(oldest)
    return counted, None if oldest is None else oldest.replace(minute=0, second=0, microsecond=0)


def upgrade() -> None:
    table = op.create_table(
        "minute_prune",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pruned_before", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_minute_prune")),
    )
    counted, oldest = _oldest_hour(op.get_bind())
    if oldest is not None or not counted:
        op.bulk_insert(table, [{"id": 1, "pruned_before": oldest}])


def downgrade() -> None:
    op.drop_table("minute_prune")
