"""registry: members and grants can be disabled, as subsystems and services could

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 18:30:00.000000

A disabled member's subsystems call nothing and its services answer nothing; a disabled
grant refuses its client as no grant would, and comes back as it was when enabled again.
Every existing row stays enabled.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("members", "grants"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(
                sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true())
            )


def downgrade() -> None:
    for table in ("grants", "members"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("enabled")
