"""What the registry sweep found: races, duplicates, lengths and URLs refused in words."""

from __future__ import annotations

import asyncio
from pathlib import Path

from tests.support import ADMIN, hub_client, make_settings

ADMIN_H = {"Authorization": f"Bearer {ADMIN}"}


async def test_admins_adding_the_same_entry_at_once_get_201_or_409(
    db_url: str, tmp_path: Path
) -> None:
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        answers = await asyncio.gather(
            *(
                c.post("/admin/members", json={"id": "VN/GOV/RACE", "name": "R"}, headers=ADMIN_H)
                for _ in range(10)
            )  # fmt: skip
        )
        statuses = sorted(r.status_code for r in answers)
        assert set(statuses) <= {201, 409} and statuses.count(201) >= 1, statuses
        members = (await c.get("/admin/members", headers=ADMIN_H)).json()
        assert [m["id"] for m in members].count("VN/GOV/RACE") == 1


async def test_an_entry_given_twice_in_one_document_is_refused(db_url: str, tmp_path: Path) -> None:
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        twice = {"members": [{"id": "VN/GOV/NEW3"}, {"id": "VN/GOV/NEW3", "name": "two"}]}
        r = await c.put("/admin/registry", json=twice, headers=ADMIN_H)
        assert r.status_code == 422
        assert r.json()["detail"] == "members[1]: VN/GOV/NEW3 appears twice (also at members[0])"
        grants = {
            "members": [{"id": "VN/GOV/A"}],
            "subsystems": [{"id": "VN/GOV/A/p", "base_url": "http://127.0.0.1:9"},
                           {"id": "VN/GOV/A/c"}],
            "services": [{"id": "VN/GOV/A/p/s"}],
            "grants": [{"client": "VN/GOV/A/c", "service": "VN/GOV/A/p/s"},
                       {"client": "VN/GOV/A/c", "service": "VN/GOV/A/p/s", "enabled": False}],
        }  # fmt: skip
        r = await c.put("/admin/registry", json=grants, headers=ADMIN_H)
        assert r.status_code == 422 and "VN/GOV/A/c -> VN/GOV/A/p/s appears twice" in r.text
        assert (await c.get("/admin/members", headers=ADMIN_H)).json() == []  # nothing applied


async def test_lengths_the_database_cannot_hold_are_refused_alike(
    db_url: str, tmp_path: Path
) -> None:
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        r = await c.post("/admin/members", json={"id": "VN/GOV/X", "name": "n" * 301},
                         headers=ADMIN_H)  # fmt: skip
        assert r.status_code == 422 and "300 characters" in r.text
        long_url = "http://127.0.0.1:9/" + "p" * 1000
        doc = {"members": [{"id": "VN/GOV/X"}],
               "subsystems": [{"id": "VN/GOV/X/p", "base_url": long_url}]}  # fmt: skip
        r = await c.put("/admin/registry", json=doc, headers=ADMIN_H)
        assert r.status_code == 422 and "longer than 1000 characters" in r.text
        r = await c.post("/admin/members", json={"id": "VN/" + "G" * 65 + "/X"}, headers=ADMIN_H)
        assert r.status_code == 400  # a malformed identifier (SPEC §4)


async def test_base_urls_with_credentials_a_query_or_a_fragment_are_refused(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, c):
        assert (await c.post("/admin/members", json={"id": "VN/GOV/X", "name": "X"},
                             headers=ADMIN_H)).status_code == 201  # fmt: skip
        for url, said in (
            ("http://admin:s3cret@127.0.0.1:9", "user name or password"),
            ("http://127.0.0.1:9/?x=1", "query or fragment"),
            ("http://127.0.0.1:9/#frag", "query or fragment"),
        ):
            r = await c.post("/admin/subsystems", json={"id": "VN/GOV/X/p", "base_url": url},
                             headers=ADMIN_H)  # fmt: skip
            assert r.status_code == 422 and said in r.text, (url, r.text)


async def test_a_dynamic_ref_must_resolve_too_and_revoking_twice_keeps_the_time(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, c):
        doc = {"members": [{"id": "VN/GOV/X"}],
               "subsystems": [{"id": "VN/GOV/X/p", "base_url": "http://127.0.0.1:9"}]}  # fmt: skip
        assert (await c.put("/admin/registry", json=doc, headers=ADMIN_H)).status_code == 200
        svc = {"id": "VN/GOV/X/p/s", "request_schema": {"$dynamicRef": "#/$defs/nope"}}
        r = await c.post("/admin/services", json=svc, headers=ADMIN_H)
        assert r.status_code == 422 and "$dynamicRef '#/$defs/nope' resolves to nothing" in r.text
        key = (await c.post("/admin/keys", json={"client": "VN/GOV/X/p"}, headers=ADMIN_H)).json()
        assert (await c.delete(f"/admin/keys/{key['id']}", headers=ADMIN_H)).status_code == 204
        first = (await c.get("/admin/keys", headers=ADMIN_H)).json()[0]["revoked_at"]
        await asyncio.sleep(0.01)
        assert (await c.delete(f"/admin/keys/{key['id']}", headers=ADMIN_H)).status_code == 204
        assert (await c.get("/admin/keys", headers=ADMIN_H)).json()[0]["revoked_at"] == first
