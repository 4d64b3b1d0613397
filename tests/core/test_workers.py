"""The workers' link (hub/core/workers.py): its directory, and questions between workers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hub.core import workers
from hub.core.workers import WorkerLink


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
