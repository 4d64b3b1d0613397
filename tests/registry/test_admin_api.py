"""The admin API changes the same registry as the YAML, and the gateway sees it at once."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.support import ADMIN, OPERATOR, hub_client, make_settings

ADMIN_H = {"Authorization": f"Bearer {ADMIN}"}


async def test_admin_crud_keys_and_roles(db_url: str, tmp_path: Path) -> None:
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, client):
        c: httpx.AsyncClient = client
        assert (await c.get("/admin/members")).status_code == 401
        resp = await c.get("/admin/members", headers={"Authorization": f"Bearer {OPERATOR}"})
        assert resp.status_code == 403

        r = await c.post(
            "/admin/members", json={"id": "VN/GOV/BCA", "name": "Bộ Công an"}, headers=ADMIN_H
        )
        assert r.status_code == 201, r.text
        r = await c.post("/admin/members", json={"id": "VN/GOV/BCA", "name": "B"}, headers=ADMIN_H)
        assert r.status_code == 409
        r = await c.post("/admin/members", json={"id": "VN/XXX/BCA"}, headers=ADMIN_H)
        assert r.status_code == 400 and "unknown member class" in r.text  # SPEC §4
        r = await c.post("/admin/subsystems", json={"id": "VN/GOV/NOPE/x"}, headers=ADMIN_H)
        assert r.status_code == 422 and "is not declared" in r.text

        for sub in (
            {"id": "VN/GOV/BCA/population", "base_url": "http://127.0.0.1:9"},
            {"id": "VN/GOV/BCA/client"},
        ):
            assert (await c.post("/admin/subsystems", json=sub, headers=ADMIN_H)).status_code == 201
        svc = {
            "id": "VN/GOV/BCA/population/citizen-lookup",
            "endpoints": [{"method": "GET", "path": "/citizens/{id}"}],
        }
        assert (await c.post("/admin/services", json=svc, headers=ADMIN_H)).status_code == 201
        grant = {"client": "VN/GOV/BCA/client", "service": svc["id"]}
        assert (await c.post("/admin/grants", json=grant, headers=ADMIN_H)).status_code == 201
        assert (await c.get("/admin/grants", headers=ADMIN_H)).json() == [grant | {"enabled": True}]

        r = await c.patch(f"/admin/services/{svc['id']}", json={"enabled": False}, headers=ADMIN_H)
        assert r.status_code == 200 and r.json()["enabled"] is False

        r = await c.post(
            "/admin/keys", json={"client": "VN/GOV/BCA/client", "label": "ci"}, headers=ADMIN_H
        )
        assert r.status_code == 201
        key = r.json()["api_key"]
        listed = (await c.get("/admin/keys", headers=ADMIN_H)).json()
        assert key not in str(listed) and listed[0]["prefix"] in key

        h = {"X-Road-Client": "VN/GOV/BCA/client", "Authorization": f"Bearer {key}"}
        r = await c.get(f"/r1/{svc['id']}/citizens/1", headers=h)
        assert r.headers["X-Road-Error"] == "Server.ServiceDisabled"

        r = await c.post(
            f"/admin/keys/{listed[0]['id']}/rotate", json={"grace_seconds": 0}, headers=ADMIN_H
        )
        assert r.status_code == 201
        new_key = r.json()["api_key"]
        r = await c.get(f"/r1/{svc['id']}/citizens/1", headers=h)
        assert r.headers["X-Road-Error"] == "Client.Unauthorized"  # grace 0: old key is over
        h["Authorization"] = f"Bearer {new_key}"
        r = await c.get(f"/r1/{svc['id']}/citizens/1", headers=h)
        assert r.headers["X-Road-Error"] == "Server.ServiceDisabled"

        r = await c.request("DELETE", "/admin/grants", json=grant, headers=ADMIN_H)
        assert r.status_code == 204
        await c.patch(f"/admin/services/{svc['id']}", json={"enabled": True}, headers=ADMIN_H)
        r = await c.get(f"/r1/{svc['id']}/citizens/1", headers=h)
        assert r.headers["X-Road-Error"] == "Client.AccessDenied"

        r = await c.patch(
            f"/admin/services/{svc['id']}",
            json={"endpoints": [{"method": "get", "path": "/people/{id}"}]},
            headers=ADMIN_H,
        )
        assert r.json()["endpoints"] == [{"method": "GET", "path": "/people/{id}"}]
        r = await c.patch(f"/admin/services/{svc['id']}", json={"endpoints": None}, headers=ADMIN_H)
        assert r.status_code == 200 and r.json()["endpoints"] == []
        r = await c.get("/admin/registry", params={"format": "yaml"}, headers=ADMIN_H)
        assert "VN/GOV/BCA/population/citizen-lookup" in r.text
        assert (await c.delete("/admin/members/VN/GOV/BCA", headers=ADMIN_H)).status_code == 204
        assert (await c.get("/admin/services", headers=ADMIN_H)).json() == []


async def test_an_answer_carrying_a_new_key_is_never_cached(db_url: str, tmp_path: Path) -> None:
    # The key is shown once: a proxy or browser cache in front of the admin API kept it.
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        for path, body in (("/admin/members", {"id": "VN/GOV/BTP", "name": "Bộ Tư pháp"}),
                           ("/admin/subsystems", {"id": "VN/GOV/BTP/civil-status"})):  # fmt: skip
            assert (await c.post(path, json=body, headers=ADMIN_H)).status_code == 201
        issued = await c.post(
            "/admin/keys", json={"client": "VN/GOV/BTP/civil-status"}, headers=ADMIN_H
        )
        assert issued.status_code == 201 and issued.json()["api_key"].startswith("hub_")
        assert issued.headers["Cache-Control"] == "no-store"
        rotated = await c.post(f"/admin/keys/{issued.json()['id']}/rotate", headers=ADMIN_H)
        assert rotated.status_code == 201 and rotated.json()["api_key"] != issued.json()["api_key"]
        assert rotated.headers["Cache-Control"] == "no-store"
        listed = await c.get("/admin/keys", headers=ADMIN_H)
        assert listed.status_code == 200 and "api_key" not in listed.text
