"""transaction log indexes: fewer B-trees per insert, list queries without a sort

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21 22:10:00.000000

Measured on a SQLite log of 2,000,000 records from ``hub tx synth`` (bench/profile_notes.md):

- ``ix_transactions_batch_id``: no query reads it (the audit finds batches by their
  ``log_batches`` seq range), yet every record paid for it. Dropped.
- ``(client, started_at)`` and ``(service, started_at)``: ``GET /api/transactions?client=``
  orders by ``seq`` newest first, so the database read every record of the client through
  this index and sorted them: 877 ms (client) and 2,354 ms (service) for a page of 100.
  Replaced by ``(client, seq)`` and ``(service, seq)``, read backwards: 1.2 ms and 0.9 ms.
  A client filter with a one-hour window mid-month went from 5 to 154 ms (it now walks the
  client's records back to the window); still a page in well under a second.

Inserting (log writer with rollups, 32 waiting): about 81 -> 70 us of CPU per record.
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_transactions_batch_id", table_name="transactions")
    op.drop_index("ix_transactions_client_started", table_name="transactions")
    op.drop_index("ix_transactions_service_started", table_name="transactions")
    op.create_index("ix_transactions_client_seq", "transactions", ["client", "seq"])
    op.create_index("ix_transactions_service_seq", "transactions", ["service", "seq"])


def downgrade() -> None:
    op.drop_index("ix_transactions_service_seq", table_name="transactions")
    op.drop_index("ix_transactions_client_seq", table_name="transactions")
    op.create_index("ix_transactions_batch_id", "transactions", ["batch_id"])
    op.create_index("ix_transactions_client_started", "transactions", ["client", "started_at"])
    op.create_index("ix_transactions_service_started", "transactions", ["service", "started_at"])
