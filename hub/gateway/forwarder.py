"""The outbound hop to providers, on the hub's pooled HTTP/1.1 client (hub.gateway.client).

Issue 2 chose aiohttp over httpx's default transport (about 2,700 against 350 requests/s
through a forwarder on this machine); the fourth profiling round replaced aiohttp with the
hub's own client for the same reason again: see the client's docstring and
bench/profile_notes.md.
"""

from __future__ import annotations

import socket
from typing import NamedTuple

from hub.core.errors import ServiceFailed, ServiceTimeout
from hub.gateway.client import ClientError, HttpClient, header_lines

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


HOP_BY_HOP_BYTES = frozenset(name.encode() for name in HOP_BY_HOP)


# Response headers only the hub may set: a provider's own would stand beside the hub's, and
# let it speak for the exchange (another client, another id) to the client.
HUB_ONLY_PREFIXES = ("x-road-", "x-hub-")


class Answer(NamedTuple):
    status: int
    headers: list[tuple[str, str]]  # to pass on: no framing, X-Road or content-type header
    body: bytes
    content_type: str
    head_length: str | None = None  # a HEAD answer's Content-Length: that of the GET


class Forwarder:
    def __init__(self) -> None:
        self.client: HttpClient | None = None

    async def start(self) -> None:
        self.client = HttpClient()

    async def stop(self) -> None:
        if self.client is not None:
            await self.client.close()
            self.client = None

    async def send(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: bytes,
        timeout_s: float,
    ) -> Answer:
        try:
            head = header_lines(headers)
        except (ClientError, UnicodeError):
            raise ServiceFailed(
                "a header for the provider holds a line break or a character outside Latin-1"
            ) from None
        return await self.send_head(method, url, head, body, timeout_s)

    async def send_head(
        self, method: str, url: str, head: bytes, body: bytes, timeout_s: float
    ) -> Answer:
        """``send`` with the header lines rendered already (see HttpClient.request_head)."""
        assert self.client is not None
        try:
            resp = await self.client.request_head(method, url, head, body, timeout_s=timeout_s)
        except TimeoutError:
            raise ServiceTimeout(
                f"the provider did not answer within the service timeout of {timeout_s:g} s"
            ) from None
        except (ClientError, OSError, UnicodeError) as exc:
            raise ServiceFailed(
                f"the provider could not be reached or broke off its answer: {_why(exc)}"
            ) from None
        out = []
        content_type = ""
        head_length = None
        named: list[str] = []
        for name, value in resp.headers:
            lname = name.lower()
            if lname == "content-type":
                content_type = value  # the answer's own field: the handler writes it
            elif lname == "connection":
                named += value.split(",")
            elif lname == "content-length" and method == "HEAD":
                head_length = value
            elif lname not in HOP_BY_HOP and not lname.startswith(HUB_ONLY_PREFIXES):
                out.append((name, value))
        if named:
            # Headers the provider named in Connection are for its hop only (RFC 9110 7.6.1).
            hop = {t.strip().lower() for t in named}
            out = [(n, v) for n, v in out if n.lower() not in hop]
        return Answer(resp.status, out, resp.body, content_type, head_length)


def _why(exc: BaseException) -> str:
    """What went wrong with the provider, in words (a class name said little)."""
    if isinstance(exc, ConnectionRefusedError):
        return "the connection was refused"
    if isinstance(exc, ConnectionResetError):
        return "the connection was reset"
    if isinstance(exc, socket.gaierror):
        return "its host name does not resolve"
    if isinstance(exc, ClientError) and not str(exc).startswith("cannot call"):
        return str(exc)  # the client's own sentences; "cannot call" would show its address
    return type(exc).__name__
