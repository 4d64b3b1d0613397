"""The five things measured, all in front of the same provider and the same exchange.

- ``direct``: the provider itself;
- ``bare``: bench/bare_forwarder.py, the reference Python hop, on the hub's own client;
- ``bare-aiohttp``: the same hop on aiohttp, the client the hub used before;
- ``nginx``: proxy_pass with upstream keep-alive, the C reference;
- ``hub``: ``hub serve`` with authentication, grants, durable logging and metrics on.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

import bench.procs
from bench import wrk
from bench.procs import PYTHON, Server, free_port, uvicorn_cmd

CLIENT = "VN/GOV/BTP/civil-status"
SERVICE = "VN/GOV/BCA/population/citizen-lookup"
CITIZEN = "079203001234"
PROVIDER_PATH = f"/citizens/{CITIZEN}"
HUB_PATH = f"/r1/{SERVICE}{PROVIDER_PATH}"
ADMIN_TOKEN = "bench-admin-token-0123456789"
SECRET = "bench-secret-0123456789abcdef"
# The purpose headers a personal-data exchange needs; sent to every target alike.
PURPOSE = {"X-Road-UserId": "officer-01", "X-Road-Issue": "HS-2024-000123"}

NGINX_CONF = """
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  upstream provider {{ server 127.0.0.1:{upstream}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://provider;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
  }}
}}
"""


@dataclass
class Target:
    name: str
    url: str  # the full URL wrk calls
    headers: dict[str, str] = field(default_factory=dict)
    server: Server | None = None


def registry_doc(provider_url: str) -> dict:
    return {
        "members": [
            {"id": "VN/GOV/BCA", "name": "Bộ Công an"},
            {"id": "VN/GOV/BTP", "name": "Bộ Tư pháp"},
        ],
        "subsystems": [
            {"id": "VN/GOV/BCA/population", "name": "Dân cư", "base_url": provider_url},
            {"id": CLIENT, "name": "Hộ tịch"},
        ],
        "services": [
            {
                "id": SERVICE,
                "description": "Look up one citizen by personal identification number.",
                "endpoints": [{"method": "GET", "path": "/citizens/{id}"}],
                "personal_data": True,
                "timeout_ms": 5000,
            }
        ],
        "grants": [{"client": CLIENT, "service": SERVICE}],
    }


def start_provider(workdir: Path) -> Server:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = Server(
        "provider", uvicorn_cmd("bench.provider:app", port), url, workdir / "provider.log"
    )
    server.wait_ready("/__health")
    return server


def start_bare(workdir: Path, provider_url: str, client: str = "hub") -> Target:
    """The bare forwarder on the hub's own client ("bare") or on aiohttp ("bare-aiohttp")."""
    name = "bare" if client == "hub" else f"bare-{client}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = Server(
        name,
        uvicorn_cmd("bench.bare_forwarder:app", port),
        url,
        workdir / f"{name}.log",
        BENCH_UPSTREAM=provider_url,
        BENCH_CLIENT=client,
    )
    server.wait_ready(PROVIDER_PATH)
    return Target(name, url + PROVIDER_PATH, dict(PURPOSE), server)


def start_nginx(workdir: Path, provider_url: str) -> Target:
    port = free_port()
    ndir = workdir / "nginx"
    ndir.mkdir(exist_ok=True)
    conf = ndir / "nginx.conf"
    upstream = provider_url.rsplit(":", 1)[1]
    conf.write_text(NGINX_CONF.format(dir=ndir, port=port, upstream=upstream))
    url = f"http://127.0.0.1:{port}"
    cmd = [wrk.nginx_path(), "-c", str(conf), "-p", str(ndir), "-g", "daemon off;"]
    server = Server("nginx", cmd, url, workdir / "nginx.log")
    server.wait_ready(PROVIDER_PATH)
    return Target("nginx", url + PROVIDER_PATH, dict(PURPOSE), server)


def hub_env(workdir: Path, db_url: str) -> dict[str, str]:
    return {
        "HUB_DATABASE_URL": db_url,
        "HUB_ADMIN_TOKEN": ADMIN_TOKEN,
        "HUB_OPERATOR_TOKEN": ADMIN_TOKEN + "-op",
        "HUB_SECRET_KEY": SECRET,
        "HUB_SIGNING_KEY_FILE": str(workdir / "signing-key.pem"),
    }


def prepare_hub_db(workdir: Path, provider_url: str, name: str = "hub") -> str:
    """A fresh SQLite database with the bench registry applied (``hub registry apply``)."""
    db = workdir / f"{name}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    db_url = f"sqlite+aiosqlite:///{db}"
    reg = workdir / "registry.yaml"
    reg.write_text(yaml.safe_dump(registry_doc(provider_url), allow_unicode=True))
    # `registry apply` makes no database: `db upgrade` does. bench.procs.ROOT at call time:
    # bench.ab points it at each checkout in turn, whose own migrations must build it.
    for command in (["db", "upgrade"], ["registry", "apply", str(reg)]):
        subprocess.run(
            [PYTHON, "-m", "hub", *command, "--db", db_url],
            cwd=bench.procs.ROOT, check=True, capture_output=True,
            env={**os.environ, **hub_env(workdir, db_url)},
        )  # fmt: skip
    return db_url


def start_hub(
    workdir: Path,
    db_url: str,
    *,
    workers: int = 1,
    key: str | None = None,
    extra: Sequence[str] = (),
) -> Target:
    """``hub serve`` on ``db_url`` (``extra``: more options); issues a key unless given one."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [
        PYTHON,
        "-m",
        "hub",
        "serve",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--db",
        db_url,
        *extra,
    ]
    log = workdir / f"hub-{workers}w.log"
    server = Server(f"hub x{workers}", cmd, url, log, **hub_env(workdir, db_url))
    try:
        server.wait_ready("/readyz")
        if key is None:
            answer = httpx.post(
                url + "/admin/keys",
                json={"client": CLIENT, "label": "bench"},
                headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                timeout=10,
            )
            answer.raise_for_status()
            key = answer.json()["api_key"]
        headers = {"X-Road-Client": CLIENT, "Authorization": f"Bearer {key}", **PURPOSE}
        _wait_key_live(url + HUB_PATH, headers)
    except BaseException:
        server.stop()
        raise
    return Target(f"hub x{workers}" if workers > 1 else "hub", url + HUB_PATH, headers, server)


def _wait_key_live(url: str, headers: dict[str, str]) -> None:
    """Workers refresh the registry every couple of seconds; wait until all take the key.

    Each request opens a new connection, so a run of successes spans the workers.
    """
    deadline = time.monotonic() + 30
    streak = 0
    while time.monotonic() < deadline:
        answer = httpx.get(url, headers=headers, timeout=5)
        streak = streak + 1 if answer.status_code == 200 else 0
        if streak >= 20:
            return
        if not streak:
            time.sleep(0.2)
    raise RuntimeError(f"the hub never accepted the bench key: {answer.status_code} {answer.text}")
