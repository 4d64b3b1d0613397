"""A NUL character in what an operator or admin sends is a 4xx on every database: PostgreSQL
stores none in text and answered each with a 500, SQLite kept it."""

from __future__ import annotations

from pathlib import Path

from tests.support import ADMIN, OPERATOR, hub_client, make_settings

ADMIN_H = {"Authorization": f"Bearer {ADMIN}"}
OPERATOR_H = {"Authorization": f"Bearer {OPERATOR}"}


async def test_a_nul_character_is_refused_on_every_route(db_url: str, tmp_path: Path) -> None:
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        for path in (
            "/api/transactions/%00",
            "/api/transactions?client=%00",
            "/api/transactions?user_id=a%00b",
            "/api/stats/summary?client=%00",
            "/api/stats/timeseries?provider=%00",
        ):
            r = await c.get(path, headers=OPERATOR_H)
            assert r.status_code == 400 and "NUL character" in r.text, (path, r.text)
        for method, path, body in (
            ("POST", "/admin/members", {"id": "VN/GOV/BCA", "name": "a\x00b"}),
            ("POST", "/admin/keys", {"client": "VN/GOV/BCA/x", "label": "a\x00b"}),
            ("PUT", "/admin/registry", {"members": [{"id": "VN/GOV/X", "name": "\x00"}]}),
        ):
            r = await c.request(method, path, json=body, headers=ADMIN_H)
            assert r.status_code == 422 and "NUL character" in r.text, (path, r.text)
        r = await c.post("/admin/members", json={"id": "VN/GOV/BCA", "name": "ok"}, headers=ADMIN_H)
        assert r.status_code == 201  # nothing else was refused
        r = await c.patch("/admin/members/VN/GOV/BCA", json={"name": "\x00"}, headers=ADMIN_H)
        assert r.status_code == 422 and "NUL character" in r.text


async def test_a_lone_surrogate_is_refused_not_a_500(db_url: str, tmp_path: Path) -> None:
    # JSON's "\udc00" (and YAML's) is half of a UTF-16 pair: no character, and no database
    # stores it (a 503 "try again" from asyncpg, a 500 from SQLite and the trail's hash).
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        base = '{"members": [{"id": "VN/GOV/BCA", "name": "ok"}], "subsystems": [{"id": '
        base += '"VN/GOV/BCA/pop", "base_url": "http://127.0.0.1:9"}], "services": [{"id": '
        base += '"VN/GOV/BCA/pop/s", %s}]}'
        h = {**ADMIN_H, "Content-Type": "application/json"}
        for field, said in (
            ('"description": "x\\udc00y"', "services.0: description"),
            ('"request_schema": {"title": "x\\ud800"}', "services.0: request_schema.title"),
            ('"request_schema": {"properties": {"\\udfff": {}}}', "schema.properties.\\\\udfff"),
        ):
            for query in ("?dry_run=true", ""):
                r = await c.put(f"/admin/registry{query}", content=base % field, headers=h)
                assert r.status_code == 422, (field, r.status_code, r.text)
                assert "surrogate" in r.text and said in r.text, r.text
        r = await c.get("/admin/registry", headers=ADMIN_H)
        assert r.json()["services"] == []  # nothing of it was applied
