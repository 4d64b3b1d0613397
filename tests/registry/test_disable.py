"""Members and grants can be disabled and enabled again, as subsystems and services can."""

from __future__ import annotations

import pytest
import yaml

from hub.registry import service as registry
from hub.registry.schemas import RegistryDoc
from tests.gateway.conftest import CITIZEN, CLIENT, PROVIDER, Hub
from tests.support import ADMIN

ADMIN_H = {"Authorization": f"Bearer {ADMIN}"}
LOOKUP_ID = f"{PROVIDER}/citizen-lookup"
LOOKUP = f"/r1/{LOOKUP_ID}/citizens/{CITIZEN}"
PURPOSE = {"X-Road-UserId": "officer-01", "X-Road-Issue": "HS-0001"}
GRANT = {"client": CLIENT, "service": LOOKUP_ID}


async def _lookup(hub: Hub) -> tuple[int, str | None, str]:
    r = await hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE))
    message = r.json().get("message", "") if r.headers.get("X-Road-Error") else ""
    return r.status_code, r.headers.get("X-Road-Error"), message


async def test_a_disabled_member_stops_its_clients_and_its_services(hub: Hub) -> None:
    c = hub.client
    assert (await _lookup(hub))[0] == 200

    r = await c.patch("/admin/members/VN/GOV/BTP", json={"enabled": False}, headers=ADMIN_H)
    assert r.status_code == 200 and r.json()["enabled"] is False
    assert await _lookup(hub) == (
        403,
        "Client.AccessDenied",
        f"member VN/GOV/BTP is disabled by an operator, and with it client {CLIENT}",
    )
    members = {m["id"]: m for m in (await c.get("/admin/members", headers=ADMIN_H)).json()}
    assert members["VN/GOV/BTP"]["enabled"] is False and members["VN/GOV/BCA"]["enabled"]
    await c.patch("/admin/members/VN/GOV/BTP", json={"enabled": True}, headers=ADMIN_H)
    assert (await _lookup(hub))[0] == 200

    await c.patch("/admin/members/VN/GOV/BCA", json={"enabled": False}, headers=ADMIN_H)
    allowed = await c.get(f"/r1/{PROVIDER}/allowedMethods", headers=hub.headers())
    assert allowed.json()["service"] == []  # nothing of a disabled member may be called
    assert await _lookup(hub) == (
        503,
        "Server.ServiceDisabled",
        f"member VN/GOV/BCA is disabled by an operator, and with it service {LOOKUP_ID}",
    )
    await c.patch("/admin/members/VN/GOV/BCA", json={"enabled": True}, headers=ADMIN_H)
    assert (await _lookup(hub))[0] == 200


async def test_a_disabled_grant_refuses_its_client_and_comes_back_as_it_was(hub: Hub) -> None:
    c = hub.client
    r = await c.patch("/admin/grants", json={**GRANT, "enabled": False}, headers=ADMIN_H)
    assert r.status_code == 200 and r.json() == {**GRANT, "enabled": False}
    assert await _lookup(hub) == (
        403,
        "Client.AccessDenied",
        f"client {CLIENT}'s grant to call {LOOKUP_ID} is disabled by an operator",
    )
    allowed = await c.get(f"/r1/{PROVIDER}/allowedMethods", headers=hub.headers())
    codes = {s["service_code"] for s in allowed.json()["service"]}
    assert "citizen-lookup" not in codes and "echo" in codes
    grants = (await c.get("/admin/grants", headers=ADMIN_H)).json()
    assert {**GRANT, "enabled": False} in grants

    exported = yaml.safe_load((await c.get("/admin/registry?format=yaml", headers=ADMIN_H)).text)
    assert {**GRANT, "enabled": False} in exported["grants"]
    assert GRANT | {"service": f"{PROVIDER}/echo"} in exported["grants"]  # enabled: unsaid
    r = await c.put("/admin/registry", json=exported, headers=ADMIN_H)
    counts = {k: r.json()[k] for k in ("created", "updated", "deleted", "changes")}
    assert counts == {"created": 0, "updated": 0, "deleted": 0, "changes": []}

    r = await c.patch("/admin/grants", json={**GRANT, "enabled": True}, headers=ADMIN_H)
    assert r.json()["enabled"] is True
    assert (await _lookup(hub))[0] == 200


async def test_grant_changes_that_name_nothing_or_null_are_refused(hub: Hub) -> None:
    c = hub.client
    unknown = {"client": CLIENT, "service": f"{PROVIDER}/ungranted", "enabled": False}
    r = await c.patch("/admin/grants", json=unknown, headers=ADMIN_H)
    assert r.status_code == 404 and "has no grant" in r.json()["detail"]
    r = await c.patch("/admin/grants", json={**GRANT, "enabled": None}, headers=ADMIN_H)
    assert r.status_code == 422 and "enabled cannot be null" in r.json()["detail"]
    r = await c.patch("/admin/grants", json={"client": CLIENT, "enabled": False}, headers=ADMIN_H)
    assert r.status_code == 422 and "service" in r.json()["detail"]
    assert (await _lookup(hub))[0] == 200


async def test_yaml_disables_members_and_grants_and_reapplies_unchanged(hub: Hub) -> None:
    doc = {
        "members": [{"id": "VN/GOV/BTP", "enabled": False}],
        "grants": [{**GRANT, "enabled": False}],
    }
    async with hub.app.state.sessions() as session:
        first = await registry.apply(session, RegistryDoc.model_validate(doc))
        await session.commit()
        again = await registry.apply(session, RegistryDoc.model_validate(doc))
        exported = await registry.export(session)
    assert (first.updated, again.updated, again.unchanged) == (2, 0, 2)
    assert {"id": "VN/GOV/BTP", "name": "", "enabled": False} in exported["members"]
    await hub.app.state.registry.refresh(force=True)
    assert (await _lookup(hub))[1] == "Client.AccessDenied"


async def test_an_endpoint_naming_a_segment_twice_is_refused(hub: Hub) -> None:
    svc = {"id": f"{PROVIDER}/twice", "endpoints": [{"method": "GET", "path": "/x/{a}/y/{a}"}]}
    r = await hub.client.post("/admin/services", json=svc, headers=ADMIN_H)
    assert r.status_code == 422 and "names {a} twice" in r.json()["detail"]


async def test_a_stored_endpoint_no_pattern_can_match_spoils_only_its_service(hub: Hub) -> None:
    from sqlalchemy import update

    from hub.models import Service

    async with hub.app.state.sessions() as session:  # as stored before the check existed
        await session.execute(
            update(Service)
            .where(Service.id == LOOKUP_ID)
            .values(endpoints=[{"method": "GET", "path": "/citizens/{id}/{id}"}])
        )
        await session.commit()
    await hub.app.state.registry.refresh(force=True)  # raised re.error and kept the old one
    status, code, message = await _lookup(hub)
    assert (status, code) == (503, "Server.ServiceUnavailable")
    assert "an endpoint the hub cannot match" in message
    echo = await hub.client.post(
        f"/r1/{PROVIDER}/echo/echo", json={"id": "a"}, headers=hub.headers()
    )
    assert echo.status_code == 201
    ready = await hub.client.get("/readyz")
    assert ready.json()["checks"]["registry"] is True


async def test_a_registry_that_fails_to_load_makes_the_hub_not_ready(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub.registry import cache

    async def broken(session: object) -> None:
        raise RuntimeError("the registry could not be read")

    monkeypatch.setattr(cache, "load", broken)
    with pytest.raises(RuntimeError):
        await hub.app.state.registry.refresh(force=True)
    ready = await hub.client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["checks"]["registry"] is False
