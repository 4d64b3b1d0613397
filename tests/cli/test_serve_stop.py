"""`hub serve` says on stderr when it begins to stop and when it has stopped."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import free_port, serve_env, wait_healthy

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="signals and process groups as on Linux"
)


@pytest.mark.parametrize(("workers", "status"), [(1, -signal.SIGTERM), (2, 0)])
def test_hub_serve_says_it_stops_and_has_stopped(tmp_path: Path, workers: int, status: int) -> None:
    # It said when it started and nothing when it stopped: an operator reading the journal
    # could not tell a clean stop from a crash.
    port = free_port()
    env = serve_env(tmp_path)
    cmd = [sys.executable, "-m", "hub", "serve", "--port", str(port), "--workers", str(workers)]
    out_path, err_path = tmp_path / "serve.out", tmp_path / "serve.err"
    with out_path.open("ab") as out, err_path.open("ab") as err:
        # A session of its own, so that a failure here cannot leave its workers behind.
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, start_new_session=True)
    try:
        wait_healthy(proc, f"http://127.0.0.1:{port}", err_path)
        proc.send_signal(signal.SIGTERM)
        # docs/operators.md: 143 in a shell (the signal itself) with one worker, else 0.
        assert proc.wait(60) == status, err_path.read_text()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    said = err_path.read_text().splitlines()
    stopping = [line for line in said if line.startswith("hub stopping")]
    stopped = [line for line in said if line.startswith("hub stopped")]
    assert stopping == [
        "hub stopping on SIGTERM: no new connections are taken; exchanges in flight may "
        "finish, for up to 30 s"
    ], said
    assert len(stopped) == 1, said
    assert stopped[0].startswith("hub stopped: exchanges in flight answered, log flushed"), said
    assert said.index(stopping[0]) < said.index(stopped[0])
    if workers == 1:  # the worker is this process, which knows what its log committed
        assert stopped[0].endswith("(0 records committed by this process)"), said
    assert "hub starting on" in out_path.read_text()
