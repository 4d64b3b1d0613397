"""uvicorn's HTTP protocol with a one-message answer for the gateway.

An ASGI answer takes two messages (``http.response.start``, then ``http.response.body``),
and uvicorn writes each to the socket at once, checking every header name and value
against its regular expressions on the way. The gateway's answer is always whole: the
provider's body is read before the record is committed. So requests get an extension,
``scope["extensions"]["hub.response"]``, and the gateway sends one message of type
``hub.response`` (status, headers, body) that goes out in one write. Header values the
gateway made itself are known to be safe; the provider's pass the same check uvicorn
makes. Every other message, and every other route, is uvicorn's own.

Measured with ``hub serve`` under wrk at 32 connections, four alternating rounds of 5 s
against the code before (which also had uvicorn's proxy-headers middleware on): the hub's
CPU per exchange 168-181 us before, 154-170 us after; in-process, the Python of one
answer 16-18 us against 14-17 (bench/profile_notes.md, sixth round).
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import (
    HEADER_RE,
    HEADER_VALUE_RE,
    STATUS_LINE,
    HttpToolsProtocol,
    RequestResponseCycle,
)

EXTENSION = "hub.response"


class _OneWriteCycle(RequestResponseCycle):
    """uvicorn's request cycle, also taking the gateway's whole answer as one message."""

    async def send(self, message: Any) -> None:
        if message["type"] != EXTENSION:
            await super().send(message)
            return
        if self.flow.write_paused and not self.disconnected:
            await self.flow.drain()
        if self.disconnected:
            return
        if self.response_started:
            raise RuntimeError("hub.response sent after the response had started")
        body: bytes = message["body"]
        content = [STATUS_LINE[message["status"]]]
        for name, value in message["passed"]:  # the provider's: checked as uvicorn would
            if HEADER_RE.search(name) or HEADER_VALUE_RE.search(value):
                raise RuntimeError("Invalid HTTP header.")  # run_asgi answers 500
            content += (name.lower(), b": ", value, b"\r\n")
        for name, value in message["headers"]:
            content += (name, b": ", value, b"\r\n")
        self.response_started = True
        if not self.keep_alive:
            content.append(b"connection: close\r\n")
        content.append(b"\r\n")
        if self.scope["method"] != "HEAD":
            content.append(body)
        self.transport.write(b"".join(content))
        self.response_complete = True
        self.message_event.set()
        if not self.keep_alive:
            self.transport.close()
        self.on_response()


class HubHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol whose request cycles take ``hub.response``."""

    def on_message_begin(self) -> None:
        super().on_message_begin()
        # A dict of its own per request: an application may add extensions to a scope.
        self.scope["extensions"] = {EXTENSION: {}}  # type: ignore[typeddict-item]

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        # uvicorn makes the request's cycle in there; it becomes the subclass, which has no
        # state of its own, rather than copying uvicorn's method to change one name.
        cycle = self.cycle
        if cycle is not None and type(cycle) is RequestResponseCycle:
            cycle.__class__ = _OneWriteCycle
