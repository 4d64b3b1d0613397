"""Apply the Alembic migrations shipped inside the package."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


class ForeignDatabase(Exception):
    """The database is a newer hub's or another application's: nothing in it was changed."""


def unknown_revision(current: str, head: str, where: str = "the database") -> str:
    return (
        f"{where} is at revision {current}, which this hub does not know (its newest is "
        f"{head}): a newer hub or another application made it; run that one, or give another "
        "database"
    )


def refuse_foreign(connection: Connection, script: ScriptDirectory) -> None:
    """Raise ForeignDatabase unless migrating the database on ``connection`` is this hub's to do.

    Alembic said "Can't locate revision identified by '0099'" of a newer hub's database, and
    added the hub's tables beside another application's when there was no revision at all.
    """
    current = MigrationContext.configure(connection).get_current_revision()
    if current is None:
        others = sorted(set(inspect(connection).get_table_names()) - {"alembic_version"})
        if others:
            listed = ", ".join(others[:5]) + (", ..." if len(others) > 5 else "")
            raise ForeignDatabase(
                f"the database holds tables that are not this hub's ({listed}) and no hub "
                "revision: give an empty database, or one this hub made"
            )
        return
    if not has_revision(script, current):
        head = script.get_current_head()
        raise ForeignDatabase(unknown_revision(current, head or "none"))


def has_revision(script: ScriptDirectory, revision: str) -> bool:
    """Whether ``revision`` is one of the migrations in ``script``."""
    try:
        script.get_revision(revision)
    except CommandError:
        return False
    return True


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    # Alembic's options are ConfigParser's, where "%" starts an interpolation: a password
    # written percent-encoded (p%40ss for p@ss) failed every migration, quoted in full.
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the database at ``url`` to ``revision``; safe to run on every start."""
    command.upgrade(alembic_config(url), revision)


async def upgrade_async(url: str) -> None:
    # env.py runs its own event loop, so migrations go to a worker thread.
    await asyncio.to_thread(upgrade, url)


def revisions(url: str) -> tuple[str | None, str]:
    """The revision the database at ``url`` is at (None: no hub tables) and this hub's head."""
    from hub.core.db import create_engine

    async def current() -> str | None:
        engine = create_engine(url)
        try:
            async with engine.connect() as conn:
                return await conn.run_sync(
                    lambda sync: MigrationContext.configure(sync).get_current_revision()
                )
        finally:
            await engine.dispose()

    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    assert head is not None
    return asyncio.run(current()), head


def known(url: str, revision: str) -> bool:
    """Whether ``revision`` is one of this hub's migrations."""
    return has_revision(ScriptDirectory.from_config(alembic_config(url)), revision)
