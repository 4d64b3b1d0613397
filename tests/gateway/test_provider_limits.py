"""What the hub refuses to pass on from a provider: a status outside HTTP's, a switch of
protocols, a head or body over the client's limits; and a HEAD answer's length is the
provider's or none. Providers here are scripted byte for byte over real TCP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from hub.gateway import connection as conn_mod
from hub.gateway.client import ClientError, HttpClient
from hub.gateway.protocol import HubHttpProtocol
from tests.gateway.conftest import PROVIDER, Hub, load_registry, registry_doc
from tests.gateway.test_client import ok, serve
from tests.support import hub_client, make_settings
from tests.support import serve as serve_app

ANSWERS = f"/r1/{PROVIDER}/answers"


def with_headers(count: int, value: bytes = b"1") -> bytes:
    """A 200 answer of ``count`` header fields in all (Content-Length among them)."""
    fields = b"".join(b"X-H%d: %s\r\n" % (i, value) for i in range(count - 1))
    return b"HTTP/1.1 200 OK\r\n" + fields + b"Content-Length: 2\r\n\r\n{}"


def chunked(request: bytes) -> bytes:
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    return head if request.startswith(b"HEAD") else head + b"2\r\n{}\r\n0\r\n\r\n"


SWITCH = b"HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n"
EARLY = b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
RAW = {
    b"/status600": lambda _r: b'HTTP/1.1 600 Weird\r\nContent-Length: 11\r\n\r\n{"ok":true}',
    b"/status99": lambda _r: b'HTTP/1.1 099 Low\r\nContent-Length: 11\r\n\r\n{"ok":true}',
    b"/switch": lambda _r: SWITCH,
    b"/bare-switch": lambda _r: b"HTTP/1.1 101 Switching Protocols\r\n\r\n",
    b"/early": lambda _r: EARLY + ok(b"{}"),
    b"/chunked": chunked,
    b"/big-header": lambda _r: with_headers(2, b"a" * (2 * 1024 * 1024)),
    b"/many-headers": lambda _r: with_headers(20_000),
    b"/headers-at-limit": lambda _r: with_headers(conn_mod.HEADERS_MAX),
    b"/headers-over-limit": lambda _r: with_headers(conn_mod.HEADERS_MAX + 1),
    b"/head-at-limit": lambda _r: with_headers(2, b"a" * (conn_mod.HEAD_MAX - 100)),
    b"/big-body": lambda _r: ok(b'"' + b"a" * 200_000 + b'"'),
}


def script(_n: int, request: bytes) -> bytes:
    answer = RAW.get(request.split(b" ", 2)[1])
    return ok() if answer is None else answer(request)  # the hub's health probe, too


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    c = HttpClient()
    yield c
    await c.close()


@pytest.fixture
async def provider() -> AsyncIterator[str]:
    server, url = await serve(script)
    yield url
    await server.stop()


@pytest.fixture
async def hub(db_url: str, tmp_path: Path, provider: str) -> AsyncIterator[Hub]:
    keys = await load_registry(db_url, registry_doc(provider))
    async with hub_client(make_settings(db_url, tmp_path)) as (app, client):
        yield Hub(app, client, keys, FastAPI())


async def assert_refused(hub: Hub, method: str, path: str, said: str) -> None:
    resp = await hub.client.request(method, ANSWERS + path, headers=hub.headers())
    assert resp.status_code == 502, resp.text[:300]
    assert resp.headers["X-Road-Error"] == "Server.ServiceFailed"
    if method != "HEAD":
        assert said in resp.json()["message"]
    (rec,) = await hub.records()
    assert (rec["status_code"], rec["fault_code"]) == (502, "Server.ServiceFailed")
    assert not rec["succeeded"]


# --- the status ---------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "status"), [("/status600", 600), ("/status99", 99)])
async def test_a_status_outside_http_is_a_malformed_answer(
    hub: Hub, path: str, status: int
) -> None:
    # 600 went on to the client, and the hub's protocol answered it with a 500 and a
    # traceback (KeyError: 600), logged as a 600 without a fault.
    await assert_refused(hub, "GET", path, f"status {status}, outside HTTP's 100-599")


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("path", ["/switch", "/bare-switch"])
async def test_a_switch_of_protocols_is_not_an_answer(hub: Hub, method: str, path: str) -> None:
    # A HEAD's 101 went on to the client as its final answer.
    await assert_refused(hub, method, path, "switched protocols")


@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_an_interim_answer_is_skipped_for_head_too(
    http: HttpClient, provider: str, method: str
) -> None:
    answer = await http.request(method, provider + "/early", [], b"")
    assert answer.status == 200  # a HEAD got the 103 as its answer
    assert ("Link", "</a.css>; rel=preload") not in answer.headers


async def test_the_client_refuses_statuses_outside_http(http: HttpClient, provider: str) -> None:
    for path, status in (("/status600", 600), ("/status99", 99)):
        with pytest.raises(ClientError, match=f"status {status}"):
            await http.request("GET", provider + path, [], b"")


# --- HEAD's length ------------------------------------------------------------------------


async def test_head_of_a_chunked_answer_has_no_invented_length(hub: Hub) -> None:
    got = await hub.client.get(ANSWERS + "/chunked", headers=hub.headers())
    assert got.status_code == 200 and got.content == b"{}"
    resp = await hub.client.head(ANSWERS + "/chunked", headers=hub.headers())
    # It said "content-length: 0", the length of the HEAD's empty body, not the GET's.
    assert resp.status_code == 200 and "content-length" not in resp.headers
    assert resp.headers["content-type"] == "application/json"


async def test_the_hubs_own_refusal_of_a_head_keeps_its_length(hub: Hub) -> None:
    resp = await hub.client.head(ANSWERS + "/chunked")  # no client: refused by the hub
    assert resp.status_code == 400 and int(resp.headers["content-length"]) > 0


# --- the head's limits --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "said"),
    [
        ("/big-header", f"headers exceeded the limit of {conn_mod.HEAD_MAX} bytes"),
        ("/many-headers", "headers exceeded the limit of"),
        ("/headers-over-limit", f"exceeded the limit of {conn_mod.HEADERS_MAX} fields"),
    ],
)
async def test_a_head_over_the_limits_is_a_malformed_answer(hub: Hub, path: str, said: str) -> None:
    # It was read whole and passed on, and logged as a success.
    await assert_refused(hub, "GET", path, said)


@pytest.mark.parametrize("path", ["/headers-at-limit", "/head-at-limit"])
async def test_a_head_at_the_limits_passes(hub: Hub, path: str) -> None:
    resp = await hub.client.get(ANSWERS + path, headers=hub.headers())
    assert resp.status_code == 200 and resp.content == b"{}"


async def test_a_big_head_is_refused_before_it_is_all_read(http: HttpClient, provider: str) -> None:
    server, url = await serve(
        lambda _n, _r: b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * (4 * 1024 * 1024)
    )
    with pytest.raises(ClientError, match="headers exceeded"):
        await http.request("GET", url, [], b"", timeout_s=10)
    await server.stop()


# --- the body's limit ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        ok(b'"' + b"a" * 200_000 + b'"'),
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        + (b"1000\r\n" + b"a" * 4096 + b"\r\n") * 50
        + b"0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + b"a" * 200_000,
    ],
    ids=["sized", "chunked", "until-closed"],
)
async def test_a_body_over_the_limit_is_refused(
    http: HttpClient, monkeypatch: pytest.MonkeyPatch, answer: bytes
) -> None:
    monkeypatch.setattr(conn_mod, "ANSWER_MAX", 100_000)
    server, url = await serve(lambda _n, _r: answer)
    with pytest.raises(ClientError, match="body exceeded the limit of 100000 bytes"):
        await http.request("GET", url, [], b"")
    await server.stop()


async def test_the_hub_refuses_a_body_over_the_limit(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(conn_mod, "ANSWER_MAX", 100_000)
    await assert_refused(hub, "GET", "/big-body", "body exceeded the limit of 100000 bytes")


async def test_over_the_hubs_own_protocol(hub: Hub) -> None:
    # As the reviewer met them, through `hub serve`'s protocol: a 600 became a plain-text
    # 500 (KeyError: 600), a HEAD of a chunked answer said "content-length: 0".
    async with (
        serve_app(hub.app, http=HubHttpProtocol, lifespan="off", access_log=False) as base,
        httpx.AsyncClient(base_url=base) as client,
    ):
        weird = await client.get(ANSWERS + "/status600", headers=hub.headers())
        assert weird.status_code == 502
        assert weird.headers["X-Road-Error"] == "Server.ServiceFailed"
        head = await client.head(ANSWERS + "/chunked", headers=hub.headers())
        assert head.status_code == 200 and "content-length" not in head.headers
