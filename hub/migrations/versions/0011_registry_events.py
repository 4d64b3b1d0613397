"""registry_events: the audit trail of registry and key changes

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-10 10:00:00.000000

Who granted a client a service, revoked a key or disabled a member, and when, was kept
nowhere (a deleted grant left no trace). Each change now appends an event, hash-chained
by id, in the transaction of the change (hub/registry/events.py), and its hash signed with
the hub's signing key where the change was made with it. Changes made before this revision
have none.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "registry_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("target", sa.String(length=800), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=True),
        sa.Column("signature", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_events")),
    )
    op.create_index(op.f("ix_registry_events_at"), "registry_events", ["at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_registry_events_at"), table_name="registry_events")
    op.drop_table("registry_events")
