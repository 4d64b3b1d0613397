"""One connection of the provider client (hub/gateway/client.py): an asyncio protocol that
sends a request as one write and parses the answer with httptools, the limits it holds a
provider's answer to, and the one timer that checks every request's deadline."""

from __future__ import annotations

import asyncio

import httptools

SWEEP_S = 0.005  # how often in-flight requests' deadlines are checked: a timeout's lateness
# Limits on a provider's answer, past which it is refused as malformed (the gateway's 502):
# without them a 2 MiB header, or 20,000 headers, were read whole and passed on to clients
# that then failed on them. The head's header lines (name, value and their ": " and CRLF)
# at most HEAD_MAX bytes, four times the hub's own HUB_MAX_HEADER_BYTES for requests (Node's
# limit is 16 KiB, nginx's proxy_buffer_size 4-8 KiB); HEADERS_MAX fields, Apache's
# LimitRequestFields, which mod_proxy applies to backends' answers too. The hub reads an
# answer whole before passing it on, so its body is capped too: ANSWER_MAX bytes (head
# included), the largest request body a service may be set to take (registry's limit).
HEAD_MAX = 64 * 1024
HEADERS_MAX = 100
ANSWER_MAX = 100 * 1024 * 1024


SWITCHED = "the provider switched protocols, which the hub does not"
HEAD_OVER = "the provider's answer headers exceeded the limit of"


class ClientError(Exception):
    """The provider could not be reached, or its answer was broken off or malformed."""


class MalformedAnswer(ClientError):
    """The provider answered, but not with an HTTP answer the hub may pass on."""


class StaleConnection(ClientError):
    """A reused connection closed before any byte of the answer came back."""


class Response:
    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


class _Head(list[tuple[str, str]]):
    """A chunked answer's head fields, closed to the trailer's that follow the body."""

    __slots__ = ()

    def append(self, field: tuple[str, str]) -> None:
        pass


class Deadlines:
    """The deadlines of requests in flight, checked by one timer every ``SWEEP_S``.

    A timer per request (``call_at`` when sent, ``cancel`` when answered) cost 2.8 us on
    uvloop (timeit), paid by every exchange; a set's add and discard cost 0.2. A request
    over its deadline fails within ``SWEEP_S`` of it.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.pending: set[Connection] = set()
        self._timer: asyncio.TimerHandle | None = None

    def add(self, conn: Connection) -> None:
        self.pending.add(conn)
        if self._timer is None:
            self._timer = self.loop.call_later(SWEEP_S, self._sweep)

    def discard(self, conn: Connection) -> None:
        self.pending.discard(conn)

    def _sweep(self) -> None:
        self._timer = None
        now = self.loop.time()
        for conn in [c for c in self.pending if c.deadline <= now]:
            conn._timed_out()
        if self.pending:
            self._timer = self.loop.call_later(SWEEP_S, self._sweep)

    def close(self) -> None:
        """Fail the requests still in flight (nothing would time them out) and stop."""
        for conn in list(self.pending):
            conn._fail(ClientError("the client was closed"))
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


class Connection(asyncio.Protocol):
    """One TCP (or TLS) connection; one request at a time."""

    def __init__(self, loop: asyncio.AbstractEventLoop, deadlines: Deadlines) -> None:
        self.loop = loop
        self.deadlines = deadlines
        self.deadline = 0.0
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self.reused = False
        self._parser = httptools.HttpResponseParser(self)
        self._waiter: asyncio.Future[Response] | None = None
        self._head = False
        self._got_bytes = False
        self._status = 0
        self._headers: list[tuple[str, str]] = []
        self._body: list[bytes] = []
        self._until_eof = False  # neither Content-Length nor chunked: the body ends at EOF
        self._fed = 0  # bytes of this answer read so far, for the limits
        self.keep_alive = False

    # --- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self._got_bytes = True
        if self._waiter is None or self._waiter.done():
            # Bytes nobody asked for: the connection is out of step; never reuse it.
            self.close()
            return
        self._fed += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(MalformedAnswer(SWITCHED))
        except httptools.HttpParserError as exc:
            self._fail(MalformedAnswer(f"malformed answer from the provider: {exc}"))
        if self._fed > HEAD_MAX:  # one comparison on the usual path
            self._check_size()

    def _check_size(self) -> None:
        """Fail an answer whose head is unfinished past HEAD_MAX, or that is past ANSWER_MAX.

        Checked as the bytes come, since httptools keeps a header line it has not seen the
        end of: a head that never ends would be read without end.
        """
        if self._waiter is None or self._waiter.done():
            return
        if not self._status:
            self._fail(MalformedAnswer(f"{HEAD_OVER} {HEAD_MAX} bytes"))
        elif self._fed > ANSWER_MAX:
            self._fail(
                MalformedAnswer(
                    f"the provider's answer body exceeded the limit of {ANSWER_MAX} bytes"
                )
            )

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._stop_timer()
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if self._until_eof and self._status and exc is None:
            # Only an orderly close ends such a body: a reset (exc) cut it short, and the
            # cut body went on as the provider's whole answer (RFC 9112 8).
            self.keep_alive = False
            waiter.set_result(Response(self._status, self._headers, b"".join(self._body)))
        elif not self._got_bytes and self.reused and exc is None:
            # An orderly close before any byte: the provider closed the idle connection as
            # the request went out, and never read it; it may be sent again (client.py).
            waiter.set_exception(StaleConnection("the kept-alive connection was closed"))
        elif not self._got_bytes and exc is not None:
            # A reset: the provider read the request and aborted (crashed, or was killed),
            # and may have carried it out. Not sent again: the hub never repeats a request
            # its provider may have acted on (docs/security.md, "No retries").
            waiter.set_exception(ClientError("the provider reset the connection before answering"))
        else:
            waiter.set_exception(ClientError("the provider closed the connection mid-answer"))

    # --- httptools callbacks ------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        self._headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        status = self._status = self._parser.get_status_code()
        if len(self._headers) > HEADERS_MAX or self._fed > HEAD_MAX:
            # Rare: this head may be over the limits (the bytes read may be mostly body).
            problem = self._head_problem()
            if problem is not None:
                self._fail(MalformedAnswer(problem))
                return
        if status < 200 or status > 599:
            # llhttp takes any three digits. A 600 went on to the client, and the hub's
            # protocol, with a status line for 100-599 only, answered it with a 500.
            if status < 100 or status > 599:
                self._fail(
                    MalformedAnswer(
                        f"the provider answered with status {status}, outside HTTP's 100-599"
                    )
                )
            elif status == 101:
                self._fail(MalformedAnswer(SWITCHED))
            # else an interim answer (103 Early Hints and the like), a HEAD's too: it has no
            # body, and on_message_complete drops it for the real one that follows.
            return
        if self._head:
            # llhttp cannot be told that a HEAD answer has no body: finish here and close.
            self._finish(keep_alive=False)
            return
        framed = status in (204, 304)
        for name, value in self._headers:
            lname = name.lower()
            if lname == "transfer-encoding":
                if value.strip().lower() != "chunked":
                    # The hub asks for no other (it sends no TE) and decodes none: the
                    # parser undid the chunking only, and "gzip, chunked" went on as the
                    # body, its coding no longer said anywhere (RFC 9112 6.1).
                    self._fail(
                        MalformedAnswer(
                            "the provider's answer has a transfer coding other than chunked "
                            f"({value[:100]}), which the hub did not ask for"
                        )
                    )
                    return
                framed = True
                # The parser reports a chunked body's trailer fields through on_header too:
                # they went on as the answer's headers (a Content-Type or a Set-Cookie sent
                # after the body), which RFC 9110 6.5.1 forbids; the hub drops them.
                self._headers = _Head(self._headers)
            elif lname == "content-length":
                framed = True
        self._until_eof = not framed

    def _head_problem(self) -> str | None:
        if len(self._headers) > HEADERS_MAX:
            return f"{HEAD_OVER} {HEADERS_MAX} fields"
        if sum([len(n) + len(v) + 4 for n, v in self._headers]) > HEAD_MAX:
            return f"{HEAD_OVER} {HEAD_MAX} bytes"
        return None

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        if 100 <= self._status < 200:
            # An interim answer (103 Early Hints and the like): the real one follows.
            self._status, self._headers, self._body = 0, [], []
            return
        self._finish(keep_alive=self._parser.should_keep_alive())

    # --- the exchange -------------------------------------------------------------------

    def _finish(self, *, keep_alive: bool) -> None:
        self.keep_alive = keep_alive
        self._stop_timer()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(Response(self._status, self._headers, b"".join(self._body)))
            # Reset here rather than in request(): a second answer in the same bytes (no
            # request asked for it) then fills new lists, not this answer's headers; and an
            # idle pooled connection holds no answer (the waiter's result, the body's parts).
            self._waiter, self._headers, self._body = None, [], []
        else:
            self.close()  # an answer nobody asked for: the connection is out of step

    def _fail(self, exc: Exception) -> None:
        self._stop_timer()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(exc)
        self.close()

    def _stop_timer(self) -> None:
        self.deadlines.discard(self)

    def _timed_out(self) -> None:
        self._fail(TimeoutError())

    def request(self, data: bytes, *, head: bool, deadline: float) -> asyncio.Future[Response]:
        """Send ``data``; the future gets the answer, or TimeoutError at ``deadline``.

        A deadline checked by the client's sweep rather than ``asyncio.timeout`` around the
        await: the timeout's context manager (reschedule, exit, uncancel) was 2.3 % of the
        hub worker's samples, and a timer of its own per request 2.8 us (``Deadlines``).
        """
        assert self.transport is not None
        self._waiter = self.loop.create_future()
        self.deadline = deadline
        self.deadlines.add(self)
        self._head = head
        self._got_bytes = False
        self._status = 0
        self._until_eof = False
        self._fed = 0
        self.keep_alive = False
        self.transport.write(data)
        return self._waiter

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()
