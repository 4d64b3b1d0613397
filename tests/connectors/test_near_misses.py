"""The 404 of a mistyped path: the closest stub of a nearby path, or the closest service."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectors.kit.nearby import edit_distance
from connectors.kit.stubs import MAX_STUBS


async def put(api: httpx.AsyncClient, stubs: list[dict[str, Any]]) -> None:
    answer = await api.put("/__stubs", json=stubs)
    assert answer.status_code == 200, answer.text


async def said(api: httpx.AsyncClient, method: str, path: str, **kwargs: Any) -> str:
    answer = await api.request(method, path, **kwargs)
    assert answer.status_code == 404, answer.text
    return str(answer.json()["message"])


async def test_a_stub_of_a_nearby_path_is_named(api: httpx.AsyncClient) -> None:
    lookup = {"id": "lookup", "method": "GET", "path": "/v2/citizens/079203001234", "text": "a"}
    other = {"id": "other", "method": "GET", "path": "/v2/parcels/1", "text": "b"}
    await put(api, [other, lookup])
    message = await said(api, "GET", "/v2/citizen/079203001234")
    assert message == (
        "no service of this mock and no stub answers GET /v2/citizen/079203001234; the closest "
        "stub 'lookup' did not answer: path /v2/citizens/079203001234 (got "
        "/v2/citizen/079203001234) (GET /__stubs/lookup shows it)"
    )
    # Its other misses are said too.
    await put(api, [{**lookup, "query": {"lang": "vi"}}])
    message = await said(api, "GET", "/v2/citizen/079203001234")
    assert "path /v2/citizens/079203001234 (got /v2/citizen/079203001234), query lang=vi" in message


async def test_the_nearest_path_wins_and_a_far_one_is_not_named(api: httpx.AsyncClient) -> None:
    stubs = [
        {"id": "two", "method": "GET", "path": "/v2/ordrs/7x", "text": "a"},
        {"id": "one", "method": "GET", "path": "/v2/orders/7x", "text": "b"},
        {"id": "post", "method": "POST", "path": "/v2/order/7", "text": "c"},
    ]
    await put(api, stubs)
    assert "closest stub 'one'" in await said(api, "GET", "/v2/order/7x")
    # Another method is no near miss of a path: that stub answers another call.
    message = await said(api, "GET", "/v2/invoices/99")
    assert "closest" not in message and "GET /__stubs the stubs" in message


async def test_a_pattern_that_nearly_matches_is_named(api: httpx.AsyncClient) -> None:
    stubs = [
        {"id": "by-id", "method": "GET", "path_pattern": "/v2/citizens/[0-9]{12}", "text": "a"},
        {"id": "any", "method": "ANY", "path_pattern": "/v2/parcels/.*", "text": "b"},
    ]
    await put(api, stubs)
    message = await said(api, "GET", "/v2/citizen/079203001234")
    assert (
        "the closest stub 'by-id' did not answer: path_pattern /v2/citizens/[0-9]{12} "
        "(got /v2/citizen/079203001234)"
    ) in message
    # A segment that its expression does not take, the rest as given.
    assert "closest stub 'by-id'" in await said(api, "GET", "/v2/citizens/07920300123X")
    assert "closest stub 'any'" in await said(api, "DELETE", "/v2/parcel/a/b")


async def test_a_mistyped_service_path_names_the_service(api: httpx.AsyncClient) -> None:
    message = await said(api, "GET", "/citizen/079203001234")
    assert message == (
        "no service of this mock and no stub answers GET /citizen/079203001234: did you mean "
        "GET /citizens/{id} (service citizen-lookup)? GET /openapi.json lists the services, "
        "GET /__stubs the stubs"
    )
    assert "POST /citizens/verify (service citizen-verify)" in await said(
        api, "POST", "/citizen/verify", json={}
    )
    assert "did you mean" not in await said(api, "GET", "/v2/ping")


async def test_a_stub_of_the_same_path_comes_before_a_nearby_one(api: httpx.AsyncClient) -> None:
    stubs = [
        {"id": "near", "method": "GET", "path": "/v2/ping", "text": "a"},
        {"id": "same", "method": "POST", "path": "/v2/pong", "text": "b"},
    ]
    await put(api, stubs)
    assert "closest stub 'same'" in await said(api, "GET", "/v2/pong")


async def test_a_thousand_stubs_are_searched(api: httpx.AsyncClient) -> None:
    stubs = [
        {"method": "GET", "path": f"/v2/items/{n:06d}/details", "text": "x"}
        for n in range(MAX_STUBS - 10)
    ] + [
        {"method": "GET", "path_pattern": f"/v2/things/{n}/[a-z]+", "text": "y"} for n in range(10)
    ]
    stubs[-15]["id"] = "wanted"
    await put(api, stubs)
    assert "closest stub 'wanted'" in await said(api, "GET", "/v2/item/000985/details")


@pytest.mark.parametrize(
    ("a", "b", "limit", "distance"),
    [
        ("/citizens/1", "/citizen/1", 3, 1),
        ("kitten", "sitting", 3, 3),
        ("kitten", "sitting", 2, 3),  # past the limit: limit + 1
        ("", "abc", 5, 3),
        ("same", "same", 0, 0),
        ("/a/very/long/path", "/b", 2, 3),
    ],
)
def test_edit_distance_stops_past_its_limit(a: str, b: str, limit: int, distance: int) -> None:
    assert edit_distance(a, b, limit) == distance
