"""The same migrations build, and tear down, the schema on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

from sqlalchemy import inspect

from hub.core.db import create_engine
from hub.core.migrate import upgrade


async def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_upgrade(db_url: str) -> None:
    tables = await _tables(db_url)
    assert {
        "members",
        "subsystems",
        "services",
        "grants",
        "api_keys",
        "transactions",
        "chain_head",
        "log_batches",
    } <= tables
    from alembic import command

    from hub.core.migrate import alembic_config

    await asyncio.to_thread(command.downgrade, alembic_config(db_url), "base")
    assert (await _tables(db_url)) <= {"alembic_version"}
    await asyncio.to_thread(upgrade, db_url)
    assert tables == await _tables(db_url)
