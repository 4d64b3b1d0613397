"""`hub up --state-dir` keeps each mock's writes in its own file across a restart of the stack."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

import connectors
from hub.core.security import demo_api_key
from tests.support import free_block, wait_healthy

pytestmark = pytest.mark.slow

SECRET = "state-dir-test-secret-0123456789abcdef"
CLIENT = "VN/GOV/BTP/civil-status"
CARD_ISSUE = "/r1/VN/GOV/BHXH/health-insurance/card-issue/cards"
CARD_LOOKUP = "/r1/VN/GOV/BHXH/health-insurance/card-lookup/cards/{code}"


@contextmanager
def hub_up(port: int, tmp_path: Path, state_dir: Path) -> Iterator[httpx.Client]:
    """`hub up` as a real process; a client of its gateway once it answers."""
    env = {
        **os.environ,
        "HUB_ENV": "development",
        "HUB_SECRET_KEY": SECRET,
        "HUB_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/hub.db",
    }
    cmd = [sys.executable, "-m", "hub", "up", "--port", str(port), "--size", "10000"]
    cmd += ["--state-dir", str(state_dir)]
    with (tmp_path / "up.log").open("ab") as log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(proc, url, tmp_path / "up.log")
        mocks = _children(proc.pid)
        assert len(mocks) == len(connectors.names())
        for cmdline in mocks.values():
            # Any local user reads a command line (ps); the mocks' client keys stay off it.
            assert "hub_" not in cmdline, cmdline
            assert "--client-key" not in cmdline
        keyed = [pid for pid in mocks if "HUB_MOCK_CLIENT_KEY=hub_" in _environ(pid)]
        assert keyed  # the mocks that call other agencies got their key another way
        with httpx.Client(base_url=url, timeout=10) as client:
            yield client
    finally:
        proc.send_signal(signal.SIGINT)  # as Ctrl-C: `hub up` stops its mocks on the way out
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _children(pid: int) -> dict[int, str]:
    """The command lines of ``pid``'s children, from /proc."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                child = int(stat.parent.name)
                found[child] = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
    return found


def _environ(pid: int) -> str:
    return Path(f"/proc/{pid}/environ").read_bytes().replace(b"\0", b"\n").decode()


def test_mock_writes_outlive_a_restart_of_hub_up(tmp_path: Path) -> None:
    port = free_block(1 + len(connectors.names()))
    state_dir = tmp_path / "state"
    headers = {
        "X-Road-Client": CLIENT,
        "Authorization": f"Bearer {demo_api_key(SECRET, CLIENT)}",
        "X-Road-UserId": "officer-01",
        "X-Road-Issue": "HS-2025-0007",
    }
    body = {"holder_id": "079325123456", "full_name": "Lê Bảo An", "date_of_birth": "2025-04-01"}
    with hub_up(port, tmp_path, state_dir) as hub:
        issued = hub.post(CARD_ISSUE, json=body, headers=headers)
        assert issued.status_code == 201, issued.text
        card = issued.json()
    assert sorted(p.name for p in state_dir.iterdir()) == sorted(
        f"{name}.db" for name in connectors.names()
    )
    with hub_up(port, tmp_path, state_dir) as hub:
        found = hub.get(CARD_LOOKUP.format(code=card["code"]), headers=headers)
        assert found.status_code == 200, found.text
        assert found.json() == card


def _port_taken(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def _up(tmp_path: Path) -> tuple[int, int, dict[str, str], list[str]]:
    """How many mock agencies, the hub's port, and the environment and command of a `hub up`
    on a database of its own in ``tmp_path``."""
    n = len(connectors.names())
    port = free_block(1 + n)
    env = {
        **os.environ,
        "HUB_ENV": "development",
        "HUB_SECRET_KEY": SECRET,
        "HUB_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/hub.db",
    }
    return n, port, env, [sys.executable, "-m", "hub", "up", "--port", str(port), "--size", "1000"]


@pytest.mark.parametrize(
    "sig", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGKILL], ids=lambda s: s.name
)
def test_hub_up_stops_its_mock_agencies_on_a_signal(tmp_path: Path, sig: signal.Signals) -> None:
    """A process manager's SIGTERM, a closed terminal's SIGHUP, Ctrl-C and even SIGKILL each
    end `hub up` with its mock agencies: none is left holding its port for the next `hub up`."""
    n, port, env, cmd = _up(tmp_path)
    with (tmp_path / "up.log").open("ab") as log:
        # A session of its own, so that a failure here cannot leave its mocks behind.
        proc = subprocess.Popen(
            cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_healthy(proc, f"http://127.0.0.1:{port}", tmp_path / "up.log")
        mock_ports = range(port + 1, port + 1 + n)
        assert all(_port_taken(p) for p in mock_ports)  # the agencies are up behind the hub
        proc.send_signal(sig)
        if sig == signal.SIGKILL:  # no `finally` runs: the mocks must notice on their own
            assert proc.wait(30) == -signal.SIGKILL
        else:  # the shell's status for the signal; SIGHUP is taken as SIGTERM
            assert proc.wait(30) == 128 + (signal.SIGTERM if sig == signal.SIGHUP else sig)
        deadline = time.monotonic() + 15  # a mock's graceful stop takes up to a second
        while (left := [p for p in mock_ports if _port_taken(p)]) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    said = (tmp_path / "up.log").read_text()
    assert left == [], said
    if sig != signal.SIGKILL:
        # It said when it started and nothing when it stopped: as `hub serve`, it now says
        # when it begins to stop, when the hub has stopped, and when its mocks have.
        stopped_on = signal.SIGTERM if sig == signal.SIGHUP else sig
        lines = said.splitlines()
        stopping = [line for line in lines if line.startswith("hub stopping on")]
        assert stopping and stopping[0].startswith(f"hub stopping on {stopped_on.name}:"), said
        assert any(
            line.startswith("hub stopped: exchanges in flight answered, log flushed")
            for line in lines
        ), said
        assert f"mock agencies stopped ({n})" in lines, said


def test_hub_up_says_when_a_mock_agency_dies_while_it_runs(tmp_path: Path) -> None:
    """A mock agency killed while the stack runs left the hub answering 502 for its services
    and nothing in `hub up`'s output said why: now one line names it and how it ended, the
    hub keeps running, and the other mocks' end on a Ctrl-C is not taken for a death."""
    n, port, env, cmd = _up(tmp_path)
    log_path = tmp_path / "up.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_healthy(proc, f"http://127.0.0.1:{port}", log_path)
        mocks = _children(proc.pid)
        victim, cmdline = next(iter(mocks.items()))
        name = next(n for n in connectors.names() if f" mock {n} " in cmdline)
        os.kill(victim, signal.SIGKILL)
        line = f"the {name} mock agency stopped (killed by SIGKILL) while the stack runs"
        deadline = time.monotonic() + 60
        while line not in log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        said = log_path.read_text()
        assert line in said, said
        assert "`hub up` is restarted" in said, said
        assert proc.poll() is None, said  # the stack keeps running
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
        os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C: the whole group, mocks included
        assert proc.wait(30) == 128 + signal.SIGINT
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    said = log_path.read_text()
    # Said once, for the one that died; the others stopping with the stack say nothing.
    assert sum("mock agency stopped" in line for line in said.splitlines()) == 1, said
