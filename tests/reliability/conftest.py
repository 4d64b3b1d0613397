"""A hub in front of a provider whose faults the test switches, over real HTTP."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from hub.front import HubApp
from hub.models import Transaction
from tests.gateway.conftest import load_registry
from tests.reliability.fakes import CLIENT, FaultyProvider, registry_doc, resetting_server
from tests.support import free_port, hub_client, make_settings, serve


class RHub:
    """A running hub, its client, keys and the provider behind it."""

    def __init__(
        self, app: HubApp, client: httpx.AsyncClient, keys: dict[str, str], provider: Any
    ) -> None:
        self.app, self.client, self.keys, self.provider = app, client, keys, provider

    def headers(self, client: str = CLIENT, **extra: str) -> dict[str, str]:
        return {"X-Road-Client": client, "Authorization": f"Bearer {self.keys[client]}", **extra}

    async def records(self) -> list[Transaction]:
        async with self.app.state.sessions() as session:
            return list(await session.scalars(select(Transaction).order_by(Transaction.seq)))


@contextlib.asynccontextmanager
async def running_hub(
    db_url: str, tmp_path: Path, services: dict[str, dict[str, Any]] | None = None, **settings: Any
) -> AsyncIterator[RHub]:
    """A hub whose ``lookup`` and ``services`` sit on a FaultyProvider; settings override."""
    provider = FaultyProvider()
    async with serve(provider) as base_url:
        keys = await load_registry(db_url, registry_doc(base_url, **(services or {})))
        async with hub_client(make_settings(db_url, tmp_path, **settings)) as (app, client):
            yield RHub(app, client, keys, provider)


@pytest.fixture
async def rhub(db_url: str, tmp_path: Path) -> AsyncIterator[RHub]:
    """Services: lookup (personal data), slow (300 ms timeout), down, reset."""
    async with resetting_server() as reset_url:
        services = {
            "slow": {"endpoints": [], "timeout_ms": 300},
            "down": {"endpoints": [], "base_url": f"http://127.0.0.1:{free_port()}"},
            "reset": {"endpoints": [], "base_url": reset_url},
            "plain": {"endpoints": []},
        }
        async with running_hub(db_url, tmp_path, services) as hub:
            yield hub
