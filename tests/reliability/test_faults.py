"""Faults survived: the provider down, slow, resetting or garbled, and the database away.

Each fault gets the hub's own error answer, is logged with its fault code, and the next
exchange goes through as if nothing happened.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from hub.txlog import sqlite as writer_sqlite
from hub.txlog import writer as log_writer
from tests.reliability.conftest import RHub, running_hub
from tests.reliability.fakes import LOOKUP, PROVIDER, PURPOSE
from tests.support import POSTGRES_URL, database


async def until(condition: Callable[[], bool], seconds: float = 30) -> None:
    """Wait for ``condition`` (a background task's doing), failing only after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"still not so after {seconds} s"
        await asyncio.sleep(0.01)


async def assert_survives(hub: RHub) -> None:
    resp = await hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE))
    assert resp.status_code == 200, resp.text


@pytest.mark.parametrize(
    ("service", "mode", "status", "code"),
    [
        ("down", "ok", 502, "Server.ServiceFailed"),
        ("slow", "slow", 504, "Server.ServiceTimeout"),
        ("reset", "ok", 502, "Server.ServiceFailed"),
        ("plain", "malformed", 502, "Server.ServiceFailed"),
    ],
)
async def test_a_provider_fault_is_answered_logged_and_survived(
    rhub: RHub, service: str, mode: str, status: int, code: str
) -> None:
    rhub.provider.mode = mode
    resp = await rhub.client.get(f"/r1/{PROVIDER}/{service}/anything", headers=rhub.headers())
    assert resp.status_code == status
    assert resp.headers["X-Road-Error"] == code
    body = resp.json()
    assert body["type"] == code and body["detail"] == resp.headers["X-Road-Request-Id"]
    assert "provider" in body["message"]
    (rec,) = await rhub.records()
    assert (rec.status_code, rec.fault_code, rec.succeeded) == (status, code, False)
    assert rec.request_id == resp.headers["X-Road-Request-Id"]
    rhub.provider.mode = "ok"
    await assert_survives(rhub)


async def test_a_slow_provider_does_not_hold_up_other_exchanges(rhub: RHub) -> None:
    # The first exchange is held at the provider until the second has been answered (a
    # gate, not a delay: a 0.25 s delay against the slow service's 0.3 s timeout failed as
    # a 504 on a loaded machine). "plain" keeps the default timeout.
    gate = asyncio.Event()
    rhub.provider.hold = gate
    slow = asyncio.create_task(rhub.client.get(f"/r1/{PROVIDER}/plain/x", headers=rhub.headers()))
    await asyncio.wait_for(rhub.provider.wait_in_flight(1), 10)
    rhub.provider.hold = None
    await assert_survives(rhub)  # answered while the first one still waits
    assert not slow.done()
    assert rhub.provider.in_flight == 1
    gate.set()
    assert (await asyncio.wait_for(slow, 10)).status_code == 200


async def test_a_locked_sqlite_database_refuses_exchanges_then_recovers_by_itself(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The writer waits up to LOCK_WAIT_S (30 s) for the write lock; a shorter wait keeps the
    # test short and changes nothing else about what happens.
    monkeypatch.setattr(writer_sqlite, "LOCK_WAIT_S", 0.3)
    monkeypatch.setattr(log_writer, "LOCK_WAIT_S", 0.3)  # its inline commit's own copy
    async with running_hub(sqlite_url, tmp_path, sqlite_busy_timeout_ms=200) as hub:
        await assert_survives(hub)
        # Another process takes the write lock and keeps it past the busy timeout.
        holder = sqlite3.connect(make_url(sqlite_url).database, isolation_level=None)
        try:
            holder.execute("BEGIN EXCLUSIVE")
            resp = await hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE))
            assert resp.status_code == 503
            assert resp.headers["X-Road-Error"] == "Server.LoggingFailed"
            assert "could not be recorded" in resp.json()["message"]
            ready = await hub.client.get("/readyz")
            assert ready.status_code == 503 and ready.json()["checks"]["log_writer"] is False
            # Until a write goes through again, exchanges are refused before the provider.
            again = await hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE))
            assert again.status_code == 503
            assert "refused before it reached the provider" in again.json()["message"]
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        assert (await hub.client.get("/readyz")).status_code == 200  # its probe clears it
        await assert_survives(hub)
        # The refused exchange was not served, so it has no record; the others do.
        recs = await hub.records()
        assert [r.status_code for r in recs] == [200, 200]
        assert resp.headers["X-Road-Request-Id"] not in {r.request_id for r in recs}


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="needs HUB_TEST_POSTGRES_URL")
async def test_killed_postgresql_connections_are_replaced_by_themselves(tmp_path: Path) -> None:
    async with database("postgres", tmp_path) as db_url, running_hub(db_url, tmp_path) as hub:
        await assert_survives(hub)
        async with hub.app.state.engine.connect() as conn:
            killed = await conn.scalar(
                text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
        assert killed >= 1  # at least the log writer's connection
        resp = await hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE))
        if resp.status_code == 503:
            # It met the dead connection (unless the writer saw it closed first). Until a
            # probe (at once after the failed write) finds the database taking writes, the
            # next are refused unserved; then, with no one stepping in, they go through.
            assert "could not be recorded" in resp.text, resp.text
            await until(lambda: hub.app.state.writer.healthy)
        await assert_survives(hub)
