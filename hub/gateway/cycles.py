"""The request cycles of the hub's protocol (hub/gateway/protocol.py), and the one-write
answer they share: a gateway answer is rendered whole (``encode_answer``) and written once.

``OneWriteCycle`` is uvicorn's ASGI cycle that also takes the ``hub.response`` message;
``GatewayCycle`` stands where uvicorn keeps its cycle for a gateway request answered
without ASGI.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import (
    HEADER_RE,
    HEADER_VALUE_RE,
    STATUS_LINE,
    RequestResponseCycle,
)

EXTENSION = "hub.response"


def encode_answer(message: dict[str, Any], *, keep_alive: bool, head: bool) -> bytes:
    """A ``hub.response`` message as the bytes of one HTTP/1.1 answer.

    Raises RuntimeError when a provider's header would break the answer's framing.
    """
    content = [STATUS_LINE[message["status"]]]
    for name, value in message["passed"]:  # the provider's: checked as uvicorn would
        if HEADER_RE.search(name) or HEADER_VALUE_RE.search(value):
            raise RuntimeError("Invalid HTTP header.")
        content += (name.lower(), b": ", value, b"\r\n")
    content.append(message["head"])
    if not keep_alive:
        content.append(b"connection: close\r\n")
    content.append(b"\r\n")
    if not head:
        content.append(message["body"])
    return b"".join(content)


def head_pairs(head: bytes) -> list[tuple[bytes, bytes]]:
    """A rendered head ("name: value" lines) as ASGI header pairs."""
    pairs = []
    for line in head.split(b"\r\n"):
        if line:
            name, _, value = line.partition(b": ")
            pairs.append((name, value))
    return pairs


INTERNAL_ERROR_HEAD = (
    b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 21\r\nconnection: close\r\n\r\n"
)
INTERNAL_ERROR = INTERNAL_ERROR_HEAD + b"Internal Server Error"


class OneWriteCycle(RequestResponseCycle):
    """uvicorn's request cycle, also taking the gateway's whole answer as one message."""

    async def send(self, message: Any) -> None:
        if self.waiting_for_100_continue and self.more_body:
            # Answered (a 413 by the Content-Length, a 401) before the body was asked for:
            # the client sends none, so the parser would wait for it on a connection kept
            # open. Closing says the body is not wanted (RFC 9110 10.1.1).
            self.keep_alive = False
        if message["type"] != EXTENSION:
            await super().send(message)
            return
        if self.flow.write_paused and not self.disconnected:
            await self.flow.drain()
        if self.disconnected:
            return
        if self.response_started:
            raise RuntimeError("hub.response sent after the response had started")
        data = encode_answer(  # a RuntimeError here: run_asgi answers 500
            message, keep_alive=self.keep_alive, head=self.scope["method"] == "HEAD"
        )
        self.response_started = True
        self.transport.write(data)
        self.response_complete = True
        self.message_event.set()
        if not self.keep_alive:
            self.transport.close()
        self.on_response()


class _Event:
    """What uvicorn calls on a cycle's ``message_event``; a gateway cycle waits on nothing."""

    __slots__ = ()

    def set(self) -> None:
        pass


_NO_EVENT = _Event()


class GatewayCycle:
    """One gateway request read whole, answered by ``Gateway.exchange`` without ASGI.

    It stands where uvicorn keeps its ``RequestResponseCycle`` (``protocol.cycle`` and the
    pipeline queue), with the attributes uvicorn reads and sets there.
    """

    __slots__ = (
        "method",
        "path",
        "query",
        "headers",
        "body",
        "more_body",
        "keep_alive",
        "disconnected",
        "response_complete",
        "message_event",
        "waiting",
    )

    def __init__(
        self,
        method: str,
        path: str,
        query: str,
        headers: list[tuple[bytes, bytes]],
        keep_alive: bool,
    ) -> None:
        self.method = method
        self.path = path
        self.query = query
        self.headers = headers
        self.body = b""
        self.more_body = True
        self.keep_alive = keep_alive
        self.disconnected = False
        self.response_complete = False
        self.message_event = _NO_EVENT
        self.waiting = False  # True while an earlier request on the connection is answered
