"""The outbound hop to providers, on one pooled aiohttp session.

aiohttp rather than httpx's default transport: measured on this machine with wrk at 32
connections, a forwarder on httpx's transport did about 350 requests/s against a provider
that aiohttp forwarded at about 2,700 (issue 2's figures); see docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
from typing import NamedTuple

import aiohttp

from hub.core.errors import ServiceFailed, ServiceTimeout

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "authorization",
    }
)


NO_TIMEOUT = aiohttp.ClientTimeout(total=None)  # asyncio.timeout below bounds the whole hop


class Answer(NamedTuple):
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    content_type: str


class Forwarder:
    def __init__(self) -> None:
        self.session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300, keepalive_timeout=30)
        # auto_decompress off: the provider's answer goes back byte for byte.
        self.session = aiohttp.ClientSession(
            connector=connector, auto_decompress=False, skip_auto_headers=("User-Agent",)
        )

    async def stop(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None

    async def send(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes,
        timeout_s: float,
    ) -> Answer:
        assert self.session is not None
        try:
            async with asyncio.timeout(timeout_s):
                async with self.session.request(
                    method,
                    url,
                    headers=headers,
                    data=body or None,
                    allow_redirects=False,
                    timeout=NO_TIMEOUT,
                ) as resp:
                    data = await resp.read()
                    out = [(k, v) for k, v in resp.headers.items() if k.lower() not in HOP_BY_HOP]
                    return Answer(resp.status, out, data, resp.headers.get("Content-Type", ""))
        except TimeoutError:
            raise ServiceTimeout(
                f"the provider did not answer within the service timeout of {timeout_s:g} s"
            ) from None
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            raise ServiceFailed(
                f"the provider could not be reached or broke off its answer ({type(exc).__name__})"
            ) from None
