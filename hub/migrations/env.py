"""Alembic environment: runs the migrations on the hub's async engine (SQLite or PostgreSQL)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.core.db import create_engine
from hub.core.migrate import refuse_foreign
from hub.models import Base

config = context.config
target_metadata = Base.metadata
# Any constant bigint, the same in every hub: the key of the PostgreSQL advisory lock that
# makes migrations of one database take turns.
MIGRATION_LOCK = 0x6875622D6D6967  # "hub-mig"


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        # SQLite takes DDL in a transaction too; Alembic otherwise commits after each
        # migration there, and a second process read the revision of a half-migrated file.
        transactional_ddl=True,
    )
    if connection.dialect.name == "postgresql":
        # Two nodes (or `hub db upgrade` and a starting `hub serve`) migrating one database at
        # once both created the same tables, and all but one failed on a duplicate key in
        # PostgreSQL's catalog. The lock lasts until this transaction, the migrations', ends;
        # the next one then reads the revision they left and has nothing to do.
        connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})")
    elif connection.dialect.name == "sqlite":
        # The driver opens no transaction for DDL, so another process saw this one's first
        # tables without a revision and refused the database as another application's. One
        # write transaction for it all: the next waits (busy_timeout), then finds it done.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    refuse_foreign(connection, context.script)
    with context.begin_transaction():
        context.run_migrations()


async def _main() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        await _migrate(engine)
    finally:
        # Also when a migration refuses: its connection is closed, not left to the collector.
        await engine.dispose()


async def _migrate(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        sqlite = conn.dialect.name == "sqlite"
        if sqlite:
            # SQLite alters a table by copying it and dropping the old one (alembic's batch
            # mode), and with the hub's foreign keys on (hub/core/db.py) that DROP cascaded:
            # 0007 on `members` deleted every subsystem, service, grant and API key. The
            # pragma only counts outside a transaction, so it comes first.
            await conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            await conn.commit()
        await conn.run_sync(_run)
        await conn.commit()
        if sqlite:
            broken = (await conn.exec_driver_sql("PRAGMA foreign_key_check")).fetchall()
            if broken:
                raise RuntimeError(f"rows refer to rows that are gone after migrating: {broken}")
            await conn.exec_driver_sql("PRAGMA foreign_keys=ON")


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_main())
