"""/readyz recovers by itself once the log's database takes writes again, with no exchange
needed to prove it (a hub kept out of traffic by its readiness would never get one)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url

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
