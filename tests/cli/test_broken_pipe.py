"""A reader that goes away (`hub tx list | head -2`) ends the command quietly."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import SECRET

COMMANDS = [
    ["tx", "list"],
    ["tx", "list", "--json"],
    ["stats", "summary"],
    ["stats", "summary", "--json"],
    ["registry", "export"],
    ["audit", "verify", "--no-signatures"],
    ["--version"],
]


def _into_a_closed_pipe(*args: str) -> subprocess.CompletedProcess[str]:
    """`hub ARGS | head -0`: the reader is gone before the first write."""
    hub = str(Path(sys.executable).parent / "hub")
    env = {**os.environ, "HUB_SECRET_KEY": SECRET, "HUB_ENV": "test"}
    # Unbuffered, each write failed at once inside the command; buffered (as for everyone
    # who has not set it), the last one failed in the interpreter's flush on its way out.
    env.pop("PYTHONUNBUFFERED", None)
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run(
            [hub, *args], stdout=write, stderr=subprocess.PIPE, text=True, env=env, timeout=60
        )
    finally:
        os.close(write)


@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
async def test_a_reader_gone_ends_the_command_quietly_with_status_1(
    sqlite_url: str, args: list[str]
) -> None:
    # `hub stats summary --json | head -1` ended with "Exception ignored in: <_io.TextIOWrapper
    # name='<stdout>'...> BrokenPipeError" and status 120. Status 1 is what Python's note on
    # SIGPIPE gives, and what a write that fails inside the command already gave.
    db = [] if args == ["--version"] else ["--db", sqlite_url]
    proc = await asyncio.to_thread(_into_a_closed_pipe, *args, *db)
    assert proc.stderr == ""
    assert proc.returncode == 1
