"""A small HTTP/1.1 client for the outbound hop: keep-alive pools over asyncio protocols.

Why not aiohttp, which the hop used before: on the bench exchange (a 300-byte JSON GET, wrk
at 32 connections) aiohttp's request path was about a third of the hub worker's CPU,
mostly building request and response objects the hop throws away. This client sends the
request as one write and parses the answer with httptools (llhttp, the parser uvicorn uses
for the inbound side; its connections are hub/gateway/connection.py); bench/profile_notes.md,
fourth round, has the before and after.

What it does, and what it leaves out on purpose:
- one idle pool per (scheme, host, port), most recent first; a connection goes back only
  after a whole answer on a keep-alive connection, and an idle one is dropped after
  ``IDLE_S`` seconds (when it is next taken, or when another goes back to its pool),
  shorter than uvicorn's own 5 s keep-alive, so the hub rarely writes to a socket the
  provider is closing;
- a reused connection that the provider closes in order (not a reset) before the first byte
  of the answer is retried once on a new connection, for idempotent methods only (RFC 9110
  9.2.2);
- bodies sized by Content-Length, chunked, or read to the end of the connection; HEAD,
  204 and 304 answers have none; a chunked body's trailer fields are dropped, and bytes
  after an answer (a second one nobody asked for) close its connection;
- the request's timeout covers connecting and the TLS handshake as well as the answer;
- https with the system's trust store; no proxies, no redirects (the hub passes a
  provider's 3xx back as it is), no decompression (the answer goes back byte for byte).
"""

from __future__ import annotations

import asyncio
import functools
import ssl
import time
from collections.abc import Iterable
from urllib.parse import urlsplit

from hub.gateway.connection import (
    ClientError,
    Connection,
    Deadlines,
    MalformedAnswer,
    Response,
    StaleConnection,
)

__all__ = [
    "ClientError",
    "HttpClient",
    "MalformedAnswer",
    "Response",
    "StaleConnection",
    "header_lines",
]

IDLE_S = 4.0  # below uvicorn's default keep-alive of 5 s, the usual provider's
POOL_MAX = 256  # idle connections kept per provider address
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})


class HttpClient:
    """Pooled HTTP/1.1 connections to providers."""

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self._idle: dict[tuple[str, str, int], list[Connection]] = {}
        self._ssl = ssl_context  # made on first https call when not given
        self._closed = False
        self._deadlines: Deadlines | None = None  # bound to the loop of the first request

    async def request(
        self,
        method: str,
        url: str,
        headers: Iterable[tuple[str, str]],
        body: bytes,
        *,
        timeout_s: float = 30.0,
    ) -> Response:
        """Send one request and read the whole answer within ``timeout_s`` seconds.

        Raises ClientError, OSError (ssl.SSLError included) or TimeoutError.
        """
        return await self.request_head(
            method, url, header_lines(headers), body, timeout_s=timeout_s
        )

    async def request_head(
        self, method: str, url: str, head: bytes, body: bytes, *, timeout_s: float = 30.0
    ) -> Response:
        """``request`` with the headers rendered already (``header_lines``), Host and
        Content-Length aside: the gateway renders them from the bytes it parsed."""
        if self._closed:
            raise ClientError("the client is closed")
        key, host, target = _split(url)
        data = _encode(method, target, host, head, body)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        attempts = 2 if method in IDEMPOTENT else 1
        while True:
            conn = self._pooled(key) or await self._connect(key, deadline)
            try:
                answer = await conn.request(data, head=method == "HEAD", deadline=deadline)
            except StaleConnection:
                attempts -= 1
                if attempts:
                    continue
                raise
            except BaseException:
                conn.close()  # cancelled or failed mid-answer: the connection is out of step
                raise
            self._release(key, conn)
            return answer

    def _pooled(self, key: tuple[str, str, int]) -> Connection | None:
        # Plain, not a coroutine: a pooled connection is the rule under load.
        pool = self._idle.get(key)
        now = time.monotonic()
        while pool:
            conn = pool.pop()
            if not conn.closed and now - conn.idle_since < IDLE_S:
                conn.reused = True
                return conn
            conn.close()
        return None

    async def _connect(self, key: tuple[str, str, int], deadline: float) -> Connection:
        scheme, host, port = key
        loop = asyncio.get_running_loop()
        context = self._ssl_context() if scheme == "https" else None
        if self._deadlines is None or self._deadlines.loop is not loop:
            self._deadlines = Deadlines(loop)
        deadlines = self._deadlines
        # The request's deadline covers the connect and TLS handshake too: a provider whose
        # listen queue is full, or that never answers a TLS hello, held the exchange for the
        # kernel's connect timeout (about 130 s) or asyncio's handshake timeout (60 s),
        # whatever the service's timeout. New connections only: a pooled one pays nothing.
        async with asyncio.timeout_at(deadline):
            _, conn = await loop.create_connection(
                lambda: Connection(loop, deadlines), host, port, ssl=context
            )
        return conn

    def _release(self, key: tuple[str, str, int], conn: Connection) -> None:
        if conn.closed or not conn.keep_alive or self._closed:
            conn.close()
            return
        pool = self._idle.setdefault(key, [])
        now = time.monotonic()
        # Taken newest first, the oldest of a burst's connections are never looked at by
        # _pooled: closed here once idle too long, or a provider that keeps idle connections
        # open (Go's net/http does) kept up to POOL_MAX sockets of the hub's for ever.
        while pool and now - pool[0].idle_since >= IDLE_S:
            pool.pop(0).close()
        if len(pool) >= POOL_MAX:
            conn.close()
            return
        conn.idle_since = now
        pool.append(conn)

    def _ssl_context(self) -> ssl.SSLContext:
        if self._ssl is None:
            self._ssl = ssl.create_default_context()
        return self._ssl

    async def close(self) -> None:
        self._closed = True
        for pool in self._idle.values():
            for conn in pool:
                conn.close()
        self._idle.clear()
        if self._deadlines is not None:
            self._deadlines.close()


def _split(url: str) -> tuple[tuple[str, str, int], str, str]:
    """(pool key, Host header, request target) of an absolute http(s) URL.

    The origin is parsed once per provider (``_origin``); urlsplit on every exchange was
    about 1.5 % of the hub worker's samples. The target goes out as the hub received it.
    """
    slash = url.find("/", url.find("//") + 2) if "//" in url else -1
    origin, target = (url, "/") if slash < 0 else (url[:slash], url[slash:])
    key, host = _origin(origin)
    return key, host, target


@functools.lru_cache(maxsize=1024)
def _origin(origin: str) -> tuple[tuple[str, str, int], str]:
    try:
        parts = urlsplit(origin)
        port = parts.port
    except ValueError as exc:
        raise ClientError(f"cannot call {origin[:200]!r}: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise ClientError(f"cannot call {origin[:200]!r}: only http and https URLs")
    default = 443 if parts.scheme == "https" else 80
    return (parts.scheme, parts.hostname, port or default), parts.netloc.rpartition("@")[2]


def header_lines(headers: Iterable[tuple[str, str]], encoding: str = "latin-1") -> bytes:
    """Header pairs as the lines of a request head, refusing values with line breaks.

    Latin-1 towards providers (HTTP's historical header charset); ``hub replay`` sends its
    scenarios' values as UTF-8.
    """
    pairs = list(headers)
    lines = "".join([f"{name}: {value}\r\n" for name, value in pairs])
    if lines.count("\n") != len(pairs) or lines.count("\r") != len(pairs):
        # Values reach here from uvicorn's parser or the hub's own checks, which refuse
        # line breaks; this keeps a request from ever being split in two.
        raise ClientError("a request header holds a line break")
    return lines.encode(encoding)


def _encode(method: str, target: str, host: str, head: bytes, body: bytes) -> bytes:
    start = f"{method} {target} HTTP/1.1\r\nHost: {host}\r\n"
    if start.count("\n") != 2 or start.count("\r") != 2:
        raise ClientError("a request line or Host holds a line break")
    if body or method in ("POST", "PUT", "PATCH"):
        return b"%s%sContent-Length: %d\r\n\r\n%s" % (
            start.encode("latin-1"),
            head,
            len(body),
            body,
        )
    return start.encode("latin-1") + head + b"\r\n"
