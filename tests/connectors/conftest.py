"""Fixtures of the connector tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

import connectors


@pytest.fixture
async def api() -> AsyncIterator[httpx.AsyncClient]:
    """The population mock (seed 42), called in-process; a test file may name its own."""
    app = connectors.get("population").create_app(seed=42)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://population") as client:
        yield client
