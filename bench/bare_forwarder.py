"""The least a Python hop can do: raw ASGI on uvicorn with one pooled HTTP client.

No checks, no log, no added headers. It is the reference the hub is measured against;
run it with ``BENCH_UPSTREAM=http://127.0.0.1:PORT uvicorn bench.bare_forwarder:app``.

``BENCH_CLIENT`` picks the outbound client: ``hub`` (the default) is the hub's own
(hub.gateway.client), so the hub and its reference differ only by what the hub adds;
``aiohttp`` is the library the hub used before, kept as a second reference.
"""

from __future__ import annotations

import os
from typing import Any

import aiohttp

from hub.gateway.client import HttpClient

UPSTREAM = os.environ.get("BENCH_UPSTREAM", "http://127.0.0.1:8001")
CLIENT = os.environ.get("BENCH_CLIENT", "hub")
DROP = frozenset({b"host", b"connection", b"content-length", b"transfer-encoding"})


class Forwarder:
    def __init__(self, upstream: str, client: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.client_name = client
        self.client: HttpClient | None = None
        self.session: aiohttp.ClientSession | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            return await self._lifespan(receive, send)
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        url = self.upstream + scope["raw_path"].decode("latin-1")
        if scope["query_string"]:
            url += "?" + scope["query_string"].decode("latin-1")
        headers = [(k.decode(), v.decode()) for k, v in scope["headers"] if k not in DROP]
        if self.client is not None:
            answer = await self.client.request(scope["method"], url, headers, body)
            status, data = answer.status, answer.body
            ctype = next((v for k, v in answer.headers if k.lower() == "content-type"), "")
        else:
            assert self.session is not None
            async with self.session.request(
                scope["method"], url, headers=headers, data=body or None
            ) as resp:
                status, data = resp.status, await resp.read()
                ctype = resp.headers.get("Content-Type", "")
        out = [(b"content-type", ctype.encode()), (b"content-length", str(len(data)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": out})
        await send({"type": "http.response.body", "body": data})

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                if self.client_name == "aiohttp":
                    connector = aiohttp.TCPConnector(limit=0)
                    self.session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
                else:
                    self.client = HttpClient()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.session is not None:
                    await self.session.close()
                if self.client is not None:
                    await self.client.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


app = Forwarder(UPSTREAM, CLIENT)
