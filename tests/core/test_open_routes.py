"""The routes open without a token (/healthz, /readyz, /listClients, /demo/...) are in
/openapi.json with the answers they send, refusals included, for a generated client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

import connectors
from connectors.demo import demo_registry
from hub.cli.serve import load_demo
from tests.support import hub_client, make_settings

URLS = {n: f"http://127.0.0.1:{9100 + i}" for i, n in enumerate(connectors.names())}


@pytest.fixture
async def hub(sqlite_url: str, tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    settings = make_settings(sqlite_url, tmp_path, env="development")
    await load_demo(settings, demo_registry(URLS))
    async with hub_client(settings) as (_app, c):
        yield c, (await c.get("/openapi.json")).json()


def _valid(doc: dict[str, Any], path: str, status: int, body: Any) -> None:
    """``body`` is what the document says ``GET path`` answers with ``status``: a schema
    of its own (``{}`` said nothing), which the body is valid against."""
    response = doc["paths"][path]["get"]["responses"][str(status)]
    schema = response["content"]["application/json"]["schema"]
    assert schema not in ({}, {"type": "object"}), (path, status, schema)
    validator = jsonschema.Draft202012Validator({**schema, "components": doc["components"]})
    errors = [e.message for e in validator.iter_errors(body)]
    assert not errors, (path, status, body, errors)


async def test_health_and_readiness_are_documented_as_answered(hub: Any) -> None:
    # /readyz was documented as "{}" and only as a 200, though it answers 503 when not ready.
    c, doc = hub
    _valid(doc, "/healthz", 200, (await c.get("/healthz")).json())
    ready = await c.get("/readyz")
    assert ready.status_code == 200, ready.text
    _valid(doc, "/readyz", 200, ready.json())
    checks = {"database": False, "log_writer": True, "registry": True}
    not_ready = {"ready": False, "checks": checks}
    _valid(doc, "/readyz", 503, not_ready)
    assert "headers" not in doc["paths"]["/readyz"]["get"]["responses"]["503"]  # no Retry-After


async def test_list_clients_is_documented_as_answered_and_refused(hub: Any) -> None:
    c, doc = hub
    r = await c.get("/listClients")
    assert r.status_code == 200 and r.json()["member"], r.text
    _valid(doc, "/listClients", 200, r.json())
    subsystem = next(m for m in r.json()["member"] if m["id"]["object_type"] == "SUBSYSTEM")
    assert {"subsystem_code", "subsystem_name"} <= set(subsystem["id"]) | set(subsystem)
    r = await c.get("/listClients", params=[("xRoadInstance", "VN"), ("xRoadInstance", "X")])
    assert r.status_code == 400, r.text
    _valid(doc, "/listClients", 400, r.json())
    refused = doc["paths"]["/listClients"]["get"]["responses"]["400"]["content"]
    assert refused["application/json"]["schema"] == {"$ref": "#/components/schemas/XRoadError"}
    params = {p["name"]: p for p in doc["paths"]["/listClients"]["get"].get("parameters", [])}
    assert params["xRoadInstance"]["in"] == "query"


async def test_the_demo_routes_are_documented_as_answered_and_refused(
    hub: Any, sqlite_url: str, tmp_path: Path
) -> None:
    c, doc = hub
    creds = (await c.get("/demo/credentials")).json()
    assert creds, "the demo registry gives keys"
    _valid(doc, "/demo/credentials", 200, creds)
    _valid(doc, "/demo/providers", 200, (await c.get("/demo/providers")).json())
    off = make_settings(sqlite_url, tmp_path, env="development", demo_credentials=False)
    async with hub_client(off) as (_app, c2):
        for path in ("/demo/credentials", "/demo/providers"):
            r = await c2.get(path)
            assert r.status_code == 404, r.text
            _valid(doc, path, 404, r.json())
