"""Operator queries run on a thread of their own: a long one leaves the gateway's loop free."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from hub.stats import service
from hub.stats.offload import QueryThread
from tests.gateway.conftest import Hub
from tests.stats.conftest import AUTH


async def _until(flag: threading.Event, seconds: float = 10) -> None:
    for _ in range(int(seconds * 100)):
        if flag.is_set():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the event was never set")


def waits_for_cancel(started: threading.Event, cancelled: threading.Event) -> Any:
    """A query that waits until it is cancelled, and says when each happens."""

    async def forever(conn: Any) -> None:
        started.set()
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    return forever


async def test_the_gateway_loop_answers_while_a_long_query_runs(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    entered, release = threading.Event(), threading.Event()
    outcome: dict[str, Any] = {}
    real = service.summary

    async def long_summary(conn: Any, **kw: Any) -> Any:
        # Plain Python that never awaits, as the shaping of a year's rows is: on the
        # gateway's loop nothing else could run until it ended (by its 10 s timeout here).
        entered.set()
        outcome["released"] = release.wait(10)
        return await real(conn, **kw)

    monkeypatch.setattr(service, "summary", long_summary)
    query = asyncio.create_task(hub.client.get("/api/stats/summary", headers=AUTH))
    await _until(entered)
    health = await hub.client.get("/healthz")
    assert health.status_code == 200
    assert not query.done()
    release.set()
    resp = await query
    assert resp.status_code == 200, resp.text
    assert resp.json()["total"] == 0
    assert outcome["released"] is True  # /healthz answered while the query still ran


async def test_bad_input_on_the_query_thread_is_still_a_400(hub: Hub) -> None:
    resp = await hub.client.get(
        "/api/stats/timeseries", params={"since": "2026-05-01", "until": "2026-04-01"},
        headers=AUTH,
    )  # fmt: skip
    assert resp.status_code == 400
    assert resp.json()["detail"] == (
        "since must be before until; since is 2026-05-01T00:00:00+07:00, until "
        "2026-04-01T00:00:00+07:00"
    )
    assert resp.headers["content-type"] == "application/json"


async def test_the_thread_has_its_own_loop_and_cancelling_reaches_it(tmp_path: Path) -> None:
    queries = QueryThread(f"sqlite+aiosqlite:///{tmp_path / 'q.db'}")
    await queries.start()
    try:
        seen: dict[str, Any] = {}

        async def where(conn: Any) -> int:
            seen["thread"] = threading.get_ident()
            seen["loop"] = asyncio.get_running_loop()
            return (await conn.execute(text("SELECT 41 + 1"))).scalar_one()

        assert await queries.run(where) == 42
        assert seen["thread"] != threading.get_ident()
        assert seen["loop"] is not asyncio.get_running_loop()

        started, cancelled = threading.Event(), threading.Event()
        forever = waits_for_cancel(started, cancelled)

        task = asyncio.create_task(queries.run(forever))
        await _until(started)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await _until(cancelled)
    finally:
        await queries.stop()
    with pytest.raises(RuntimeError, match="not running"):
        await queries.run(where)


async def test_stop_cancels_what_still_runs(tmp_path: Path) -> None:
    queries = QueryThread(f"sqlite+aiosqlite:///{tmp_path / 'q.db'}")
    await queries.start()
    started = threading.Event()

    async def forever(conn: Any) -> None:
        started.set()
        await asyncio.sleep(60)

    task = asyncio.create_task(queries.run(forever))
    await _until(started)
    await queries.stop()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not any(t.name == "hub-operator-queries" for t in threading.enumerate())


async def test_a_client_gone_cancels_its_query_on_the_thread(tmp_path: Path) -> None:
    from hub.stats.offload import ClientGone

    queries = QueryThread(f"sqlite+aiosqlite:///{tmp_path / 'q.db'}")
    await queries.start()
    started, cancelled, leave = threading.Event(), threading.Event(), asyncio.Event()
    forever = waits_for_cancel(started, cancelled)

    messages = [{"type": "http.request", "body": b"", "more_body": False}]

    async def receive() -> dict[str, Any]:
        if messages:
            return messages.pop()
        await leave.wait()  # as uvicorn's receive waits until the connection is lost
        return {"type": "http.disconnect"}

    try:
        task = asyncio.create_task(queries.answer(receive, forever))
        await _until(started)
        leave.set()
        with pytest.raises(ClientGone):
            await task
        await _until(cancelled)
    finally:
        await queries.stop()


async def test_queries_past_the_limit_wait_their_turn(tmp_path: Path) -> None:
    queries = QueryThread(f"sqlite+aiosqlite:///{tmp_path / 'q.db'}", concurrency=1)
    await queries.start()
    first_in, first_out = threading.Event(), threading.Event()
    order: list[str] = []

    async def first(conn: Any) -> None:
        first_in.set()
        await asyncio.to_thread(first_out.wait, 10)
        order.append("first")

    async def second(conn: Any) -> None:
        order.append("second")

    try:
        one = asyncio.create_task(queries.run(first))
        await _until(first_in)
        two = asyncio.create_task(queries.run(second))
        for _ in range(20):
            await asyncio.sleep(0.01)
        assert order == [] and not two.done()  # held back while the first runs
        first_out.set()
        await asyncio.gather(one, two)
        assert order == ["first", "second"]
    finally:
        await queries.stop()
