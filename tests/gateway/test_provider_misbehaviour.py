"""The outbound client against providers that break HTTP's rules of the connection: answers
nobody asked for, a HEAD answered with a body, a connect or TLS handshake that never ends,
and what an idle pooled connection keeps of its last answer."""

from __future__ import annotations

import asyncio
import gc
import ssl
import tracemalloc
from collections.abc import AsyncIterator

import pytest

from hub.gateway.client import HttpClient
from tests.gateway.test_client import ok, serve

SMUGGLED = (
    b"HTTP/1.1 200 OK\r\nX-Smuggled: yes\r\nSet-Cookie: sid=theirs\r\nContent-Length: 2\r\n\r\n{}"
)


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    c = HttpClient()
    yield c
    await c.close()


async def test_a_second_answer_in_the_same_bytes_is_dropped_with_its_connection(
    http: HttpClient,
) -> None:
    # Its fields joined the first answer's (a provider set a cookie on an answer it did not
    # make), and the connection went back to the pool.
    server, url = await serve(lambda n, _r: ok() + SMUGGLED if n == 1 else ok())
    answer = await http.request("GET", url, [], b"")
    assert (answer.status, answer.body) == (200, b'{"ok": true}')
    names = {name.lower() for name, _ in answer.headers}
    assert "x-smuggled" not in names and "set-cookie" not in names
    assert (await http.request("GET", url, [], b"")).status == 200
    assert server.connections == 2  # the out-of-step connection was not reused
    await server.stop()


async def test_a_head_answered_with_a_body_closes_its_connection(http: HttpClient) -> None:
    # The client stops reading a HEAD answer at its head and means to close; the body that
    # came in the same bytes ended a second "message" that put the connection back.
    server, url = await serve(lambda _n, _r: ok())
    answer = await http.request("HEAD", url, [], b"")
    assert (answer.status, answer.body) == (200, b"")
    assert (await http.request("GET", url, [], b"")).body == b'{"ok": true}'
    assert server.connections == 2
    await server.stop()


async def test_a_tls_handshake_that_never_ends_keeps_to_the_timeout() -> None:
    # A provider that takes the connection and never answers the TLS hello held the exchange
    # for asyncio's 60 s handshake timeout, whatever the service's timeout.
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()
        writer.close()

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    client = HttpClient(ssl_context=ssl.create_default_context())
    request = asyncio.create_task(
        client.request("GET", f"https://127.0.0.1:{port}/", [], b"", timeout_s=0.2)
    )
    # Ended by its own timeout, well before asyncio's 60 s (however busy the machine).
    done, _ = await asyncio.wait({request}, timeout=30)
    if not done:
        request.cancel()
    assert request in done, "the handshake held the exchange past its timeout"
    with pytest.raises(TimeoutError):
        request.result()
    await client.close()
    server.close()


async def test_an_idle_pooled_connection_keeps_no_answer(http: HttpClient) -> None:
    # Each idle connection held its last answer twice (the body's parts and the joined
    # body): 256 idle connections to a provider of 10 MiB answers held 5 GiB.
    body = b'"' + b"a" * (4 * 1024 * 1024) + b'"'
    whole = ok(body)  # one object, made before counting: the server keeps its last answer
    server, url = await serve(lambda _n, _r: whole)
    tracemalloc.start()
    try:
        answers = await asyncio.gather(*[http.request("GET", url, [], b"") for _ in range(3)])
        assert [len(a.body) for a in answers] == [len(body)] * 3
        del answers
        await asyncio.sleep(0.05)
        gc.collect()
        held, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert server.connections == 3
    assert held < len(body)  # before: about six times the body
    await server.stop()


async def test_a_chunked_answers_trailer_fields_are_not_headers(http: HttpClient) -> None:
    # They went on to the client as headers: a Content-Type or Set-Cookie sent after the
    # body, out of sight of whatever checked the head (RFC 9110 6.5.1).
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
    trailer = b"0\r\nContent-Type: text/html\r\nSet-Cookie: sid=theirs\r\nX-Sum: 1\r\n\r\n"
    server, url = await serve(lambda _n, _r: head + b"\r\n2\r\n{}\r\n" + trailer)
    for _ in range(2):  # and the connection stays in step for the next answer
        answer = await http.request("GET", url, [], b"")
        assert answer.body == b"{}"
        assert [n.lower() for n, _ in answer.headers] == ["content-type", "transfer-encoding"]
        assert dict(answer.headers)["Content-Type"] == "application/json"
    assert server.connections == 1
    await server.stop()
