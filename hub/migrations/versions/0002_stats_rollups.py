"""stats rollups

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 21:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COUNTS = ("stats_minute", "stats_hour", "stats_day")
LATENCY = ("stats_latency_hour", "stats_latency_day")


def _key() -> list[sa.Column]:
    return [
        sa.Column("bucket", sa.DateTime(), nullable=False),
        sa.Column("client", sa.String(length=300), nullable=False),
        sa.Column("service", sa.String(length=400), nullable=False),
        sa.Column("provider", sa.String(length=300), nullable=False),
    ]


def upgrade() -> None:
    for name in COUNTS:
        op.create_table(
            name,
            *_key(),
            sa.Column("status_code", sa.Integer(), nullable=False),
            sa.Column("fault_code", sa.String(length=64), nullable=False),
            sa.Column("count", sa.BigInteger(), nullable=False),
            sa.Column("succeeded", sa.BigInteger(), nullable=False),
            sa.Column("request_bytes", sa.BigInteger(), nullable=False),
            sa.Column("response_bytes", sa.BigInteger(), nullable=False),
            sa.Column("total_ms", sa.Float(), nullable=False),
            sa.Column("hub_ms", sa.Float(), nullable=False),
            sa.Column("upstream_ms", sa.Float(), nullable=False),
            sa.PrimaryKeyConstraint(
                "bucket",
                "client",
                "service",
                "provider",
                "status_code",
                "fault_code",
                name=op.f(f"pk_{name}"),
            ),
            sqlite_with_rowid=False,
        )
    for name in LATENCY:
        op.create_table(
            name,
            *_key(),
            sa.Column("bin", sa.SmallInteger(), nullable=False),
            sa.Column("n_total", sa.BigInteger(), nullable=False),
            sa.Column("n_hub", sa.BigInteger(), nullable=False),
            sa.PrimaryKeyConstraint(
                "bucket", "client", "service", "provider", "bin", name=op.f(f"pk_{name}")
            ),
            sqlite_with_rowid=False,
        )
    _backfill()


def _backfill() -> None:
    """Count the records logged before this migration, so rollups start equal to the log."""
    from hub.stats.backfill import backfill_sync

    backfill_sync(op.get_bind())


def downgrade() -> None:
    for name in LATENCY + COUNTS:
        op.drop_table(name)
