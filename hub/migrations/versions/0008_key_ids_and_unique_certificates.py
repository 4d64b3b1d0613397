"""registry: a key id names one key for ever, and a client certificate one subsystem

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 22:30:00.000000

On SQLite an INTEGER PRIMARY KEY without AUTOINCREMENT takes the largest id + 1, so after
the newest key went with its member or subsystem the next key issued got its id, and a
``DELETE /admin/keys/ID`` kept in an operator's notes revoked another client's key.
``api_keys`` is rebuilt with AUTOINCREMENT, every row keeping its id. PostgreSQL's
sequence never gave an id twice; it is only moved past the largest id, in case rows were
copied in with their ids. No other table reuses ids: the log's ``seq`` and batch
ids come from the chain head and are never deleted, and the other tables hold one row or
have no integer id.

The admin API refused a certificate registered for another subsystem, but two changes at
once both passed that check. A unique index on the fingerprints given (NULL: none, as
many as there are) now refuses the second in the database. A registry where two
subsystems share one already is not upgraded: which of them the certificate proves is the
operator's choice, so the error names them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

CERT_INDEX = "uq_subsystems_cert_sha256"
GIVEN = sa.text("cert_sha256 IS NOT NULL")


def _refuse_shared_certificates() -> None:
    rows = op.get_bind().execute(
        sa.text(
            "SELECT cert_sha256, id FROM subsystems WHERE cert_sha256 IN ("
            " SELECT cert_sha256 FROM subsystems WHERE cert_sha256 IS NOT NULL"
            " GROUP BY cert_sha256 HAVING count(*) > 1) ORDER BY cert_sha256, id"
        )
    )
    shared: dict[str, list[str]] = {}
    for cert, sid in rows:
        shared.setdefault(cert, []).append(sid)
    if shared:
        said = "; ".join(
            f"certificate {c} is registered for {' and '.join(ids)}" for c, ids in shared.items()
        )
        raise RuntimeError(
            f"a client certificate proves one subsystem, but {said}: keep it on one and clear "
            "it on the others (UPDATE subsystems SET cert_sha256 = NULL WHERE id = '...'), "
            "then upgrade again"
        )


def _sequence_past_the_keys(bind: sa.Connection) -> None:
    """Rows copied in with their ids (a restore, a move from SQLite) leave the sequence
    behind them, and the next key would take an id in use: move it past them, never back."""
    seq = "pg_get_serial_sequence('api_keys', 'id')"
    top, last = bind.execute(
        sa.text(f"SELECT (SELECT MAX(id) FROM api_keys), pg_sequence_last_value({seq}::regclass)")
    ).one()
    if top is not None and top > (last or 0):
        bind.execute(sa.text(f"SELECT setval({seq}, :top)"), {"top": top})


def _rebuild_keys(autoincrement: bool) -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        if autoincrement:
            _sequence_past_the_keys(bind)
        return
    if bind.dialect.name != "sqlite":
        return
    # Batch mode copies the rows, ids included, into a table made anew with the option.
    with op.batch_alter_table(
        "api_keys", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
    ):
        pass


def upgrade() -> None:
    _refuse_shared_certificates()
    _rebuild_keys(autoincrement=True)
    op.create_index(
        CERT_INDEX,
        "subsystems",
        ["cert_sha256"],
        unique=True,
        sqlite_where=GIVEN,
        postgresql_where=GIVEN,
    )


def downgrade() -> None:
    op.drop_index(CERT_INDEX, table_name="subsystems")
    _rebuild_keys(autoincrement=False)
