"""Fixtures of the replay tests: a tiny X-Road-like hub on real HTTP, in a thread."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
import uvicorn

KEYS = {
    "VN/GOV/BTP/civil-status": "key-civil",
    "VN/COM/0101234565/ekyc": "key-bank",
}
POPULATION = "VN/GOV/BCA/population"
MOCK_SERVICES = ("citizen-lookup", "citizen-search", "echo")


Headers = dict[str, str] | list[tuple[str, str]]


class FakeHub:
    """Routes under ``/r1/VN/GOV/BCA/population/<code>``: echo, status/N, slow, denied."""

    def __init__(self) -> None:
        self.url = ""
        self.arrivals: list[float] = []  # time.monotonic() of each gateway request
        self.faults: list[tuple[str, Any]] = []
        self.latency_ms = 0.0
        self.latency_at_arrival: list[float] = []  # the fault latency each request met
        self.demo = True
        self.openapi = True  # the population mock says its services (GET /openapi.json)
        self.forward_to = ""  # base URL the ``forward`` service passes calls on to
        self.journal: dict[str, int] | None = None  # what /__requests/count answers
        self.controls: list[tuple[str, str]] = []  # stub and journal control calls
        self.polls: Counter[str] = Counter()  # calls of the ``ready`` service, by path

    def reset(self) -> None:
        self.arrivals.clear()
        self.faults.clear()
        self.latency_ms = 0.0
        self.latency_at_arrival.clear()
        self.demo = True
        self.openapi = True
        self.forward_to = ""
        self.journal = None
        self.controls.clear()
        self.polls.clear()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status, headers, payload = await self.handle(scope, body)
        raw = [(b"content-type", b"application/json"), (b"x-road-id", uuid.uuid4().hex.encode())]
        pairs = headers.items() if isinstance(headers, dict) else headers
        raw += [(k.lower().encode(), v.encode()) for k, v in pairs]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": json.dumps(payload).encode()})

    async def handle(self, scope: dict, body: bytes) -> tuple[int, Headers, Any]:
        path, method = scope["path"], scope["method"]
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        if path == "/readyz":
            return 200, {}, {"ready": True}
        if path == "/healthz":
            return 200, {}, {"status": "ok"}
        if path.startswith("/demo/"):
            if not self.demo:
                return 404, {}, {"detail": "not found"}
            if path == "/demo/credentials":
                creds = [{"client": c, "api_key": k, "services": []} for c, k in KEYS.items()]
                return 200, {}, creds
            return 200, {}, {POPULATION: f"{self.url}/mock/population"}
        if path == "/mock/population/openapi.json":
            if not self.openapi:
                return 404, {}, {"detail": "Not Found"}
            paths = {f"/{code}": {"get": {"operationId": code}} for code in MOCK_SERVICES}
            return 200, {}, {"openapi": "3.1.0", "paths": paths}
        if path == "/mock/population/__faults":
            settings = json.loads(body) if body else None
            unknown = sorted(set((settings or {}).get("services") or {}) - set(MOCK_SERVICES))
            if method == "PUT" and unknown:
                # As the connector kit's mocks answer (connectors/kit/app.py).
                message = (
                    f"services: this mock has no service {', '.join(unknown)}; "
                    f"its services are {', '.join(sorted(MOCK_SERVICES))}"
                )
                return 422, {}, {"type": "Unprocessable", "message": message}
            self.faults.append((method, settings))
            self.latency_ms = (settings or {}).get("latency_ms", 0) if method == "PUT" else 0
            return 200, {}, settings or {}
        if path.startswith("/mock/population/__") and self.journal is not None:
            # A mock whose journal answers what the test says (e.g. that it dropped calls).
            self.controls.append((method, path.removeprefix("/mock/population")))
            if path.endswith("/__requests/count"):
                return 200, {}, self.journal
            return 200, {}, {"deleted": 0} if method == "DELETE" else []
        if not path.startswith("/r1/"):
            return 404, {}, {"detail": "not found"}
        self.arrivals.append(time.monotonic())
        self.latency_at_arrival.append(self.latency_ms)
        client = headers.get("x-road-client", "")
        if headers.get("authorization") != f"Bearer {KEYS.get(client)}":
            return 401, {"X-Road-Error": "Client.Unauthorized"}, {"type": "Client.Unauthorized"}
        parts = path.removeprefix("/r1/").split("/")
        code, rest = parts[4], parts[5:]
        if self.latency_ms:
            await asyncio.sleep(self.latency_ms / 1000)
        query = dict(parse_qsl(scope["query_string"].decode()))
        if code == "forward":  # as the hub forwards a call to its provider
            target = self.forward_to + "/" + "/".join(rest)
            sent = {"content-type": headers["content-type"]} if "content-type" in headers else {}
            async with httpx.AsyncClient(timeout=30) as client:  # a slow stub is waited for
                answer = await client.request(
                    method, target, params=query, content=body, headers=sent
                )
            # The provider's own headers are passed on, a repeated one line by line, as the
            # hub does; those of the body are this answer's.
            kept = [
                (k, v)
                for k, v in answer.headers.multi_items()
                if k not in ("content-length", "content-type", "date", "server")
            ]
            return answer.status_code, kept, answer.json()
        if code == "ready":
            # A result not there yet: 404 until the path's call number ``after`` (default 1),
            # as a pushed event the caller polls for.
            key = "/".join(rest)
            self.polls[key] += 1
            call = self.polls[key]
            ready = call >= int(query.get("after", "1"))
            return (200 if ready else 404), {}, {"ready": ready, "call": call}
        if code == "status":
            return int(rest[0]), {}, {"status": int(rest[0])}
        if code == "slow":
            await asyncio.sleep(float(query.get("ms", "100")) / 1000)
            return 200, {}, {"slept": True}
        if code == "denied":
            error = {"type": "Client.AccessDenied", "message": "not granted", "detail": "r"}
            return 403, {"X-Road-Error": "Client.AccessDenied"}, error
        return (
            200,
            {"X-Road-Client": client},
            {
                "method": method,
                "path": "/" + "/".join(rest),
                "query": query,
                "headers": headers,
                "json": _json_or_none(body),
                "body": body.decode("utf-8", "replace"),
                "items": [{"id": "079123456789", "full_name": "Nguyễn Văn A", "age": 30}],
                "match": True,
            },
        )


def _json_or_none(body: bytes) -> Any:
    try:
        return json.loads(body) if body else None
    except ValueError:  # a raw body
        return None


class RawHub:
    """A hub at the socket: it reads each request whole (head and Content-Length body),
    counts its bytes in ``read``, and answers ``answer`` as given, byte for byte."""

    def __init__(self, answer: bytes) -> None:
        self.answer = answer
        self.read = 0
        self.url = ""
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> RawHub:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                length = re.search(rb"(?i)\r\ncontent-length: *(\d+)", head)
                body = await reader.readexactly(int(length[1]) if length else 0)
                self.read += len(head) + len(body)
                writer.write(self.answer)
                await writer.drain()
        except asyncio.IncompleteReadError:  # the runner closed its connection
            pass
        finally:
            writer.close()
            await writer.wait_closed()


class ServerThread:
    """Serve an ASGI app with uvicorn on a free port in a background thread."""

    def __init__(self, app: Any) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        config = uvicorn.Config(
            app, lifespan="off", ws="none", log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]})

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        # Until it listens (its socket is bound, not yet listening): it went on after 10 s
        # regardless, and every request would then have been refused.
        deadline = time.monotonic() + 60
        while not self.server.started:
            assert self.thread.is_alive(), "the server thread ended before it served"
            assert time.monotonic() < deadline, "the server did not start within 60 s"
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@pytest.fixture(scope="session")
def _fake_hub_server() -> Iterator[FakeHub]:
    hub = FakeHub()
    with ServerThread(hub) as server:
        hub.url = server.url
        yield hub


@pytest.fixture
def fake_hub(_fake_hub_server: FakeHub) -> FakeHub:
    _fake_hub_server.reset()
    return _fake_hub_server


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """Write a scenario file under tmp_path and return its path."""

    def _write(text: str, name: str = "scenario.yaml") -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path

    return _write


@pytest.fixture
def refused_url() -> Iterator[str]:
    """A base URL where nothing listens: its port is bound, not listening, so connections
    are refused; held for the test, so no other server takes the port meanwhile."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"


async def run_scenario(
    url: str, scenario: Path, *, iterations: int, out: Path | None = None
) -> Any:
    """Run ``scenario`` against the hub at ``url`` (with ``out``, a row a request into it):
    its ScenarioResult."""
    from hub.replay.loader import load_file
    from hub.replay.requestlog import open_request_log
    from hub.replay.runner import Runner, RunOptions
    from hub.replay.sources import Providers

    log = open_request_log(out) if out is not None else None
    try:
        async with Runner(
            hub_url=url,
            credentials=KEYS,
            providers=Providers(url),
            options=RunOptions(iterations=iterations),
            request_log=log,
        ) as runner:
            (result,) = await runner.run([load_file(scenario)])
    finally:
        if log is not None:
            log.close()
    return result
