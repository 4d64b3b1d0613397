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
from hub.core.settings import Settings
from tests.support import hub_client, make_settings

URLS = {n: f"http://127.0.0.1:{9100 + i}" for i, n in enumerate(connectors.names())}


async def _demo_hub(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A development hub's database with the demo registry and keys, as the CLI reads it."""
    settings = make_settings(sqlite_url, tmp_path, env="development")
    await load_demo(settings, demo_registry(URLS))
    monkeypatch.setenv("HUB_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("HUB_SECRET_KEY", settings.secret_key)
    return settings


async def test_demo_credentials_cli_and_endpoint(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = await _demo_hub(sqlite_url, tmp_path, monkeypatch)
    result = await asyncio.to_thread(CliRunner().invoke, app, ["demo", "credentials"])
    assert result.exit_code == 0, result.output
    creds = {c["client"]: c for c in json.loads(result.output)}
    bank = creds["VN/COM/0101234565/ekyc"]
    assert bank["services"] == [
        "VN/GOV/BCA/population/citizen-batch-lookup",
        "VN/GOV/BCA/population/citizen-search",
        "VN/GOV/BCA/population/citizen-verify",
    ]
    assert bank["api_key"].startswith("hub_")

    async with hub_client(settings) as (_app, client):
        assert (await client.get("/demo/credentials")).json() == json.loads(result.output)
        providers = (await client.get("/demo/providers")).json()
        assert providers["VN/GOV/BCA/population"] == URLS["population"]
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["ready"] is True

    monkeypatch.setenv("HUB_ENV", "production")
    monkeypatch.setenv("HUB_ADMIN_TOKEN", "a" * 32)
    monkeypatch.setenv("HUB_OPERATOR_TOKEN", "o" * 32)
    result = await asyncio.to_thread(CliRunner().invoke, app, ["demo", "credentials"])
    assert result.exit_code == 2 and "refused in production" in result.output


async def test_every_connector_gets_a_demo_key_to_call_through_the_hub(
    sqlite_url: str, tmp_path: Path
) -> None:
    # `hub up` hands each mock its subsystem's demo key (HUB_MOCK_CLIENT_KEY) when it has one:
    # a connector of the developer's own, which no demo grant names, had none, so every call
    # it made through the hub (`hub.call`, kit.checks) was a 401, whatever it was granted.
    settings = make_settings(sqlite_url, tmp_path, env="development")
    clients = await load_demo(settings, demo_registry(URLS))
    providers = {c.manifest.subsystem_id for c in connectors.all()}
    assert "VN/GOV/BHXH/health-insurance" in providers  # granted nothing in the demo registry
    assert providers <= clients
    async with hub_client(settings) as (_app, client):
        creds = {c["client"]: c for c in (await client.get("/demo/credentials")).json()}
        insurance = creds["VN/GOV/BHXH/health-insurance"]
        assert insurance["services"] == []  # a key alone opens no service
        listed = await client.get(
            "/r1/VN/GOV/BHXH/health-insurance/listMethods",
            headers={
                "X-Road-Client": "VN/GOV/BHXH/health-insurance",
                "Authorization": f"Bearer {insurance['api_key']}",
            },
        )
        assert listed.status_code == 200, listed.text


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


async def test_hub_up_keeps_what_an_operator_disabled(sqlite_url: str, tmp_path: Path) -> None:
    """`hub up` loads the demo registry at every start: switches set since stay as they are."""
    from hub.core.db import create_engine, session_factory
    from hub.registry import repository as repo

    settings = make_settings(sqlite_url, tmp_path, env="development")
    await load_demo(settings, demo_registry(URLS))
    client, service = "VN/COM/0101234565/ekyc", "VN/GOV/BCA/population/citizen-verify"
    async with hub_client(settings) as (_app, c):
        admin = {"Authorization": f"Bearer {settings.admin_token}"}
        r = await c.patch("/admin/members/VN/GOV/BTP", json={"enabled": False}, headers=admin)
        assert r.status_code == 200
        grant = {"client": client, "service": service, "enabled": False}
        assert (await c.patch("/admin/grants", json=grant, headers=admin)).status_code == 200
        r = await c.patch(f"/admin/services/{service}", json={"enabled": False}, headers=admin)
        assert r.status_code == 200, r.text

    moved = {**URLS, "population": "http://127.0.0.1:9199"}
    await load_demo(settings, demo_registry(moved))  # the next `hub up`, mocks on other ports

    engine = create_engine(sqlite_url)
    try:
        async with session_factory(engine)() as session:
            members = {m.id: m.enabled for m in await repo.members(session)}
            services = {s.id: s.enabled for s in await repo.services(session)}
            grants = {(g.client_id, g.service_id): g.enabled for g in await repo.grants(session)}
            bases = {s.id: s.base_url for s in await repo.subsystems(session)}
    finally:
        await engine.dispose()
    assert members["VN/GOV/BTP"] is False and members["VN/GOV/BCA"] is True
    assert services[service] is False
    assert grants[(client, service)] is False
    assert grants[(client, "VN/GOV/BCA/population/citizen-search")] is True
    assert bases["VN/GOV/BCA/population"] == "http://127.0.0.1:9199"  # the rest still follows


async def test_a_new_connector_may_share_a_member_with_another(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `hub connectors new tax --member-id VN/GOV/BTC` (the member of business-registry):
    # the demo registry listed VN/GOV/BTC twice and `hub up` refused to start.
    from types import SimpleNamespace

    shipped = connectors.all()
    business = next(c for c in shipped if c.name == "business")
    member = business.manifest.registry_entry("http://x")["members"][0]

    def entry(url: str) -> dict[str, list[dict[str, object]]]:
        return {
            "members": [dict(member)],
            "subsystems": [{"id": f"{member['id']}/tax", "base_url": url}],
            "services": [
                {
                    "id": f"{member['id']}/tax/taxpayer-lookup",
                    "endpoints": [{"method": "GET", "path": "/taxpayers/{id}"}],
                }  # fmt: skip
            ],
        }

    tax = SimpleNamespace(name="tax", manifest=SimpleNamespace(registry_entry=entry))
    monkeypatch.setattr(connectors, "all", lambda: [*shipped, tax])
    urls = {c.name: f"http://127.0.0.1:{9100 + i}" for i, c in enumerate([*shipped, tax])}
    doc = demo_registry(urls)
    assert [m["id"] for m in doc["members"]].count(member["id"]) == 1
    await load_demo(make_settings(sqlite_url, tmp_path), doc)  # refused before


async def test_demo_credentials_turned_off_in_development_say_by_what(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With HUB_DEMO_CREDENTIALS=false in development, `hub demo credentials` blamed
    # "HUB_ENV=production" and the endpoints "(production)": neither was set.
    settings = make_settings(sqlite_url, tmp_path, env="development", demo_credentials=False)
    monkeypatch.setenv("HUB_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("HUB_DEMO_CREDENTIALS", "false")
    result = await asyncio.to_thread(CliRunner().invoke, app, ["demo", "credentials"])
    said = " ".join(result.output.split())
    assert result.exit_code == 2, said
    assert "HUB_DEMO_CREDENTIALS=false" in said and "production" not in said, said
    async with hub_client(settings) as (_app, client):
        for path in ("/demo/credentials", "/demo/providers"):
            answer = await client.get(path)
            assert answer.status_code == 404
            assert "HUB_DEMO_CREDENTIALS=false" in answer.json()["detail"], answer.json()


async def test_demo_credentials_leave_out_a_demo_key_that_has_ended(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A demo key rotated (docs/security.md) ends with its grace period, and `hub up` does not
    # bring it back; `hub demo credentials` and /demo/credentials still listed it, so the
    # replay and the README's first exchange got 401 "this API key expired" with it.
    settings = await _demo_hub(sqlite_url, tmp_path, monkeypatch)
    civil = "VN/GOV/BTP/civil-status"
    async with hub_client(settings) as (_app, client):
        admin = {"Authorization": f"Bearer {settings.admin_token}"}
        keys = (await client.get("/admin/keys", params={"client": civil}, headers=admin)).json()
        (demo_key,) = (k for k in keys if k["label"] == "demo")
        rotated = await client.post(
            f"/admin/keys/{demo_key['id']}/rotate", json={"grace_seconds": 0}, headers=admin
        )
        assert rotated.status_code == 201, rotated.text
        listed = {c["client"] for c in (await client.get("/demo/credentials")).json()}
        assert civil not in listed and "VN/COM/0101234565/ekyc" in listed
    await load_demo(settings, demo_registry(URLS))  # the next `hub up` leaves it ended
    result = await asyncio.to_thread(CliRunner().invoke, app, ["demo", "credentials"])
    assert result.exit_code == 0, result.output
    listed = {c["client"] for c in json.loads(result.output)}
    assert civil not in listed and "VN/COM/0101234565/ekyc" in listed
