"""The audit trail through the admin API: each change made is one event of the admin
token's, a change refused or only tried is none, and the events are read back filtered."""

from __future__ import annotations

import asyncio
import json
import unicodedata
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from hub.core.db import create_engine
from hub.registry.events_read import ACTIONS
from hub.registry.events_verify import verify_trail
from tests.support import ADMIN, SECRET, hub_client, make_settings

H = {"Authorization": f"Bearer {ADMIN}"}
CLIENT = "VN/GOV/BTP/civil-status"
LOOKUP = "VN/GOV/BCA/population/citizen-lookup"
GRANT = f"{CLIENT} -> {LOOKUP}"


async def events(c: httpx.AsyncClient, **query: Any) -> list[dict[str, Any]]:
    r = await c.get("/admin/events", params={"limit": 1000, **query}, headers=H)
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def one_more(c: httpx.AsyncClient, before: int) -> dict[str, Any]:
    """The one event a change left (newest first), after ``before`` events."""
    now = await events(c)
    assert len(now) == before + 1, now[: len(now) - before]
    return now[0]


async def changed(c: httpx.AsyncClient, method: str, url: str, status: int, **kw: Any) -> Any:
    before = len(await events(c))
    r = await c.request(method, url, headers=H, **kw)
    assert r.status_code == status, r.text
    event = await one_more(c, before)
    assert (event["actor"], event["source"]) == ("admin token", "api")
    return event


async def refused(c: httpx.AsyncClient, method: str, url: str, status: int, **kw: Any) -> None:
    before = await events(c)
    r = await c.request(method, url, headers=H, **kw)
    assert r.status_code == status, r.text
    assert await events(c) == before


async def setup(c: httpx.AsyncClient) -> None:
    for url, body in (
        ("/admin/members", {"id": "VN/GOV/BCA", "name": "Bộ Công an"}),
        ("/admin/members", {"id": "VN/GOV/BTP", "name": "Bộ Tư pháp"}),
        ("/admin/subsystems", {"id": "VN/GOV/BCA/population", "base_url": "http://127.0.0.1:9"}),
        ("/admin/subsystems", {"id": CLIENT}),
        ("/admin/services", {"id": LOOKUP}),
    ):
        assert (await c.post(url, json=body, headers=H)).status_code == 201


@asynccontextmanager
async def set_up(url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A hub on ``url`` after ``setup``."""
    async with hub_client(make_settings(url, tmp_path)) as (_app, c):
        await setup(c)
        yield c


async def trail_report(url: str) -> Any:
    """``verify_trail`` of the database at ``url``, on a connection of its own."""
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return await verify_trail(conn)
    finally:
        await engine.dispose()


async def test_each_entry_change_is_one_event_and_a_refusal_none(
    db_url: str, tmp_path: Path
) -> None:
    async with hub_client(make_settings(db_url, tmp_path)) as (_app, c):
        e = await changed(c, "POST", "/admin/members", 201, json={"id": "VN/GOV/BCA", "name": "B"})
        assert (e["action"], e["target"], e["detail"]) == (
            "member.create",
            "VN/GOV/BCA",
            {"name": "B"},
        )
        await refused(c, "POST", "/admin/members", 409, json={"id": "VN/GOV/BCA", "name": "C"})
        await refused(c, "POST", "/admin/subsystems", 422, json={"id": "VN/GOV/NOPE/x"})
        await refused(c, "PATCH", "/admin/members/VN/GOV/NONE", 404, json={"enabled": False})
        e = await changed(c, "PATCH", "/admin/members/VN/GOV/BCA", 200, json={"enabled": False})
        assert (e["action"], e["detail"]) == (
            "member.update",
            {"enabled": {"from": True, "to": False}},
        )
        await setup_rest(c)
        e = await changed(
            c, "POST", "/admin/grants", 201, json={"client": CLIENT, "service": LOOKUP}
        )
        assert (e["action"], e["target"], e["detail"]) == ("grant.create", GRANT, {"enabled": True})
        await refused(c, "POST", "/admin/grants", 409, json={"client": CLIENT, "service": LOOKUP})
        grant = {"client": CLIENT, "service": LOOKUP, "enabled": False}
        e = await changed(c, "PATCH", "/admin/grants", 200, json=grant)
        assert (e["action"], e["detail"]) == (
            "grant.update",
            {"enabled": {"from": True, "to": False}},
        )
        e = await changed(c, "PATCH", f"/admin/services/{LOOKUP}", 200, json={"timeout_ms": 3000})
        assert e["detail"] == {"timeout_ms": {"from": 10000, "to": 3000}}
        # A PATCH to the values held (the name typed decomposed, NFD) is no change: no
        # event, the ETag (its updated_at) kept ("member.update" with nothing in it before).
        held = await c.get("/admin/members/VN/GOV/BCA", headers=H)
        same = {"enabled": False, "name": unicodedata.normalize("NFD", "B")}
        await refused(c, "PATCH", "/admin/members/VN/GOV/BCA", 200, json=same)
        now = await c.get("/admin/members/VN/GOV/BCA", headers=H)
        assert now.json() == held.json()
        assert now.headers["ETag"] == held.headers["ETag"]
        query = {"client": CLIENT, "service": LOOKUP}
        e = await changed(c, "DELETE", "/admin/grants", 204, params=query)
        assert (e["action"], e["target"], e["detail"]) == (
            "grant.delete",
            GRANT,
            {"enabled": False},
        )
        await refused(c, "DELETE", "/admin/grants", 404, params=query)
        # A dry run answers what it would do, and leaves no event.
        doc = {"grants": [{"client": CLIENT, "service": LOOKUP}]}
        await refused(c, "PUT", "/admin/registry", 200, params={"dry_run": "true"}, json=doc)
        # A document: each entry it changes, then the apply with its counts.
        before = len(await events(c))
        assert (await c.put("/admin/registry", json=doc, headers=H)).status_code == 200
        apply, grant_event = (await events(c))[:2]
        assert len(await events(c)) == before + 2
        assert (grant_event["action"], grant_event["target"]) == ("grant.create", GRANT)
        assert apply["action"] == "registry.apply"
        assert apply["detail"] == {"created": 1, "updated": 0, "deleted": 0, "unchanged": 0}
        # A deletion names what the database deletes with it.
        r = await c.post("/admin/keys", json={"client": CLIENT}, headers=H)
        key_id = r.json()["id"]
        e = await changed(c, "DELETE", f"/admin/subsystems/{CLIENT}", 204)
        assert (e["action"], e["target"]) == ("subsystem.delete", CLIENT)
        assert e["detail"] == {"grants": [GRANT], "api_keys": [key_id]}
        e = await changed(c, "DELETE", "/admin/members/VN/GOV/BCA", 204)
        assert e["detail"] == {"subsystems": ["VN/GOV/BCA/population"], "services": [LOOKUP]}

        report = await trail_report(db_url)
        trail = await events(c)
        assert report.problems == [] and report.events == len(trail)
        assert {e["action"] for e in trail} <= ACTIONS  # each one ?action= takes


async def setup_rest(c: httpx.AsyncClient) -> None:
    for url, body in (
        ("/admin/members", {"id": "VN/GOV/BTP", "name": "Bộ Tư pháp"}),
        ("/admin/subsystems", {"id": "VN/GOV/BCA/population", "base_url": "http://127.0.0.1:9"}),
        ("/admin/subsystems", {"id": CLIENT}),
        ("/admin/services", {"id": LOOKUP}),
    ):
        e = await changed(c, "POST", url, 201, json=body)
        assert e["action"].endswith(".create") and e["target"] == body["id"]


async def test_key_changes_are_events_without_the_key(db_url: str, tmp_path: Path) -> None:
    async with set_up(db_url, tmp_path) as c:
        before = len(await events(c))
        r = await c.post("/admin/keys", json={"client": CLIENT, "label": "ci"}, headers=H)
        issued = r.json()
        e = await one_more(c, before)
        assert (e["action"], e["target"]) == ("key.issue", f"key:{issued['id']}")
        assert e["detail"] == {"client": CLIENT, "label": "ci", "expires_at": None}
        # A body naming a client there is not: a 422, as a grant's (a 404 is for the path).
        await refused(c, "POST", "/admin/keys", 422, json={"client": "VN/GOV/BTP/none"})
        await refused(c, "POST", "/admin/keys/999/rotate", 404)
        e = await changed(
            c, "POST", f"/admin/keys/{issued['id']}/rotate", 201, json={"grace_seconds": 60}
        )
        assert (e["action"], e["target"]) == ("key.rotate", f"key:{issued['id']}")
        new_id = e["detail"]["new_key"]
        assert new_id != issued["id"] and e["detail"]["old_key_expires_at"].endswith("Z")
        await refused(c, "POST", f"/admin/keys/{issued['id']}/rotate", 409)
        e = await changed(c, "DELETE", f"/admin/keys/{new_id}", 204)
        assert (e["action"], e["target"]) == ("key.revoke", f"key:{new_id}")
        await refused(c, "DELETE", f"/admin/keys/{new_id}", 204)  # revoked already
        await refused(c, "DELETE", "/admin/keys/999", 404)
        trail = await events(c)
        # Each action recorded is one that ?action= takes (it refuses the others).
        assert {e["action"] for e in trail} <= ACTIONS
        everything = json.dumps(trail)
        for secret in (issued["api_key"], SECRET, ADMIN):
            assert secret not in everything


async def test_events_are_filtered_and_paged_and_bad_parameters_said(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with set_up(sqlite_url, tmp_path) as c:
        await c.post("/admin/grants", json={"client": CLIENT, "service": LOOKUP}, headers=H)
        assert [e["action"] for e in await events(c, action="grant")] == ["grant.create"]
        assert [e["action"] for e in await events(c, action="member.create")] == [
            "member.create",
            "member.create",
        ]
        assert [e["target"] for e in await events(c, target=CLIENT)] == [GRANT, CLIENT]
        assert [e["target"] for e in await events(c, target=LOOKUP)] == [GRANT, LOOKUP]
        assert await events(c, since="2000-01-01", until="2000-01-02") == []
        assert len(await events(c, since="1h")) == 6
        first = (await c.get("/admin/events?limit=4", headers=H)).json()
        assert [e["id"] for e in first["items"]] == [6, 5, 4, 3] and first["next_cursor"] == 3
        rest = await c.get(f"/admin/events?limit=4&cursor={first['next_cursor']}", headers=H)
        assert [e["id"] for e in rest.json()["items"]] == [2, 1]
        assert rest.json()["next_cursor"] is None
        for query, status, said in (
            ("since=yesterday", 400, "since='yesterday' is not a time"),
            ("since=2024-01-02&until=2024-01-01", 400, "before"),
            ("action=DROP%20TABLE", 400, "is not an action"),
            # A misspelt action or kind matched nothing and answered an empty trail.
            ("action=grants", 400, "'grants' is not an action"),
            ("action=key.revok", 400, "key.revoke"),
            ("action=registry.create", 400, "is not an action"),
            # Each a 422 while the others were 400s: a query that cannot be read is a 400.
            ("limit=0", 400, "limit"),
            ("cursor=abc", 400, "cursor"),
            ("actor=x", 400, "unknown query parameter 'actor'"),
        ):
            r = await c.get(f"/admin/events?{query}", headers=H)
            assert r.status_code == status and said in r.text, (query, r.text)
        # An until that was given is not said to be missing.
        both = await c.get("/admin/events?since=2030-01-01&until=2020-01-01", headers=H)
        assert both.json() == {"detail": "since must be before until"}, both.text


@pytest.mark.parametrize(
    ("query", "said"),
    [
        # Each matched nothing and answered an empty trail, as if no such change was made.
        ({"target": "civil-status"}, "'civil-status' is no entry's id"),
        ({"target": "VN/GOV/BTP/civil status"}, "invalid part 'civil status'"),
        ({"target": "VN/GOV/BCA/population/citizen-lookup/v2"}, "is no entry's id"),
        ({"target": "key:abc"}, "'key:abc' names no key"),
        ({"target": f"{CLIENT} -> citizen-lookup"}, "service identifier 'citizen-lookup'"),
        ({"target": f"VN/GOV/BTP -> {LOOKUP}"}, "client identifier 'VN/GOV/BTP'"),
        # An empty time was taken as none given: the whole trail.
        ({"since": ""}, "since='' is not a time"),
        ({"until": ""}, "until='' is not a time"),
    ],
)
async def test_a_filter_no_event_could_match_is_a_400_not_an_empty_trail(
    sqlite_url: str, tmp_path: Path, query: dict[str, str], said: str
) -> None:
    async with set_up(sqlite_url, tmp_path) as c:
        r = await c.get("/admin/events", params=query, headers=H)
        assert r.status_code == 400 and said in r.json()["detail"], r.text
        if "target" in query:
            assert "a grant as CLIENT -> SERVICE, a key as key:ID" in r.json()["detail"]


async def test_a_target_is_found_however_a_grant_arrow_is_spaced(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with set_up(sqlite_url, tmp_path) as c:
        await c.post("/admin/grants", json={"client": CLIENT, "service": LOOKUP}, headers=H)
        key = (await c.post("/admin/keys", json={"client": CLIENT}, headers=H)).json()["id"]
        for target in (GRANT, f"{CLIENT}->{LOOKUP}", f"{CLIENT}  ->  {LOOKUP}"):
            assert [e["target"] for e in await events(c, target=target)] == [GRANT], target
        assert [e["action"] for e in await events(c, target=f"key:{key}")] == ["key.issue"]
        assert [e["action"] for e in await events(c, target="key:999")] == []
        assert [e["target"] for e in await events(c, target="VN/GOV/BTP")] == ["VN/GOV/BTP"]


async def test_under_finds_what_is_below_an_entry_and_its_grants(
    sqlite_url: str, tmp_path: Path
) -> None:
    # --target VN/GOV/BCA is the member's own events: a subsystem's history, its services'
    # and their grants' included, is asked for with under.
    async with set_up(sqlite_url, tmp_path) as c:
        await c.post("/admin/grants", json={"client": CLIENT, "service": LOOKUP}, headers=H)
        population = "VN/GOV/BCA/population"
        assert [e["target"] for e in await events(c, under="VN/GOV/BCA")] == [
            GRANT, LOOKUP, population, "VN/GOV/BCA",
        ]  # fmt: skip
        assert [e["target"] for e in await events(c, under=population)] == [
            GRANT, LOOKUP, population,
        ]  # fmt: skip
        assert [e["target"] for e in await events(c, under="VN/GOV/BTP")] == [
            GRANT, CLIENT, "VN/GOV/BTP",
        ]  # fmt: skip
        assert [e["target"] for e in await events(c, under=LOOKUP)] == [GRANT, LOOKUP]
        # An id that is a prefix of another's in text, not in parts, is not under it.
        assert await events(c, under="VN/GOV/BC") == []
        assert await events(c, under="VN/GOV/BCA", action="grant") == await events(
            c, action="grant"
        )
        for under, said in (
            ("key:1", "under: 'key:1' is not a member's, subsystem's or service's id"),
            ("registry", "under: 'registry' is not a member's"),
            (GRANT, "is not a member's, subsystem's or service's id"),
            ("civil-status", "'civil-status' is no entry's id"),
        ):
            r = await c.get("/admin/events", params={"under": under}, headers=H)
            assert r.status_code == 400 and said in r.json()["detail"], r.text


async def test_a_target_or_under_naming_nothing_is_said_in_notes(
    db_url: str, tmp_path: Path
) -> None:
    async with set_up(db_url, tmp_path) as c:

        async def answer(**query: str) -> dict[str, Any]:
            r = await c.get("/admin/events", params=query, headers=H)
            assert r.status_code == 200, r.text
            return r.json()

        # A misspelt target answered an empty page alone, as for an entry never changed.
        said = await answer(target="VN/GOV/BTP/civil-statsu")
        assert said == {
            "items": [],
            "next_cursor": None,
            "notes": [
                "no subsystem VN/GOV/BTP/civil-statsu is registered or in the audit trail (did "
                "you mean VN/GOV/BTP/civil-status?): nothing matches "
                "target=VN/GOV/BTP/civil-statsu"
            ],
        }
        assert (await answer(target="key:12"))["notes"] == [
            "no key key:12 is issued or in the audit trail: nothing matches target=key:12"
        ]
        said = await answer(under="VN/GOV/BCA/populatoin")
        assert said["items"] == [] and said["notes"] == [
            "no subsystem VN/GOV/BCA/populatoin is registered or in the audit trail (did you "
            "mean VN/GOV/BCA/population?): nothing matches under=VN/GOV/BCA/populatoin"
        ]
        said = await answer(target="VN/GOV/BTA", under="VN/GOV/BCX")
        assert [note.split(" (did you mean")[0] for note in said["notes"]] == [
            "no member VN/GOV/BTA is registered or in the audit trail",
            "no member VN/GOV/BCX is registered or in the audit trail",
        ]
        # A page with events, or a filter the registry or the trail holds, has none, whatever
        # the other filters leave.
        assert (await answer(target=CLIENT))["notes"] == []
        for query in ({"target": "VN/GOV/BCA"}, {"under": "VN/GOV/BCA"}, {"target": "registry"}):
            said = await answer(**query, action="key")
            assert said == {"items": [], "next_cursor": None, "notes": []}, query
        # A subsystem deleted is in the trail still, and has none.
        assert (await c.delete(f"/admin/subsystems/{CLIENT}", headers=H)).status_code == 204
        assert (await answer(target=CLIENT, action="key"))["notes"] == []
        assert (await c.delete("/admin/members/VN/GOV/BTP", headers=H)).status_code == 204
        # Nor has an under whose own events are gone (as for a member from before the trail,
        # migration 0011) but whose entries' below it are in the trail: it lists them.
        engine = create_engine(db_url)
        try:
            async with engine.begin() as conn:
                await conn.execute(text("DELETE FROM registry_events WHERE target = 'VN/GOV/BTP'"))
        finally:
            await engine.dispose()
        assert (await answer(under="VN/GOV/BTP", action="key"))["notes"] == []
        assert (await answer(under="VN/GOV/BTP"))["items"] != []


@pytest.mark.postgres
async def test_changes_at_once_on_postgres_keep_one_chain(tmp_path: Path) -> None:
    from tests.support import POSTGRES_URL, database

    if not POSTGRES_URL:
        pytest.skip("needs HUB_TEST_POSTGRES_URL")
    async with database("postgres", tmp_path) as url, set_up(url, tmp_path) as c:
        answers = await asyncio.gather(
            *[c.post("/admin/keys", json={"client": CLIENT}, headers=H) for _ in range(12)],
            *[
                c.patch("/admin/members/VN/GOV/BTP", json={"name": f"n{i}"}, headers=H)
                for i in range(6)
            ],
        )
        made = sum(r.status_code in (200, 201) for r in answers)
        assert made >= 12, [r.text for r in answers]
        report = await trail_report(url)
        assert report.problems == []
        assert report.events == 5 + made
