"""Which stub answers: priorities, repeated headers, and what a call that none answers is told."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectors.population.dataset import DEFAULT_SIZE, citizen_at

PERSON = citizen_at(42, DEFAULT_SIZE, 0)


async def put(api: httpx.AsyncClient, stubs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    answer = await api.put("/__stubs", json=stubs)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_a_higher_priority_wins_whatever_the_order(api: httpx.AsyncClient) -> None:
    # The order given was the only rule, so a catch-all PUT first hid every specific stub.
    path = f"/citizens/{PERSON['id']}"
    down = {"id": "down", "method": "GET", "path_pattern": "/citizens/.*", "status": 503}
    gone = {"id": "gone", "method": "GET", "path": path, "status": 404, "priority": 1}
    listed = await put(api, [down, gone])
    assert [s["id"] for s in listed] == ["gone", "down"]
    assert listed[0]["priority"] == 1 and "priority" not in listed[1]
    assert (await api.get(path)).status_code == 404
    assert (await api.get(f"/citizens/{citizen_at(42, DEFAULT_SIZE, 1)['id']}")).status_code == 503
    # A stub added later with a lower priority (a larger number) goes behind them.
    late = {"id": "late", "method": "GET", "path": path, "status": 500, "priority": 9}
    assert (await api.post("/__stubs", json=late)).status_code == 201
    assert [s["id"] for s in (await api.get("/__stubs")).json()] == ["gone", "down", "late"]
    assert (await api.get(path)).status_code == 404


async def test_without_a_priority_a_stub_has_five(api: httpx.AsyncClient) -> None:
    await put(api, [{"id": "four", "method": "GET", "path": "/v2/x", "text": "4", "priority": 4}])
    await api.post("/__stubs", json={"id": "plain", "method": "GET", "path": "/v2/x", "text": "5"})
    await api.post("/__stubs", json={"id": "six", "method": "GET", "path": "/v2/x", "priority": 6})
    await api.post("/__stubs", json={"id": "five", "method": "GET", "path": "/v2/x", "priority": 5})
    # Among equal priorities the stub added last is tried first, as before.
    listed = [s["id"] for s in (await api.get("/__stubs")).json()]
    assert listed == ["four", "five", "plain", "six"]
    assert (await api.get("/v2/x")).text == "4"
    await api.delete("/__stubs/four")
    assert (await api.get("/v2/x")).headers["x-mock-stub"] == "five"


@pytest.mark.parametrize(
    ("priority", "said"),
    [(0, "priority: must be at least 1"), ("1", "priority"), (1.5, "priority")],
)
async def test_a_bad_priority_is_refused(
    api: httpx.AsyncClient, priority: object, said: str
) -> None:
    stub = {"method": "GET", "path": "/v2/x", "priority": priority}
    answer = await api.post("/__stubs", json=stub)
    assert answer.status_code == 422 and said in answer.json()["message"], answer.text


async def test_a_repeated_header_matches_on_any_of_its_values(api: httpx.AsyncClient) -> None:
    # Only the last value counted, so the order of the header lines decided the match.
    stub = {"method": "GET", "path": "/v2/x", "request_headers": {"Accept": "a"}, "text": "a"}
    await put(api, [stub])
    for lines in (["a", "b"], ["b", "a"]):
        headers = [("accept", value) for value in lines]
        assert (await api.get("/v2/x", headers=headers)).text == "a"
    assert (await api.get("/v2/x", headers={"Accept": "b"})).status_code == 404
    # The values as the journal shows them, joined, match too.
    await put(api, [{**stub, "request_headers": {"Accept": "a, b"}}])
    assert (await api.get("/v2/x", headers=[("accept", "a"), ("accept", "b")])).text == "a"
    assert (await api.get("/v2/x", headers={"Accept": "a, b"})).text == "a"


async def test_a_near_miss_says_what_did_not_match(api: httpx.AsyncClient) -> None:
    # WireMock-style: the 404 of an unmatched call names the stub of that path and its misses.
    stub = {
        "id": "tenant",
        "method": "POST",
        "path": "/v2/orders",
        "query": {"v": "1"},
        "request_headers": {"X-Tenant": "a"},
        "text": "ok",
    }
    await put(api, [stub])
    answer = await api.get("/v2/orders", params={"v": "2"})
    assert answer.status_code == 404, answer.text
    said = answer.json()["message"]
    assert "closest stub 'tenant'" in said, said
    assert "method POST (got GET)" in said and "query v=1 (got 2)" in said
    assert "header x-tenant: a (got none)" in said
    assert (await api.post("/v2/orders?v=1", headers={"X-Tenant": "a"})).text == "ok"


async def test_a_near_miss_names_a_used_up_stub_and_a_body(api: httpx.AsyncClient) -> None:
    once = {"id": "once", "method": "GET", "path": "/v2/once", "times": 1, "text": "once"}
    body = {"id": "body", "method": "POST", "path": "/v2/verify", "request_json": {"id": "1"}}
    await put(api, [once, body])
    await api.get("/v2/once")
    said = (await api.get("/v2/once")).json()["message"]
    assert "closest stub 'once'" in said and "used up (times 1)" in said, said
    said = (await api.post("/v2/verify", json={"id": "2"})).json()["message"]
    assert "closest stub 'body'" in said and "request_json" in said, said
    # A path no stub has keeps the plain sentence.
    said = (await api.get("/v2/none")).json()["message"]
    assert "closest" not in said and "GET /__stubs the stubs" in said


async def test_a_near_miss_hides_secrets_as_the_journal_does(api: httpx.AsyncClient) -> None:
    # The 404 goes back to the caller, through the hub too: it told a wrong token the right one.
    token = {"id": "token", "method": "GET", "path": "/v2/data", "query": {"api_key": "k-right"}}
    login = {
        "id": "login",
        "method": "POST",
        "path": "/v2/login",
        "request_json": {"password": "p-right"},
    }
    await put(api, [token, login])
    said = (await api.get("/v2/data", params={"api_key": "k-wrong"})).json()["message"]
    assert "query api_key=[redacted] (got [redacted])" in said, said
    said = (await api.post("/v2/login", json={"password": "p-wrong"})).json()["message"]
    assert 'request_json {"password":"[redacted]"}' in said, said
    assert "right" not in said and "wrong" not in said


@pytest.mark.parametrize(
    ("stub", "said"),
    [
        (
            {"request": {"method": "GET", "url": "/a"}, "response": {"status": 200}},
            "WireMock's mapping (request, response): a stub of this mock is flat",
        ),
        ({"method": "GET", "urlPath": "/a"}, "urlPath is WireMock's name: give path"),
        (
            {"method": "GET", "path": "/a", "jsonBody": {"a": 1}},
            "jsonBody is WireMock's name: give body",
        ),
        (
            {"method": "GET", "urlPathPattern": "/a.*", "fixedDelayMilliseconds": 5},
            "urlPathPattern is WireMock's name: give path_pattern; fixedDelayMilliseconds",
        ),
        (
            {"method": "GET", "path": "/a", "transformers": ["response-template"]},
            "transformers is WireMock's name: give template: true",
        ),
    ],
)
async def test_a_wiremock_mapping_is_refused_saying_how_to_write_it(
    api: httpx.AsyncClient, stub: dict[str, Any], said: str
) -> None:
    # A mapping pasted from WireMock was told "method is required; request is not a field".
    answer = await api.post("/__stubs", json=stub)
    assert answer.status_code == 422, answer.text
    assert said in answer.json()["message"], answer.text


async def test_request_jsonpath_matches_what_the_expressions_find(api: httpx.AsyncClient) -> None:
    # WireMock's matchesJsonPath: each expression must find something in the JSON body.
    stub = {
        "id": "big",
        "method": "POST",
        "path": "/v2/orders",
        "request_jsonpath": ["$.items[?qty > 1]", "$.customer.id"],
        "text": "big order",
    }
    listed = await put(api, [stub])
    assert listed[0]["request_jsonpath"] == ["$.items[?qty > 1]", "$.customer.id"]
    big = {"customer": {"id": "c1"}, "items": [{"qty": 1}, {"qty": 3}]}
    answer = await api.post("/v2/orders", json=big)
    assert (answer.status_code, answer.text) == (200, "big order")
    small = {"customer": {"id": "c1"}, "items": [{"qty": 1}]}
    missed = await api.post("/v2/orders", json=small)
    said = missed.json()["message"]
    assert missed.status_code == 404 and "closest stub 'big'" in said, said
    assert "request_jsonpath $.items[?qty > 1] (found nothing in the body)" in said, said
    assert "$.customer.id" not in said, said
    text = await api.post("/v2/orders", content=b"qty=3", headers={"content-type": "text/plain"})
    assert "request_jsonpath $.items[?qty > 1] (the body is not JSON)" in text.json()["message"]
    # A filter comparing text with a number finds nothing rather than failing the call.
    odd = await api.post("/v2/orders", json={"customer": {"id": 1}, "items": [{"qty": "x"}]})
    assert odd.status_code == 404, odd.text


async def test_a_request_jsonpath_naming_a_secret_is_hidden_in_a_miss(
    api: httpx.AsyncClient,
) -> None:
    stub = {"id": "login", "method": "POST", "path": "/v2/login"}
    await put(api, [{**stub, "request_jsonpath": ["$[?$.password == 'p-right']"], "text": "in"}])
    assert (await api.post("/v2/login", json={"password": "p-right"})).text == "in"
    missed = await api.post("/v2/login", json={"password": "p-wrong"})
    said = missed.json()["message"]
    assert "p-right" not in said and "request_jsonpath [redacted]" in said, said


@pytest.mark.parametrize(
    ("given", "said"),
    [
        (["$.items["], "stubs[0].request_jsonpath.0: bad JSONPath"),
        ([""], "stubs[0].request_jsonpath.0: bad JSONPath"),
        ("$.a", "stubs[0].request_jsonpath: must be a valid list"),
        ([], "stubs[0].request_jsonpath: give at least one JSONPath"),
    ],
)
async def test_a_request_jsonpath_that_cannot_match_is_refused(
    api: httpx.AsyncClient, given: Any, said: str
) -> None:
    stub = {"method": "POST", "path": "/v2/orders", "request_jsonpath": given}
    answer = await api.put("/__stubs", json=[stub])
    assert answer.status_code == 422 and said in answer.json()["message"], answer.text
    assert (await api.get("/__stubs")).json() == []
