"""`hub serve --workers N` on PostgreSQL refuses exchanges before the provider while the log's
database refuses connections, and lets them through again once it takes writes.

Each exchange of such an outage used to reach the provider and then be answered 503 "could
not be recorded ... the provider may have carried out the request": a birth registered at
the provider whose client was told to check before sending it again, for the whole outage.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from tests.reliability.fakes import CLIENT, LOOKUP, PURPOSE, FaultyProvider, registry_doc
from tests.reliability.procs import apply_registry, hub_env, hub_process, issue_key
from tests.support import POSTGRES_URL, database, serve

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not POSTGRES_URL, reason="needs HUB_TEST_POSTGRES_URL"),
]

CALLS = 20


async def refuse_connections(db_url: str, refuse: bool) -> None:
    """Make the hub's database refuse (or take again) connections, its open ones cut."""
    url = make_url(db_url)
    name = url.database
    admin = url.set(drivername="postgresql", database="postgres")
    conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        await conn.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(not refuse).lower()}')
        if refuse:
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()",
                name,
            )
    finally:
        await conn.close()


@pytest.mark.parametrize("workers", ["1", "2"])
async def test_an_outage_reaches_the_provider_only_with_the_exchanges_that_found_it(
    tmp_path: Path, workers: str
) -> None:
    provider = FaultyProvider()
    async with database("postgres", tmp_path) as db_url, serve(provider) as base_url:
        env = hub_env(tmp_path, db_url)
        await apply_registry(env, registry_doc(base_url), tmp_path)
        async with hub_process(env, tmp_path, "--workers", workers) as hub:
            key = await issue_key(hub.url, CLIENT)
            headers = {"X-Road-Client": CLIENT, "Authorization": f"Bearer {key}", **PURPOSE}

            async def call() -> httpx.Response:
                # Each on its own connection: the kernel deals them out to the workers.
                async with httpx.AsyncClient(timeout=30) as http:
                    return await http.get(hub.url + LOOKUP, headers=headers)

            assert (await call()).status_code == 200
            await refuse_connections(db_url, True)
            try:
                before = provider.calls
                answers = [await call()]
                # The other worker is told by the writer process as the first is: a moment
                # for its frame to arrive, so that no race of two sockets decides the count.
                await asyncio.sleep(0.2)
                answers += [await call() for _ in range(CALLS - 1)]
                assert all(a.status_code == 503 for a in answers), [a.text for a in answers]
                # One after the other: only the first, whose record found the outage, reached
                # the provider. A worker learnt of it only from a batch of its own, so each
                # worker let one more through (any number, with the writer restarting).
                recorded = [a for a in answers if "could not be recorded" in a.text]
                assert len(recorded) == 1, [a.text for a in answers]
                assert provider.calls - before == len(recorded)
                assert all(
                    "refused before it reached the provider" in a.text
                    for a in answers
                    if a not in recorded
                )
            finally:
                await refuse_connections(db_url, False)
            # Back: within a probe or two the exchanges go through again, on every worker.
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 30
            while (await call()).status_code != 200:
                assert loop.time() < deadline, "still refused after the database came back"
                await asyncio.sleep(0.2)
            for _ in range(CALLS // 2):
                resp = await call()
                assert resp.status_code == 200, resp.text
