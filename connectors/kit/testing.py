"""A stand-in hub for testing connectors that call other agencies, served over real HTTP.

``FakeHub`` records every request it gets, forwards a service to an app in process when
``upstreams`` maps its id to one (as the hub forwards to a provider), and otherwise answers
population ``citizen-verify`` itself (from ``citizen_at`` of the same seed and size).
``refuse(service_id, ...)`` makes it answer a service as the real hub does when it refuses
(``X-Road-Error`` header and the SPEC's error body). ``serve(app)`` runs any ASGI app on a
free local port; ``open_client(app)`` runs a connector app's lifespan and gives an httpx
client to it.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp

from connectors.kit.checks import CITIZEN_VERIFY


@dataclass
class Recorded:
    """One request the fake hub received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeHub:
    """Answers ``/r1/{service id}{path}``: refusals, then upstreams, then citizen-verify."""

    seed: int
    size: int
    upstreams: dict[str, ASGIApp] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    refusals: dict[str, tuple[int, str]] = field(default_factory=dict)

    def refuse(self, service_id: str, status: int = 403, code: str = "Client.AccessDenied") -> None:
        self.refusals[service_id] = (status, code)

    def calls(self, service_id: str) -> list[Recorded]:
        return [r for r in self.requests if r.path.startswith(f"/r1/{service_id}/")]

    @property
    def app(self) -> Starlette:
        methods = ["GET", "POST", "PUT", "DELETE"]
        return Starlette(routes=[Route("/r1/{rest:path}", self._handle, methods=methods)])

    async def _handle(self, request: Request) -> Response:
        raw = await request.body()
        body = json.loads(raw) if raw else None
        self.requests.append(
            Recorded(request.method, request.url.path, dict(request.headers), body)
        )
        path = request.url.path
        for service_id, (status, code) in self.refusals.items():
            if path.startswith(f"/r1/{service_id}/"):
                return JSONResponse(
                    {"type": code, "message": "refused by the fake hub", "detail": "req-1"},
                    status_code=status,
                    headers={"X-Road-Error": code},
                )
        for service_id, upstream in self.upstreams.items():
            prefix = f"/r1/{service_id}"
            if path.startswith(f"{prefix}/"):
                transport = httpx.ASGITransport(app=upstream)
                async with httpx.AsyncClient(transport=transport, base_url="http://up") as client:
                    answer = await client.request(
                        request.method, path[len(prefix) :], content=raw, headers=request.headers
                    )
                return Response(answer.content, answer.status_code, media_type="application/json")
        if path == f"/r1/{CITIZEN_VERIFY}/citizens/verify":
            return JSONResponse({"match": self._matches(body or {})})
        return JSONResponse(
            {"type": "Client.UnknownService", "message": "no such service", "detail": "req-1"},
            status_code=404,
            headers={"X-Road-Error": "Client.UnknownService"},
        )

    def _matches(self, body: dict[str, Any]) -> bool:
        # Imported here: the kit does not otherwise depend on any one agency.
        from connectors.population.dataset import citizen_at, index_of

        index = index_of(self.seed, self.size, str(body.get("id", "")))
        if index is None:
            return False
        person = citizen_at(self.seed, self.size, index)
        return body.get("full_name") == person["full_name"] and body.get("date_of_birth") in (
            None,
            person["date_of_birth"],
        )


@contextmanager
def serve(app: ASGIApp) -> Iterator[str]:
    """Run ``app`` with uvicorn on a free local port in a thread; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", ws="none")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@asynccontextmanager
async def open_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client calling ``app`` in process, with the app's lifespan (its hub client)."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://mock") as client:
            yield client
