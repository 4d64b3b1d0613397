"""The least a Python hop can do: raw ASGI on uvicorn with one pooled aiohttp session.

No checks, no log, no added headers. It is the reference the hub is measured against;
run it with ``BENCH_UPSTREAM=http://127.0.0.1:PORT uvicorn bench.bare_forwarder:app``.
"""

from __future__ import annotations

import os
from typing import Any

import aiohttp

UPSTREAM = os.environ.get("BENCH_UPSTREAM", "http://127.0.0.1:8001")
DROP = frozenset({b"host", b"connection", b"content-length", b"transfer-encoding"})


class Forwarder:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
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
        assert self.session is not None
        async with self.session.request(
            scope["method"], url, headers=headers, data=body or None
        ) as resp:
            data = await resp.read()
            out = [(b"content-type", resp.headers.get("Content-Type", "").encode())]
        out.append((b"content-length", str(len(data)).encode()))
        await send({"type": "http.response.start", "status": resp.status, "headers": out})
        await send({"type": "http.response.body", "body": data})

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                connector = aiohttp.TCPConnector(limit=0)
                self.session = aiohttp.ClientSession(connector=connector, auto_decompress=False)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.session is not None:
                    await self.session.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


app = Forwarder(UPSTREAM)
