"""The processes `hub up` starts end with it, even when it is killed with SIGKILL.

SIGKILL runs none of `hub up`'s clean-up, and its mock agencies went on holding their ports,
so the next `hub up` refused to start. Linux tells a process of its parent's death when
asked (``prctl(PR_SET_PDEATHSIG)``); `hub up` names itself in the child's environment, and
the child asks at its start. Elsewhere the child runs on as before.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PARENT_ENV = "HUB_UP_PID"  # set by `hub up` for its mock agencies
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def child_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a child that must end with this process."""
    return {**(os.environ if environ is None else environ), PARENT_ENV: str(os.getpid())}


def end_with_parent() -> None:
    """In a child of `hub up`: receive SIGTERM when it dies, however it dies."""
    raw = os.environ.get(PARENT_ENV, "")
    if not raw.isdigit() or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        return
    if os.getppid() != int(raw):  # it died before the request above was made
        os.kill(os.getpid(), signal.SIGTERM)
