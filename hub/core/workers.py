"""The workers of one ``hub serve --workers N``, each able to ask the others.

``hub serve`` makes a private directory (``HUB_WORKERS_DIR``) and every worker listens there
on a Unix socket named by its process id. A worker asks the others a question by name (a
line), and each answers with bytes and closes. Two questions are asked:

- ``metrics``: the worker a Prometheus scrape reaches answers for them all
  (hub/stats/shared.py);
- ``registry``: an admin change made through one worker is reloaded by every other before
  the change is answered, so a revoked key or a removed grant is refused at once by all
  (within HUB_REGISTRY_REFRESH_S before).

Nothing here runs per exchange.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.app import HubState

log = logging.getLogger(__name__)

PREFIX = "hub-workers-"
ASK_TIMEOUT_S = 5.0
# A Unix socket's path has at most 107 bytes on Linux (sun_path).
SOCKET_PATH_MAX = 100

Handler = Callable[[], Awaitable[bytes]]


def install(state: HubState) -> None:
    """With ``HUB_WORKERS_DIR`` set (by ``hub serve --workers N``), listen for the others,
    and reload the registry when one of them asks (``state.extras["workers"]``)."""
    if not state.settings.workers_dir:
        return
    link = WorkerLink(state.settings.workers_dir)

    async def registry() -> bytes:
        await state.registry.refresh()  # reloads only if the registry's version moved
        return b"ok"

    async def start() -> None:
        await link.start()
        # The registry was loaded before this socket opened: a change another worker made
        # in between was asked of the others only (a worker started in place of one that
        # died served it stale until its periodic reload). From now on it is asked here too.
        await registry()

    link.handlers["registry"] = registry
    state.extras["workers"] = link
    state.extras.setdefault("on_startup", []).append(start)
    state.on_shutdown.append(link.stop)


def make_dir() -> str:
    """A private directory for the workers of this ``hub serve``; those of earlier ones whose
    process is gone (ended by SIGKILL) are removed first."""
    tmp = Path(tempfile.gettempdir())
    for old in tmp.glob(f"{PREFIX}*-*"):
        pid = old.name[len(PREFIX) :].partition("-")[0]
        if pid.isdigit() and not alive(int(pid)) and old.stat().st_uid == os.getuid():
            shutil.rmtree(old, ignore_errors=True)
    made = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-")
    if len(made) + len("/4194304.sock") > SOCKET_PATH_MAX:  # a long TMPDIR
        os.rmdir(made)
        made = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir="/tmp")
    return made


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class WorkerLink:
    """This worker's socket in the shared directory, and its questions to the others."""

    def __init__(self, directory: str) -> None:
        self.directory = Path(directory)
        self.pid = os.getpid()
        self.socket = self.directory / f"{self.pid}.sock"
        self.handlers: dict[str, Handler] = {}
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_unix_server(self._answer, path=str(self.socket))

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(OSError):
                os.unlink(self.socket)

    def others(self) -> list[Path]:
        """The other workers' sockets."""
        return [
            p for p in self.directory.glob("*.sock") if p.stem.isdigit() and int(p.stem) != self.pid
        ]

    async def ask(self, question: str) -> list[bytes]:
        """Every other worker's answer; one that gives none within ASK_TIMEOUT_S is left out
        (and its socket removed if its process is gone)."""
        asked = await asyncio.gather(
            *(self._ask(p, question) for p in self.others()), return_exceptions=True
        )
        return [a for a in asked if isinstance(a, bytes)]

    async def _ask(self, path: Path, question: str) -> bytes:
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_unix_connection(str(path)), ASK_TIMEOUT_S
            )
            try:
                writer.write(question.encode() + b"\n")
                return await asyncio.wait_for(reader.read(), ASK_TIMEOUT_S)
            finally:
                writer.close()
        except (OSError, TimeoutError) as exc:
            # A worker that crashed leaves its socket: uvicorn starts another in its place.
            pid = int(path.stem)
            if not alive(pid):
                with contextlib.suppress(OSError):
                    os.unlink(path)
            else:
                why = (
                    f"no answer within {ASK_TIMEOUT_S:g} s"
                    if isinstance(exc, TimeoutError)
                    else exc
                )
                log.warning("worker %s did not answer %r: %s", pid, question, why)
            raise

    async def _answer(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            question = (await asyncio.wait_for(reader.readline(), ASK_TIMEOUT_S)).strip()
            handler = self.handlers.get(question.decode(errors="replace"))
            if handler is not None:
                writer.write(await handler())
                await writer.drain()
        except (ConnectionError, TimeoutError) as exc:  # the asker gave up: nothing to tell
            log.info("another worker stopped waiting for this one's answer: %r", exc)
        except Exception:  # the handler failed: the asker gets nothing
            log.warning("could not answer another worker", exc_info=True)
        finally:
            writer.close()
