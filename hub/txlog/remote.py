"""A hub worker's side of the log writer process (hub/txlog/service.py).

``RemoteLogWriter`` has the in-process ``LogWriter``'s face (``submit`` returns once the
record is committed, ``healthy``, ``depth``, ``on_commit``), so the gateway cannot tell the
two apart. Records wait in an outbox until the end of the event loop's current iteration
and leave in one frame; acknowledgements come back the same way.

If the writer process is gone, the exchanges waiting on it get 503 Server.LoggingFailed
(their records may or may not have been committed; none of their answers left), and the
next exchange tries to connect again: ``hub serve`` restarts the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from hub.core.errors import LoggingFailed
from hub.txlog.service import FrameReader, frame
from hub.txlog.writer import STALL_S

log = logging.getLogger(__name__)

RECONNECT_EVERY_S = 0.2  # at most one attempt this often while the writer is away
CONNECT_WAIT_S = 30.0  # at start, how long to wait for the writer's socket


class RemoteLogWriter(asyncio.Protocol):
    def __init__(self, path: str, *, queue_max: int = 50_000) -> None:
        self.path = path
        self.queue_max = queue_max
        # (records, seconds): the seconds of the batch, None when another worker had records
        # in it too and was given them (hub/txlog/service.py, Timed).
        self.on_commit: list[Callable[[int, float | None], None]] = []
        self.on_failure: list[Callable[[], None]] = []  # see LogWriter.on_failure
        self.committed = 0
        self.failed_batches = 0
        self.last_commit_s = 0.0
        self.healthy = False
        self.busy_since = 0.0  # perf_counter since when records wait with no answer; 0 idle
        self._transport: asyncio.Transport | None = None
        self._reader = FrameReader()
        self._pending: dict[int, asyncio.Future[None]] = {}
        self._outbox: list[tuple[int, dict[str, Any]]] = []
        self._tag = 0
        self._scheduled = False
        self._last_attempt = 0.0
        self._connecting: asyncio.Future[None] | None = None
        self._unreachable_said = False  # "cannot reach" logged, "reached again" not yet
        self._drained: asyncio.Future[None] | None = None  # stop() waits on it

    @property
    def depth(self) -> int:
        return len(self._pending)

    async def start(self) -> None:
        deadline = time.monotonic() + CONNECT_WAIT_S
        while True:
            try:
                await self._connect()
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.05)

    async def stop(self) -> None:
        """Wait for the records already sent (SIGTERM drains through here), then close."""
        if self._pending and self._transport is not None:
            self._drained = asyncio.get_running_loop().create_future()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._drained), CONNECT_WAIT_S)
        if self._transport is not None:
            self._transport.close()
            self._transport = None

    async def submit(self, record: dict[str, Any]) -> None:
        """Send ``record`` and wait for its commit; LoggingFailed when it cannot be written."""
        if self._transport is None:
            await self._reconnect()
        if len(self._pending) >= self.queue_max:
            raise LoggingFailed(
                "the transaction log is overloaded, so the exchange is refused; retry shortly"
            )
        loop = asyncio.get_running_loop()
        self._tag += 1
        fut = loop.create_future()
        if not self._pending:
            self.busy_since = time.perf_counter()
        self._pending[self._tag] = fut
        self._outbox.append((self._tag, record))
        if not self._scheduled:
            self._scheduled = True
            loop.call_soon(self._flush)
        await fut

    async def _reconnect(self) -> None:
        if self._connecting is not None:
            await asyncio.shield(self._connecting)  # raises what the attempt raised
            return
        if time.monotonic() - self._last_attempt < RECONNECT_EVERY_S:
            raise LoggingFailed(
                "the transaction log writer is not reachable, so the exchange is refused; "
                "retry shortly"
            )
        self._connecting = asyncio.get_running_loop().create_future()
        try:
            await self._connect()
        except OSError as exc:
            err = LoggingFailed(
                "the transaction log writer is not reachable, so the exchange is refused; "
                "retry shortly"
            )
            # Once until it is back: each attempt (one each RECONNECT_EVERY_S) said it again,
            # two dozen lines a worker while `hub serve` restarted a killed writer process.
            if not self._unreachable_said:
                self._unreachable_said = True
                log.warning(
                    "cannot reach the log writer at %s: %s (said once until it is reached again)",
                    self.path,
                    exc,
                )
            self._connecting.set_exception(err)
            self._connecting.exception()  # retrieved: no "never retrieved" warning
            raise err from None
        else:
            if self._unreachable_said:
                self._unreachable_said = False
                log.warning("reached the log writer at %s again", self.path)
            self._connecting.set_result(None)
        finally:
            self._connecting = None

    async def _connect(self) -> None:
        self._last_attempt = time.monotonic()
        loop = asyncio.get_running_loop()
        await loop.create_unix_connection(lambda: self, self.path)

    def refusal(self, now: float) -> str | None:
        """Why a new exchange must not reach its provider now: see LogWriter.refusal.

        None while the link is down: ``connect`` then says whether the writer is back.
        """
        if self._transport is not None and not self.healthy:
            return "the transaction log's last write failed"
        if self.busy_since and now - self.busy_since > STALL_S:
            return (
                f"the transaction log's writer has not answered for {now - self.busy_since:.0f} s"
            )
        return None

    @property
    def linked(self) -> bool:
        return self._transport is not None

    async def connect(self) -> None:
        """Reach the writer if the link is down; LoggingFailed when it cannot be reached."""
        if self._transport is None:
            await self._reconnect()

    def recovered(self) -> None:
        """The database takes writes again (see LogWriter.recovered): healthy, if connected."""
        if self._transport is not None:
            self.healthy = True

    # --- asyncio.Protocol ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]
        self._reader = FrameReader()
        self.healthy = True

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        self.healthy = False
        if self._pending:
            log.error("lost the log writer with %d records unconfirmed", len(self._pending))
            self.failed_batches += 1
        err = LoggingFailed(
            "the transaction log writer went away before confirming this exchange's record, "
            "so the exchange is refused; retry shortly"
        )
        pending, self._pending, self._outbox = self._pending, {}, []
        self.busy_since = 0.0
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(err)

    def data_received(self, data: bytes) -> None:
        try:
            docs = self._reader.feed(data)
        except ValueError as exc:
            log.error("the log writer sent a broken frame: %s", exc)
            if self._transport is not None:
                self._transport.close()
            return
        if docs:  # the writer answered: it is not stuck
            self.busy_since = time.perf_counter() if self._pending else 0.0
        for doc in docs:
            pending = self._pending
            for tag in doc["ok"]:
                fut = pending.pop(tag, None)
                if fut is not None and not fut.done():
                    fut.set_result(None)
            if doc["err"]:
                self.failed_batches += 1
                for tag, message in doc["err"]:
                    fut = pending.pop(tag, None)
                    if fut is not None and not fut.done():
                        fut.set_exception(LoggingFailed(message))
            if doc["err"] or doc.get("down"):
                # "down": a batch failed, maybe another worker's (see Peer.down in
                # hub/txlog/service.py); an "ok" beside it is of an earlier batch, so it does
                # not clear it: the probe does (hub/core/readiness.py).
                self.healthy = False
                for failing in self.on_failure:
                    failing()
            elif doc["ok"]:
                self.healthy = True
            if not pending:
                self.busy_since = 0.0
            if not pending and self._drained is not None and not self._drained.done():
                self._drained.set_result(None)
            for n, seconds in doc["commits"]:
                self.committed += n
                if seconds is not None:
                    self.last_commit_s = seconds
                for callback in self.on_commit:
                    callback(n, seconds)

    def _flush(self) -> None:
        self._scheduled = False
        outbox, self._outbox = self._outbox, []
        if not outbox:
            return
        if self._transport is None or self._transport.is_closing():
            # connection_lost has failed (or will fail) every pending record
            return
        try:
            self._transport.write(frame(outbox))
        except Exception as exc:  # a record JSON cannot carry: fail its batch, keep the link
            log.exception("could not send records to the log writer")
            err = LoggingFailed(f"the exchange's record could not be sent to the log: {exc}")
            for tag, _record in outbox:
                fut = self._pending.pop(tag, None)
                if fut is not None and not fut.done():
                    fut.set_exception(err)
