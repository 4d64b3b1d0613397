"""stats: the rollup mark, so rollups are folded behind the log instead of in every commit

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 07:10:00.000000

Until now every log batch added itself to the five rollup tables in its own commit. The
log writer now folds its batches every fraction of a second and records here the last
sequence number the rollups have counted; readers count the records after it from the log
(hub/stats/rollup.py). A log upgraded to this revision was counted up to its chain head.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rollup_mark",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rollup_mark")),
    )
    op.execute(
        "INSERT INTO rollup_mark (id, seq) "
        "SELECT 1, COALESCE((SELECT seq FROM chain_head WHERE id = 1), 0)"
    )


def downgrade() -> None:
    op.drop_table("rollup_mark")
