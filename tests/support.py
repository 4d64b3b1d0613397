"""Test plumbing: databases on both engines, real HTTP servers, a hub with its lifespan."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from sqlalchemy.engine import make_url

from hub.app import create_app
from hub.core.migrate import upgrade_async
from hub.core.ports import free_block as free_block
from hub.core.ports import free_port as free_port
from hub.core.settings import Settings
from hub.front import HubApp

POSTGRES_URL = os.environ.get("HUB_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("HUB_TEST_REDIS_URL")
SECRET = "test-secret-0123456789abcdef"
ADMIN = "admin-token-0123456789"
OPERATOR = "operator-token-0123456789"


@contextlib.asynccontextmanager
async def database(kind: str, tmp_path: Path, migrated: bool = True) -> AsyncIterator[str]:
    """A fresh database of ``kind`` ("sqlite" or "postgres"), migrated unless told not to."""
    if kind == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/hub.db"
        if migrated:
            await upgrade_async(url)
        yield url
        return
    assert POSTGRES_URL
    import asyncpg

    base = make_url(POSTGRES_URL)
    name = f"hubtest_{uuid.uuid4().hex[:12]}"
    admin_dsn = base.set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = base.set(database=name).render_as_string(hide_password=False)
    try:
        if migrated:
            await upgrade_async(url)
        yield url
    finally:
        conn = await asyncpg.connect(admin_dsn)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


class QuietWriter:
    """What Metrics reads of a log writer, for metrics tests without a log: nothing waits,
    nothing failed, nothing refused."""

    depth = 0
    failed_batches = 0
    linked = True

    def __init__(self) -> None:
        self.on_commit: list[Any] = []

    def refusal(self, now: float) -> str | None:
        return None


def make_settings(db_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "database_url": db_url,
        "admin_token": ADMIN,
        "operator_token": OPERATOR,
        "secret_key": SECRET,
        "signing_key_file": str(tmp_path / "signing-key.pem"),
        "registry_refresh_s": 0.2,
        "health_interval_s": 3600,
    }
    values.update(overrides)
    return Settings(**values)


@contextlib.asynccontextmanager
async def running(app: HubApp) -> AsyncIterator[HubApp]:
    """Run the app's lifespan (startup and shutdown) around the block."""
    async with app.api.router.lifespan_context(app.api):
        yield app


@contextlib.asynccontextmanager
async def hub_client(settings: Settings) -> AsyncIterator[tuple[HubApp, httpx.AsyncClient]]:
    app = create_app(settings)
    async with running(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
            yield app, client


@contextlib.asynccontextmanager
async def serve(app: Any, port: int | None = None, **options: Any) -> AsyncIterator[str]:
    """Serve an ASGI app on a real port in this event loop; yields its base URL.

    ``options`` go to uvicorn.Config, e.g. ``http=`` for the hub's own protocol.
    """
    port = port or free_port()
    settings: dict[str, Any] = {"log_level": "warning", "lifespan": "on", "loop": "asyncio"}
    config = uvicorn.Config(app, host="127.0.0.1", port=port, **(settings | options))
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]

    async def serving() -> None:
        try:
            await server.serve()
        except SystemExit as exc:
            # uvicorn exits when it cannot bind (a port another process took since
            # free_port). A SystemExit leaves the event loop itself, which broke
            # pytest-asyncio's runner for every later test of the session, not just this one.
            raise RuntimeError(
                f"uvicorn could not serve on 127.0.0.1:{port} (exit {exc.code}); "
                "its error is in the captured log"
            ) from None

    task = asyncio.create_task(serving())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError(f"uvicorn stopped before serving on 127.0.0.1:{port}")
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def serve_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a `hub serve` subprocess: a development hub on a SQLite file in
    ``tmp_path``, none of this process's HUB_* variables (Redis, the test databases)."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("HUB_")},
        "HUB_ENV": "development",
        "HUB_SECRET_KEY": SECRET,
        "HUB_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path}/hub.db",
        "HUB_SIGNING_KEY_FILE": str(tmp_path / "key.pem"),
    }


@contextlib.contextmanager
def serving(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """`hub serve ARGS` on a free port in its own process group, once it answers: the
    process and the file its output goes to. Killed with its group (SIGKILL) after."""
    port = free_port()
    cmd = [sys.executable, "-m", "hub", "serve", "--port", str(port), *args]
    log_path = tmp_path / "serve.log"
    with log_path.open("ab") as log:
        proc = subprocess.Popen(
            cmd, env=env or serve_env(tmp_path), stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        wait_healthy(proc, f"http://127.0.0.1:{port}", log_path)
        yield proc, log_path
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def wait_healthy(proc: subprocess.Popen[bytes], url: str, log: Path, seconds: float = 60) -> None:
    """Wait until the hub started as ``proc`` answers ``url``/healthz; fail with its log."""
    deadline = time.monotonic() + seconds
    with httpx.Client(timeout=5) as client:
        while True:
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            try:
                if client.get(f"{url}/healthz").status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.2)
