"""Processes that die: SIGKILL loses no answered exchange, SIGTERM drains and flushes."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from hub.core.db import create_engine
from hub.models import Transaction
from tests.reliability.fakes import CLIENT, LOOKUP, PURPOSE, FaultyProvider, registry_doc
from tests.reliability.procs import (
    HubProcess,
    apply_registry,
    hub_cli,
    hub_env,
    hub_process,
    issue_key,
)
from tests.support import serve
from tests.txlog.test_service import writer_processes


def _socket_dir(writer: int) -> Path:
    """The folder of a log writer process's socket, from its command line."""
    cmdline = Path(f"/proc/{writer}/cmdline").read_bytes().split(b"\0")
    return Path(cmdline[cmdline.index(b"--socket") + 1].decode()).parent


def _gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"  # exited, not yet reaped


async def _said(hub: HubProcess, text: str, seconds: float = 30) -> None:
    """Wait until ``hub`` has said ``text`` in its output."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while text not in hub.output():
        assert loop.time() < deadline, f"the hub never said {text!r}:\n{hub.output()}"
        await asyncio.sleep(0.05)


pytestmark = pytest.mark.slow

CONCURRENCY = 32
KILL_AFTER = 600  # answered exchanges before the SIGKILL


async def logged_request_ids(db_url: str) -> set[str]:
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            return set((await conn.scalars(select(Transaction.request_id))).all())
    finally:
        await engine.dispose()


# Where the log is written: inside the worker (the default with one worker), or in a
# process of its own (the default with more).
LOG_MODES = pytest.mark.parametrize("log_mode", ["--log-inline", "--log-process"])


@LOG_MODES
async def test_sigkill_loses_no_record_of_an_answered_exchange(
    tmp_path: Path, log_mode: str
) -> None:
    db_url = f"sqlite+aiosqlite:///{tmp_path}/hub.db"
    env = hub_env(tmp_path, db_url)
    provider = FaultyProvider()
    async with serve(provider) as base_url:
        await apply_registry(env, registry_doc(base_url), tmp_path)
        hub = await HubProcess(env, tmp_path, log_mode).start()
        try:
            key = await issue_key(hub.url, CLIENT)
            headers = {"X-Road-Client": CLIENT, "Authorization": f"Bearer {key}", **PURPOSE}
            answered: dict[str, int] = {}  # X-Road-Request-Id -> status the client received
            enough = asyncio.Event()

            async def load(http: httpx.AsyncClient) -> None:
                while True:
                    try:
                        resp = await http.get(hub.url + LOOKUP, headers=headers)
                    except httpx.HTTPError:
                        return  # the hub is gone
                    answered[resp.headers["X-Road-Request-Id"]] = resp.status_code
                    if len(answered) >= KILL_AFTER:
                        enough.set()

            limits = httpx.Limits(max_connections=CONCURRENCY)
            async with httpx.AsyncClient(limits=limits, timeout=30) as http:
                workers = [asyncio.create_task(load(http)) for _ in range(CONCURRENCY)]
                await asyncio.wait_for(enough.wait(), 120)
                in_flight = provider.in_flight
                hub.signal(signal.SIGKILL)
                await asyncio.gather(*workers)
            assert await hub.wait() == -signal.SIGKILL
        finally:
            await hub.stop()

        # The kill came mid-load: exchanges were in flight, and every answered one is logged.
        assert in_flight > 0 or provider.calls > len(answered)
        assert set(answered.values()) == {200}, answered
        missing = set(answered) - await logged_request_ids(db_url)
        assert not missing, f"{len(missing)} answered exchanges have no record"

        async with hub_process(env, tmp_path) as again, httpx.AsyncClient() as http:
            resp = await http.get(again.url + LOOKUP, headers=headers)
            assert resp.status_code == 200
        code, out = await hub_cli(env, "audit", "verify", cwd=tmp_path)
        assert code == 0, out
        assert f"{len(await logged_request_ids(db_url))} records chained" in out


@pytest.mark.parametrize("log_mode", ["", "--log-process"])  # "": one worker's default
async def test_sigterm_drains_in_flight_exchanges_and_flushes_the_log(
    tmp_path: Path, log_mode: str
) -> None:
    db_url = f"sqlite+aiosqlite:///{tmp_path}/hub.db"
    env = hub_env(tmp_path, db_url)
    provider = FaultyProvider()
    writer: int | None = None
    async with serve(provider) as base_url:
        await apply_registry(env, registry_doc(base_url), tmp_path)
        hub = await HubProcess(env, tmp_path, *filter(None, [log_mode])).start()
        try:
            key = await issue_key(hub.url, CLIENT)
            headers = {"X-Road-Client": CLIENT, "Authorization": f"Bearer {key}", **PURPOSE}
            # Held at the provider until the hub says it is stopping, so that all 20 are in
            # flight at once and answered during the drain. (Delayed 1 s each instead, the
            # first could be answered on a busy machine before the last had arrived, and
            # 20 were then never in flight together.)
            provider.hold = gate = asyncio.Event()
            async with httpx.AsyncClient(timeout=30) as http:
                calls = [
                    asyncio.create_task(http.get(hub.url + LOOKUP, headers=headers))
                    for _ in range(20)
                ]
                try:
                    await asyncio.wait_for(provider.wait_in_flight(20), 30)
                    assert hub.proc is not None
                    writers = writer_processes(hub.proc.pid)
                    if log_mode == "--log-process":
                        (writer,) = writers
                        socket_dir = _socket_dir(writer)
                        assert socket_dir.is_dir()
                    else:
                        assert writers == []  # one worker writes its log itself
                    hub.signal(signal.SIGTERM)
                    await _said(hub, "hub stopping on SIGTERM")
                finally:
                    gate.set()
                answers = await asyncio.gather(*calls)
            # uvicorn re-raises the signal once it has shut down cleanly.
            assert await hub.wait() == -signal.SIGTERM
            if writer is not None:
                for _ in range(100):  # the writer process drains, then leaves no folder
                    if _gone(writer):
                        break
                    await asyncio.sleep(0.1)
                assert not socket_dir.exists()
        finally:
            await hub.stop()
    assert [r.status_code for r in answers] == [200] * 20
    ids = {r.headers["X-Road-Request-Id"] for r in answers}
    assert ids <= await logged_request_ids(db_url)
    code, out = await hub_cli(env, "audit", "verify", cwd=tmp_path)
    assert code == 0, out


async def test_workers_stop_listening_as_soon_as_sigterm_arrives(tmp_path: Path) -> None:
    # With more than one worker, uvicorn's parent process holds the listening socket too:
    # while its workers drained, the kernel went on accepting connections on the parent's
    # copy, and reset them when it exited. A load balancer's new connection during a drain
    # must be refused at once (it retries on another node), as with one worker.
    db_url = f"sqlite+aiosqlite:///{tmp_path}/hub.db"
    env = hub_env(tmp_path, db_url)
    provider = FaultyProvider()
    async with serve(provider) as base_url:
        await apply_registry(env, registry_doc(base_url), tmp_path)
        hub = await HubProcess(env, tmp_path, "--workers", "2").start()
        try:
            key = await issue_key(hub.url, CLIENT)
            headers = {"X-Road-Client": CLIENT, "Authorization": f"Bearer {key}", **PURPOSE}
            async with httpx.AsyncClient(timeout=30) as http:
                for _ in range(50):  # until both workers' registries know the new key
                    resp = await http.get(hub.url + LOOKUP, headers=headers)
                    await asyncio.sleep(0.1)
                assert resp.status_code == 200, resp.text
                # The four are held at the provider (not delayed: a busy machine's slow stop
                # outlasted a 2 s delay) until a connection is refused, or for 8 s at most,
                # within the lookup's 10 s timeout.
                provider.hold = gate = asyncio.Event()
                calls = [
                    asyncio.create_task(http.get(hub.url + LOOKUP, headers=headers))
                    for _ in range(4)
                ]
                await asyncio.wait_for(provider.wait_in_flight(4), 30)
                assert hub.proc is not None
                os.kill(hub.proc.pid, signal.SIGTERM)  # the parent alone, as systemd's main PID
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 8
                refused = False
                try:
                    while loop.time() < deadline:  # the parent looks for signals every 0.5 s
                        await asyncio.sleep(0.05)
                        try:
                            _, writer = await asyncio.open_connection("127.0.0.1", hub.port)
                        except ConnectionRefusedError:
                            refused = True
                            break
                        writer.close()
                finally:
                    gate.set()
                answers = await asyncio.gather(*calls)
            assert refused, "connections were still accepted during the drain"
            assert await hub.wait() in (0, -signal.SIGTERM)
        finally:
            await hub.stop()
    assert [r.status_code for r in answers] == [200] * 4
