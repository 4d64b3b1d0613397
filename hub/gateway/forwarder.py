"""The outbound hop to providers, on the hub's pooled HTTP/1.1 client (hub.gateway.client).

Issue 2 chose aiohttp over httpx's default transport (about 2,700 against 350 requests/s
through a forwarder on this machine); the fourth profiling round replaced aiohttp with the
hub's own client for the same reason again: see the client's docstring and
bench/profile_notes.md.
"""

from __future__ import annotations

import socket
import time
from email.utils import formatdate
from typing import Any, NamedTuple

from hub.core.errors import ServiceFailed, ServiceTimeout
from hub.gateway.client import ClientError, HttpClient, MalformedAnswer, header_lines

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",  # no standard's, but RFC 9110 7.6.1 names it for removal
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

# What a client says of the route its request took: a provider behind the hub trusts them
# from the hub's address (uvicorn does by default), and took "X-Forwarded-Proto: https" from
# any client to build its redirects. The provider's peer is the hub; the client is named by
# X-Road-Client.
FORWARDING_BYTES = frozenset(
    {
        b"forwarded",
        b"x-forwarded-for",
        b"x-forwarded-host",
        b"x-forwarded-port",
        b"x-forwarded-prefix",
        b"x-forwarded-proto",
        b"x-real-ip",
    }
)
# What would have the provider run another method or route another path than the grant the
# hub checked: method overrides (ASP.NET Core, Jersey, Express's method-override) and the
# original-URL headers (Symfony, IIS, nginx's auth_request, Traefik) that rewrite the path.
OVERRIDE_BYTES = frozenset(
    {
        b"x-http-method-override",
        b"x-http-method",
        b"x-method-override",
        b"x-original-url",
        b"x-original-uri",
        b"x-rewrite-url",
        b"x-forwarded-uri",
    }
)
# Expect: the hub reads the whole body before it forwards, so the client's expectation is
# met (or refused) here; passed on, a provider that knows no such expectation answered 417.
# User-Agent and, in answers, Server: they can name the host at the other end, and X-Road's
# REST protocol (PR-REST 4.3, "Filtered headers") has them rewritten or left out, as Host is.
REQUEST_DROP = HOP_BY_HOP_BYTES | FORWARDING_BYTES | OVERRIDE_BYTES | {b"expect", b"user-agent"}
RESPONSE_DROP = HOP_BY_HOP | {"server"}
# Answer fields that name a URL of the provider's, said again under the hub's path (RFC 9110
# 10.2.2 Location, 8.7 Content-Location): a client cannot reach the provider's address.
NAMES_A_URL = frozenset({"location", "content-location"})


# Response headers only the hub may set: a provider's own would stand beside the hub's, and
# let it speak for the exchange (another client, another id) to the client.
HUB_ONLY_PREFIXES = ("x-road-", "x-hub-")


_date: list[Any] = [0, ""]  # the second and its HTTP date: formatdate costs 4 us (timeit)


def http_date() -> str:
    """Now as HTTP writes it (RFC 9110 5.6.7), made once a second."""
    now = int(time.time())
    if now != _date[0]:
        _date[:] = [now, formatdate(now, usegmt=True)]
    return str(_date[1])


class Answer(NamedTuple):
    status: int
    headers: list[tuple[str, str]]  # to pass on: no framing, X-Road or content-type header
    body: bytes
    content_type: str
    # A forwarded HEAD answer's Content-Length, that of the GET: "" when the provider sent
    # none (a chunked GET), and then the client gets none either (RFC 9110 8.6).
    head_length: str | None = None


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
        self,
        method: str,
        url: str,
        head: bytes,
        body: bytes,
        timeout_s: float,
        moved: tuple[str, str] | None = None,
    ) -> Answer:
        """``send`` with the header lines rendered already (see HttpClient.request_head).

        ``moved`` is (the provider's base URL, the hub's path for it): a Location (or
        Content-Location) under the base URL is rewritten to the hub's path, as nginx's
        proxy_redirect does, so that a redirect neither leaks the provider's address nor
        leads the client around the hub.
        """
        assert self.client is not None
        try:
            resp = await self.client.request_head(method, url, head, body, timeout_s=timeout_s)
        except TimeoutError:
            raise ServiceTimeout(
                f"the provider did not answer within the service timeout of {timeout_s:g} s"
            ) from None
        except MalformedAnswer as exc:
            raise ServiceFailed(str(exc)) from None  # the client's sentences name the provider
        except (ClientError, OSError, UnicodeError) as exc:
            raise ServiceFailed(
                f"the provider could not be reached or broke off its answer: {_why(exc)}"
            ) from None
        out = []
        content_type = ""
        head_length = "" if method == "HEAD" else None
        named: list[str] = []
        dated = False
        for name, value in resp.headers:
            lname = name.lower()
            dated = dated or lname == "date"
            if lname == "content-type":
                content_type = value  # the answer's own field: the handler writes it
            elif lname == "connection":
                named += value.split(",")
            elif lname == "content-length" and method == "HEAD":
                head_length = value
            elif lname in NAMES_A_URL and moved is not None:
                out.append((name, _moved(value, *moved)))
            elif lname not in RESPONSE_DROP and not lname.startswith(HUB_ONLY_PREFIXES):
                out.append((name, value))
        if named:
            # Headers the provider named in Connection are for its hop only (RFC 9110 7.6.1).
            hop = {t.strip().lower() for t in named}
            out = [(n, v) for n, v in out if n.lower() not in hop]
        if not dated:  # a proxy adds the Date a provider left out (RFC 9110 6.6.1)
            out.append(("date", http_date()))
        return Answer(resp.status, out, resp.body, content_type, head_length)


def _moved(location: str, base: str, public: str) -> str:
    if location.startswith(base) and location[len(base) : len(base) + 1] in ("", "/", "?", "#"):
        rest = location[len(base) :]
        return public + (rest if rest[:1] == "/" else "/" + rest if rest else "")
    return location


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
