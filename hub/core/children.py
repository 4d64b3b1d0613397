"""The processes `hub up` and `hub serve --workers N` start end with them, even on SIGKILL.

SIGKILL runs none of their clean-up: `hub up`'s mock agencies and `hub serve`'s workers went
on holding their ports (the workers refusing every exchange, their log writer gone), and the
next start failed on the port. Linux tells a process of its parent's death when asked
(``prctl(PR_SET_PDEATHSIG)``); the parent names itself in the child's environment, and the
child asks at its start. Elsewhere the child runs on as before.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PARENT_ENV = "HUB_PARENT_PID"  # set by `hub up` for its mocks, `hub serve` for its workers
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def child_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a child that must end with this process."""
    return {**(os.environ if environ is None else environ), PARENT_ENV: str(os.getpid())}


def end_with_parent() -> None:
    """In a child of `hub up` or `hub serve`: receive SIGTERM when it dies, however it dies."""
    raw = os.environ.get(PARENT_ENV, "")
    if (
        not (raw.isascii() and raw.isdigit())
        or int(raw) == os.getpid()
        or not sys.platform.startswith("linux")
    ):
        return  # not a child (the parent itself reads the variable it set)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        return
    if os.getppid() != int(raw):  # it died before the request above was made
        os.kill(os.getpid(), signal.SIGTERM)
