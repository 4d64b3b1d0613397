"""The workers' link (hub/core/workers.py): its directory, and questions between workers."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pytest

from hub.app import create_app
from hub.core import workers
from hub.core.db import create_engine, session_factory
from hub.core.workers import WorkerLink
from hub.registry import keys as api_keys
from tests.gateway.conftest import load_registry
from tests.reliability.fakes import CLIENT, LOOKUP, PURPOSE, registry_doc
from tests.support import make_settings, running


def _dead_pid() -> int:
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    return int(proc.stdout)


def test_a_new_hub_serve_removes_the_directories_of_ended_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workers.tempfile, "tempdir", str(tmp_path))
    ended = tmp_path / f"hub-workers-{_dead_pid()}-x1"
    running = tmp_path / f"hub-workers-{os.getppid()}-x2"
    other = tmp_path / "hub-workers-notes"
    for d in (ended, running, other):
        d.mkdir()
    made = Path(workers.make_dir())
    assert (made.stat().st_mode & 0o777) == 0o700
    assert made.name.startswith(f"hub-workers-{os.getpid()}-")
    made.rmdir()  # (under /tmp when tmp_path is too long for a socket's path)
    assert len(str(made / "4194304.sock")) <= workers.SOCKET_PATH_MAX
    assert not ended.exists()
    assert running.exists() and other.exists()


async def test_each_other_worker_answers_the_question_it_knows(tmp_path: Path) -> None:
    asker = WorkerLink(str(tmp_path))
    other = WorkerLink(str(tmp_path))
    other.pid, other.socket = os.getppid(), tmp_path / f"{os.getppid()}.sock"
    asked: list[str] = []

    async def registry() -> bytes:
        asked.append("registry")
        return b"ok"

    other.handlers["registry"] = registry
    await other.start()
    try:
        assert await asker.ask("registry") == [b"ok"]
        assert await asker.ask("nonsense") == [b""]  # nothing to say: an empty answer
    finally:
        await other.stop()
    assert asked == ["registry"]
    assert not other.socket.exists()
    assert await asker.ask("registry") == []  # nobody left to ask


async def test_a_change_made_while_a_worker_starts_is_in_force_when_it_serves(
    sqlite_url: str, tmp_path: Path
) -> None:
    """A worker uvicorn starts in place of one that died loads the registry, then opens its
    socket: a change committed in between was asked of the workers whose sockets were there,
    not of this one, which served it stale until its next periodic reload."""
    keys = await load_registry(sqlite_url, registry_doc("http://127.0.0.1:9"))
    directory = tempfile.mkdtemp(prefix="hub-workers-test-", dir="/tmp")  # a short socket path
    settings = make_settings(sqlite_url, tmp_path, workers_dir=directory, registry_refresh_s=3600)
    app = create_app(settings)
    state = app.state
    started = state.forwarder.start

    async def start_while_another_worker_revokes() -> None:
        await started()
        engine = create_engine(sqlite_url)
        try:
            async with session_factory(engine)() as session:
                await api_keys.revoke(session, 1)  # CLIENT's key, as DELETE /admin/keys/1
                await session.commit()
        finally:
            await engine.dispose()
        other = WorkerLink(directory)
        other.pid = os.getppid()
        assert await other.ask("registry") == []  # this worker's socket is not there yet

    state.forwarder.start = start_while_another_worker_revokes  # type: ignore[method-assign]
    headers = {"X-Road-Client": CLIENT, "Authorization": f"Bearer {keys[CLIENT]}", **PURPOSE}
    try:
        async with (
            running(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://hub"
            ) as client,
        ):
            assert (await client.get(LOOKUP, headers=headers)).status_code == 401
    finally:
        shutil.rmtree(directory, ignore_errors=True)


async def test_a_worker_that_gives_no_answer_in_time_is_named_with_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    # A worker stopped a while (SIGSTOP) was logged as "did not answer 'metrics': " with
    # no reason, and when it ran again it logged a traceback for each question whose
    # asker had given up meanwhile.
    monkeypatch.setattr(workers, "ASK_TIMEOUT_S", 0.2)
    asker = WorkerLink(str(tmp_path))
    slow = WorkerLink(str(tmp_path))
    slow.pid, slow.socket = os.getppid(), tmp_path / f"{os.getppid()}.sock"

    async def metrics() -> bytes:
        await asyncio.sleep(0.5)  # past the asker's patience
        return b"x" * 1_000_000  # more than the socket takes while nobody reads

    slow.handlers["metrics"] = metrics
    await slow.start()
    try:
        assert await asker.ask("metrics") == []
        await asyncio.sleep(0.6)
    finally:
        await slow.stop()
    said = [r for r in caplog.records if r.name == workers.__name__]
    assert [r.getMessage() for r in said][0].endswith("no answer within 0.2 s")
    assert not [r for r in said if r.exc_info], "a traceback for an asker that gave up"
