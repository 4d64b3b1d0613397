"""A database that refuses writes: the admin API says so, the operators' reads still answer."""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path

import pytest

from hub.core.db import create_engine, session_factory
from hub.core.migrate import upgrade_async
from hub.registry.cache import RegistryCache
from tests.support import ADMIN, hub_client, make_settings

ADMIN_H = {"Authorization": f"Bearer {ADMIN}"}


async def test_a_write_the_database_refuses_is_a_503_saying_why(tmp_path: Path) -> None:
    # A read-only file, a full disk or a lock held past the wait: each admin write was a
    # bare "Internal Server Error" (500) with a traceback in the hub's log.
    path = tmp_path / "hub.db"
    await upgrade_async(f"sqlite+aiosqlite:///{path}")
    url = f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true"
    async with hub_client(make_settings(url, tmp_path)) as (_app, c):
        r = await c.post("/admin/members", json={"id": "VN/GOV/BCA", "name": "B"}, headers=ADMIN_H)
        assert r.status_code == 503, r.text
        said = r.json()["detail"]
        assert said.startswith("the database refused this request (attempt to write a readonly"), (
            said
        )
        assert "Traceback" not in said
        assert (await c.get("/admin/members", headers=ADMIN_H)).status_code == 200
        r = await c.get("/api/stats/summary", headers=ADMIN_H)
        assert r.status_code == 200 and r.json()["total"] == 0, r.text


async def test_a_database_server_that_cannot_be_reached_is_a_503_saying_so(
    tmp_path: Path,
) -> None:
    # PostgreSQL down or unreachable: asyncpg raises the socket's own error, which SQLAlchemy
    # does not wrap, and every admin and operator request was a bare "Internal Server Error"
    # (500) with a traceback in the hub's log, while /readyz said what was wrong.
    path = tmp_path / "hub.db"
    await upgrade_async(f"sqlite+aiosqlite:///{path}")
    async with hub_client(make_settings(f"sqlite+aiosqlite:///{path}", tmp_path)) as (app, c):
        with socket.socket() as closed:  # bound, never listening: a refused connection
            closed.bind(("127.0.0.1", 0))
            port = closed.getsockname()[1]
            down = create_engine(f"postgresql+asyncpg://hub@127.0.0.1:{port}/hub")
            app.state.sessions = session_factory(down)
            try:
                for route in ("/admin/members", "/api/transactions/abc"):
                    r = await c.get(route, headers=ADMIN_H)
                    assert r.status_code == 503, r.text
                    said = r.json()["detail"]
                    assert said.startswith("the database cannot be reached ("), said
                    assert said.endswith("try again once it answers"), said
                    assert r.headers["retry-after"] == "5"
            finally:
                await down.dispose()


async def test_a_database_outage_is_logged_once_by_the_registry_poll(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Every worker logged "registry refresh failed" with a full traceback at every interval
    # (2 s) for as long as PostgreSQL was down: thirty tracebacks a minute each.
    outcomes: list[BaseException | None] = [
        ConnectionRefusedError(111, "Connection refused"),
        ConnectionRefusedError(111, "Connection refused"),
        ConnectionRefusedError(111, "Connection refused"),
        None,
        ConnectionRefusedError(111, "Connection refused"),
        asyncio.CancelledError(),
    ]
    cache = RegistryCache(sessions=None)  # type: ignore[arg-type]

    async def refresh(*, force: bool = False) -> None:
        outcome = outcomes.pop(0)
        if outcome is not None:
            raise outcome

    cache.refresh = refresh  # type: ignore[method-assign]
    with (
        caplog.at_level(logging.WARNING, logger="hub.registry.cache"),
        pytest.raises(asyncio.CancelledError),
    ):
        await cache.poll(0)
    said = [r.getMessage() for r in caplog.records]
    assert said == [
        "registry refresh failed: ConnectionRefusedError: [Errno 111] Connection refused "
        "(said once until it works again)",
        "registry refresh works again",
        "registry refresh failed: ConnectionRefusedError: [Errno 111] Connection refused "
        "(said once until it works again)",
    ], said
    # One line each, not one line and a traceback of some 170 lines: the traceback is
    # for DEBUG, where it is logged too.
    assert all(r.exc_info is None for r in caplog.records), said
    caplog.clear()
    outcomes[:] = [ConnectionRefusedError(111, "Connection refused"), asyncio.CancelledError()]
    with (
        caplog.at_level(logging.DEBUG, logger="hub.registry.cache"),
        pytest.raises(asyncio.CancelledError),
    ):
        await cache.poll(0)
    assert [r.levelno for r in caplog.records] == [logging.WARNING, logging.DEBUG]
    assert caplog.records[0].exc_info is None
    assert caplog.records[1].exc_info is not None
