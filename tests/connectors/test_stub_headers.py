"""A stub's answer headers over real HTTP: a list value is sent as one header line per value."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

import connectors
from tests.support import serve


@pytest.fixture
async def mock() -> AsyncIterator[httpx.AsyncClient]:
    """The population mock served by uvicorn on a free port, and a client of it."""
    app = connectors.get("population").create_app(seed=42)
    async with (
        serve(app, ws="none", timeout_graceful_shutdown=1) as base,
        httpx.AsyncClient(base_url=base, timeout=5.0) as client,
    ):
        yield client


async def raw_head(port: int, path: str) -> list[bytes]:
    """The header lines of a GET as the socket carries them, so none are joined on the way."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nhost: mock\r\nconnection: close\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    writer.close()
    return head.split(b"\r\n")[1:-2]


async def test_a_list_value_is_sent_as_one_line_per_value(mock: httpx.AsyncClient) -> None:
    cookies = ["session=abc; Path=/; HttpOnly", "theme=dark; Max-Age=60"]
    links = ['</citizens?page=2>; rel="next"', '</citizens?page=9>; rel="last"']
    stub = {
        "method": "GET",
        "path": "/v2/login",
        "headers": {"Set-Cookie": cookies, "Link": links, "X-One": ["only"], "X-Case": "a"},
        "text": "ok",
    }
    added = await mock.post("/__stubs", json=stub)
    assert added.status_code == 201, added.text
    # Read back as given, so GET's answer can be PUT back.
    assert added.json()["headers"] == stub["headers"]
    answer = await mock.get("/v2/login")
    assert answer.status_code == 200 and answer.text == "ok"
    assert answer.headers.get_list("set-cookie") == cookies
    assert answer.headers.get_list("link") == links
    assert answer.headers.get_list("x-one") == ["only"]
    assert answer.cookies["session"] == "abc" and answer.cookies["theme"] == "dark"
    port = mock.base_url.port
    assert port is not None
    lines = await raw_head(port, "/v2/login")
    assert [line for line in lines if line.startswith(b"set-cookie:")] == [
        b"set-cookie: " + c.encode() for c in cookies
    ]
    listed = (await mock.get("/__stubs")).json()
    assert (await mock.put("/__stubs", json=listed)).status_code == 200
    assert (await mock.get("/v2/login")).headers.get_list("link") == links


@pytest.mark.parametrize(
    ("headers", "said"),
    [
        ({"Set-Cookie": []}, "'Set-Cookie' is an empty list: give at least one value"),
        ({"Link": ["<a>", 3]}, "'Link' must list strings only (got 3)"),
        ({"Link": [["<a>"]]}, "'Link' must list strings only (got a list)"),
        ({"Link": ["<a>", None]}, "'Link' must list strings only (got null)"),
        ({"X-Count": 3}, "'X-Count' must be a string, or a list of strings"),
        ({"X-Flag": {"a": "b"}}, "'X-Flag' must be a string, or a list of strings"),
        ({"Content-Type": ["text/plain", "application/json"]}, "content-type is sent once"),
        ({"Set-Cookie": ["a=1", "b=2\r\nx-evil: 1"]}, "'Set-Cookie' must be printable ASCII"),
        ({"Set-Cookie": ["a=1", "tên=Nguyễn"]}, "'Set-Cookie' must be printable ASCII"),
        ({"Content-Length": ["1", "1"]}, "content-length is worked out by the mock"),
        # Two names differing in case were two Content-Type lines.
        ({"Content-Type": "text/plain", "content-type": "text/html"}, "content-type is sent once"),
        ({"Location": ["/a", "/b"]}, "location is sent once"),
    ],
)
async def test_bad_header_values_are_refused_saying_what_to_fix(
    mock: httpx.AsyncClient, headers: dict[str, Any], said: str
) -> None:
    stub = {"method": "GET", "path": "/v2/x", "headers": headers}
    answer = await mock.put("/__stubs", json=[stub])
    assert answer.status_code == 422, answer.text
    assert said in answer.json()["message"], answer.text
    assert answer.json()["message"].startswith("stubs[0].headers"), answer.text
    assert (await mock.get("/__stubs")).json() == []


async def test_a_matched_header_given_twice_in_another_case_is_refused(
    mock: httpx.AsyncClient,
) -> None:
    # {"X-A": "1", "x-a": "2"} was taken as x-a: 2 alone, and a call with x-a: 1 missed.
    stub = {"method": "GET", "path": "/v2/x", "request_headers": {"X-A": "1", "x-a": "2"}}
    answer = await mock.put("/__stubs", json=[stub])
    assert answer.status_code == 422, answer.text
    assert "stubs[0].request_headers: x-a is given twice in another case" in answer.text
    # The same name twice in an answer's headers is still two lines, as a list gives them.
    stub = {"method": "GET", "path": "/v2/x", "headers": {"X-A": "1", "x-a": "2"}}
    assert (await mock.put("/__stubs", json=[stub])).status_code == 200
    assert (await mock.get("/v2/x")).headers.get_list("x-a") == ["1", "2"]


def nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"a": value}
    return value


@pytest.mark.parametrize("field", ["body", "request_json"])
async def test_a_stub_nesting_deeper_than_the_mock_serves_is_refused(
    mock: httpx.AsyncClient, field: str
) -> None:
    # 900 levels were taken, then the answer and every GET /__stubs after it were a 500
    # (too deep to serialise), and a call matched against such a request_json was one too.
    stub: dict[str, Any] = {"method": "POST", "path": "/v2/deep", field: nested(101)}
    answer = await mock.put("/__stubs", json=[stub])
    assert answer.status_code == 422, answer.text
    assert (
        f"stubs[0].{field}: nests 101 levels deep; a stub's JSON takes at most 100"
        in (answer.json()["message"])
    )
    assert (await mock.get("/__stubs")).status_code == 200
    stub[field] = nested(100)
    assert (await mock.put("/__stubs", json=[stub])).status_code == 200, "100 levels are fine"
    assert (await mock.get("/__stubs")).json()[0][field] == nested(100)
    called = await mock.post("/v2/deep", json=nested(900))  # deeper than it: no match
    assert called.status_code == (200 if field == "body" else 404)
    deepest = b"[" * 100_000 + b"]" * 100_000  # past Python's own parser
    called = await mock.post("/v2/deep", content=deepest)
    assert called.status_code == (200 if field == "body" else 404)


@pytest.mark.parametrize("value", [" officer-01", "officer-01 ", "\tofficer-01"])
async def test_a_matched_header_value_with_spaces_at_its_ends_is_refused(
    mock: httpx.AsyncClient, value: str
) -> None:
    # HTTP drops them from every value it carries, so such a stub was taken and never matched.
    stub = {"method": "GET", "path": "/v2/x", "request_headers": {"X-Road-UserId": value}}
    answer = await mock.put("/__stubs", json=[stub])
    assert answer.status_code == 422, answer.text
    assert "'X-Road-UserId' has spaces or tabs at its ends" in answer.json()["message"]
    inside = {**stub, "request_headers": {"X-Road-UserId": "officer 01"}}
    assert (await mock.put("/__stubs", json=[inside])).status_code == 200
    sent = {"x-road-userid": "officer 01"}
    assert (await mock.get("/v2/x", headers=sent)).status_code == 200
