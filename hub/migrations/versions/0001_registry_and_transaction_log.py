"""registry and transaction log

Revision ID: 0001
Revises:
Create Date: 2026-11-21 21:08:39.409133
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chain_head",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("record_hash", sa.String(length=64), nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chain_head")),
    )
    op.create_table(
        "log_batches",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("first_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(length=64), nullable=False),
        sa.Column("committed_at", sa.DateTime(), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=True),
        sa.Column("signature", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_log_batches")),
    )
    op.create_table(
        "members",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("instance", sa.String(length=64), nullable=False),
        sa.Column("member_class", sa.String(length=64), nullable=False),
        sa.Column("member_code", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_members")),
    )
    op.create_table(
        "registry_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_registry_version")),
    )
    op.create_table(
        "transactions",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("client", sa.String(length=300), nullable=False),
        sa.Column("service", sa.String(length=400), nullable=False),
        sa.Column("provider", sa.String(length=300), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("user_id", sa.String(length=300), nullable=True),
        sa.Column("issue", sa.String(length=300), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
        sa.Column("fault_code", sa.String(length=64), nullable=True),
        sa.Column("request_bytes", sa.BigInteger(), nullable=False),
        sa.Column("response_bytes", sa.BigInteger(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("total_ms", sa.Float(), nullable=False),
        sa.Column("upstream_ms", sa.Float(), nullable=True),
        sa.Column("hub_ms", sa.Float(), nullable=False),
        sa.Column("request_hash", sa.String(length=100), nullable=True),
        sa.Column("response_hash", sa.String(length=100), nullable=True),
        sa.Column("request_body", sa.Text(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("record_hash", sa.String(length=64), nullable=False),
        sa.Column("batch_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_transactions")),
        sa.UniqueConstraint("request_id", name=op.f("uq_transactions_request_id")),
    )
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_transactions_batch_id"), ["batch_id"], unique=False)
        batch_op.create_index(
            "ix_transactions_client_started", ["client", "started_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_transactions_id"), ["id"], unique=False)
        batch_op.create_index(
            "ix_transactions_service_started", ["service", "started_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_transactions_started_at"), ["started_at"], unique=False
        )

    op.create_table(
        "subsystems",
        sa.Column("id", sa.String(length=300), nullable=False),
        sa.Column("member_id", sa.String(length=200), nullable=False),
        sa.Column("code", sa.String(length=128), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("base_url", sa.String(length=1000), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"],
            ["members.id"],
            name=op.f("fk_subsystems_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subsystems")),
    )
    with op.batch_alter_table("subsystems", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subsystems_member_id"), ["member_id"], unique=False)

    op.create_table(
        "api_keys",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("subsystem_id", sa.String(length=300), nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("key_hash", sa.String(length=128), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["subsystem_id"],
            ["subsystems.id"],
            name=op.f("fk_api_keys_subsystem_id_subsystems"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_api_keys_subsystem_id"), ["subsystem_id"], unique=False
        )

    op.create_table(
        "services",
        sa.Column("id", sa.String(length=400), nullable=False),
        sa.Column("subsystem_id", sa.String(length=300), nullable=False),
        sa.Column("code", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("base_url", sa.String(length=1000), nullable=True),
        sa.Column("service_type", sa.String(length=16), nullable=False),
        sa.Column("endpoints", sa.JSON(), nullable=False),
        sa.Column("personal_data", sa.Boolean(), nullable=False),
        sa.Column("timeout_ms", sa.Integer(), nullable=False),
        sa.Column("max_body_bytes", sa.Integer(), nullable=False),
        sa.Column("request_schema", sa.JSON(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("keep_bodies", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["subsystem_id"],
            ["subsystems.id"],
            name=op.f("fk_services_subsystem_id_subsystems"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_services")),
    )
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_services_subsystem_id"), ["subsystem_id"], unique=False
        )

    op.create_table(
        "grants",
        sa.Column("client_id", sa.String(length=300), nullable=False),
        sa.Column("service_id", sa.String(length=400), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["client_id"],
            ["subsystems.id"],
            name=op.f("fk_grants_client_id_subsystems"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["service_id"],
            ["services.id"],
            name=op.f("fk_grants_service_id_services"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("client_id", "service_id", name=op.f("pk_grants")),
    )

    op.bulk_insert(
        sa.table(
            "chain_head",
            sa.column("id", sa.Integer),
            sa.column("seq", sa.BigInteger),
            sa.column("record_hash", sa.String),
            sa.column("batch_id", sa.BigInteger),
        ),
        [{"id": 1, "seq": 0, "record_hash": "0" * 64, "batch_id": 0}],
    )
    op.bulk_insert(
        sa.table(
            "registry_version", sa.column("id", sa.Integer), sa.column("version", sa.BigInteger)
        ),
        [{"id": 1, "version": 0}],
    )


def downgrade() -> None:
    op.drop_table("grants")
    with op.batch_alter_table("services", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_services_subsystem_id"))

    op.drop_table("services")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_subsystem_id"))

    op.drop_table("api_keys")
    with op.batch_alter_table("subsystems", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subsystems_member_id"))

    op.drop_table("subsystems")
    with op.batch_alter_table("transactions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transactions_started_at"))
        batch_op.drop_index("ix_transactions_service_started")
        batch_op.drop_index(batch_op.f("ix_transactions_id"))
        batch_op.drop_index("ix_transactions_client_started")
        batch_op.drop_index(batch_op.f("ix_transactions_batch_id"))

    op.drop_table("transactions")
    op.drop_table("registry_version")
    op.drop_table("members")
    op.drop_table("log_batches")
    op.drop_table("chain_head")
