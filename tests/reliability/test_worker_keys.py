"""A key issued or rotated through one worker of `hub serve --workers 2` works in both at once."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.reliability.fakes import (
    CLIENT,
    LOOKUP,
    PROVIDER,
    PURPOSE,
    FaultyProvider,
    registry_doc,
)
from tests.reliability.procs import apply_registry, hub_cli, hub_env, hub_process
from tests.support import ADMIN, serve

# Calls each on its own connection, so that the kernel hands them to both workers.
CALLS = 30


async def calls(url: str, key: str) -> list[int]:
    headers = {"X-Road-Client": CLIENT, "Authorization": f"Bearer {key}", **PURPOSE}
    out = []
    for _ in range(CALLS):
        async with httpx.AsyncClient(timeout=30) as http:
            out.append((await http.get(url + LOOKUP, headers=headers)).status_code)
    return out


async def test_a_new_or_rotated_key_works_at_once_in_every_worker(tmp_path: Path) -> None:
    db_url = f"sqlite+aiosqlite:///{tmp_path}/hub.db"
    # The periodic reload would hide the delay: the other worker must find the key itself.
    env = hub_env(tmp_path, db_url, HUB_REGISTRY_REFRESH_S="3600")
    async with serve(FaultyProvider()) as base_url:
        await apply_registry(env, registry_doc(base_url), tmp_path)
        async with hub_process(env, tmp_path, "--workers", "2") as hub:
            admin = {"Authorization": f"Bearer {ADMIN}"}
            async with httpx.AsyncClient(base_url=hub.url, timeout=30) as http:
                issued = await http.post("/admin/keys", json={"client": CLIENT}, headers=admin)
            assert issued.status_code == 201, issued.text
            assert await calls(hub.url, issued.json()["api_key"]) == [200] * CALLS
            async with httpx.AsyncClient(base_url=hub.url, timeout=30) as http:
                rotated = await http.post(
                    f"/admin/keys/{issued.json()['id']}/rotate",
                    json={"grace_seconds": 60},
                    headers=admin,
                )
            assert rotated.status_code == 201, rotated.text
            assert await calls(hub.url, rotated.json()["api_key"]) == [200] * CALLS


async def test_a_revoked_key_or_removed_grant_is_refused_at_once_by_every_worker(
    tmp_path: Path,
) -> None:
    # Before, the worker that did not take the change went on serving it until its next
    # reload of the registry (HUB_REGISTRY_REFRESH_S, 2 s by default; an hour here).
    db_url = f"sqlite+aiosqlite:///{tmp_path}/hub.db"
    env = hub_env(tmp_path, db_url, HUB_REGISTRY_REFRESH_S="3600")
    admin = {"Authorization": f"Bearer {ADMIN}"}
    async with serve(FaultyProvider()) as base_url:
        await apply_registry(env, registry_doc(base_url), tmp_path)
        async with hub_process(env, tmp_path, "--workers", "2") as hub:
            async with httpx.AsyncClient(base_url=hub.url, timeout=30) as http:
                first = await http.post("/admin/keys", json={"client": CLIENT}, headers=admin)
                second = await http.post("/admin/keys", json={"client": CLIENT}, headers=admin)
            keys = [first.json(), second.json()]
            assert [await calls(hub.url, k["api_key"]) for k in keys] == [[200] * CALLS] * 2
            async with httpx.AsyncClient(base_url=hub.url, timeout=30) as http:
                r = await http.delete(f"/admin/keys/{keys[0]['id']}", headers=admin)
            assert r.status_code == 204, r.text
            assert await calls(hub.url, keys[0]["api_key"]) == [401] * CALLS
            grant = {"client": CLIENT, "service": f"{PROVIDER}/lookup"}
            async with httpx.AsyncClient(base_url=hub.url, timeout=30) as http:
                r = await http.request("DELETE", "/admin/grants", json=grant, headers=admin)
            assert r.status_code == 204, r.text
            assert await calls(hub.url, keys[1]["api_key"]) == [403] * CALLS


async def test_a_key_of_another_secret_is_named_once_at_the_start_of_hub_serve(
    tmp_path: Path,
) -> None:
    # Each worker is a child of `hub serve`, and left the start warning to its parent, which
    # never said it: with --workers 2 the key's 401s were the first sign.
    db_url = f"sqlite+aiosqlite:///{tmp_path}/hub.db"
    env = hub_env(tmp_path, db_url)
    async with serve(FaultyProvider()) as base_url:
        await apply_registry(env, registry_doc(base_url), tmp_path)
        other = env | {"HUB_SECRET_KEY": "another-secret-0123456789abcdef"}
        code, out = await hub_cli(other, "keys", "issue", CLIENT, cwd=tmp_path)
        assert code == 0, out
        key = next(w for w in out.split() if w.startswith("hub_"))
        prefix = key.split("_")[1]
        async with hub_process(env, tmp_path, "--workers", "2") as hub:
            assert await calls(hub.url, key) == [401] * CALLS
        output = hub.output()
    started = [line for line in output.splitlines() if "API key(s) (prefixes" in line]
    assert len(started) == 1 and prefix in started[0], output
    # Each worker that refused it says so once (the kernel may give one worker every call).
    refused = [line for line in output.splitlines() if f"refused an API key of {CLIENT}" in line]
    assert 1 <= len(refused) <= 2 and all(prefix in line for line in refused), output
