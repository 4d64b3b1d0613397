"""How each fault of ``faults.py`` is played on an ASGI connection.

``FaultMiddleware`` decides which fault a call gets; these do it: a delay that ends when the
client leaves, a hang with no answer, a reset of the connection, an injected JSON error, and
the real answer cut short (``Truncating``). ``read_body`` reads a request body so that it can
be matched against stubs and still be given to the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct

from starlette.types import Message, Receive, Send

from connectors.kit.stub_model import NO_BODY

# A "never answer" still ends eventually, so a forgotten fault cannot pin a server forever.
MAX_HANG_S = 600.0


class ConnectionResetByFault(ConnectionResetError):
    """Raised where no server transport can be aborted (in-process test clients)."""


async def reset(send: Send) -> None:
    # uvicorn passes a bound method of its request cycle as ``send``; the cycle owns the
    # transport. Aborting it closes the socket with no answer at all, as a crashed peer would.
    transport = getattr(getattr(send, "__self__", None), "transport", None)
    if transport is None or not hasattr(transport, "abort"):
        raise ConnectionResetByFault("connection reset by fault injection")
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # Linger on, for 0 s: the close sends a TCP RST ("connection reset by peer"), as
        # WireMock's CONNECTION_RESET_BY_PEER does; a plain abort sent a FIN, which clients
        # read as an empty answer, as a server closing an idle kept-alive connection.
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    # Let connection_lost run so the server sees a disconnect and does not answer 500.
    for _ in range(3):
        await asyncio.sleep(0)


async def read_body(receive: Receive) -> tuple[bytes | None, Receive]:
    """The whole request body (None if the client left), and a ``receive`` that gives it again."""
    chunks = []
    more = True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return None, receive
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return body, replay


async def delay(seconds: float, receive: Receive) -> Receive | None:
    """Wait ``seconds`` unless the client leaves first; then None, else a ``receive`` for the app.

    A client that stops waiting (the hub after its service timeout) closes its connection;
    a plain sleep held the request for the whole latency regardless, piling up under load
    with a slow-provider fault, and a mock stopped meanwhile logged each one's cancellation
    as a traceback. The request's body messages read while watching are handed on.
    """
    read: list[Message] = []

    async def until_gone() -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            read.append(message)

    try:
        await asyncio.wait_for(until_gone(), seconds)
    except TimeoutError:
        pass
    else:
        return None

    async def replay() -> Message:
        return read.pop(0) if read else await receive()

    return replay


async def hang(receive: Receive) -> None:
    # Read until the client disconnects: nothing is sent, and the task ends with the socket.
    async def wait_disconnect() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    # Returning without an answer once the client is gone is silent in uvicorn.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(wait_disconnect(), MAX_HANG_S)


async def error(send: Send, status: int, code: str) -> None:
    body = json.dumps(
        {"type": "InjectedFault", "message": f"fault injection: {code} answered {status}"}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class Truncating:
    """A ``send`` that buffers the real answer and sends its first half as invalid JSON."""

    def __init__(self, send: Send) -> None:
        self.send = send
        self.start: Message | None = None
        self.body = b""

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            if message["status"] in NO_BODY:
                # Nothing to cut: a body and its length after a 204 or 304 would be read as
                # the start of the next answer on the connection.
                await self.send(message)
                return
            self.start = message
            return
        if message["type"] != "http.response.body" or self.start is None:
            await self.send(message)
            return
        self.body += message.get("body", b"")
        if message.get("more_body", False):
            return
        cut = self.body[: len(self.body) // 2] or b'{"'
        if _parses(cut):
            cut = b'{"truncated'
        headers = [
            (k, v)
            for k, v in self.start["headers"]
            if k not in (b"content-length", b"content-type")
        ]
        headers += [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(cut))]
        await self.send({**self.start, "headers": headers})
        await self.send({"type": "http.response.body", "body": cut})


def _parses(body: bytes) -> bool:
    try:
        json.loads(body)
    except ValueError:
        return False
    return True
