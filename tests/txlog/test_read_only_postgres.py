"""A PostgreSQL database that refused writes for a while takes the log's records again.

A session opened while PostgreSQL refuses writes (``default_transaction_read_only`` set on
the database during maintenance, or a standby reached in a failover) stays read-only for its
life. Pooled, such connections kept refusing the log writer's batches and the readiness
probe's write after the database took writes again: the hub answered 503
Server.LoggingFailed to every exchange, and /readyz 503, until it was restarted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from hub.core.db import create_engine
from hub.core.errors import LoggingFailed
from hub.core.readiness import write_probe
from hub.txlog.signing import Signer
from hub.txlog.sqlite import create_writer_engine
from hub.txlog.writer import LogWriter
from tests.support import POSTGRES_URL, database
from tests.txlog.test_writer import record

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="needs HUB_TEST_POSTGRES_URL"),
]


@pytest.fixture
async def pg_url(tmp_path: Path) -> AsyncIterator[str]:
    async with database("postgres", tmp_path) as url:
        yield url


async def read_only(url: str, on: bool) -> None:
    """The database refuses writes in sessions opened from now (``on``), or takes them."""
    parsed = make_url(url)
    name = parsed.database
    # From another database: a session in this one is read-only itself once it is set.
    admin = create_engine(parsed.set(database="postgres").render_as_string(hide_password=False))
    try:
        async with admin.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            change = "SET default_transaction_read_only = on" if on else "RESET ALL"
            await conn.execute(text(f'ALTER DATABASE "{name}" {change}'))
            if on:  # the sessions open now end, and those that follow are read-only
                await conn.execute(
                    text(
                        "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity "
                        "WHERE datname = :name AND pid <> pg_backend_pid()"
                    ),
                    {"name": name},
                )
    finally:
        await admin.dispose()


async def test_the_log_writer_writes_again_once_the_database_takes_writes(
    pg_url: str, tmp_path: Path
) -> None:
    signer = Signer.from_file(tmp_path / "k.pem", create=True)
    writer = LogWriter(create_writer_engine(pg_url), signer=signer)
    await writer.start()
    try:
        await writer.submit(record(0))
        await read_only(pg_url, True)
        with pytest.raises(LoggingFailed):
            await writer.submit(record(1))
        assert not writer.healthy
        await read_only(pg_url, False)
        await writer.submit(record(2))
        await writer.submit(record(3))
        assert writer.healthy and writer.committed == 3
    finally:
        await writer.stop()
        await writer.engine.dispose()


async def test_the_readiness_probe_finds_the_database_taking_writes_again(pg_url: str) -> None:
    engine = create_engine(pg_url)
    try:
        await write_probe(engine, sqlite=False, busy_ms=0)
        await read_only(pg_url, True)
        with pytest.raises(DBAPIError, match="read-only"):
            await write_probe(engine, sqlite=False, busy_ms=0)
        await read_only(pg_url, False)
        await write_probe(engine, sqlite=False, busy_ms=0)  # raises while the pool keeps it
    finally:
        await engine.dispose()
