"""The front of the hub's ASGI application: ``/r1`` to the gateway, everything else to
FastAPI, with the admin and operator APIs' token and body size checked before FastAPI
reads a body (``hub.app.create_app`` builds both halves).
"""

from __future__ import annotations

import json
from collections.abc import Callable, MutableMapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from fastapi import FastAPI

from hub.core.deps import ADMIN_ONLY, role_of, unauthorized_message
from hub.core.headers import protect
from hub.gateway.handler import Gateway

if TYPE_CHECKING:
    from hub.app import HubState


class HubApp:
    """Routes ``/r1/...`` to the gateway and everything else to FastAPI."""

    def __init__(self, api: FastAPI, gateway: Gateway) -> None:
        self.api = api
        self.gateway = gateway
        self.state: HubState = api.state.hub
        # In production the API's description takes a token, as /api does (operators use
        # /api, and it is described there too): it lists every admin route and field, which
        # is nobody's business outside, while scripts and client generators still fetch it
        # (curl -H "Authorization: Bearer ..." .../openapi.json). Not turned off: the admin
        # API's refusals point at it for the fields they want.
        described = (
            api.openapi_url,
            api.docs_url,
            api.redoc_url,
            api.swagger_ui_oauth2_redirect_url,
        )
        production = self.state.settings.env == "production"
        self.token_paths = frozenset(p for p in described if p and production)
        self.docs_paths = frozenset(p for p in described if p and p != api.openapi_url)

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http" and (scope["path"].startswith("/r1/") or scope["path"] == "/r1"):
            await self.gateway(scope, receive, send)
        elif scope["type"] == "http":
            if scope["method"] == "HEAD":
                # FastAPI's routes answer GET alone: HEAD of any was a 405.
                scope, send = {**scope, "method": "GET"}, _headers_only(send)
            # The hub's own answers (not /r1's) get the browser protections.
            await self._own(scope, receive, protect(scope["path"], send, self.docs_paths))
        else:
            await self.api(scope, receive, send)

    async def _own(self, scope: dict, receive: Callable, send: Callable) -> None:
        if "\x00" in scope["path"] + _query(scope):
            # A NUL character reached PostgreSQL from a filter or an id and failed there (a
            # 500); SQLite took it. Refused alike on both, before any route runs.
            await _refuse(send, 400, "the path or query holds a NUL character (%00); remove it")
        elif _guarded(scope["path"]) or scope["path"] in self.token_paths:
            await self._guard(scope, receive, send)
        else:
            await self.api(scope, receive, send)

    async def _guard(self, scope: dict, receive: Callable, send: Callable) -> None:
        """The token and the body's size are checked before FastAPI reads the body.

        FastAPI parses a JSON body before the routes' token dependency runs: 57 MB sent to
        PUT /admin/registry with no token took 1.4 s of the event loop (every exchange
        waited) and 320 MB before its 401.
        """
        token = None
        length = 0
        for name, value in scope["headers"]:
            if name == b"authorization" and token is None:
                scheme, _, credentials = value.decode("latin-1").partition(" ")
                token = credentials.strip() if scheme.lower() == "bearer" else ""
            elif name == b"content-length" and value.isdigit():
                length = int(value)
        role = role_of(self.state.settings, token)
        if role is None:
            message = unauthorized_message(token, scope["path"])
            await _refuse(send, 401, message, [(b"www-authenticate", b"Bearer")])
        elif role != "admin" and scope["path"].startswith("/admin"):
            await _refuse(send, 403, ADMIN_ONLY)
        elif length > API_BODY_MAX:
            await _refuse(send, 413, TOO_LARGE)
        else:
            await self._capped(scope, receive, send)

    async def _capped(self, scope: dict, receive: Callable, send: Callable) -> None:
        """The API, with a body sent without Content-Length ended by a 413 past the cap."""
        seen = 0
        over = False

        async def capped() -> dict:
            nonlocal seen, over
            if over:
                return {"type": "http.disconnect"}
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > API_BODY_MAX:
                over = True  # the route sees a client gone; its own answer is dropped
                await _refuse(send, 413, TOO_LARGE)
                return {"type": "http.disconnect"}
            return message

        async def answer(message: MutableMapping[str, Any]) -> None:
            if not over:
                await send(message)

        await self.api(scope, capped, answer)


API_BODY_MAX = 16 * 1024 * 1024  # a registry of thousands of services is a few MB
TOO_LARGE = f"the body is over {API_BODY_MAX // (1024 * 1024)} MiB; send less at a time"


def _guarded(path: str) -> bool:
    return path.startswith(("/admin/", "/api/")) or path in ("/admin", "/api")


async def _refuse(
    send: Callable, status: int, detail: str, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    # Spaced as FastAPI's JSONResponse writes every other refusal of the API.
    body = json.dumps({"detail": detail}, ensure_ascii=False, separators=(",", ":")).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", b"%d" % len(body)),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _headers_only(send: Callable) -> Callable:
    """``send`` for a HEAD answered as its GET: the GET's status and headers, no body."""

    async def head(message: MutableMapping[str, Any]) -> None:
        if message["type"] == "http.response.body":
            if message.get("more_body", False):
                return
            message = {"type": "http.response.body", "body": b""}
        await send(message)

    return head


def _query(scope: dict) -> str:
    raw = scope.get("query_string", b"")
    return unquote(raw.decode("latin-1")) if b"%" in raw else ""
