"""/readyz recovers by itself once the log's database takes writes again, with no exchange
needed to prove it (a hub kept out of traffic by its readiness would never get one)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from hub.core.readiness import LOG_PROBE_EVERY_S
from tests.support import hub_client, make_settings


async def test_readiness_returns_when_the_database_takes_writes(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (app, c):
        assert (await c.get("/readyz")).status_code == 200
        app.state.writer.healthy = False  # as after a batch that failed on a lock or a full disk
        path = make_url(sqlite_url).database
        assert path is not None
        holder = sqlite3.connect(path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")  # the fault goes on: still not ready
        try:
            ready = await c.get("/readyz")
            assert ready.status_code == 503 and ready.json()["checks"]["log_writer"] is False
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        ready = await c.get("/readyz")  # the fault has gone, and no exchange came meanwhile
        assert ready.status_code == 200 and ready.json()["checks"]["log_writer"] is True
        # The probe changed nothing: the chain is as it was.
        assert app.state.writer.committed == 0


@contextlib.contextmanager
def unwritable(*paths: str) -> Iterator[None]:
    """The files refuse every write, through descriptors already open too (a read-only
    remount, a failing disk); needs chattr and the right to use it, else the test skips.
    Not the -shm file: SQLite maps it, and a refused write there is a SIGBUS."""
    done: list[str] = []
    try:
        for path in paths:
            if shutil.which("chattr") is None:
                pytest.skip("needs chattr")
            if subprocess.run(["chattr", "+i", path], capture_output=True).returncode != 0:
                pytest.skip("chattr +i is not permitted here")
            done.append(path)
        yield
    finally:
        for path in done:
            subprocess.run(["chattr", "-i", path], check=True)


async def test_a_database_that_refuses_writes_keeps_the_hub_not_ready(
    sqlite_url: str, tmp_path: Path
) -> None:
    """A no-op update of the chain head commits nothing on SQLite (the page is unchanged), so
    it passed on a read-only file: the hub went ready again at once and sent every exchange
    to its provider, only to answer 503 Server.LoggingFailed after it."""
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (app, c):
        assert (await c.get("/readyz")).status_code == 200
        path = make_url(sqlite_url).database
        assert path is not None
        with unwritable(path, f"{path}-wal"):
            app.state.writer.healthy = False  # as after the batch that hit the fault
            ready = await c.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"] == {
                "database": True, "log_writer": False, "registry": True
            }  # fmt: skip
            await asyncio.sleep(LOG_PROBE_EVERY_S * 3)  # the background probe agrees
            assert app.state.writer.healthy is False
        ready = await c.get("/readyz")
        assert ready.status_code == 200 and ready.json()["ready"] is True, ready.json()
        assert app.state.writer.committed == 0


async def test_a_connection_opened_while_the_file_was_read_only_is_not_kept(
    sqlite_url: str,
) -> None:
    """SQLite opens the WAL read-only when it cannot write it, and the connection stays so:
    pooled, it refused every write after the file took writes again (the hub's readiness
    then flapped with each probe's connection, and admin changes failed at random)."""
    from sqlalchemy.exc import OperationalError

    from hub.core.db import create_engine

    path = make_url(sqlite_url).database
    assert path is not None
    engine = create_engine(sqlite_url)
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql("CREATE TABLE probe_t (n INTEGER)")
        # The WAL file stays while a connection is open (the last one to close removes it).
        holder = sqlite3.connect(path)
        holder.execute("SELECT count(*) FROM probe_t").fetchone()
        await engine.dispose()  # the next connection is opened while the files refuse writes
        with (
            contextlib.closing(holder),
            unwritable(path, f"{path}-wal"),
            pytest.raises(OperationalError, match="readonly"),
        ):
            async with engine.begin() as conn:
                await conn.exec_driver_sql("INSERT INTO probe_t VALUES (1)")
        for _ in range(3):  # every connection the pool hands out now takes writes
            async with engine.begin() as conn:
                await conn.exec_driver_sql("INSERT INTO probe_t VALUES (2)")
    finally:
        await engine.dispose()
