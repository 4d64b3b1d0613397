"""Operator queries on a thread and event loop of their own, so the gateway's never waits.

The statistics API turns rollup rows into series in Python. On a log of 1,000,000
exchanges over 400 days, an hourly series of the whole period split by service is about a
second of that (SQLAlchemy's rows, bucketing, the models); run on the gateway's event loop
it held /healthz, and every exchange in flight, for 444 ms. Here the query has an engine
and a loop of its own on another thread: the gateway's loop takes the GIL back at every
switch interval (5 ms) and goes on serving meanwhile.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hub.core.db import create_engine

T = TypeVar("T")
# Operator queries are few and long; a handful of connections serves a dashboard's burst.
POOL = {"pool_size": 4, "max_overflow": 4}


class QueryThread:
    """Runs ``fn(conn)`` coroutines on a private loop and engine; the caller awaits the result."""

    def __init__(self, url: str, *, concurrency: int = 2) -> None:
        self.url = url
        # Queries beyond this wait their turn: each one running takes the GIL from the
        # gateway's loop in turns, and 16 clients looping over heavy queries had taken the
        # gateway's p95 from 8 to 193 ms (1M records).
        self.concurrency = concurrency
        self._slots: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._engine: AsyncEngine | None = None
        self._thread: threading.Thread | None = None

    async def start(self) -> None:
        self._slots = asyncio.Semaphore(self.concurrency)
        started: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=self._main, args=(started,), name="hub-operator-queries", daemon=True
        )
        self._thread.start()
        await asyncio.wrap_future(started)

    def _main(self, started: concurrent.futures.Future[None]) -> None:
        loop = asyncio.new_event_loop()
        try:
            pool = {} if self.url.startswith("sqlite") else POOL
            self._engine = create_engine(self.url, **pool)
        except BaseException as exc:
            loop.close()
            started.set_exception(exc)
            return
        self._loop = loop
        started.set_result(None)
        try:
            loop.run_forever()
        finally:
            loop.close()

    async def run(self, fn: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """``fn`` on a connection of the query thread's engine; cancelling cancels it there."""
        loop, engine, slots = self._loop, self._engine, self._slots
        if loop is None or engine is None or slots is None or loop.is_closed():
            raise RuntimeError("the operator query thread is not running")

        async def job() -> T:
            async with engine.connect() as conn:
                return await fn(conn)

        async with slots:
            return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(job(), loop))

    async def answer(self, receive: Callable[[], Awaitable[Any]], fn: Callable[..., Any]) -> Any:
        """``run(fn)``, cancelled when the client goes (``receive`` says http.disconnect).

        A web framework leaves a route running when its client has gone: a dashboard that
        timed out, or a script retrying, left the hub busy for a minute with answers nobody
        would read.
        """
        query = asyncio.ensure_future(self.run(fn))
        gone = asyncio.ensure_future(_disconnect(receive))
        try:
            await asyncio.wait({query, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
            if not query.done():
                query.cancel()
            for task in (gone, query):
                with contextlib.suppress(asyncio.CancelledError):
                    await asyncio.wait({task})
        if query.cancelled():
            raise ClientGone
        return query.result()

    async def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None or loop.is_closed():
            return
        self._loop = None
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._close(), loop))
        loop.call_soon_threadsafe(loop.stop)
        await asyncio.to_thread(thread.join, 10)

    async def _close(self) -> None:
        """Cancel what still runs (a client gone mid-query), then close the connections."""
        current = asyncio.current_task()
        pending: list[asyncio.Task[Any]] = [t for t in asyncio.all_tasks() if t is not current]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if self._engine is not None:
            await self._engine.dispose()


class ClientGone(Exception):
    """The client went before its query ended; the query was cancelled."""


async def _disconnect(receive: Callable[[], Awaitable[Any]]) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
