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
import threading
import time

PARENT_ENV = "HUB_PARENT_PID"  # set by `hub up` for its mocks, `hub serve` for its workers
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
WATCH_EVERY_S = 0.5
# With its parent gone, a hub worker's log writer process is gone too: no exchange in flight
# can be recorded any more, so there is nothing to wait the usual 30 s graceful stop for.
GRACE_S = 10.0


def how_ended(returncode: int | None) -> str:
    """A child's end as an operator reads it: the signal that ended it, or its exit status."""
    if returncode is not None and returncode < 0:
        try:
            return f"killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"killed by signal {-returncode}"
    return f"exit status {returncode}"


def child_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a child that must end with this process."""
    return {**(os.environ if environ is None else environ), PARENT_ENV: str(os.getpid())}


def _parent() -> int | None:
    """The pid of the `hub up` or `hub serve` this is a child of, or None (the parent itself
    reads the variable it set)."""
    raw = os.environ.get(PARENT_ENV, "")
    if not (raw.isascii() and raw.isdigit()) or int(raw) == os.getpid():
        return None
    return int(raw)


def end_with_parent() -> None:
    """In a child of `hub up` or `hub serve`: receive SIGTERM when it dies, however it dies."""
    parent = _parent()
    if parent is None or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0) != 0:
        return
    # Also when the parent died before the request above was made: the watch then signals
    # at once, and its exit after GRACE_S still comes (a worker SIGKILLed out of `hub serve`
    # while still starting, its log writer gone, held the port past 30 s without it).
    threading.Thread(
        target=_watch_parent, args=(parent,), name="end-with-parent", daemon=True
    ).start()


def _watch_parent(parent: int) -> None:
    """The signal again once the parent is gone, and an exit should even that not end it.

    One `hub serve --workers 2` in two to seven, SIGKILLed just after it answered, left a
    worker holding its port: once serving in its event loop with prctl set (logged) and no
    signal pending, once after a startup that failed (its log writer process gone), its main
    thread busy in the interpreter's exit for 30 s and more. Sent again from here, SIGTERM
    ended the first kind in 25 runs in a row; GRACE_S later, anything left ends at once.
    """
    while os.getppid() == parent:
        time.sleep(WATCH_EVERY_S)
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(GRACE_S)
    os._exit(1)


def is_child() -> bool:
    """Whether this is a child of `hub up` or `hub serve`."""
    return _parent() is not None


def orphaned() -> bool:
    """Whether this is a child of `hub up` or `hub serve` whose parent has died."""
    parent = _parent()
    return parent is not None and os.getppid() != parent
