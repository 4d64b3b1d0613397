"""`hub serve` with one worker does not say its exchanges were answered when it cut them off.

A stop whose exchanges still waited for the log when the graceful shutdown's time ran out
(another process held SQLite's lock, for one) cancelled them unanswered, and the log's
last batch failed; the journal still said "hub stopped: exchanges in flight answered, log
flushed", the line docs/operators.md gives for a clean stop.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from hub.app import create_app
from hub.cli import listen
from tests.support import free_port, make_settings


class StuckLog:
    """A batch hook: the log's batch waits until released, then fails (a lock, a disk)."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def __call__(self, conn: Any, records: list[dict[str, Any]]) -> None:
        await self.release.wait()
        raise RuntimeError("the database refused the batch")


async def test_a_stop_that_cut_exchanges_off_says_so(
    sqlite_url: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = create_app(make_settings(sqlite_url, tmp_path))
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, lifespan="on", log_level="critical",
        timeout_graceful_shutdown=1, **(listen.UVICORN_FAST | {"loop": "asyncio"}),
    )  # fmt: skip
    server = listen.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    serving = asyncio.create_task(server.serve())
    while not server.started:
        assert not serving.done()
        await asyncio.sleep(0.01)
    stuck = StuckLog()
    writer = app.state.writer
    writer.hooks.append(stuck)
    stop = writer.stop

    async def last_flush() -> None:  # past the graceful wait: the batch then fails
        stuck.release.set()
        await stop()

    monkeypatch.setattr(writer, "stop", last_flush)
    async with httpx.AsyncClient(timeout=5) as client:  # cut off: never answered
        # Refused (no key) and recorded: its answer waits for the log's commit.
        exchange = asyncio.create_task(
            client.get(f"http://127.0.0.1:{port}/r1/VN/GOV/BCA/population/x/1")
        )
        while not writer.busy_since:
            assert not exchange.done()
            await asyncio.sleep(0.01)
        server.stop_signal = signal.SIGTERM
        server.should_exit = True
        await serving
        with contextlib.suppress(httpx.HTTPError):
            await exchange
    said = [line for line in capsys.readouterr().err.splitlines() if line.startswith("hub st")]
    assert said[0].startswith("hub stopping on SIGTERM"), said
    assert len(said) == 2, said
    assert "exchanges in flight answered" not in said[1], said
    assert "cut off" in said[1] and "not written" in said[1], said
