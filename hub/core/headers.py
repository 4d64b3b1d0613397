"""Browser protections on the hub's own answers: the dashboard, /api, /admin, /docs.

Not on the gateway's /r1: there the answer is the provider's, with the X-Road headers, on
the hub's own protocol (hub/gateway/protocol.py); ``HubApp`` (hub/front.py) sends /r1 past
this module.

- The dashboard may load and fetch only the hub's own files (it has no inline script or
  style: dashboard.js colours the matrix through the DOM, not with style attributes).
- JSON and every other answer may load, run and frame nothing (``default-src 'none'``),
  and /api, /admin and /demo say ``Cache-Control: no-store``: they carry the log's
  officers and cases, the registry, and keys.
- /docs and /redoc are FastAPI's pages, which load Swagger UI and ReDoc from the hub itself
  and run one inline script each: their policy allows the hub's files and that script, by
  its hash, taken from the page as sent (it holds the path the hub is served under).
- Everywhere: no framing (clickjacking), no MIME sniffing, no Referer to other sites.

An answer that sets one of these headers itself keeps its own.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Header = tuple[bytes, bytes]

_CLOSED = "base-uri 'none'; frame-ancestors 'none'"
PAGE_POLICY = (
    "default-src 'self'; img-src 'self' data:; object-src 'none'; form-action 'self'; " + _CLOSED
)
DATA_POLICY = "default-src 'none'; form-action 'none'; " + _CLOSED
# Swagger UI and ReDoc come from the hub's own /docs/assets (hub/core/apidocs.py); they set
# styles of their own at run time (ReDoc adds <style> elements) and ReDoc runs its search in
# a worker made from a blob.
DOCS_POLICY = (
    "default-src 'none'; script-src {scripts}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; worker-src blob:; form-action 'self'; " + _CLOSED
)

ALWAYS: list[Header] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]
PAGE = [(b"content-security-policy", PAGE_POLICY.encode()), *ALWAYS]
DATA = [(b"content-security-policy", DATA_POLICY.encode()), *ALWAYS]
PRIVATE = [*DATA, (b"cache-control", b"no-store")]
_INLINE = re.compile(rb"<script>(.*?)</script>", re.S)


def protect(path: str, send: Send, docs: frozenset[str]) -> Send:
    """``send`` adding to the answer's head the headers ``path`` gets; ``docs`` are the
    paths of FastAPI's own pages (/docs, /redoc, /docs/oauth2-redirect)."""
    if path in docs:
        return _docs_page(send)
    if path == "/dashboard" or path.startswith("/dashboard/"):
        extra = PAGE
    elif path.startswith(("/api/", "/admin/", "/demo/")) or path in ("/api", "/admin"):
        extra = PRIVATE
    else:
        extra = DATA

    async def protected(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": _added(message.get("headers", []), extra)}
        await send(message)

    return protected


def docs_policy(page: bytes) -> bytes:
    """The policy of a FastAPI docs page: the hub's files, and its inline scripts by their
    hash."""
    hashes = [
        "'sha256-" + base64.b64encode(hashlib.sha256(s).digest()).decode() + "'"
        for s in _INLINE.findall(page)
    ]
    return DOCS_POLICY.format(scripts=" ".join(["'self'", *hashes])).encode()


def _docs_page(send: Send) -> Send:
    """The page is held until its last byte (a few kB): its policy names its scripts."""
    start: MutableMapping[str, Any] | None = None
    body: list[bytes] = []

    async def held(message: MutableMapping[str, Any]) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
            return
        if message["type"] != "http.response.body" or start is None:
            await send(message)
            return
        body.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        page = b"".join(body)
        extra = [(b"content-security-policy", docs_policy(page)), *ALWAYS]
        await send({**start, "headers": _added(start.get("headers", []), extra)})
        await send({"type": "http.response.body", "body": page})
        start = None

    return held


def _added(headers: Iterable[Header], extra: list[Header]) -> list[Header]:
    mine = list(headers)
    named = {name.lower() for name, _ in mine}
    return mine + [h for h in extra if h[0] not in named]
