"""api_keys.secret_id: which server secret a key was hashed under

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-09 10:00:00.000000

A key's hash is an HMAC under HUB_SECRET_KEY, so a hub started with another secret refuses
every key with a 401 and nothing says why. Each key now keeps a short HMAC of a constant
under the secret it was hashed with (``hub.core.security.secret_id``); the hub compares it
with its own at start and in key listings. Keys made before this revision have none (NULL):
nothing tells which secret they were made with.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("api_keys", sa.Column("secret_id", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("secret_id")
