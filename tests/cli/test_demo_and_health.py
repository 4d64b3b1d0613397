"""Demo credentials are printed in development and refused in production; health answers."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

import connectors
from connectors.demo import demo_registry
from hub.cli.main import app
from hub.cli.serve import load_demo
from tests.support import hub_client, make_settings


async def test_demo_credentials_cli_and_endpoint(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings(sqlite_url, tmp_path, env="development")
    urls = {n: f"http://127.0.0.1:{9100 + i}" for i, n in enumerate(connectors.names())}
    await load_demo(settings, demo_registry(urls))

    monkeypatch.setenv("HUB_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("HUB_SECRET_KEY", settings.secret_key)
    result = await asyncio.to_thread(CliRunner().invoke, app, ["demo", "credentials"])
    assert result.exit_code == 0, result.output
    creds = {c["client"]: c for c in json.loads(result.output)}
    bank = creds["VN/COM/0101234565/ekyc"]
    assert bank["services"] == [
        "VN/GOV/BCA/population/citizen-search",
        "VN/GOV/BCA/population/citizen-verify",
    ]
    assert bank["api_key"].startswith("hub_")

    async with hub_client(settings) as (_app, client):
        assert (await client.get("/demo/credentials")).json() == json.loads(result.output)
        providers = (await client.get("/demo/providers")).json()
        assert providers["VN/GOV/BCA/population"] == urls["population"]
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["ready"] is True

    monkeypatch.setenv("HUB_ENV", "production")
    monkeypatch.setenv("HUB_ADMIN_TOKEN", "a" * 32)
    monkeypatch.setenv("HUB_OPERATOR_TOKEN", "o" * 32)
    result = await asyncio.to_thread(CliRunner().invoke, app, ["demo", "credentials"])
    assert result.exit_code == 2 and "refused in production" in result.output


def test_production_refuses_placeholder_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_ENV", "production")
    monkeypatch.delenv("HUB_ADMIN_TOKEN", raising=False)
    result = CliRunner().invoke(app, ["demo", "credentials"])
    assert result.exit_code == 2
    assert "HUB_ADMIN_TOKEN must be set" in result.output


async def test_production_app_hides_demo_endpoints(sqlite_url: str, tmp_path: Path) -> None:
    settings = make_settings(sqlite_url, tmp_path, env="production")
    async with hub_client(settings) as (_app, client):
        assert (await client.get("/demo/credentials")).status_code == 404
        assert (await client.get("/demo/providers")).status_code == 404
