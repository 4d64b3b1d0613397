"""The outbound HTTP/1.1 client against scripted servers: framing, pooling, failures."""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct
import types
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from hub.gateway import client as client_mod
from hub.gateway import connection as conn_mod
from hub.gateway.client import ClientError, HttpClient, StaleConnection
from tests.security.certs import CA

# A handler reads one request head (and body) and returns what to write back, or None to
# close the connection without answering.
Script = Callable[[int, bytes], bytes | None]


class Scripted:
    """A TCP server that answers each request with what ``script(n, request)`` returns."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.connections = 0
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                request = head + (await reader.readexactly(length) if length else b"")
                self.requests.append(request)
                answer = self.script(len(self.requests), request)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
                if b"connection: close" in answer.lower():
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def start(self, ssl_context: ssl.SSLContext | None = None) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=ssl_context)
        port = self.server.sockets[0].getsockname()[1]
        return f"{'https' if ssl_context else 'http'}://127.0.0.1:{port}"

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()


def ok(body: bytes = b'{"ok": true}', *extra: str) -> bytes:
    head = ["HTTP/1.1 200 OK", "Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(head + list(extra)) + "\r\n\r\n").encode() + body


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    c = HttpClient()
    yield c
    await c.close()


async def serve(script: Script) -> tuple[Scripted, str]:
    server = Scripted(script)
    return server, await server.start()


async def test_keep_alive_reuses_one_connection(http: HttpClient) -> None:
    server, url = await serve(lambda n, _r: ok(f'{{"n": {n}}}'.encode()))
    for n in (1, 2, 3):
        answer = await http.request("GET", url + "/citizens/1?x=1", [("Accept", "*/*")], b"")
        assert (answer.status, answer.body) == (200, f'{{"n": {n}}}'.encode())
        assert ("Content-Type", "application/json") in answer.headers
    assert server.connections == 1
    assert server.requests[0].startswith(b"GET /citizens/1?x=1 HTTP/1.1\r\nHost: 127.0.0.1:")
    assert b"\r\nAccept: */*\r\n" in server.requests[0]
    await server.stop()


async def test_body_is_sent_with_its_length(http: HttpClient) -> None:
    server, url = await serve(lambda _n, r: ok(r.split(b"\r\n\r\n", 1)[1]))
    answer = await http.request("POST", url + "/x", [], b'{"a": 1}')
    assert answer.body == b'{"a": 1}'
    assert b"Content-Length: 8\r\n" in server.requests[0]
    empty = await http.request("POST", url + "/x", [], b"")
    assert empty.body == b"" and b"Content-Length: 0\r\n" in server.requests[1]
    await server.stop()


async def test_chunked_answer_is_joined(http: HttpClient) -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    )
    server, url = await serve(lambda _n, _r: chunked)
    assert (await http.request("GET", url, [], b"")).body == b"hello world"
    assert (await http.request("GET", url, [], b"")).body == b"hello world"
    assert server.connections == 1
    await server.stop()


async def test_answer_without_length_ends_with_the_connection(http: HttpClient) -> None:
    server, url = await serve(
        lambda _n, _r: b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end"
    )
    for _ in range(2):
        assert (await http.request("GET", url, [], b"")).body == b"until the end"
    assert server.connections == 2  # never pooled
    await server.stop()


async def test_head_and_204_have_no_body(http: HttpClient) -> None:
    def script(_n: int, request: bytes) -> bytes:
        if request.startswith(b"HEAD"):
            return b"HTTP/1.1 200 OK\r\nContent-Length: 42\r\n\r\n"
        return b"HTTP/1.1 204 No Content\r\n\r\n"

    server, url = await serve(script)
    head = await http.request("HEAD", url, [], b"")
    assert (head.status, head.body) == (200, b"")
    for _ in range(2):
        nothing = await http.request("DELETE", url, [], b"")
        assert (nothing.status, nothing.body) == (204, b"")
    assert server.connections == 2  # HEAD's connection is closed; the 204s share one
    await server.stop()


async def test_interim_answer_is_skipped(http: HttpClient) -> None:
    early = b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
    server, url = await serve(lambda _n, _r: early + ok(b"{}"))
    answer = await http.request("GET", url, [], b"")
    assert (answer.status, answer.body) == (200, b"{}")
    assert ("Link", "</a.css>; rel=preload") not in answer.headers
    await server.stop()


async def test_stale_connection_is_retried_for_idempotent_methods(http: HttpClient) -> None:
    # The server drops the kept-alive connection on its second request without a word,
    # as a provider whose keep-alive timer fired at that moment would.
    def script(n: int, _r: bytes) -> bytes | None:
        return None if n % 2 == 0 else ok()

    server, url = await serve(script)
    assert (await http.request("GET", url, [], b"")).status == 200
    assert (await http.request("GET", url, [], b"")).status == 200  # retried: request 3
    assert server.connections == 2 and len(server.requests) == 3
    # A POST is not sent twice: the caller hears of it instead.
    with pytest.raises(StaleConnection):
        await http.request("POST", url, [], b"{}")
    assert len(server.requests) == 4
    await server.stop()


async def test_a_reset_before_the_answer_is_not_sent_again(http: HttpClient) -> None:
    """A provider that resets a kept-alive connection after reading the request (it crashed)
    may have carried it out: a GET re-sent on a new connection reached it twice, and the
    hub's one record stood for two calls. An orderly close (above) is still retried."""

    class Resetting(Scripted):
        async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            while True:
                self.requests.append(await reader.readuntil(b"\r\n\r\n"))
                if len(self.requests) % 2 == 0:
                    sock = writer.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.transport.abort()
                    return
                writer.write(ok())
                await writer.drain()

    server = Resetting(lambda _n, _r: ok())
    url = await server.start()
    assert (await http.request("GET", url, [], b"")).status == 200
    with pytest.raises(ClientError, match="reset the connection before answering"):
        await http.request("GET", url, [], b"")
    assert len(server.requests) == 2 and server.connections == 1
    await server.stop()


async def test_closed_mid_answer_or_malformed_is_an_error(http: HttpClient) -> None:
    server, url = await serve(
        lambda _n, _r: b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\nshort"
    )
    with pytest.raises(ClientError, match="mid-answer"):
        await http.request("GET", url, [], b"")
    await server.stop()
    server, url = await serve(lambda _n, _r: b"HTTQ/9 nonsense\r\n\r\n")
    with pytest.raises(ClientError, match="malformed"):
        await http.request("GET", url, [], b"")
    await server.stop()


async def test_refused_connection_raises_oserror(http: HttpClient) -> None:
    server, url = await serve(lambda _n, _r: ok())
    await server.stop()
    await asyncio.sleep(0.05)
    with pytest.raises(OSError):
        await http.request("GET", url, [], b"")


async def test_timeout_drops_the_connection(http: HttpClient) -> None:
    def script(n: int, _r: bytes) -> bytes | None:
        return b"HTTP/1.1 200 OK\r\n" if n in (1, 3) else ok()  # these answers never end

    server, url = await serve(script)
    with pytest.raises(TimeoutError):
        await http.request("GET", url, [], b"", timeout_s=0.2)
    assert (await http.request("GET", url, [], b"")).status == 200
    assert server.connections == 2  # the half-read connection was not reused
    # A caller's own cancellation (asyncio.timeout here) leaves the pool as clean.
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.2):
            await http.request("GET", url, [], b"")
    assert (await http.request("GET", url, [], b"")).status == 200
    assert server.connections == 3
    await server.stop()


async def test_idle_connections_expire(http: HttpClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_mod, "IDLE_S", 0.0)
    server, url = await serve(lambda _n, _r: ok())
    for _ in range(2):
        await http.request("GET", url, [], b"")
    assert server.connections == 2
    await server.stop()


async def test_idle_connections_left_by_a_burst_are_closed(
    http: HttpClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Taken newest first, the oldest of a burst's connections were never looked at again:
    with a provider that keeps idle connections open (Go's net/http does), the hub held up
    to POOL_MAX sockets to it for ever, under a trickle of traffic."""
    now = [1000.0]
    monkeypatch.setattr(client_mod, "time", types.SimpleNamespace(monotonic=lambda: now[0]))
    server, url = await serve(lambda _n, _r: ok())
    await asyncio.gather(*(http.request("GET", url, [], b"") for _ in range(10)))
    (pool,) = http._idle.values()
    burst = list(pool)
    assert server.connections == len(burst) > 1  # the burst left several idle
    for _ in range(3):  # a trickle: one at a time, each IDLE_S / 2 apart
        now[0] += client_mod.IDLE_S / 2
        await http.request("GET", url, [], b"")
    assert len(pool) == 1
    assert sum(conn.closed for conn in burst) == len(burst) - 1
    await server.stop()


async def test_line_breaks_in_headers_are_refused(http: HttpClient) -> None:
    server, url = await serve(lambda _n, _r: ok())
    with pytest.raises(ClientError, match="line break"):
        await http.request("GET", url, [("X-A", "1\r\nX-Injected: 2")], b"")
    with pytest.raises(ClientError, match="only http and https"):
        await http.request("GET", "ftp://127.0.0.1/", [], b"")
    with pytest.raises(ClientError, match="Port"):
        await http.request("GET", "http://127.0.0.1:99999/x", [], b"")
    assert server.requests == []
    await server.stop()


async def test_https_with_a_trusted_ca(tmp_path: Path) -> None:
    ca = CA(tmp_path)
    cert, key, _ = ca.issue("provider", "127.0.0.1", server=True)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(str(cert), str(key))
    server = Scripted(lambda _n, _r: ok(b'{"tls": true}'))
    url = await server.start(server_ctx)
    trusting = HttpClient(ssl_context=ssl.create_default_context(cafile=str(ca.path)))
    try:
        for _ in range(2):
            assert (await trusting.request("GET", url, [], b"")).body == b'{"tls": true}'
        assert server.connections == 1
    finally:
        await trusting.close()
    stranger = HttpClient()  # the system's trust store does not know the test CA
    try:
        with pytest.raises(ssl.SSLError):
            await stranger.request("GET", url, [], b"")
    finally:
        await stranger.close()
        await server.stop()


async def test_closing_the_client_fails_the_requests_in_flight() -> None:
    # Their deadlines are swept by the client; once it is closed nothing else would end them.
    server, url = await serve(lambda _n, _r: b"HTTP/1.1 200 OK\r\n")  # never ends
    http = HttpClient()
    pending = asyncio.create_task(http.request("GET", url, [], b"", timeout_s=30))
    for _ in range(3000):  # in flight once the provider has the request (30 s at most)
        if server.requests:
            break
        await asyncio.sleep(0.01)
    assert server.requests
    await http.close()
    with pytest.raises(ClientError, match="closed"):
        await asyncio.wait_for(pending, 10)  # well before the request's own 30 s
    await server.stop()


async def test_a_timeout_fires_within_the_sweep_of_its_deadline(
    http: HttpClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The sweep's due time, not the clock when it ran: a busy machine runs every timer late.
    fired: list[tuple[float, float]] = []  # (due time of the sweep that failed it, deadline)
    due = [0.0]
    sweep, timed_out = conn_mod.Deadlines._sweep, conn_mod.Connection._timed_out

    def watched_sweep(self: conn_mod.Deadlines) -> None:
        assert self._timer is not None
        due[0] = self._timer.when()
        sweep(self)

    def watched_timed_out(self: conn_mod.Connection) -> None:
        fired.append((due[0], self.deadline))
        timed_out(self)

    monkeypatch.setattr(conn_mod.Deadlines, "_sweep", watched_sweep)
    monkeypatch.setattr(conn_mod.Connection, "_timed_out", watched_timed_out)
    monkeypatch.setattr(client_mod, "IDLE_S", 3600)
    server, url = await serve(lambda n, _r: ok() if n == 1 else b"HTTP/1.1 200 OK\r\n")
    # A pooled connection: no connect, however slow, takes the deadline before the sweep.
    assert (await http.request("GET", url, [], b"")).status == 200
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(30):  # a sweep that never came would hang the request
            await http.request("GET", url, [], b"", timeout_s=0.1)
    assert loop.time() - started >= 0.1
    [(swept_at, deadline)] = fired
    assert swept_at < deadline + conn_mod.SWEEP_S
    assert server.connections == 1
    await server.stop()


async def test_answer_until_the_end_cut_by_a_reset_is_an_error(http: HttpClient) -> None:
    # A body that ends with its connection is whole only when the connection ends cleanly:
    # a reset (the provider crashed mid-answer) left a cut body passed on as a 200.
    async def serve_reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nthe first half")
        await writer.drain()
        await asyncio.sleep(0.05)  # the first half is read before the reset comes
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()  # SO_LINGER 0: a reset, not an orderly close

    server = await asyncio.start_server(serve_reset, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    with pytest.raises(ClientError, match="mid-answer"):
        await http.request("GET", f"http://127.0.0.1:{port}/", [], b"")
    server.close()


@pytest.mark.parametrize(
    "coding", [b"gzip, chunked", b"gzip"], ids=["gzip then chunked", "gzip to the end"]
)
async def test_a_transfer_coding_other_than_chunked_is_malformed(
    http: HttpClient, coding: bytes
) -> None:
    # The hub asks for none (no TE header), and undid only the chunking: the gzip bytes
    # went on as the body, with no header left to say what they were (RFC 9112 6.1).
    body = b"\x1f\x8b\x08\x00" + b"\x00" * 8
    framed = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body) if b"chunked" in coding else body
    answer = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: %s\r\nConnection: close\r\n\r\n" % coding
    server, url = await serve(lambda _n, _r: answer + framed)
    with pytest.raises(conn_mod.MalformedAnswer, match="transfer coding"):
        await http.request("GET", url, [], b"")
    await server.stop()
