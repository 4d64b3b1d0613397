"""subsystem quotas

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 21:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch_alter_table: SQLite cannot add columns with every option in place.
    with op.batch_alter_table("subsystems") as batch:
        batch.add_column(sa.Column("quota_rps", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("quota_per_day", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("cert_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subsystems") as batch:
        batch.drop_column("cert_sha256")
        batch.drop_column("quota_per_day")
        batch.drop_column("quota_rps")
