"""What the admin API refuses: a null where a value is required, a request schema whose
``$ref`` resolves to nothing. Each was a 500 (or a 500 at every later exchange)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import update

from hub.models import Service
from tests.support import ADMIN, hub_client, make_settings

ADMIN_H = {"Authorization": f"Bearer {ADMIN}"}
MEMBER = "VN/GOV/BCA"
PROVIDER = "VN/GOV/BCA/population"
CLIENT = "VN/GOV/BCA/client"
SERVICE = "VN/GOV/BCA/population/citizen-verify"
ECHO = {"method": "POST", "path": "/citizens/verify"}


async def _registry(c: httpx.AsyncClient, schema: dict[str, Any] | None = None) -> str:
    """A provider, a client with a key and a grant, and SERVICE; the client's key."""
    for path, body in (
        ("/admin/members", {"id": MEMBER, "name": "Bộ Công an"}),
        ("/admin/subsystems", {"id": PROVIDER, "base_url": "http://127.0.0.1:9"}),
        ("/admin/subsystems", {"id": CLIENT}),
        ("/admin/services", {"id": SERVICE, "endpoints": [ECHO], "request_schema": schema}),
        ("/admin/grants", {"client": CLIENT, "service": SERVICE}),
    ):
        r = await c.post(path, json=body, headers=ADMIN_H)
        assert r.status_code == 201, r.text
    r = await c.post("/admin/keys", json={"client": CLIENT}, headers=ADMIN_H)
    return str(r.json()["api_key"])


async def _verify(c: httpx.AsyncClient, key: str, body: Any) -> httpx.Response:
    headers = {"X-Road-Client": CLIENT, "Authorization": f"Bearer {key}"}
    return await c.post(f"/r1/{SERVICE}/citizens/verify", json=body, headers=headers)


async def test_null_for_a_field_that_needs_a_value_is_a_422(db_url: str, tmp_path: Path) -> None:
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        await _registry(c)
        for path, field in (
            (f"/admin/members/{MEMBER}", "name"),
            (f"/admin/subsystems/{CLIENT}", "enabled"),
            (f"/admin/subsystems/{CLIENT}", "name"),
            (f"/admin/services/{SERVICE}", "timeout_ms"),
            (f"/admin/services/{SERVICE}", "personal_data"),
            (f"/admin/services/{SERVICE}", "description"),
        ):
            r = await c.patch(path, json={field: None}, headers=ADMIN_H)
            assert r.status_code == 422, (path, field, r.text)
            assert f"{field} cannot be null" in r.text
        # What may be empty is cleared by null.
        r = await c.patch(f"/admin/subsystems/{PROVIDER}", json={"base_url": None}, headers=ADMIN_H)
        assert r.status_code == 200 and r.json()["base_url"] is None
        r = await c.patch(
            f"/admin/services/{SERVICE}", json={"request_schema": None}, headers=ADMIN_H
        )
        assert r.status_code == 200 and r.json()["request_schema"] is None


async def test_a_request_schema_must_resolve_within_itself(db_url: str, tmp_path: Path) -> None:
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        by_ref = {
            "$defs": {"id": {"type": "string", "pattern": "^[0-9]{12}$"}},
            "type": "object",
            "properties": {"id": {"$ref": "#/$defs/id"}},
            "required": ["id"],
        }
        key = await _registry(c, by_ref)
        assert (await _verify(c, key, {"id": "12"})).status_code == 422  # the $ref applies
        for schema in (
            {"$ref": "#/definitions/nope"},
            {"properties": {"id": {"$ref": "#/$defs/missing"}}},
            {"$ref": "http://127.0.0.1:9/schema.json"},  # never downloaded
        ):
            r = await c.patch(
                f"/admin/services/{SERVICE}", json={"request_schema": schema}, headers=ADMIN_H
            )
            assert r.status_code == 422 and "resolves to nothing" in r.text, r.text
            doc = {"services": [{"id": SERVICE + "2", "request_schema": schema}]}
            r = await c.put("/admin/registry", json=doc, headers=ADMIN_H)
            assert r.status_code == 422 and "resolves to nothing" in r.text, r.text
        r = await c.patch(
            f"/admin/services/{SERVICE}", json={"request_schema": {"type": 5}}, headers=ADMIN_H
        )
        assert r.status_code == 422 and "not a valid JSON Schema" in r.text


async def test_a_stored_schema_that_cannot_resolve_refuses_with_a_503(
    db_url: str, tmp_path: Path
) -> None:
    """A schema stored before the check (an older hub): the exchange is refused, not a 500."""
    async with hub_client(make_settings(db_url, tmp_path)) as (app, c):
        key = await _registry(c)
        async with app.state.sessions() as session:
            await session.execute(
                update(Service)
                .where(Service.id == SERVICE)
                .values(request_schema={"$ref": "#/definitions/nope"})
            )
            await session.commit()
        await app.state.registry.refresh(force=True)
        r = await _verify(c, key, {"id": "079049355864"})
        assert r.status_code == 503 and r.headers["X-Road-Error"] == "Server.ServiceUnavailable"
        assert "resolves to nothing" in r.json()["message"]


async def test_a_disabled_client_is_refused(db_url: str, tmp_path: Path) -> None:
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        key = await _registry(c)
        r = await c.patch(f"/admin/subsystems/{CLIENT}", json={"enabled": False}, headers=ADMIN_H)
        assert r.status_code == 200
        r = await _verify(c, key, {"id": "079049355864"})
        assert r.status_code == 403 and r.headers["X-Road-Error"] == "Client.AccessDenied"
        assert r.json()["message"] == f"client {CLIENT} is disabled by an operator"
        await c.patch(f"/admin/subsystems/{CLIENT}", json={"enabled": True}, headers=ADMIN_H)
        r = await _verify(c, key, {"id": "079049355864"})
        assert r.headers.get("X-Road-Error") != "Client.AccessDenied"  # past the checks again


async def test_a_body_that_is_not_json_or_a_wrong_type_is_said_in_words(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, c):
        json_h = {**ADMIN_H, "Content-Type": "application/json"}
        r = await c.post("/admin/members", content=b'{"id": "VN/GOV/BCA",', headers=json_h)
        assert r.status_code == 400
        assert r.json()["detail"].startswith("the body is not valid JSON: ")
        assert "at character 20" in r.json()["detail"]  # was "body.20: JSON decode error"
        r = await c.post("/admin/members", json={"id": 5, "name": "n"}, headers=ADMIN_H)
        assert r.json()["detail"] == "body.id: Input should be a valid string (got 5)"
