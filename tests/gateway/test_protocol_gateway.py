"""The hub's protocol answering gateway requests itself, over a real socket.

Gateway requests with a small body of known length skip uvicorn's ASGI cycle; the rest
(chunked bodies, Expect: 100-continue, other routes) keep it. Either way a connection's
answers come in order, and every exchange is recorded.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from typing import Any

import httpx
import pytest

from hub.gateway.protocol import HubHttpProtocol, _find_gateway
from tests.gateway.conftest import CITIZEN, PROVIDER, Hub
from tests.support import serve

PURPOSE = {"X-Road-UserId": "officer-01", "X-Road-Issue": "HS-1"}


@pytest.fixture
def answered(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths the protocol answered itself, without an ASGI cycle."""
    paths: list[str] = []
    start = HubHttpProtocol._start

    def recording(self: HubHttpProtocol, cycle: Any) -> None:
        paths.append(cycle.path)
        start(self, cycle)

    monkeypatch.setattr(HubHttpProtocol, "_start", recording)
    return paths


def served_hub(hub: Hub, **config: Any) -> Any:
    # As `hub serve` runs it: no access log (uvicorn's cycle writes it; this path does not).
    return serve(hub.app, http=HubHttpProtocol, lifespan="off", access_log=False, **config)


def raw_request(hub: Hub, method: str, path: str, body: bytes = b"", **headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: hub"]
    for name, value in {**hub.headers(**PURPOSE), **headers}.items():
        lines.append(f"{name}: {value}")
    if body and "Transfer-Encoding" not in headers:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def exchange_raw(base: str, data: bytes, answers: int, *, then: bytes = b"") -> bytes:
    """Send ``data`` on one connection; read until ``answers`` answers have come."""
    host, port = base.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(data)
    got = b""
    try:
        async with asyncio.timeout(10):
            while len(_statuses(got)) < answers or not _complete(got):
                if then and b"100 Continue" in got:
                    writer.write(then)
                    then = b""
                chunk = await reader.read(65536)
                if not chunk:
                    break
                got += chunk
    finally:
        writer.close()
    return got


async def read_answer(reader: asyncio.StreamReader) -> bytes:
    """One whole answer; fails if the hub closes the connection before it."""
    got = b""
    while not (_statuses(got) and _complete(got)):
        chunk = await asyncio.wait_for(reader.read(65536), 5)
        assert chunk, "the hub closed a connection that was not idle"
        got += chunk
    return got


def _statuses(data: bytes) -> list[int]:
    return [int(s) for s in re.findall(rb"HTTP/1\.1 (\d{3}) ", data) if s != b"100"]


def _complete(data: bytes) -> bool:
    """Whether the last answer's body has come whole (by its Content-Length)."""
    head, sep, rest = data.rpartition(b"\r\n\r\n")
    found = re.findall(rb"content-length: (\d+)", head.lower())
    return bool(sep) and (not found or len(rest) >= int(found[-1]))


def lookup(cid: str = CITIZEN) -> str:
    return f"/r1/{PROVIDER}/citizen-lookup/citizens/{cid}"


async def test_the_hub_app_is_answered_by_the_protocol_and_others_are_not(hub: Hub) -> None:
    assert _find_gateway(hub.app) is hub.app.gateway
    assert _find_gateway(object()) is None


async def test_pipelined_requests_are_answered_in_order_across_both_paths(
    hub: Hub, answered: list[str]
) -> None:
    served = served_hub(hub)
    requests = [
        raw_request(hub, "GET", f"/r1/{PROVIDER}/slow/slow"),  # 504 after 300 ms
        raw_request(hub, "GET", "/healthz"),  # FastAPI, through the ASGI cycle
        raw_request(hub, "GET", lookup("000000000000")),  # the provider's 404
        raw_request(hub, "POST", f"/r1/{PROVIDER}/echo/echo", b'{"id": "a"}'),
    ]
    async with served as base:
        got = await exchange_raw(base, b"".join(requests), 4)
    assert _statuses(got) == [504, 200, 404, 201]
    assert answered == [
        f"/r1/{PROVIDER}/{p}"
        for p in ("slow/slow", "citizen-lookup/citizens/000000000000", "echo/echo")
    ]
    assert got.endswith(b'{"id": "a"}')
    assert len(await hub.records()) == 3  # /healthz is not an exchange


async def test_a_chunked_body_streams_through_the_asgi_cycle(hub: Hub, answered: list[str]) -> None:
    body = b'{"id": "chunked"}'
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    request = raw_request(
        hub, "POST", f"/r1/{PROVIDER}/echo/echo", chunked, **{"Transfer-Encoding": "chunked"}
    )
    async with served_hub(hub) as base:
        got = await exchange_raw(base, request, 1)
    assert _statuses(got) == [201]
    assert got.endswith(body)
    assert answered == []


async def test_expect_100_continue_is_answered_before_the_body(
    hub: Hub, answered: list[str]
) -> None:
    body = b'{"id": "expected"}'
    head = raw_request(hub, "POST", f"/r1/{PROVIDER}/echo/echo", **{"Expect": "100-continue"})
    head = head.replace(b"\r\n\r\n", f"\r\nContent-Length: {len(body)}\r\n\r\n".encode())
    async with served_hub(hub) as base:
        got = await exchange_raw(base, head, 1, then=body)
    assert b"HTTP/1.1 100 Continue" in got
    assert _statuses(got) == [201]
    assert got.endswith(body)
    assert answered == []


async def test_a_body_over_the_service_limit_is_refused_whole_read(hub: Hub) -> None:
    body = b'{"id": "' + b"x" * 300 + b'"}'  # the echo service takes 200 bytes
    request = raw_request(hub, "POST", f"/r1/{PROVIDER}/echo/echo", body)
    async with served_hub(hub) as base:
        got = await exchange_raw(base, request + raw_request(hub, "GET", lookup()), 2)
    assert _statuses(got) == [413, 200]  # and the connection goes on
    assert b"x-road-error: Client.PayloadTooLarge" in got
    # Read whole, it is recorded as received, its hash as the answer gave it.
    refused = (await hub.records())[0]
    assert refused["request_bytes"] == len(body)
    digest = base64.b64encode(hashlib.sha512(body).digest())
    assert refused["request_hash"] == digest.decode()
    assert b"x-road-request-hash: " + digest in got


async def test_head_gets_headers_only_and_close_is_honoured(hub: Hub) -> None:
    unknown = f"/r1/{PROVIDER}/no-such-service/x"  # the hub's own 404, with a JSON body
    request = raw_request(hub, "HEAD", unknown, Connection="close")
    async with served_hub(hub) as base:
        got = await exchange_raw(base, request, 1)
    direct = await hub.client.head(unknown, headers=hub.headers(**PURPOSE))
    head, _, rest = got.partition(b"\r\n\r\n")
    assert _statuses(got) == [direct.status_code]
    assert direct.headers["content-length"] != "0"
    assert f"content-length: {direct.headers['content-length']}".encode() in head
    assert b"connection: close" in head
    assert rest == b""


async def test_a_client_that_leaves_mid_exchange_is_still_recorded(hub: Hub) -> None:
    async with served_hub(hub) as base:
        host, port = base.removeprefix("http://").split(":")
        _, writer = await asyncio.open_connection(host, int(port))
        writer.write(raw_request(hub, "GET", f"/r1/{PROVIDER}/slow/slow"))
        await writer.drain()
        writer.close()
        for _ in range(100):
            if await hub.records():
                break
            await asyncio.sleep(0.05)
        async with httpx.AsyncClient(base_url=base) as client:
            after = await client.get(lookup(), headers=hub.headers(**PURPOSE))
    records = await hub.records()
    assert records[0]["fault_code"] == "Server.ServiceTimeout"
    assert after.status_code == 200


async def test_an_idle_connection_is_closed_after_the_keep_alive_timeout(hub: Hub) -> None:
    served = serve(
        hub.app, http=HubHttpProtocol, lifespan="off", access_log=False, timeout_keep_alive=1.0
    )
    async with served as base:
        host, port = base.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            # 1.2 s of requests 0.1 s apart: never idle for 1 s (the margin is for a busy
            # machine, where a pause of the process runs the test's and the hub's timers late).
            for _ in range(12):
                writer.write(raw_request(hub, "GET", lookup()))
                assert _statuses(await read_answer(reader)) == [200]
                await asyncio.sleep(0.1)
            async with asyncio.timeout(30):
                assert await reader.read(65536) == b""  # then idle: closed by the hub
        finally:
            writer.close()


async def test_a_request_begun_before_the_last_answer_keeps_the_connection(hub: Hub) -> None:
    # The next request's first bytes come before the previous answer goes out; the idle
    # timer must not count the time after that answer as idle.
    served = serve(
        hub.app, http=HubHttpProtocol, lifespan="off", access_log=False, timeout_keep_alive=0.15
    )
    slow = raw_request(hub, "GET", f"/r1/{PROVIDER}/slow/slow")  # 504 after 300 ms
    async with served as base:
        host, port = base.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            writer.write(raw_request(hub, "GET", "/healthz") + slow[:5])
            assert _statuses(await read_answer(reader)) == [200]
            writer.write(slow[5:])
            assert _statuses(await read_answer(reader)) == [504]
        finally:
            writer.close()


async def test_headers_named_in_every_connection_header_stay_on_this_hop(hub: Hub) -> None:
    request = raw_request(hub, "GET", lookup()).replace(
        b"\r\n\r\n",
        b"\r\nConnection: keep-alive, X-First\r\nConnection: X-Second\r\n"
        b"X-First: 1\r\nX-Second: 2\r\nX-Third: 3\r\n\r\n",
    )
    async with served_hub(hub) as base:
        got = await exchange_raw(base, request, 1)
    assert _statuses(got) == [200]
    seen = hub.provider.state.seen[-1]["headers"]
    assert seen.get("x-third") == "3"
    assert "x-first" not in seen and "x-second" not in seen


async def test_an_x_road_header_ending_in_a_line_break_is_refused(hub: Hub) -> None:
    headers = [(k.lower().encode(), v.encode()) for k, v in hub.headers(**PURPOSE).items()]
    for name in (b"x-road-id", b"x-road-issue"):
        message = await hub.app.gateway.exchange(
            "GET", lookup(), "", [*headers, (name, b"case-1\n")]
        )
        assert message["status"] == 400
        assert b"x-road-error: Client.BadRequest" in message["head"]
