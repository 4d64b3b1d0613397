"""A key issued by another worker works at once; unknown keys cost a bounded few checks."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hub.core import security
from hub.core.db import create_engine, session_factory
from hub.registry import cache
from hub.registry import keys as api_keys
from tests.gateway.conftest import CITIZEN, CLIENT, PROVIDER, load_registry, provider_app
from tests.gateway.conftest import registry_doc as gateway_doc
from tests.support import SECRET, hub_client, make_settings, serve

LOOKUP = f"/r1/{PROVIDER}/citizen-lookup/citizens/{CITIZEN}"
PURPOSE = {"X-Road-UserId": "officer-01", "X-Road-Issue": "HS-0001"}


def headers(key: str) -> dict[str, str]:
    return {"X-Road-Client": CLIENT, "Authorization": f"Bearer {key}", **PURPOSE}


@contextlib.asynccontextmanager
async def quiet_hub(
    db_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Any, httpx.AsyncClient, dict[str, str]]]:
    """A hub whose periodic reload never comes during the test: it sees another worker's
    change only by looking for it. Its app, its client, and client -> key."""
    async with serve(provider_app()) as base_url:
        keys = await load_registry(db_url, gateway_doc(base_url))
        settings = make_settings(db_url, tmp_path, registry_refresh_s=3600)
        async with hub_client(settings) as (app, client):
            yield app, client, keys


async def issue_elsewhere(db_url: str) -> str:
    """A key issued as another worker's ``POST /admin/keys`` issues it."""
    engine = create_engine(db_url)
    try:
        async with session_factory(engine)() as session:
            _, key = await api_keys.issue_key(session, secret=SECRET, client=CLIENT)
            await session.commit()
    finally:
        await engine.dispose()
    return key


class Counted:
    """Counts the registry's version checks and reloads made through ``hub.registry.cache``."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.versions = self.loads = 0
        self.gate: asyncio.Event | None = None  # set: version checks wait for it
        self.began = asyncio.Event()  # a version check was made
        version, load = cache.repo.version, cache.load

        async def counted_version(session: Any) -> int:
            self.versions += 1
            self.began.set()
            if self.gate is not None:
                await self.gate.wait()
            return await version(session)

        async def counted_load(session: Any) -> cache.Snapshot:
            self.loads += 1
            return await load(session)

        monkeypatch.setattr(cache.repo, "version", counted_version)
        monkeypatch.setattr(cache, "load", counted_load)


async def test_a_key_issued_by_another_worker_is_accepted_at_once(
    db_url: str, tmp_path: Path
) -> None:
    async with quiet_hub(db_url, tmp_path) as (app, client, _keys):
        before = app.state.registry.snapshot
        key = await issue_elsewhere(db_url)
        resp = await client.get(LOOKUP, headers=headers(key))
        assert resp.status_code == 200, resp.text
        assert app.state.registry.snapshot is not before
        # And the next call finds it in the snapshot the first one loaded.
        assert (await client.get(LOOKUP, headers=headers(key))).status_code == 200


async def test_a_burst_of_unknown_keys_makes_one_version_check_and_no_reload(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with quiet_hub(db_url, tmp_path) as (app, client, _keys):
        counted = Counted(monkeypatch)
        counted.gate = asyncio.Event()
        known = app.state.registry.snapshot.keys
        prefix = next(iter(known))
        # Unknown prefixes, and a known prefix with a secret that matches nothing.
        keys = [security.new_api_key() for _ in range(20)] + [f"hub_{prefix}_{'x' * 32}"]
        calls = asyncio.gather(*(client.get(LOOKUP, headers=headers(k)) for k in keys))
        # Until the first check has begun and waits on the gate (or every call has ended).
        began = asyncio.ensure_future(counted.began.wait())
        await asyncio.wait([began, calls], return_when=asyncio.FIRST_COMPLETED)
        began.cancel()
        counted.gate.set()
        answers = await calls
        assert [r.status_code for r in answers] == [401] * len(keys)
        assert {r.json()["message"] for r in answers} == {
            "the API key is unknown, expired or revoked"
        }
        # The others waited on the check in flight, or came within the interval after it.
        assert counted.versions == 1
        assert counted.loads == 0


async def test_unknown_keys_are_checked_at_most_once_per_interval(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with quiet_hub(db_url, tmp_path) as (app, client, _keys):
        counted = Counted(monkeypatch)
        monkeypatch.setattr(cache, "CATCH_UP_S", 3600.0)
        for _ in range(5):
            resp = await client.get(LOOKUP, headers=headers(security.new_api_key()))
            assert resp.status_code == 401
        assert counted.versions == 1
        # Within the interval a new key waits for the periodic reload, as before.
        key = await issue_elsewhere(db_url)
        assert (await client.get(LOOKUP, headers=headers(key))).status_code == 401
        monkeypatch.setattr(cache, "CATCH_UP_S", 0.0)
        assert (await client.get(LOOKUP, headers=headers(key))).status_code == 200
        # A second check, and the reload it found due (which reads the version too).
        assert (counted.versions, counted.loads) == (3, 1)


async def test_a_known_key_makes_no_version_check(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with quiet_hub(db_url, tmp_path) as (_app, client, keys):
        counted = Counted(monkeypatch)
        for _ in range(3):
            resp = await client.get(LOOKUP, headers=headers(keys[CLIENT]))
            assert resp.status_code == 200, resp.text
        assert (counted.versions, counted.loads) == (0, 0)
