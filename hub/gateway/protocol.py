"""uvicorn's HTTP protocol, with the gateway's exchanges answered without ASGI.

uvicorn turns each request into an ASGI cycle: a scope, an ``asyncio.Event``, a task
running the application through ``receive`` and ``send``, and two messages for the answer,
each written to the socket at once after its headers pass uvicorn's regular expressions.
The gateway needs none of it: its answer is always whole (the provider's body is read
before the record is committed), and bodies sent to it are small.

So for a request to ``/r1/`` with a body of known, small length, this protocol keeps the
parts uvicorn parsed (method, path, query, headers, body) and, once the request is whole,
runs ``Gateway.exchange`` in a task of its own and writes the answer in one write
(``GatewayCycle``). Everything else keeps uvicorn's ASGI cycle: other routes, chunked or
large bodies, ``Expect: 100-continue``, upgrades, an access log or a concurrency limit.
Pipelined requests are answered in order either way: a gateway cycle waits in uvicorn's
own queue, and keep-alive, flow control and graceful shutdown stay uvicorn's.

ASGI requests get an extension too, ``scope["extensions"]["hub.response"]``: the gateway
(and any app) may send its answer as one message of type ``hub.response`` that goes out
in one write: ``status``, ``passed`` (header pairs from elsewhere, checked here as uvicorn
checks them), ``head`` (header lines already rendered, ``b"name: value\\r\\n"`` each) and
``body``.

Header values the gateway made itself are known to be safe; the provider's pass the same
check uvicorn makes (``cycles.encode_answer``). Figures: bench/profile_notes.md, sixth round
(one write) and seventh round (no ASGI cycle).

What the protocol refuses itself, with the hub's error body: what httptools cannot parse,
an HTTP version other than 1.0 and 1.1 (505), an HTTP/1.1 request without exactly one Host,
CONNECT and an Upgrade with a body (its body would be lost; one without is served in
HTTP/1.1, a WebSocket's too: the hub serves none), a transfer coding other than
chunked (it would go on undecoded), a head over HEAD_READ_MAX or not whole within
HEAD_TIMEOUT_S, a body that stops coming for BODY_IDLE_TIMEOUT_S. A refusal goes out after
the answers of the requests before it on the connection, never ahead of them; a chunked
body's trailer is dropped. A client's half-close after its requests still gets their
answers (``eof_received``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import Any

import orjson
from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT
from uvicorn.protocols.http.httptools_impl import (
    HttpToolsProtocol,
    RequestResponseCycle,
)

from hub.core.ids import request_id
from hub.gateway.cycles import (
    EXTENSION,
    INTERNAL_ERROR,
    INTERNAL_ERROR_HEAD,
    GatewayCycle,
    OneWriteCycle,
    encode_answer,
)

GATEWAY_PREFIX = b"/r1/"
# Bodies up to uvicorn's own read-ahead limit are read whole before the exchange starts;
# larger or chunked ones stream through the ASGI cycle, which refuses them as they arrive.
WHOLE_BODY_MAX = HIGH_WATER_LIMIT

# A request's head (request line and headers) is counted from the second read on while it
# is incomplete (the first read, at most uvloop's 256 KiB, is never counted, so a request
# whose head fits one read costs nothing here): past HEAD_READ_MAX it is refused with 431.
# The gateway's own HUB_MAX_HEADER_BYTES (16 KiB) still answers smaller heads. Without it,
# 300 headers of 1 MB each were read and kept before any answer.
HEAD_READ_MAX = 1024 * 1024
# A head not whole this long after its connection opened, or its first byte came, ends
# with 408 (or a bare close when nothing was sent): 21,000 connections that sent half a
# header line had held every file descriptor of the hub.
HEAD_TIMEOUT_S = 15.0
# A body that stops coming (no byte for this long while the request is not whole, and the
# hub is reading) ends with 408: a Content-Length larger than what was sent held its
# connection for ever, as a half-sent head did before HEAD_TIMEOUT_S.
BODY_IDLE_TIMEOUT_S = 15.0
SWEEP_EVERY_S = 1.0

log = logging.getLogger(__name__)


class _Trailers:
    """Where the parser's fields go once a request's head is whole: a chunked body's
    trailer. RFC 9110 6.5.1 forbids merging them into the headers (a key or a purpose sent
    only there was taken for the request's, out of sight of a proxy in front); the hub
    discards them, as the RFC lets it."""

    __slots__ = ()

    def append(self, field: tuple[bytes, bytes]) -> None:
        pass

    def __iter__(self) -> Iterator[tuple[bytes, bytes]]:
        return iter(())


_TRAILERS = _Trailers()


class _Refusal(Exception):
    """Raised in a parser callback to refuse the request: httptools stops parsing and
    uvicorn's data_received calls send_400_response, which says ``_refusal``."""


class HubHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol that answers gateway requests itself."""

    # The TLS protocol turns this off: its scope carries the client certificate.
    answers_gateway = True

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._gateway = _find_gateway(self.app) if self.answers_gateway else None
        if self.access_log or self.limit_concurrency is not None or self.root_path:
            # uvicorn's cycle logs, limits and prefixes paths; the gateway's does not.
            self._gateway = None
        self._idle = False
        self._idle_since = 0.0
        self._idle_timer: asyncio.TimerHandle | None = None
        # Waiting for a request's head since _head_since (from the connection's start).
        self._in_head = True
        self._began = False
        self._head_since = self.loop.time()
        self._head_bytes = 0
        self._in_body = False  # the head is whole, the body not yet
        self._body_read_at = 0.0  # the last read while in the body
        self._refusal: tuple[bytes, str, str, str] | None = None  # said by send_400_response
        self._deferred: bytes | None = None  # a refusal waiting for earlier answers
        _sweep_later(self.loop, self.server_state)

    def send_400_response(self, msg: str) -> None:
        # A request httptools cannot parse (two Content-Lengths, a control byte in a header,
        # a bad request line), or one a callback here refused (_Refusal): uvicorn answers in
        # plain text; the hub answers as it refuses anything else, with its error body and
        # X-Road-Error. No exchange began, so none is logged; the request id ties the
        # answer to this warning.
        refusal, self._refusal = self._refusal, None
        if refusal is not None:
            self._refuse(*refusal)
            return
        parser = self.parser
        version = parser.get_http_version()  # "0.0" when the request line broke before it
        if version not in ("0.0", "1.0", "1.1") or parser.get_method() == b"PRI":
            # A version the parser refuses itself (HTTP/1.2, HTTP/3.0), or HTTP/2's preface
            # ("PRI * HTTP/2.0") sent in clear: what is wrong is the version, not the request.
            self._refuse(*_wrong_version("2.0" if parser.get_method() == b"PRI" else version))
            return
        self._refuse(
            b"400 Bad Request",
            "Client.BadRequest",
            "the request is not valid HTTP/1.1: check its request line, its headers (one "
            "Content-Length, no Transfer-Encoding beside it, no control characters) and the "
            "length of its body",
            msg,
        )

    def _refuse(self, status: bytes, code: str, message: str, why: str) -> None:
        rid = request_id()
        log.warning("request %s refused: %s", rid, why)
        body = orjson.dumps({"type": code, "message": message, "detail": rid})
        data = (
            b"HTTP/1.1 %s\r\ncontent-type: application/json\r\n"
            b"content-length: %d\r\nx-road-error: %s\r\n"
            b"x-road-request-id: %s\r\nconnection: close\r\n\r\n%s"
            % (status, len(body), code.encode(), rid.encode(), body)
        )
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete and not cycle.more_body:
            # An earlier request, read whole, is still being answered (or waits its turn in
            # the pipeline): the refusal goes out after its answer, in order (RFC 9112
            # 9.3.2); a client that read it as that request's answer would send it again.
            self._deferred = data
            self._in_head = self._in_body = False
            self.flow.pause_reading()
            return
        self.transport.write(data)
        self.transport.close()

    def data_received(self, data: bytes) -> None:
        # Any byte from the client ends the idle time, as uvicorn's own timer is cancelled:
        # the next request may have begun before the last answer went out.
        self._idle = False
        if self._deferred is not None:
            return  # refused: nothing more is read from this connection
        if self._in_body:
            self._body_read_at = self.loop.time()
        elif self._in_head:
            self._head_bytes += len(data)
            if self._head_bytes > HEAD_READ_MAX:
                self._refuse(
                    b"431 Request Header Fields Too Large",
                    "Client.HeadersTooLarge",
                    f"the request line and headers are over {HEAD_READ_MAX // 1024} KiB; "
                    "send fewer or shorter headers",
                    f"head over {self._head_bytes} bytes",
                )
                return
        super().data_received(data)

    def head_overdue(self, now: float) -> None:
        """Called by the sweep: end the connection if its head, or its body, is late."""
        if self._in_body:
            self._body_overdue(now)
            return
        if not self._in_head or now - self._head_since < HEAD_TIMEOUT_S:
            return
        if self.transport.is_closing():
            return
        if not self._began:  # never sent a byte of a request: nothing to answer
            self.transport.close()
            return
        self._refuse(
            b"408 Request Timeout",
            "Client.BadRequest",
            f"the request's headers did not arrive whole within {HEAD_TIMEOUT_S:g} s",
            "head timed out",
        )

    def _body_overdue(self, now: float) -> None:
        if now - max(self._head_since, self._body_read_at) < BODY_IDLE_TIMEOUT_S:
            return
        if self.transport.is_closing() or self.flow.read_paused:
            return  # the hub stopped reading (a pipelined request, a full buffer): no fault
        self._in_body = False
        cycle = self.cycle
        if cycle is not None and getattr(cycle, "response_started", False):
            self.transport.close()  # answered already (a 413): nothing more to say
            return
        self._refuse(
            b"408 Request Timeout",
            "Client.BadRequest",
            f"the request's body stopped arriving: nothing came for {BODY_IDLE_TIMEOUT_S:g} s "
            "before it was whole; send the whole body its Content-Length announces",
            "body timed out",
        )

    def eof_received(self) -> bool | None:  # type: ignore[override]
        # The client will send nothing more (a half-close, shutdown(SHUT_WR), as `nc -N`
        # does after its request): that says no other request comes, not that the answers
        # are unwanted (RFC 9112 9.6). uvicorn closed at once, so an exchange carried out
        # and recorded was never answered; here the requests read whole are answered, then
        # the connection closed. None: asyncio closes the transport.
        cycle = self.cycle
        if self._in_body or cycle is None or cycle.response_complete:
            return None  # nothing whole left to answer (a body cut short cannot be)
        if self.transport.get_extra_info("sslcontext") is not None:
            return None  # TLS ignores a half-open transport
        if self._deferred is None:  # else the refusal after the answers closes it
            cycle.keep_alive = False  # the newest request: its answer is the last
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None

    def on_response_complete(self) -> None:
        # uvicorn's, but for the keep-alive timeout: it arms a new timer after every answer
        # and cancels it when the next request's bytes come, a timer handle made and closed
        # per exchange; here one timer per connection fires at most every timeout and
        # checks when the connection last fell idle (figures: bench/profile_notes.md,
        # seventh round).
        self.server_state.total_requests += 1
        if self.transport.is_closing():
            return
        if self.pipeline:
            self.flow.resume_reading()
            cycle, app = self.pipeline.pop()
            self._start_asgi_task(cycle, app)
            return
        if self._deferred is not None:  # the answers before it are out: now the refusal
            self.transport.write(self._deferred)
            self.transport.close()
            return
        self.flow.resume_reading()
        self._idle = True
        self._idle_since = self.loop.time()
        if self._idle_timer is None:
            self._idle_timer = self.loop.call_at(
                self._idle_since + self.timeout_keep_alive, self._idle_check
            )

    def _idle_check(self) -> None:
        self._idle_timer = None
        if not self._idle or self.transport.is_closing():
            return  # a request came: its answer arms the timer again
        due = self._idle_since + self.timeout_keep_alive
        if self.loop.time() >= due:
            self.transport.close()
        else:
            self._idle_timer = self.loop.call_at(due, self._idle_check)

    def on_message_begin(self) -> None:
        self._in_head = self._began = True
        self._head_since = self.loop.time()
        self._head_bytes = 0
        if self._gateway is not None:
            # The ASGI scope waits until the request is known to need one (see below).
            self.url = b""
            self.expect_100_continue = False
            self.headers = []
            return
        self._begin_scope()

    def _begin_scope(self) -> None:
        super().on_message_begin()
        # A dict of its own per request: an application may add extensions to a scope.
        self.scope["extensions"] = {EXTENSION: {}}  # type: ignore[typeddict-item]

    def on_headers_complete(self) -> None:
        self._in_head = False
        parser = self.parser
        version = parser.get_http_version()
        if version != "1.1" and version != "1.0":
            # HTTP/2.0 or HTTP/0.9 in a request line of text: the parser takes both, and they
            # were answered as HTTP/1.1 (RFC 9110 15.6.6: 505, with what the hub speaks).
            self._refusal = _wrong_version(version)
            raise _Refusal
        if self.expect_100_continue and version == "1.0":
            # RFC 9110 10.1.1: an HTTP/1.0 client cannot read a 1xx, which it took for the
            # answer to its request; its expectation is ignored, its body read as it comes.
            self.expect_100_continue = False
        # One pass over the headers: the body's framing, and the Host fields.
        hosts = 0
        length = 0  # -1: a body of unknown length (chunked)
        whole = not self.expect_100_continue  # the body may be read before the exchange
        for name, value in self.headers:
            if name == b"host":
                hosts += 1
            elif name == b"content-length":
                if not value.isdigit():
                    whole = False  # the ASGI path refuses it with the gateway's own words
                else:
                    length = int(value)
            elif name == b"transfer-encoding":
                whole, length = False, -1
                if value.strip().lower() != b"chunked":
                    # The parser takes "gzip, chunked" and undoes the chunking only: the
                    # gzip bytes went on as the body. RFC 9112 6.1: refuse what is not done.
                    self._refusal = (
                        b"400 Bad Request",
                        "Client.BadRequest",
                        "the hub decodes no transfer coding but chunked (Transfer-Encoding: "
                        f"{value.decode('latin-1')[:100]}); send the body chunked or with a "
                        "Content-Length",
                        "Transfer-Encoding other than chunked",
                    )
                    raise _Refusal
        if hosts != 1 and (hosts or version == "1.1"):
            # RFC 9112 3.2: a server must refuse an HTTP/1.1 request without one.
            self._refusal = (
                b"400 Bad Request",
                "Client.BadRequest",
                "an HTTP/1.1 request carries exactly one Host header (the hub's host and "
                f"port); this one had {hosts}",
                f"{hosts} Host headers",
            )
            raise _Refusal
        close = False
        if parser.should_upgrade():  # a WebSocket too: _should_upgrade_to_ws says why
            self._no_upgrade(length)  # raises _Refusal when a body would be lost
            close = True  # httptools reads nothing after this request
        if self._gateway is not None:
            if whole and length <= WHOLE_BODY_MAX and self.url.startswith(GATEWAY_PREFIX):
                self._gateway_request(close, version)
                self.headers = _TRAILERS  # type: ignore[assignment]
                self._in_body = True
                return
            # uvicorn's scope as its on_message_begin makes it, around what was parsed since.
            url, headers, expect = self.url, self.headers, self.expect_100_continue
            self._begin_scope()
            self.url, self.headers, self.expect_100_continue = url, headers, expect
            self.scope["headers"] = headers
        super().on_headers_complete()
        self.headers = _TRAILERS  # type: ignore[assignment]
        self._in_body = True
        # uvicorn makes the request's cycle in there; it becomes the subclass, which has no
        # state of its own, rather than copying uvicorn's method to change one name.
        cycle = self.cycle
        if cycle is not None and type(cycle) is RequestResponseCycle:
            cycle.__class__ = OneWriteCycle
            if close:
                cycle.keep_alive = False

    def _no_upgrade(self, length: int) -> None:
        """An Upgrade (or CONNECT) the hub does not take: RFC 9110 7.8 lets it answer in
        HTTP/1.1, but httptools stops at such a request's head, so a body after it would be
        lost (the exchange went out empty) and the connection read no further. CONNECT, or
        an Upgrade with a body, is refused; one without a body is served, then closed."""
        method = self.parser.get_method()
        if method == b"CONNECT":
            self._refusal = (
                b"400 Bad Request",
                "Client.BadRequest",
                "CONNECT is not served: the hub is no proxy; call a service with GET, POST, "
                "PUT, PATCH or DELETE on /r1/{service id}/...",
                "CONNECT",
            )
            raise _Refusal
        if length:
            upgrade = (self._get_upgrade() or b"").decode("latin-1")
            self._refusal = (
                b"400 Bad Request",
                "Client.BadRequest",
                f"the hub does not switch protocols (Upgrade: {upgrade}), and a request "
                "asking to cannot carry a body here: send it without the Upgrade header",
                f"Upgrade {upgrade} with a body",
            )
            raise _Refusal

    def _should_upgrade_to_ws(self) -> bool:
        # The hub serves no WebSocket: uvicorn's handshake answered one, to /r1 as to any
        # route, with a bare 403 (no error body, no X-Road-Error, no record). Such a request
        # is served in HTTP/1.1 as any other Upgrade is (_no_upgrade).
        return False

    def _unsupported_upgrade_warning(self) -> None:
        pass  # said by _no_upgrade: the request is served, then its connection closed

    def _gateway_request(self, close: bool, version: str) -> None:
        parser = self.parser
        url = self.url
        if b"#" in url:  # a fragment is the client's own; uvicorn drops it too
            url = url.partition(b"#")[0]
        path, _, query = url.partition(b"?")
        cycle = GatewayCycle(
            parser.get_method().decode("ascii"),
            path.decode("latin-1"),
            query.decode("latin-1"),
            self.headers,
            version != "1.0" and not close and parser.should_keep_alive(),
        )
        earlier = self.cycle
        self.cycle = cycle  # type: ignore[assignment]
        if earlier is not None and not earlier.response_complete:
            # Pipelined behind an answer still being made: uvicorn's queue keeps the order.
            cycle.waiting = True
            self.flow.pause_reading()
            self.pipeline.appendleft((cycle, self.app))  # type: ignore[arg-type]

    def on_body(self, body: bytes) -> None:
        cycle = self.cycle
        if type(cycle) is GatewayCycle:
            cycle.body += body  # at most WHOLE_BODY_MAX bytes: its length was checked
            return
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._in_body = False
        cycle = self.cycle
        if type(cycle) is GatewayCycle:
            cycle.more_body = False
            if not cycle.waiting:
                self._start(cycle)
            return
        super().on_message_complete()

    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        if type(cycle) is GatewayCycle:  # its turn in the pipeline has come
            cycle.waiting = False
            if not cycle.more_body:
                self._start(cycle)
            return  # else on_message_complete starts it
        super()._start_asgi_task(cycle, app)

    def _start(self, cycle: GatewayCycle) -> None:
        task = self.loop.create_task(self._answer(cycle))
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)

    async def _answer(self, cycle: GatewayCycle) -> None:
        assert self._gateway is not None
        try:
            message = await self._gateway.exchange(
                cycle.method, cycle.path, cycle.query, cycle.headers, body=cycle.body
            )
            data = encode_answer(message, keep_alive=cycle.keep_alive, head=cycle.method == "HEAD")
        except Exception:
            # Gateway.exchange answers its own failures; this is a provider header that
            # would break the framing, or a bug in this module.
            log.exception("the gateway's answer could not be written")
            data = INTERNAL_ERROR_HEAD if cycle.method == "HEAD" else INTERNAL_ERROR
            cycle.keep_alive = False
        if self.flow.write_paused and not cycle.disconnected:
            await self.flow.drain()
        if cycle.disconnected or self.transport.is_closing():
            return
        self.transport.write(data)
        cycle.response_complete = True
        if not cycle.keep_alive:
            self.transport.close()
        self.on_response_complete()


def _wrong_version(version: str) -> tuple[bytes, str, str, str]:
    """The refusal of a request in an HTTP version the hub does not speak."""
    return (
        b"505 HTTP Version Not Supported",
        "Client.BadRequest",
        f"the hub speaks HTTP/1.1 (and HTTP/1.0), not HTTP/{version}; send the request as HTTP/1.1",
        f"HTTP/{version}",
    )


_sweeps: dict[int, asyncio.TimerHandle] = {}  # id(server state) -> its sweep's next turn


def _sweep_later(loop: asyncio.AbstractEventLoop, state: Any) -> None:
    """One timer per server checks every connection's head, not one timer per request."""
    if id(state) not in _sweeps:
        _sweeps[id(state)] = loop.call_later(SWEEP_EVERY_S, _sweep, loop, state)


def _sweep(loop: asyncio.AbstractEventLoop, state: Any) -> None:
    del _sweeps[id(state)]
    now = loop.time()
    for conn in list(state.connections):
        overdue = getattr(conn, "head_overdue", None)
        if overdue is not None:
            overdue(now)
    if state.connections:
        _sweep_later(loop, state)


def _find_gateway(app: Any) -> Any:
    """The gateway behind uvicorn's wrappers of the hub's app, or None for another app."""
    for _ in range(8):
        gateway = getattr(app, "gateway", None)
        if gateway is not None and hasattr(gateway, "exchange"):
            return gateway
        app = getattr(app, "app", None)
        if app is None:
            return None
    return None
