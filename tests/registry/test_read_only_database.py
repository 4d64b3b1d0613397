"""A database that refuses writes: the admin API says so, the operators' reads still answer."""

from __future__ import annotations

from pathlib import Path

from hub.core.migrate import upgrade_async
from tests.support import ADMIN, hub_client, make_settings

ADMIN_H = {"Authorization": f"Bearer {ADMIN}"}


async def test_a_write_the_database_refuses_is_a_503_saying_why(tmp_path: Path) -> None:
    # A read-only file, a full disk or a lock held past the wait: each admin write was a
    # bare "Internal Server Error" (500) with a traceback in the hub's log.
    path = tmp_path / "hub.db"
    await upgrade_async(f"sqlite+aiosqlite:///{path}")
    url = f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true"
    async with hub_client(make_settings(url, tmp_path)) as (_app, c):
        r = await c.post("/admin/members", json={"id": "VN/GOV/BCA", "name": "B"}, headers=ADMIN_H)
        assert r.status_code == 503, r.text
        said = r.json()["detail"]
        assert said.startswith("the database refused this request (attempt to write a readonly"), (
            said
        )
        assert "Traceback" not in said
        assert (await c.get("/admin/members", headers=ADMIN_H)).status_code == 200
        r = await c.get("/api/stats/summary", headers=ADMIN_H)
        assert r.status_code == 200 and r.json()["total"] == 0, r.text
