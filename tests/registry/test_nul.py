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
