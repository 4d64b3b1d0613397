"""The whole demo stack in one event loop: four mock agencies and the hub, on real ports."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import connectors
from connectors.demo import demo_registry
from hub.app import create_app
from hub.cli.serve import load_demo
from hub.core.security import demo_api_key
from tests.support import ADMIN, SECRET, free_port, make_settings, serve


class Stack:
    def __init__(self, hub_url: str, providers: dict[str, str], app: Any) -> None:
        self.hub_url = hub_url
        self.providers = providers
        self.app = app
        self.http = httpx.AsyncClient(base_url=hub_url, timeout=30)

    def headers(self, client: str, **extra: str) -> dict[str, str]:
        return {
            "X-Road-Client": client,
            "Authorization": f"Bearer {demo_api_key(SECRET, client)}",
            "X-Road-UserId": "officer-01",
            "X-Road-Issue": "HS-E2E-1",
            **extra,
        }

    async def admin(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return await self.http.request(
            method, path, headers={"Authorization": f"Bearer {ADMIN}"}, **kw
        )

    async def records(self) -> list[dict[str, Any]]:
        from sqlalchemy import select

        from hub.models import Transaction

        async with self.app.state.sessions() as session:
            rows = (await session.scalars(select(Transaction).order_by(Transaction.seq))).all()
        return [{c.name: getattr(r, c.name) for c in Transaction.__table__.columns} for r in rows]


@pytest.fixture
async def stack(sqlite_url: str, tmp_path: Path) -> AsyncIterator[Stack]:
    async with demo_stack(sqlite_url, tmp_path) as s:
        yield s


@pytest.fixture
async def any_db_stack(db_url: str, tmp_path: Path) -> AsyncIterator[Stack]:
    """The stack on SQLite, and on PostgreSQL when HUB_TEST_POSTGRES_URL is set."""
    async with demo_stack(db_url, tmp_path) as s:
        yield s


@contextlib.asynccontextmanager
async def demo_stack(
    db_url: str,
    tmp_path: Path,
    *,
    timeouts_ms: dict[str, int] | None = None,
    **overrides: Any,
) -> AsyncIterator[Stack]:
    """``timeouts_ms`` replaces the demo registry's timeout of the services it names;
    ``overrides`` are settings (``breaker_window_s=3``)."""
    settings = make_settings(db_url, tmp_path, **overrides)
    hub_port = free_port()
    hub_url = f"http://127.0.0.1:{hub_port}"
    ports = {name: free_port() for name in connectors.names()}
    base_urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    registry = demo_registry(base_urls)
    for service in registry["services"]:
        service["timeout_ms"] = (timeouts_ms or {}).get(service["id"], service["timeout_ms"])
    clients = await load_demo(settings, registry)
    async with contextlib.AsyncExitStack() as stack_:
        for name in connectors.names():
            connector = connectors.get(name)
            sub = connector.manifest.subsystem_id
            key = demo_api_key(SECRET, sub) if sub in clients else None
            app = connector.create_app(seed=42, hub_url=hub_url, client_key=key)
            await stack_.enter_async_context(serve(app, ports[name]))
        hub_app = create_app(settings)
        await stack_.enter_async_context(serve(hub_app, hub_port))
        s = Stack(hub_url, base_urls, hub_app)
        try:
            yield s
        finally:
            await s.http.aclose()
