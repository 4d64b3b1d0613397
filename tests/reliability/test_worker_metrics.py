"""/metrics of `hub serve --workers 2` counts the exchanges of both workers, whichever answers.

Each worker kept its counters to itself and a scrape reached whichever the kernel picked:
after ten exchanges one target read 10, 0, 10 over three scrapes, which Prometheus takes for
counter resets.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
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
from tests.reliability.procs import apply_registry, hub_env, hub_process, issue_key
from tests.support import OPERATOR, serve

CALLS = 20
SCRAPES = 12
SERIES = re.compile(r"^hub_exchanges_total\{(.*)\} (\S+)$")


def listed(directory: Path, pattern: str) -> list[Path]:
    return list(directory.glob(pattern))


def exchanges(text: str) -> float:
    """The exchanges /metrics counts for the lookup service without a fault."""
    return sum(
        float(m.group(2))
        for line in text.splitlines()
        if (m := SERIES.match(line))
        and 'fault_code="none"' in m.group(1)
        and re.search(r'service="[^"]+/lookup"', m.group(1))
    )


async def test_every_scrape_counts_the_exchanges_of_every_worker(tmp_path: Path) -> None:
    db_url = f"sqlite+aiosqlite:///{tmp_path}/hub.db"
    # A short TMPDIR of its own (a Unix socket's path is short), to see what is left in it.
    tmp = Path(tempfile.mkdtemp(prefix="hm", dir="/tmp"))
    env = hub_env(tmp_path, db_url, TMPDIR=str(tmp))
    async with serve(FaultyProvider()) as base_url:
        await apply_registry(env, registry_doc(base_url), tmp_path)
        async with hub_process(env, tmp_path, "--workers", "2") as hub:
            shared = listed(tmp, "hub-workers-*")
            assert len(shared) == 1, shared
            key = await issue_key(hub.url, CLIENT)
            headers = {"X-Road-Client": CLIENT, "Authorization": f"Bearer {key}", **PURPOSE}
            for _ in range(CALLS):  # each on its own connection: the kernel deals them out
                async with httpx.AsyncClient(timeout=30) as http:
                    assert (await http.get(hub.url + LOOKUP, headers=headers)).status_code == 200
            # The last exchange is counted after its answer went out: wait until a scrape
            # sees them all (on a busy machine that takes a while), then every scrape must.
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 30
            while True:
                async with httpx.AsyncClient(timeout=30) as http:
                    first = exchanges((await http.get(hub.url + "/metrics")).text)
                if first == CALLS or loop.time() > deadline:
                    break
                await asyncio.sleep(0.1)
            assert first == CALLS, first
            seen = []
            for _ in range(SCRAPES):
                async with httpx.AsyncClient(timeout=30) as http:
                    r = await http.get(hub.url + "/metrics")
                assert r.status_code == 200, r.text
                seen.append(exchanges(r.text))
                assert r.text.count("# TYPE hub_exchanges_total counter") == 1, r.text
            assert seen == [CALLS] * SCRAPES, seen
            # Both workers listen there, so the scrapes above merged two processes.
            assert len(listed(shared[0], "*.sock")) == 2
        assert not shared[0].exists(), "hub serve leaves its metrics directory behind"
        os.rmdir(tmp)


async def test_the_health_page_shows_a_circuit_open_in_any_worker(tmp_path: Path) -> None:
    # Each worker has its own breaker: the page showed the state of whichever worker
    # answered, so a provider refused by one worker read "closed" on every other reload.
    db_url = f"sqlite+aiosqlite:///{tmp_path}/hub.db"
    env = hub_env(tmp_path, db_url, HUB_BREAKER_MIN_REQUESTS="5", HUB_BREAKER_OPEN_S="600")
    provider = FaultyProvider()
    async with serve(provider) as base_url:
        await apply_registry(env, registry_doc(base_url), tmp_path)
        async with hub_process(env, tmp_path, "--workers", "2") as hub:
            key = await issue_key(hub.url, CLIENT)
            headers = {"X-Road-Client": CLIENT, "Authorization": f"Bearer {key}", **PURPOSE}
            provider.mode = "error"
            async with httpx.AsyncClient(timeout=30) as http:  # one connection: one worker
                statuses = [(await http.get(hub.url + LOOKUP, headers=headers)).status_code]
                while statuses[-1] != 503 and len(statuses) < 50:
                    statuses.append((await http.get(hub.url + LOOKUP, headers=headers)).status_code)
            assert statuses[-1] == 503, statuses  # that worker's circuit opened
            operator = {"Authorization": f"Bearer {OPERATOR}"}
            seen = []
            for _ in range(SCRAPES):  # each on its own connection: both workers answer
                async with httpx.AsyncClient(timeout=30) as http:
                    r = await http.get(hub.url + "/api/health/providers", headers=operator)
                assert r.status_code == 200, r.text
                (row,) = [p for p in r.json()["providers"] if p["provider"] == PROVIDER]
                seen.append((row["circuit"], row["circuit_workers"]))
            assert seen == [("open", {"open": 1, "closed": 1})] * SCRAPES, seen
