"""Optimistic concurrency on the admin API (RFC 9110): each entry answers its ``ETag``, and a
``PATCH`` or ``DELETE`` with ``If-Match`` is made only on the entry as it was read. Two
operators who read a service and both changed it: the second silently undid the first."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from hub.admin import entries, grants
from hub.core.db import create_engine
from hub.registry import repository as repo
from tests.registry.conftest import change_can_come_between
from tests.support import ADMIN, hub_client, make_settings

ADMIN_H = {"Authorization": f"Bearer {ADMIN}"}
MEMBER = "VN/GOV/BCA"
PROVIDER = "VN/GOV/BCA/population"
CLIENT = "VN/GOV/BCA/client"
SERVICE = "VN/GOV/BCA/population/citizen-lookup"
GRANT = {"client": CLIENT, "service": SERVICE}
STALE = "changed since the ETag given in If-Match was read"
ENTRIES = [
    ("member", f"/admin/members/{MEMBER}", {"name": "Bộ Công an"}),
    ("subsystem", f"/admin/subsystems/{PROVIDER}", {"quota_rps": 20}),
    ("service", f"/admin/services/{SERVICE}", {"timeout_ms": 5000}),
]


async def _load(c: httpx.AsyncClient) -> dict[str, str]:
    """The registry of the tests, posted entry by entry; the ETag each POST answered."""
    tags = {}
    for path, body in (
        ("/admin/members", {"id": MEMBER, "name": "BCA"}),
        ("/admin/subsystems", {"id": PROVIDER, "base_url": "http://127.0.0.1:9"}),
        ("/admin/subsystems", {"id": CLIENT}),
        ("/admin/services", {"id": SERVICE, "endpoints": [{"method": "GET", "path": "/c/{id}"}]}),
        ("/admin/grants", GRANT),
    ):
        r = await c.post(path, json=body, headers=ADMIN_H)
        assert r.status_code == 201, r.text
        tags[str(body.get("id", "grant"))] = r.headers["ETag"]
    return tags


async def _get(c: httpx.AsyncClient, path: str) -> httpx.Response:
    r = await c.get(path, headers=ADMIN_H)
    assert r.status_code == 200, r.text
    return r


async def _grant(c: httpx.AsyncClient) -> httpx.Response:
    r = await _get(c, "/admin/grants?" + "&".join(f"{k}={v}" for k, v in GRANT.items()))
    assert len(r.json()) == 1, r.text
    return r


def _if(tag: str) -> dict[str, str]:
    return {**ADMIN_H, "If-Match": tag}


def _changed_once_read(
    monkeypatch: pytest.MonkeyPatch, engine: Any, module: Any, name: str, change: str
) -> None:
    """Another admin runs ``change`` just after this request has read what it changes."""
    real = getattr(module, name)

    async def read(*args: Any, **kwargs: Any) -> Any:
        row = await real(*args, **kwargs)
        monkeypatch.setattr(module, name, real)
        async with engine.begin() as conn:
            await conn.execute(text(change), {"now": repo.utcnow()})
        return row

    monkeypatch.setattr(module, name, read)


async def test_each_entry_answers_its_etag_and_a_change_moves_it(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, c):
        posted = await _load(c)
        for what, path, change in ENTRIES:
            got = await _get(c, path)
            tag = got.headers["ETag"]
            assert tag.startswith('"') and tag.endswith('"') and not tag.startswith("W/"), tag
            assert tag == posted[path.split("/", 3)[3]], what  # the POST's is the GET's
            assert (await _get(c, path)).headers["ETag"] == tag  # stable while unchanged
            r = await c.patch(path, json=change, headers=_if(tag))
            assert r.status_code == 200, r.text
            assert r.json() == {**got.json(), **change}
            assert r.headers["ETag"] != tag
            assert (await _get(c, path)).headers["ETag"] == r.headers["ETag"]
        grant = await _grant(c)
        assert grant.headers["ETag"] == posted["grant"]
        r = await c.patch("/admin/grants", json={**GRANT, "enabled": False},
                          headers=_if(posted["grant"]))  # fmt: skip
        assert r.status_code == 200 and r.json() == {**GRANT, "enabled": False}, r.text
        assert r.headers["ETag"] not in (posted["grant"], None)
        assert (await _grant(c)).headers["ETag"] == r.headers["ETag"]
        # A list of more than one entry is no one entry: no ETag.
        assert "ETag" not in (await _get(c, "/admin/services")).headers
        assert "ETag" not in (await _get(c, f"/admin/grants?client={CLIENT}")).headers


async def test_a_stale_if_match_is_a_412_and_leaves_the_entry_as_it_is(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, c):
        await _load(c)
        for what, path, change in ENTRIES:
            read = (await _get(c, path)).headers["ETag"]
            # Another operator renames it after this one read it.
            r = await c.patch(path, json={"name": "theirs"} if what != "service" else
                              {"description": "theirs"}, headers=ADMIN_H)  # fmt: skip
            assert r.status_code == 200, r.text
            theirs = (await _get(c, path)).json()
            for method, body in (("PATCH", change), ("DELETE", None)):
                r = await c.request(method, path, json=body, headers=_if(read))
                assert r.status_code == 412, r.text
                key = path.split("/", 3)[3]
                assert r.json()["detail"] == (
                    f"{what} {key} {STALE}, so this change was not made: GET it again and "
                    "reapply your change to what it holds now"
                )
                assert (await _get(c, path)).json() == theirs
            # A weak tag never matches (strong comparison); one of several that matches does.
            current = (await _get(c, path)).headers["ETag"]
            r = await c.patch(path, json=change, headers=_if(f"W/{current}"))
            assert r.status_code == 412, r.text
            r = await c.patch(path, json=change, headers=_if(f'{read}, "x", {current}'))
            assert r.status_code == 200 and r.json() == {**theirs, **change}, r.text
        read = (await _grant(c)).headers["ETag"]
        r = await c.patch("/admin/grants", json={**GRANT, "enabled": False}, headers=ADMIN_H)
        assert r.status_code == 200, r.text
        for method, body in (("PATCH", {**GRANT, "enabled": True}), ("DELETE", GRANT)):
            r = await c.request(method, "/admin/grants", json=body, headers=_if(read))
            assert r.status_code == 412, r.text
            assert r.json()["detail"].startswith(f"the grant of {CLIENT} for {SERVICE} {STALE}")
            assert (await _grant(c)).json() == [{**GRANT, "enabled": False}]


async def test_if_match_star_and_no_if_match_change_whatever_is_there(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, c):
        await _load(c)
        path = f"/admin/services/{SERVICE}"
        r = await c.patch(path, json={"timeout_ms": 5000}, headers=_if("*"))
        assert r.status_code == 200 and r.json()["timeout_ms"] == 5000, r.text
        # Without If-Match, as before it was taken: the last change wins.
        r = await c.patch(path, json={"timeout_ms": 7000}, headers=ADMIN_H)
        assert r.status_code == 200 and r.json()["timeout_ms"] == 7000, r.text
        r = await c.patch("/admin/grants", json={**GRANT, "enabled": False}, headers=_if("*"))
        assert r.status_code == 200 and r.json()["enabled"] is False, r.text
        r = await c.delete("/admin/grants", params=GRANT, headers=_if("*"))
        assert r.status_code == 204, r.text
        r = await c.delete(path, headers=_if(" * "))
        assert r.status_code == 204, r.text
        # `*` matches an entry that is there: of one that is not, the 404 of any DELETE.
        r = await c.delete(path, headers=_if("*"))
        assert r.status_code == 404 and "no such service" in r.json()["detail"], r.text
        r = await c.delete(f"/admin/subsystems/{CLIENT}", headers=ADMIN_H)
        assert r.status_code == 204, r.text


async def test_a_malformed_if_match_is_a_400_that_says_its_form(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, c):
        await _load(c)
        path = f"/admin/members/{MEMBER}"
        tag = (await _get(c, path)).headers["ETag"]
        for sent in (tag.strip('"'), "", f"{tag},"):
            r = await c.patch(path, json={"name": "x"}, headers=_if(sent))
            assert r.status_code == 400, (sent, r.text)
            assert "If-Match takes * or the ETag a GET" in r.json()["detail"]
        assert (await _get(c, path)).json()["name"] == "BCA"


async def test_the_openapi_document_names_if_match_on_each_change(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, c):
        paths = (await c.get("/openapi.json")).json()["paths"]
        for path in ("/admin/members/{member_id}", "/admin/subsystems/{subsystem_id}",
                     "/admin/services/{service_id}", "/admin/grants"):  # fmt: skip
            for method in ("patch", "delete"):
                params = paths[path][method]["parameters"]
                header = [p for p in params if p["in"] == "header"]
                assert [p["name"] for p in header] == ["If-Match"], (path, method)
                assert "ETag" in header[0]["description"]
                assert "412" in paths[path][method]["responses"]


async def test_on_sqlite_no_change_comes_between_a_change_read_and_its_write(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another admin's change (another worker, `hub keys`) tried between a PATCH's read and
    # its write waits for the PATCH's lock: here it gives up at once, and the PATCH's own
    # event then says what was there. Before, it committed in between, and on SQLite two
    # revocations of one key at once were two events (tests/registry/test_events_race.py).
    db = make_url(sqlite_url).database
    assert db is not None
    async with hub_client(make_settings(sqlite_url, tmp_path)) as (_app, c):
        await _load(c)
        path = f"/admin/services/{SERVICE}"
        before = (await _get(c, path)).json()
        refused: list[str] = []
        real = entries._get

        async def read(*args: Any, **kwargs: Any) -> Any:
            row = await real(*args, **kwargs)
            monkeypatch.setattr(entries, "_get", real)
            other = sqlite3.connect(db, timeout=0.2)
            try:
                other.execute(
                    "UPDATE services SET timeout_ms = timeout_ms + 1 WHERE id = ?", (SERVICE,)
                )
                other.commit()
            except sqlite3.OperationalError as exc:
                refused.append(str(exc))
            finally:
                other.close()
            return row

        tag = (await _get(c, path)).headers["ETag"]
        monkeypatch.setattr(entries, "_get", read)
        r = await c.patch(path, json={"description": "mine"}, headers=_if(tag))
        assert r.status_code == 200, r.text
        assert refused == ["database is locked"]
        assert (await _get(c, path)).json() == {**before, "description": "mine"}


@pytest.mark.parametrize("touches_updated_at", [True, False])
async def test_a_change_made_between_the_check_and_the_write_is_a_412(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, touches_updated_at: bool
) -> None:
    change_can_come_between(db_url)
    # The request checks If-Match against the entry it read; another operator's change
    # committed after that read and before the write must not be overwritten.
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        await _load(c)
        engine = create_engine(db_url)
        stamp = ", updated_at = :now" if touches_updated_at else ""

        def changed_once_read(module: Any, name: str, change: str) -> None:
            _changed_once_read(monkeypatch, engine, module, name, change)

        try:
            path = f"/admin/services/{SERVICE}"
            for method, body in (("PATCH", {"description": "mine"}), ("DELETE", None)):
                tag = (await _get(c, path)).headers["ETag"]
                changed_once_read(
                    entries,
                    "_get",
                    f"UPDATE services SET timeout_ms = timeout_ms + 1{stamp} "
                    f"WHERE id = '{SERVICE}'",
                )
                r = await c.request(method, path, json=body, headers=_if(tag))
                assert r.status_code == 412, r.text
                assert STALE in r.json()["detail"], r.text
                got = (await _get(c, path)).json()
                assert got["description"] == "" and got["timeout_ms"] > 10_000, got
            # The entry deleted meanwhile: the PATCH says so, as without If-Match.
            tag = (await _get(c, path)).headers["ETag"]
            changed_once_read(entries, "_get", f"DELETE FROM services WHERE id = '{SERVICE}'")
            r = await c.patch(path, json={"description": "mine"}, headers=_if(tag))
            assert r.status_code == 409 and "deleted by another change" in r.text, r.text
            member = f"/admin/members/{MEMBER}"
            tag = (await _get(c, member)).headers["ETag"]
            changed_once_read(
                entries,
                "_get",
                f"UPDATE members SET name = 'theirs'{stamp} WHERE id = '{MEMBER}'",
            )
            r = await c.patch(member, json={"enabled": False}, headers=_if(tag))
            assert r.status_code == 412, r.text
            assert (await _get(c, member)).json() == {
                "id": MEMBER,
                "name": "theirs",
                "enabled": True,
            }
        finally:
            await engine.dispose()


async def test_a_grant_switched_between_the_check_and_the_write_is_a_412(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    change_can_come_between(db_url)
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        await _load(c)
        engine = create_engine(db_url)
        disable = f"UPDATE grants SET enabled = false WHERE client_id = '{CLIENT}'"
        try:
            for method, body in (("PATCH", {**GRANT, "enabled": False}), ("DELETE", GRANT)):
                await c.patch("/admin/grants", json={**GRANT, "enabled": True}, headers=ADMIN_H)
                tag = (await _grant(c)).headers["ETag"]
                _changed_once_read(monkeypatch, engine, grants, "_grant", disable)
                r = await c.request(method, "/admin/grants", json=body, headers=_if(tag))
                assert r.status_code == 412, r.text
                assert STALE in r.json()["detail"], r.text
                assert (await _grant(c)).json() == [{**GRANT, "enabled": False}]
        finally:
            await engine.dispose()


async def test_a_grant_deleted_between_the_read_and_the_write_is_a_404_as_an_entry_is(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    change_can_come_between(db_url)
    # Two operators delete the same grant at once: the second is told it was not there, as
    # a DELETE of a service or member is, with If-Match or without.
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        await _load(c)
        engine = create_engine(db_url)
        delete = f"DELETE FROM grants WHERE client_id = '{CLIENT}'"
        try:
            for headers in (ADMIN_H, _if("*")):
                await c.post("/admin/grants", json=GRANT, headers=ADMIN_H)
                _changed_once_read(monkeypatch, engine, grants, "_grant", delete)
                r = await c.request("DELETE", "/admin/grants", json=GRANT, headers=headers)
                assert r.status_code == 404, r.text
                assert f"{CLIENT} has no grant for {SERVICE}" in r.json()["detail"], r.text
        finally:
            await engine.dispose()
