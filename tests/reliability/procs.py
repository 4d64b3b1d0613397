"""Real ``hub`` processes for the tests that are about processes: kill, drain, share quotas."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.support import ADMIN, OPERATOR, SECRET, free_port


def hub_env(tmp_path: Path, db_url: str, **extra: str) -> dict[str, str]:
    """The environment of a hub process: its own database, secrets and signing key."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env |= {
        "HUB_ENV": "test",
        "HUB_DATABASE_URL": db_url,
        "HUB_SECRET_KEY": SECRET,
        "HUB_ADMIN_TOKEN": ADMIN,
        "HUB_OPERATOR_TOKEN": OPERATOR,
        "HUB_SIGNING_KEY_FILE": str(tmp_path / "signing-key.pem"),
        "HUB_REGISTRY_REFRESH_S": "0.2",
        "HUB_HEALTH_INTERVAL_S": "3600",
    }
    return env | extra


async def hub_cli(env: dict[str, str], *args: str, cwd: Path) -> tuple[int, str]:
    """Run ``hub ARGS...``; its exit code and its output (stdout and stderr)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "hub", *args,
        env=env | {"COLUMNS": "200"}, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def apply_registry(env: dict[str, str], doc: dict[str, Any], cwd: Path) -> None:
    path = cwd / "registry.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    code, out = await hub_cli(env, "db", "upgrade", cwd=cwd)  # apply makes no database
    assert code == 0, out
    code, out = await hub_cli(env, "registry", "apply", str(path), cwd=cwd)
    assert code == 0, out


class HubProcess:
    """One ``hub serve`` process on a free port, with its output kept in a file."""

    def __init__(self, env: dict[str, str], cwd: Path, *args: str, scheme: str = "http") -> None:
        self.env, self.cwd, self.args = env, cwd, args
        self.port = free_port()
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        self.log = cwd / f"hub-{self.port}.log"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self, verify: Any = True) -> HubProcess:
        with self.log.open("ab") as out:
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "hub", "serve", "--port", str(self.port), *self.args,
                env=self.env, cwd=self.cwd, stdout=out, stderr=out,
                start_new_session=True,  # its own group: a kill reaches its workers too
            )  # fmt: skip
        await self.wait_ready(verify)
        return self

    async def wait_ready(self, verify: Any = True, timeout_s: float = 60) -> None:
        assert self.proc is not None
        async with httpx.AsyncClient(verify=verify, timeout=2) as client:
            for _ in range(int(timeout_s * 10)):
                if self.proc.returncode is not None:
                    raise AssertionError(f"hub exited early:\n{self.output()}")
                with contextlib.suppress(httpx.HTTPError):
                    # One worker answering is not all of them: with --workers N a test of
                    # what each worker holds waits until the parent says every one started.
                    if (
                        "hub ready:" in self.output()
                        and (await client.get(self.url + "/readyz")).status_code == 200
                    ):
                        return
                await asyncio.sleep(0.1)
        raise AssertionError(f"hub did not become ready:\n{self.output()}")

    def signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, sig)

    async def wait(self, timeout_s: float = 60) -> int:
        assert self.proc is not None
        return await asyncio.wait_for(self.proc.wait(), timeout_s)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.signal(signal.SIGTERM)
            try:
                await self.wait(30)
            except TimeoutError:
                self.signal(signal.SIGKILL)
                await self.wait()

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@contextlib.asynccontextmanager
async def hub_process(
    env: dict[str, str], cwd: Path, *args: str, verify: Any = True, scheme: str = "http"
) -> AsyncIterator[HubProcess]:
    hub = HubProcess(env, cwd, *args, scheme=scheme)
    try:
        yield await hub.start(verify)
    finally:
        await hub.stop()


async def issue_key(hub_url: str, client: str, verify: Any = True) -> str:
    """A new API key for ``client`` through the admin API."""
    async with httpx.AsyncClient(verify=verify) as http:
        resp = await http.post(
            hub_url + "/admin/keys",
            json={"client": client, "label": "test"},
            headers={"Authorization": f"Bearer {ADMIN}"},
        )
    assert resp.status_code == 201, resp.text
    return resp.json()["api_key"]
