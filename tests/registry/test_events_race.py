"""Changes made at once (as two workers or a worker and `hub keys` make them):
each event tells what its change found, so the trail reads as one change after another.

A change reads what it changes only once it holds the registry's lock: a key revoked six
times at once is one event, as revoking a revoked key is none, and the ``from`` of each
update is the ``to`` of the one before it."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.registry.test_events_api import CLIENT, LOOKUP, H, events, setup, trail_report
from tests.support import hub_client, make_settings


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine_name(request: pytest.FixtureRequest) -> str:
    from tests.support import POSTGRES_URL

    if request.param == "postgres" and not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need HUB_TEST_POSTGRES_URL")
    return str(request.param)


async def _race(tmp_path: Path, body: Any, engine_name: str) -> None:
    from tests.support import database

    async with (
        database(engine_name, tmp_path) as url,
        hub_client(make_settings(url, tmp_path)) as (_app, c),
    ):
        await setup(c)
        await body(c)
        assert (await trail_report(url)).problems == []


def _details(items: list[dict[str, Any]], action: str) -> list[dict[str, Any]]:
    return [
        json.loads(e["detail"]) if isinstance(e["detail"], str) else e["detail"]
        for e in sorted(items, key=lambda e: e["id"])
        if e["action"] == action
    ]


async def test_a_key_revoked_at_once_is_one_event(tmp_path: Path, engine_name: str) -> None:
    async def body(c: httpx.AsyncClient) -> None:
        r = await c.post("/admin/keys", json={"client": CLIENT}, headers=H)
        key_id = r.json()["id"]
        answers = await asyncio.gather(
            *[c.delete(f"/admin/keys/{key_id}", headers=H) for _ in range(6)]
        )
        assert {a.status_code for a in answers} == {204}
        revokes = _details(await events(c), "key.revoke")
        assert len(revokes) == 1, revokes
        (key,) = [k for k in (await c.get("/admin/keys", headers=H)).json() if k["id"] == key_id]
        assert key["revoked_at"].startswith(revokes[0]["revoked_at"][:19])

    await _race(tmp_path, body, engine_name)


async def test_a_grant_switched_off_at_once_is_one_event(tmp_path: Path, engine_name: str) -> None:
    async def body(c: httpx.AsyncClient) -> None:
        grant = {"client": CLIENT, "service": LOOKUP}
        assert (await c.post("/admin/grants", json=grant, headers=H)).status_code == 201
        answers = await asyncio.gather(
            *[
                c.patch("/admin/grants", json={**grant, "enabled": False}, headers=H)
                for _ in range(6)
            ]
        )
        assert {a.status_code for a in answers} == {200}
        assert _details(await events(c), "grant.update") == [
            {"enabled": {"from": True, "to": False}}
        ]

    await _race(tmp_path, body, engine_name)


async def test_updates_at_once_chain_from_one_to_the_next(tmp_path: Path, engine_name: str) -> None:
    async def body(c: httpx.AsyncClient) -> None:
        doc = {"members": [{"id": "VN/GOV/BTP", "name": "from a document"}]}
        answers = await asyncio.gather(
            *[
                c.patch("/admin/members/VN/GOV/BTP", json={"name": f"n{i}"}, headers=H)
                for i in range(8)
            ],
            c.put("/admin/registry", json=doc, headers=H),
        )
        assert {a.status_code for a in answers} == {200}, [a.text for a in answers]
        names = [d["name"] for d in _details(await events(c), "member.update")]
        assert names, "no member.update event"
        assert names[0]["from"] == "Bộ Tư pháp"
        for before, after in zip(names, names[1:], strict=False):
            assert after["from"] == before["to"], names
        member = (await c.get("/admin/members/VN/GOV/BTP", headers=H)).json()
        assert member["name"] == names[-1]["to"]

    await _race(tmp_path, body, engine_name)
