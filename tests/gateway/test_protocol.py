"""The hub's HTTP protocol: the gateway's answer in one message and one write."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from uvicorn.config import Config
from uvicorn.server import ServerState

from hub.gateway.cycles import EXTENSION
from hub.gateway.protocol import HubHttpProtocol
from tests.gateway.conftest import CITIZEN, PROVIDER, Hub
from tests.support import serve

GET = b"GET /r1/x HTTP/1.1\r\nHost: hub\r\n\r\n"


class Transport:
    """Records what the protocol writes, as uvicorn's transport would carry it."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"sockname": ("127.0.0.1", 8000), "peername": ("127.0.0.1", 5555)}.get(name, default)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def pause_reading(self) -> None: ...
    def resume_reading(self) -> None: ...
    def set_write_buffer_limits(self, *a: Any, **k: Any) -> None: ...


def whole_answer(passed: list[tuple[bytes, bytes]] | None = None) -> Any:
    async def app(scope: dict, receive: Any, send: Any) -> None:
        assert EXTENSION in scope["extensions"]
        await send(
            {
                "type": EXTENSION,
                "status": 200,
                "passed": passed or [(b"X-Provider", b"yes")],
                "head": b"content-type: application/json\r\ncontent-length: 2\r\n",
                "body": b"{}",
            }
        )

    return app


async def two_messages(scope: dict, receive: Any, send: Any) -> None:
    headers = [(b"content-type", b"text/plain"), (b"content-length", b"2")]
    await send({"type": "http.response.start", "status": 201, "headers": headers})
    await send({"type": "http.response.body", "body": b"ok"})


async def feed(app: Any, *requests: bytes) -> Transport:
    config = Config(app, log_level="error", access_log=False)
    config.load()
    protocol = HubHttpProtocol(config=config, server_state=ServerState(), app_state={})
    transport = Transport()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    for request in requests:
        protocol.data_received(request)
    for _ in range(20):
        await asyncio.sleep(0)
    return transport


async def test_whole_answer_goes_out_in_one_write() -> None:
    transport = await feed(whole_answer(), GET)
    assert transport.writes == [
        b"HTTP/1.1 200 OK\r\nx-provider: yes\r\ncontent-type: application/json\r\n"
        b"content-length: 2\r\n\r\n{}"
    ]
    assert not transport.closed


async def test_pipelined_requests_are_answered_in_order() -> None:
    transport = await feed(whole_answer(), GET + GET, GET)
    assert len(transport.writes) == 3
    assert all(w.endswith(b"\r\n\r\n{}") for w in transport.writes)


async def test_connection_close_is_honoured() -> None:
    transport = await feed(whole_answer(), b"GET /r1/x HTTP/1.0\r\nHost: hub\r\n\r\n")
    assert b"connection: close\r\n" in transport.writes[0]
    assert transport.closed


async def test_head_gets_no_body() -> None:
    transport = await feed(whole_answer(), b"HEAD /r1/x HTTP/1.1\r\nHost: hub\r\n\r\n")
    assert transport.writes[0].endswith(b"content-length: 2\r\n\r\n")


async def test_a_provider_header_with_a_line_break_becomes_a_500() -> None:
    transport = await feed(whole_answer([(b"x-evil", b"a\r\nset-cookie: b")]), GET)
    assert transport.writes[0].startswith(b"HTTP/1.1 500 ")
    assert b"set-cookie" not in b"".join(transport.writes)


async def test_other_apps_keep_the_two_asgi_messages() -> None:
    transport = await feed(two_messages, GET)
    assert b"".join(transport.writes).startswith(b"HTTP/1.1 201 Created\r\n")
    assert b"".join(transport.writes).endswith(b"\r\n\r\nok")


def comparable(answer: httpx.Response) -> tuple[int, bytes, dict[str, str]]:
    varying = {"x-road-id", "x-road-request-id", "x-hub-latency", "x-hub-upstream-latency"}
    varying |= {"date", "server"}
    headers = {k: v for k, v in answer.headers.items() if k not in varying}
    rid = answer.headers["x-road-request-id"].encode()  # a refusal's body names it
    return answer.status_code, answer.content.replace(rid, b"<request id>"), headers


@pytest.mark.parametrize(
    ("method", "path", "body", "who", "status"),
    [
        ("GET", f"/citizen-lookup/citizens/{CITIZEN}", None, "ok", 200),
        ("GET", "/citizen-lookup/citizens/000000000000", None, "ok", 404),  # the provider's
        ("POST", "/echo/echo", b'{"id": "a"}', "ok", 201),
        ("GET", f"/citizen-lookup/citizens/{CITIZEN}", None, "nokey", 401),  # the hub's
        ("GET", "/ungranted/citizens/1", None, "ok", 403),
    ],
)
async def test_over_http_the_answer_is_the_one_the_gateway_gives(
    hub: Hub, method: str, path: str, body: bytes | None, who: str, status: int
) -> None:
    headers = hub.headers(**{"X-Road-UserId": "officer-01", "X-Road-Issue": "HS-1"})
    if who == "nokey":
        del headers["Authorization"]
    url = f"/r1/{PROVIDER}{path}"
    direct = await hub.client.request(method, url, headers=headers, content=body)
    served = serve(hub.app, http=HubHttpProtocol, lifespan="off", access_log=False)
    async with served as base, httpx.AsyncClient(base_url=base) as client:
        over_http = await client.request(method, url, headers=headers, content=body)
    assert over_http.status_code == status
    assert comparable(over_http) == comparable(direct)


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET /r1/x HTTP/1.1\r\nHost: hub\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"GET /r1/x HTTP/1.1\r\nHost: hub\r\nX-Road-Id: a\x01b\r\n\r\n",
        b"get /r1/x HTTP/1.1\r\nHost: hub\r\n\r\n",
    ],
    ids=["two lengths", "control byte", "lower-case method"],
)
async def test_a_request_that_is_not_http_gets_the_hubs_error_body(request_bytes: bytes) -> None:
    transport = await feed(whole_answer(), request_bytes)
    answer = b"".join(transport.writes)
    head, _, body = answer.partition(b"\r\n\r\n")
    # It was uvicorn's text/plain "Invalid HTTP request received.", no X-Road-Error.
    assert head.startswith(b"HTTP/1.1 400 ") and b"x-road-error: Client.BadRequest" in head
    payload = json.loads(body)
    assert payload["type"] == "Client.BadRequest" and "not valid HTTP/1.1" in payload["message"]
    assert f"x-road-request-id: {payload['detail']}".encode() in head
    assert transport.closed


def _connection(app: Any, state: ServerState) -> tuple[HubHttpProtocol, Transport]:
    config = Config(app, log_level="error", access_log=False)
    config.load()
    protocol = HubHttpProtocol(config=config, server_state=state, app_state={})
    transport = Transport()
    protocol.connection_made(transport)  # type: ignore[arg-type]
    return protocol, transport


async def test_a_head_past_the_read_limit_gets_431_before_it_is_all_read() -> None:
    called = []

    async def app(scope: dict, receive: Any, send: Any) -> None:
        called.append(scope["path"])

    protocol, transport = _connection(app, ServerState())
    protocol.data_received(b"GET /healthz HTTP/1.1\r\nHost: hub\r\n")
    line = b"X-A: " + b"a" * (64 * 1024 - 7) + b"\r\n"
    sent = 0
    while not transport.closed and sent < 64:  # 4 MiB at most; refused long before
        protocol.data_received(line)
        sent += 1
    head, _, body = b"".join(transport.writes).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 ") and b"x-road-error: Client.HeadersTooLarge" in head
    assert "send fewer or shorter headers" in json.loads(body)["message"]
    assert transport.closed and sent <= 17 and not called


async def test_a_head_not_whole_in_time_ends_the_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import hub.gateway.protocol as protocol_module

    monkeypatch.setattr(protocol_module, "HEAD_TIMEOUT_S", 0.3)
    monkeypatch.setattr(protocol_module, "SWEEP_EVERY_S", 0.05)
    state = ServerState()
    app = whole_answer()
    half, half_t = _connection(app, state)
    silent, silent_t = _connection(app, state)
    whole, whole_t = _connection(app, state)
    half.data_received(b"GET /healthz HTTP/1.1\r\nHost: hub\r\nX-A: ")
    whole.data_received(GET)
    for _ in range(100):
        if half_t.closed and silent_t.closed:
            break
        await asyncio.sleep(0.02)
    head, _, body = b"".join(half_t.writes).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ") and b"x-road-error: Client.BadRequest" in head
    assert "did not arrive whole within 0.3 s" in json.loads(body)["message"]
    assert silent_t.closed and silent_t.writes == []  # nothing sent, nothing answered
    assert not whole_t.closed and whole_t.writes[0].startswith(b"HTTP/1.1 200 ")
