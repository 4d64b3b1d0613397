"""A provider whose behaviour a test switches at run time, and one that resets connections."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
from collections.abc import AsyncIterator
from typing import Any

import orjson

CLIENT = "VN/GOV/BTP/civil-status"
OTHER = "VN/GOV/BTP/other"
PROVIDER = "VN/GOV/BCA/population"
CITIZEN = "079203001234"


# Its description, for the hub's getOpenAPI: the endpoints of registry_doc's lookup and of
# the fuzz tests' echo (tests/security/test_fuzz_api.py).
_OK = {"responses": {"200": {"description": "ok"}}}
OPENAPI = json.dumps(
    {
        "openapi": "3.0.3",
        "info": {"title": "faulty provider", "version": "1"},
        "paths": {"/citizens/{id}": {"get": _OK}, "/echo": {"post": _OK}},
    }
).encode()


class FaultyProvider:
    """Raw ASGI provider: ``mode`` is ok, slow, malformed or error; counts what it served.

    Raw ASGI rather than FastAPI so that, under load, the provider is not the bottleneck.
    """

    def __init__(self) -> None:
        self.mode = "ok"
        self.delay_s = 0.0
        # Requests that arrive while this is set wait for it: held without a clock, so a
        # slow machine cannot turn "still waiting" into a timeout.
        self.hold: asyncio.Event | None = None
        self.calls = 0
        self.in_flight = 0
        self._arrived = asyncio.Event()

    async def wait_in_flight(self, n: int) -> None:
        """Until ``n`` requests are being answered at once."""
        while self.in_flight < n:
            self._arrived.clear()
            await self._arrived.wait()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        more = True
        while more:
            more = (await receive()).get("more_body", False)
        if scope["path"] == "/__health":  # the hub's health probe is not an exchange
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        if scope["path"] == "/openapi.json":
            # The description the hub's getOpenAPI passes on. Without it the hub answered the
            # fuzz tests' getOpenAPI with its 502 for a provider whose description is not one
            # (or lacks a registered endpoint): right, but a server error to the fuzzing.
            head = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 200, "headers": head})
            await send({"type": "http.response.body", "body": OPENAPI})
            return
        self.calls += 1
        self.in_flight += 1
        self._arrived.set()
        try:
            status, body = await self._answer(scope["path"])
        finally:
            self.in_flight -= 1
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def _answer(self, path: str) -> tuple[int, bytes]:
        hold = self.hold
        if hold is not None:
            await hold.wait()
        if self.delay_s or self.mode == "slow":
            await asyncio.sleep(self.delay_s or 1)
        if self.mode == "malformed":
            return 200, b'{"id": "079203001234", "full_na'
        if self.mode == "error":
            return 500, b'{"type": "Internal", "message": "the provider broke"}'
        cid = path.rsplit("/", 1)[-1]
        return 200, orjson.dumps({"id": cid, "full_name": "Nguyễn Văn An"})


@contextlib.asynccontextmanager
async def resetting_server() -> AsyncIterator[str]:
    """A TCP server that reads a request and answers with a connection reset (RST)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            await reader.readuntil(b"\r\n\r\n")
        sock = writer.get_extra_info("socket")
        # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.close()
        await server.wait_closed()


def registry_doc(base_url: str, **services: dict[str, Any]) -> dict[str, Any]:
    """One provider with a personal-data ``lookup`` service and ``services`` (code -> fields),
    all granted to CLIENT; OTHER is a second client with no grants."""
    lookup = {"endpoints": [{"method": "GET", "path": "/citizens/{id}"}], "personal_data": True}
    entries = [
        {"id": f"{PROVIDER}/{code}", **fields}
        for code, fields in {"lookup": lookup, **services}.items()
    ]
    return {
        "members": [{"id": "VN/GOV/BCA", "name": "Bộ Công an"}, {"id": "VN/GOV/BTP"}],
        "subsystems": [
            {"id": PROVIDER, "name": "Dân cư", "base_url": base_url},
            {"id": CLIENT},
            {"id": OTHER},
        ],
        "services": entries,
        "grants": [{"client": CLIENT, "service": e["id"]} for e in entries],
    }


LOOKUP = f"/r1/{PROVIDER}/lookup/citizens/{CITIZEN}"
PURPOSE = {"X-Road-UserId": "officer-01", "X-Road-Issue": "HS-0001"}
