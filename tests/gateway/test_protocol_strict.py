"""What the hub's protocol refuses, and in what order it answers, over a real socket.

Each case was a way for a client's view to part from what was forwarded or recorded: an
error answered ahead of an earlier request's answer, a chunked body's trailer taken for a
header, a body lost to an Upgrade, a body that never came holding a connection for ever.
"""

from __future__ import annotations

import asyncio
import json

import pytest

import hub.gateway.protocol as protocol_module
from tests.gateway.conftest import PROVIDER, Hub
from tests.gateway.test_protocol_gateway import (
    _statuses,
    exchange_raw,
    lookup,
    raw_request,
    read_answer,
    served_hub,
)
from tests.support import ADMIN

ECHO = f"/r1/{PROVIDER}/echo/echo"


def _error(answer: bytes) -> tuple[int, str, str]:
    """Status, X-Road-Error and message of the hub's one error answer."""
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    code = next(
        line.split(b": ", 1)[1].decode()
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"x-road-error: ")
    )
    return status, code, json.loads(body)["message"]


async def test_an_unparsable_request_is_refused_after_the_answers_before_it(hub: Hub) -> None:
    good = raw_request(hub, "POST", ECHO, b'{"id": "first"}')
    bad = b"GET / HTTP/1.1\r\nHost: x\r\nX-A: a\x01b\r\n\r\n"
    async with served_hub(hub) as base:
        got = await exchange_raw(base, good + bad, 2)
    # The POST's answer first: a client reading the 400 as the POST's would send it again.
    assert _statuses(got) == [201, 400]
    first, _, rest = got.partition(b'{"id": "first"}')
    assert first.startswith(b"HTTP/1.1 201 ") and rest.startswith(b"HTTP/1.1 400 ")
    assert len(await hub.records()) == 1


async def test_a_chunked_bodys_trailer_is_not_taken_for_a_header(hub: Hub) -> None:
    headers = hub.headers(**{"X-Road-UserId": "officer-01", "X-Road-Issue": "HS-1"})
    auth = headers.pop("Authorization")
    head = f"POST {ECHO} HTTP/1.1\r\nHost: hub\r\nTransfer-Encoding: chunked\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    trailer = f"Authorization: {auth}\r\nX-Secret-To-Provider: t\r\n"
    request = (head + "\r\n2\r\nab\r\n0\r\n" + trailer + "\r\n").encode()
    async with served_hub(hub) as base:
        got = await exchange_raw(base, request, 1)
    # The key came in the trailer only: the request had none.
    assert _statuses(got) == [401]
    assert not any("x-secret-to-provider" in seen["headers"] for seen in hub.provider.state.seen)


@pytest.mark.parametrize(
    ("method", "path", "extra", "words"),
    [
        ("POST", ECHO, "Connection: Upgrade\r\nUpgrade: foo\r\n", "Upgrade"),
        ("POST", "/admin/members", "Connection: Upgrade\r\nUpgrade: foo\r\n", "Upgrade"),
        ("CONNECT", ECHO, "", "CONNECT"),
    ],
    ids=["upgrade gateway", "upgrade api", "connect"],
)
async def test_a_body_the_parser_would_drop_is_refused_not_lost(
    hub: Hub, method: str, path: str, extra: str, words: str
) -> None:
    request = f"{method} {path} HTTP/1.1\r\nHost: hub\r\n{extra}Content-Length: 2\r\n\r\nab"
    async with served_hub(hub) as base:
        got = await exchange_raw(base, request.encode(), 1)
    status, code, message = _error(got)
    assert (status, code) == (400, "Client.BadRequest") and words in message
    assert await hub.records() == []


async def test_an_upgrade_without_a_body_is_served_and_the_connection_then_closed(
    hub: Hub,
) -> None:
    # curl --http2 on http:// asks for h2c this way: the hub answers in HTTP/1.1 (RFC 9110
    # 7.8 lets a server ignore Upgrade), then closes, as the parser reads no further.
    request = raw_request(hub, "GET", lookup(), Connection="Upgrade, HTTP2-Settings", Upgrade="h2c")
    following = raw_request(hub, "POST", ECHO, b'{"id": "2"}')
    # A keep-alive timeout of an hour: the connection closes for the upgrade, not for idling.
    async with served_hub(hub, timeout_keep_alive=3600) as base:
        host, port = base.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(request + following)
        got = b""
        async with asyncio.timeout(30):
            while chunk := await reader.read(65536):
                got += chunk
        writer.close()
    assert _statuses(got) == [200]  # the next request is not read: the client sends it again
    assert len(await hub.records()) == 1


@pytest.mark.parametrize("path", [lookup(), "/healthz"], ids=["gateway", "api"])
async def test_a_websocket_upgrade_is_served_as_any_upgrade(hub: Hub, path: str) -> None:
    # The hub serves no WebSocket: uvicorn's handshake answered a bare 403 (an empty
    # text/plain body, no X-Road-Error, no record) for /r1, as for every other route.
    request = raw_request(
        hub,
        "GET",
        path,
        Connection="Upgrade",
        Upgrade="websocket",
        **{"Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13"},
    )
    async with served_hub(hub) as base:
        got = await exchange_raw(base, request, 1)
    assert _statuses(got) == [200], got[:300]
    assert b"\r\nconnection: close\r\n" in got.lower()
    if path.startswith("/r1/"):
        assert len(await hub.records()) == 1
        assert not any(
            "upgrade" in seen["headers"] or "connection" in seen["headers"]
            for seen in hub.provider.state.seen
        )


@pytest.mark.parametrize("hosts", ["", "Host: a\r\nHost: b\r\n"], ids=["no host", "two hosts"])
async def test_an_http11_request_needs_exactly_one_host(hub: Hub, hosts: str) -> None:
    request = raw_request(hub, "GET", "/healthz").replace(b"Host: hub\r\n", hosts.encode())
    async with served_hub(hub) as base:
        got = await exchange_raw(base, request, 1)
    status, code, message = _error(got)
    assert (status, code) == (400, "Client.BadRequest") and "Host" in message


async def test_a_body_that_stops_coming_ends_the_connection(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(protocol_module, "BODY_IDLE_TIMEOUT_S", 0.3)
    monkeypatch.setattr(protocol_module, "SWEEP_EVERY_S", 0.05)
    request = raw_request(hub, "POST", ECHO, b'{"id": "0123"}')
    async with served_hub(hub) as base:
        host, port = base.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(request[:-10])  # the head, and 4 of the body's 14 bytes
        got = await asyncio.wait_for(reader.read(65536), 5)
        writer.close()
    status, code, message = _error(got)
    assert (status, code) == (408, "Client.BadRequest") and "body" in message


async def test_an_http10_request_gets_no_100_continue(hub: Hub) -> None:
    # RFC 9110 10.1.1: an HTTP/1.0 client cannot read a 1xx, so its Expect is ignored; the
    # interim answer came first and was read as the request's own.
    body = b'{"id": "ten"}'
    request = raw_request(hub, "POST", ECHO, body, Expect="100-continue")
    request = request.replace(b" HTTP/1.1\r\n", b" HTTP/1.0\r\n", 1)
    async with served_hub(hub) as base:
        got = await exchange_raw(base, request, 1)
    assert got.startswith(b"HTTP/1.1 201 ")
    assert b"100 Continue" not in got and got.endswith(body)


@pytest.mark.parametrize("chunked", [False, True], ids=["whole body", "chunked body"])
async def test_a_client_that_half_closes_after_its_requests_gets_their_answers(
    hub: Hub, chunked: bool
) -> None:
    # shutdown(SHUT_WR) after the request (nc -N, some HTTP/1.0 clients) says no more
    # requests will come, not that the answers are unwanted (RFC 9112 9.6): the hub still
    # called the provider and recorded a 200, but closed the connection without answering.
    body = b'{"id": "half"}'
    if chunked:
        framed = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
        last = raw_request(hub, "POST", ECHO, framed, **{"Transfer-Encoding": "chunked"})
    else:
        last = raw_request(hub, "POST", ECHO, body)
    async with served_hub(hub) as base:
        host, port = base.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(raw_request(hub, "GET", lookup()) + last)
        writer.write_eof()
        got = b""
        async with asyncio.timeout(5):
            while chunk := await reader.read(65536):
                got += chunk
        writer.close()
    assert _statuses(got) == [200, 201]  # then the hub closes: nothing more can come
    assert got.endswith(body)
    assert len(await hub.records()) == 2


async def test_a_transfer_coding_other_than_chunked_is_refused(hub: Hub) -> None:
    # "gzip, chunked": the parser undid the chunking only, and the gzip bytes went to the
    # provider, and into the log's hash, as the request's body (RFC 9112 6.1: refuse it).
    framed = b"2\r\n\x1f\x8b\r\n0\r\n\r\n"
    request = raw_request(hub, "POST", ECHO, framed, **{"Transfer-Encoding": "gzip, chunked"})
    async with served_hub(hub) as base:
        got = await exchange_raw(base, request, 1)
    status, code, message = _error(got)
    assert (status, code) == (400, "Client.BadRequest") and "Transfer-Encoding" in message
    assert await hub.records() == [] and hub.provider.state.seen == []


async def _until_closed(base: str, data: bytes, seconds: float = 2) -> bytes:
    """Send ``data`` on one connection and read until the hub closes it; fails with
    TimeoutError if it is still open after ``seconds``."""
    host, port = base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(data)
    got = b""
    try:
        async with asyncio.timeout(seconds):
            while chunk := await reader.read(65536):
                got += chunk
    finally:
        writer.close()
    return got


@pytest.mark.parametrize(
    "line",
    [
        "GET {lookup} HTTP/2.0",
        "GET /healthz HTTP/2.0",  # the API's routes too: the protocol serves both
        "GET {lookup} HTTP/0.9",
        "GET {lookup}",  # HTTP/0.9's request line: no version at all
        "GET /healthz HTTP/1.2",  # one the parser refuses itself
        "PRI * HTTP/2.0",  # HTTP/2's connection preface, sent in clear
    ],
)
async def test_a_request_line_of_another_http_version_is_refused_with_505(
    hub: Hub, line: str
) -> None:
    # HTTP/2.0 and HTTP/0.9 in a text request line were served as HTTP/1.1.
    if line.startswith("PRI"):
        request = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
    else:
        request = raw_request(hub, "GET", "/").replace(
            b"GET / HTTP/1.1", line.format(lookup=lookup()).encode(), 1
        )
    async with served_hub(hub) as base:
        got = await _until_closed(base, request)
    status, code, message = _error(got)
    assert (status, code) == (505, "Client.BadRequest")
    assert got.startswith(b"HTTP/1.1 505 HTTP Version Not Supported\r\n")
    assert b"connection: close" in got and "HTTP/1.1" in message
    assert await hub.records() == [] and hub.provider.state.seen == []


async def test_http10_and_http11_are_served(hub: Hub) -> None:
    request = raw_request(hub, "GET", lookup(), Connection="close")
    async with served_hub(hub) as base:
        got11 = await _until_closed(base, request)
        got10 = await _until_closed(base, request.replace(b" HTTP/1.1\r\n", b" HTTP/1.0\r\n", 1))
    assert _statuses(got11) == _statuses(got10) == [200]


@pytest.mark.parametrize("route", ["gateway", "api"])
async def test_expect_100_continue_over_the_limit_is_refused_from_its_head(
    hub: Hub, route: str
) -> None:
    # Only the head is sent, as a client waiting for 100 Continue does: the 413 comes at
    # once, and the connection closes, so the client never uploads (nor waits for the
    # hub to read a body that is not coming).
    if route == "gateway":
        head = raw_request(hub, "POST", ECHO, Expect="100-continue")
        words = "accepts at most 200"
    else:
        head = (
            f"PUT /admin/registry HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer {ADMIN}\r\n"
            "Content-Type: application/json\r\nExpect: 100-continue\r\n\r\n"
        ).encode()
        words = "MiB"
    head = head.replace(b"\r\n\r\n", b"\r\nContent-Length: 50000000\r\n\r\n")
    async with served_hub(hub) as base:
        got = await _until_closed(base, head)  # well within BODY_IDLE_TIMEOUT_S
    assert b"100 Continue" not in got
    assert _statuses(got) == [413] and b"connection: close" in got
    answer = json.loads(got.partition(b"\r\n\r\n")[2])
    assert words in answer["message" if route == "gateway" else "detail"]
    if route == "gateway":
        (record,) = await hub.records()
        assert record["fault_code"] == "Client.PayloadTooLarge"
    assert hub.provider.state.seen == []


async def test_expect_100_continue_within_the_limit_keeps_the_connection(hub: Hub) -> None:
    # The body asked for is read and the connection kept: a second request follows.
    body = b'{"id": "kept"}'
    head = raw_request(hub, "POST", ECHO, Expect="100-continue")
    head = head.replace(b"\r\n\r\n", f"\r\nContent-Length: {len(body)}\r\n\r\n".encode())
    async with served_hub(hub) as base:
        host, port = base.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(head)
        assert await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5) == (
            b"HTTP/1.1 100 Continue\r\n\r\n"
        )
        writer.write(body)
        first = await read_answer(reader)
        writer.write(raw_request(hub, "GET", lookup()))
        second = await read_answer(reader)
        writer.close()
    assert _statuses(first) == [201] and first.endswith(body)
    assert _statuses(second) == [200]
