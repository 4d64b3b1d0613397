"""`hub serve --workers N`: its workers end with it, even when it is killed with SIGKILL."""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.process
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from hub.cli.listen import Supervisor
from tests.support import free_block, free_port, serve_env, serving, wait_healthy

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's"
)


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_workers_end_when_hub_serve_is_killed(tmp_path: Path) -> None:
    port = free_port()
    env = serve_env(tmp_path)
    cmd = [sys.executable, "-m", "hub", "serve", "--port", str(port), "--workers", "2"]
    with (tmp_path / "serve.log").open("ab") as log:
        # A session of its own, so that a failure here cannot leave its workers behind.
        proc = subprocess.Popen(
            cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_healthy(proc, f"http://127.0.0.1:{port}", tmp_path / "serve.log")
        # Quotas counted per worker, said so at the start (they were multiplied silently).
        said = " ".join((tmp_path / "serve.log").read_text().split())
        assert "counts client quotas on its own, so a client may get up to 2 times" in said
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(30) == -signal.SIGKILL
        # The workers went on listening, refusing every exchange with their log writer gone,
        # and the next `hub serve` failed on the port.
        deadline = time.monotonic() + 30
        while _listening(port) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not _listening(port), (tmp_path / "serve.log").read_text()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_workers_slow_to_start_are_waited_for(tmp_path: Path) -> None:
    # A worker answers uvicorn's health pings only once its process has imported what it
    # runs, a few seconds on a busy host or a container with a fraction of a core; after
    # 5 s of silence uvicorn killed it and started another, which took as long: the hub
    # never served, and said nothing (uvicorn logs it below `hub serve`'s warning level).
    main = tmp_path / "slow_hub.py"
    main.write_text(
        "import sys, time\n"
        "if __name__ != '__main__':\n"
        "    time.sleep(20)  # each worker re-imports this script: a slow start\n"
        "from hub.cli.main import main\n"
        "if __name__ == '__main__':\n"
        "    sys.exit(main())\n"
    )
    port = free_port()
    env = serve_env(tmp_path)
    cmd = [sys.executable, str(main), "serve", "--port", str(port), "--workers", "2"]
    with (tmp_path / "serve.log").open("ab") as log:
        proc = subprocess.Popen(
            cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_healthy(proc, f"http://127.0.0.1:{port}", tmp_path / "serve.log", seconds=75)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


async def test_a_startup_that_fails_leaves_no_thread_to_keep_the_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from hub.app import create_app
    from hub.core.migrate import upgrade_async
    from tests.support import make_settings, running

    url = f"sqlite+aiosqlite:///{tmp_path}/hub.db"
    await upgrade_async(url)
    app = create_app(make_settings(url, tmp_path))

    async def gone() -> None:  # as the log writer process's socket was, after a SIGKILL
        raise FileNotFoundError("no such socket")

    monkeypatch.setattr(app.state.writer, "start", gone)  # app.state is the HubState
    with pytest.raises(FileNotFoundError):
        async with running(app):
            pass
    # The registry was read before the failure: its database connection's thread, which
    # is not a daemon, had kept the worker's interpreter (and its port) from exiting.
    # Closed, such a thread ends within milliseconds (it was seen alive right after): it
    # must end, not be gone at once.
    for thread in threading.enumerate():
        if "_connection_worker_thread" in thread.name:
            thread.join(timeout=5)
    left = [t for t in threading.enumerate() if "_connection_worker_thread" in t.name]
    assert left == [], left


def test_orphaned_says_whether_the_parent_named_is_gone(monkeypatch: pytest.MonkeyPatch) -> None:
    from hub.core.children import PARENT_ENV, orphaned

    monkeypatch.delenv(PARENT_ENV, raising=False)
    assert not orphaned()  # not a child of hub up or hub serve
    monkeypatch.setenv(PARENT_ENV, str(os.getppid()))
    assert not orphaned()
    monkeypatch.setenv(PARENT_ENV, str(os.getpid()))
    assert not orphaned()  # the parent itself
    monkeypatch.setenv(PARENT_ENV, "999999999")  # no such process is this one's parent
    assert orphaned()


def test_a_child_whose_parent_died_before_it_asked_still_ends(tmp_path: Path) -> None:
    # A worker still starting when `hub serve` was SIGKILLed found its parent gone: it sent
    # itself SIGTERM once, and with no watch behind it, a startup that let the signal wait
    # (here: ignores it) held the port past the test's 30 s.
    script = (
        "import signal, time\n"
        "from hub.core import children\n"
        "children.GRACE_S = 0.5\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "children.end_with_parent()\n"
        "time.sleep(60)\n"
    )
    # The parent it names is gone: a process that has ended.
    gone = subprocess.Popen([sys.executable, "-c", ""])
    gone.wait()
    env = {**os.environ, "HUB_PARENT_PID": str(gone.pid)}
    proc = subprocess.Popen([sys.executable, "-c", script], env=env)
    try:
        assert proc.wait(20) == 1
    finally:
        proc.kill()
        proc.wait()


SHADOW = 'raise ImportError("imported from the current directory, not the installed hub")\n'


@pytest.mark.slow
@pytest.mark.parametrize("command", ["up", "serve"])
def test_children_do_not_import_packages_from_the_current_directory(
    tmp_path: Path, command: str
) -> None:
    # `hub up` started its mock agencies, and `hub serve` its log writer, as `python -m ...`,
    # which puts the current directory first on the import path: run from a directory holding
    # a `hub`, `connectors` or `schemas` folder (the parent of a clone named `hub`; a project
    # with its own `schemas`), the children imported that folder and died.
    work = tmp_path / "work"
    for package in ("hub", "connectors", "schemas"):
        (work / package).mkdir(parents=True)
        (work / package / "__init__.py").write_text(SHADOW)
    env = serve_env(tmp_path)
    script = Path(sys.executable).with_name("hub")  # the console script: not `python -m`
    if command == "up":
        port = free_block(5)
        cmd = [str(script), "up", "--port", str(port), "--size", "1000"]
    else:
        port = free_port()
        cmd = [str(script), "serve", "--port", str(port), "--log-process"]
    log_path = tmp_path / f"{command}.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        wait_healthy(proc, f"http://127.0.0.1:{port}", log_path)
        assert "current directory" not in log_path.read_text()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


class _Worker:
    """What uvicorn's parent holds of a worker (its ``Process``), around a real process."""

    def __init__(self, process: multiprocessing.process.BaseProcess) -> None:
        self.process = process

    def join(self) -> None:
        self.process.join()


def test_a_hung_worker_does_not_keep_hub_serve_from_stopping(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A worker that no longer runs (SIGSTOP, a deadlock) never acts on SIGTERM: uvicorn's
    # parent waited for it for ever, and `hub serve` never exited.
    hung = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(120,))
    hung.start()
    assert hung.pid is not None
    os.kill(hung.pid, signal.SIGSTOP)
    supervisor = object.__new__(Supervisor)
    supervisor.config = SimpleNamespace(timeout_graceful_shutdown=0.5)  # type: ignore[assignment]
    supervisor.processes = [_Worker(hung)]  # type: ignore[list-item]
    supervisor.stop_signal = signal.SIGTERM
    joiner = threading.Thread(target=supervisor.join_all, daemon=True)
    try:
        joiner.start()
        joiner.join(20)
        assert not joiner.is_alive()
        assert hung.exitcode == -signal.SIGKILL
        # Not "exchanges in flight answered": the killed worker's were cut off.
        said = capsys.readouterr().err.splitlines()
        assert said[-1] == "hub stopped: 1 worker(s) killed, their exchanges in flight cut off"
    finally:
        if hung.exitcode is None:
            hung.kill()
            hung.join()


def _worker_pids(serve_pid: int) -> list[int]:
    """The pids of a `hub serve --workers N`'s workers, from the sockets they listen on."""
    import tempfile

    from hub.core.workers import PREFIX

    found: list[int] = []
    for folder in Path(tempfile.gettempdir()).glob(f"{PREFIX}{serve_pid}-*"):
        found += [int(p.stem) for p in folder.glob("*.sock") if p.stem.isdigit()]
    return found


def test_a_worker_killed_is_said_when_it_is_replaced(tmp_path: Path) -> None:
    # A worker ended by the kernel's OOM killer (SIGKILL) was replaced by uvicorn, which
    # says so at INFO, below `hub serve`'s level: the journal showed nothing, while the
    # worker's exchanges in flight were cut off and its /metrics counts fell.
    with serving(tmp_path, "--workers", "2") as (proc, log_path):
        deadline = time.monotonic() + 60
        while len(_worker_pids(proc.pid)) < 2:
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        victim = _worker_pids(proc.pid)[0]
        os.kill(victim, signal.SIGKILL)
        said = ""
        while f"worker {victim} " not in said:
            assert time.monotonic() < deadline, said
            time.sleep(0.2)
            said = " ".join(log_path.read_text().split())
        assert (
            f"worker {victim} ended (killed by SIGKILL): its exchanges in flight were cut off; "
            "started worker " in said
        ), said
        assert proc.poll() is None  # the hub goes on serving


@pytest.mark.parametrize(
    ("exitcode", "hung", "said"),
    [
        (-signal.SIGKILL, False, "ended (killed by SIGKILL)"),
        (-signal.SIGSEGV, False, "ended (killed by SIGSEGV)"),
        (1, False, "ended (exit status 1)"),
        (-signal.SIGKILL, True, f"did not answer for {60} s: killed"),
    ],
)
def test_how_a_worker_ended_is_worded(exitcode: int, hung: bool, said: str) -> None:
    from hub.cli.listen import how_it_ended

    assert how_it_ended(exitcode, hung=hung) == said


class _Asked:
    """A worker as uvicorn's parent holds it, whose process is killed as it is pinged: it
    died during the check, which then waited for its answer (60 s) and called it hung."""

    def __init__(self, process: multiprocessing.process.BaseProcess) -> None:
        self.process = process
        self.parent_conn, self._child_end = multiprocessing.Pipe()

    def ping_sent(self) -> None:
        assert self.process.pid is not None
        os.kill(self.process.pid, signal.SIGKILL)

    def kill(self) -> None:
        self.process.kill()

    def join(self) -> None:
        self.process.join()

    @property
    def exitcode(self) -> int | None:
        return self.process.exitcode


class _Replacement:
    def __init__(self, config: object, sockets: object) -> None:
        self.process = SimpleNamespace(pid=4242)

    def start(self) -> None:
        pass


def test_a_worker_that_dies_as_it_is_checked_is_not_called_hung(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import hub.cli.listen as listen

    doomed = multiprocessing.get_context("spawn").Process(target=time.sleep, args=(120,))
    doomed.start()
    worker = _Asked(doomed)
    sent = worker.parent_conn.send

    def send(data: object) -> None:
        sent(data)
        worker.ping_sent()

    monkeypatch.setattr(worker.parent_conn, "send", send)
    monkeypatch.setattr(listen, "Process", _Replacement)
    supervisor = object.__new__(Supervisor)
    supervisor.config = SimpleNamespace(timeout_worker_healthcheck=60)  # type: ignore[assignment]
    supervisor.sockets = []
    supervisor.processes = [worker]  # type: ignore[list-item]
    supervisor.should_exit = threading.Event()
    supervisor.ready_said = True
    checker = threading.Thread(target=supervisor.keep_subprocess_alive, daemon=True)
    try:
        checker.start()
        checker.join(20)  # not the 60 s a hung worker is given
        assert not checker.is_alive()
        said = " ".join(capsys.readouterr().err.split())
        assert f"worker {doomed.pid} ended (killed by SIGKILL)" in said, said
        assert "started worker 4242 in its place" in said
    finally:
        if doomed.exitcode is None:
            doomed.kill()
            doomed.join()
