"""The journal's filters by what a call sent: ``query.NAME``, ``header.NAME``, ``body_contains``."""

from __future__ import annotations

import httpx
import pytest

from connectors.kit.journal import BODY_KEPT
from connectors.population.dataset import DEFAULT_SIZE, citizen_at

PERSON = citizen_at(42, DEFAULT_SIZE, 0)


async def count(api: httpx.AsyncClient, params: dict[str, str] | list[tuple[str, str]]) -> int:
    answer = await api.get("/__requests/count", params=params)
    assert answer.status_code == 200, answer.text
    listed = await api.get("/__requests", params=params)
    assert listed.json()["matched"] == answer.json()["count"]
    return int(answer.json()["count"])


async def test_calls_by_a_query_parameter(api: httpx.AsyncClient) -> None:
    await api.get("/citizens", params={"province": "79", "limit": 2})
    await api.get("/citizens", params=[("province", "01"), ("province", "79")])
    await api.get("/citizens", params={"province": "01"})
    await api.get("/citizens", params={"province": "", "limit": 1})
    assert await count(api, {"query.province": "79"}) == 2  # on any of its values
    assert await count(api, {"query.province": "01", "query.limit": "2"}) == 0
    assert await count(api, {"query.province": "79", "query.limit": "2"}) == 1
    assert await count(api, {"query.province": ""}) == 1  # sent empty is sent
    assert await count(api, {"query.lang": "vi"}) == 0
    # Decoded as the server decodes it: %C3%AA and + are the text they stand for.
    await api.get("/v2/search", params={"q": "Lê Văn"})
    assert await count(api, {"query.q": "Lê Văn"}) == 1


async def test_calls_by_a_header(api: httpx.AsyncClient) -> None:
    await api.get(f"/citizens/{PERSON['id']}", headers={"X-Road-UserId": "officer-01"})
    await api.get(f"/citizens/{PERSON['id']}", headers={"X-Road-UserId": "officer-02"})
    await api.get("/v2/x", headers=[("accept", "a"), ("accept", "b")])
    await api.get("/v2/y", headers={"X-Name": "Nguyễn".encode()})
    assert await count(api, {"header.X-Road-UserId": "officer-01"}) == 1
    assert await count(api, {"header.x-road-userid": "officer-02"}) == 1  # any case
    # A header on several lines: any of them, or all of them as the journal joins them.
    assert await count(api, {"header.Accept": "b"}) == 1
    assert await count(api, {"header.Accept": "a, b"}) == 1
    assert await count(api, {"header.Accept": "a, c"}) == 0
    assert await count(api, {"header.x-name": "Nguyễn"}) == 1
    both = {"header.X-Road-UserId": "officer-01", "method": "GET", "path_pattern": "/citizens/.*"}
    assert await count(api, both) == 1


async def test_calls_by_text_of_their_body(api: httpx.AsyncClient) -> None:
    await api.post("/citizens/verify", json={"id": PERSON["id"], "full_name": "Nguyễn Văn An"})
    await api.post("/citizens/verify", json={"id": "079000000000", "full_name": "X"})
    await api.post("/v2/orders", json={"order": 7})  # no service reads it: the journal does
    assert await count(api, {"body_contains": PERSON["id"]}) == 1
    assert await count(api, {"body_contains": "Nguyễn Văn"}) == 1
    assert await count(api, {"body_contains": '"order":7'}) == 1
    assert await count(api, {"body_contains": "full_name", "method": "POST"}) == 2
    assert await count(api, {"body_contains": "nobody"}) == 0


async def test_body_contains_sees_past_the_preview(api: httpx.AsyncClient) -> None:
    # The preview is 200 characters; the filter sees the whole body the journal keeps.
    await api.post("/v2/docs", json={"pad": "x" * 1000, "tail": "needle"})
    [seen] = (await api.get("/__requests")).json()["items"]
    assert "needle" not in seen["body_preview"]
    assert await count(api, {"body_contains": "needle"}) == 1
    # Past what it keeps, nothing is seen: the body's size says the rest was there.
    await api.post("/v2/docs", content=b"a" * BODY_KEPT + b"late")
    assert await count(api, {"body_contains": "late"}) == 0
    assert await count(api, {"body_contains": "aaaa", "path": "/v2/docs"}) == 1


async def test_a_faulted_call_keeps_its_body(api: httpx.AsyncClient) -> None:
    # A retry after a fault sends the same body: a count by body must see the faulted ones.
    await api.put("/__faults", json={"services": {"citizen-verify": {"error_rate": 1}}})
    body = {"id": PERSON["id"], "full_name": "X"}
    assert (await api.post("/citizens/verify", json=body)).status_code == 500
    await api.delete("/__faults")
    assert (await api.post("/citizens/verify", json=body)).status_code == 200
    assert await count(api, {"body_contains": PERSON["id"]}) == 2


async def test_secrets_are_filtered_as_the_journal_shows_them(api: httpx.AsyncClient) -> None:
    # A filter on a secret's value would let a caller guess it: it reads as the journal.
    await api.get(
        "/v2/data",
        params={"api_key": "k-right"},
        headers={"Authorization": "Bearer sk-right", "Cookie": "sid=1"},
    )
    await api.post("/v2/login", json={"user": "an", "password": "p-right"})
    assert await count(api, {"header.authorization": "Bearer [redacted]"}) == 1
    assert await count(api, {"header.Authorization": "Basic [redacted]"}) == 0
    assert await count(api, {"header.cookie": "[redacted]"}) == 1
    assert await count(api, {"query.api_key": "[redacted]"}) == 1
    assert await count(api, {"body_contains": '"password":"[redacted]"'}) == 1
    assert await count(api, {"body_contains": "p-right"}) == 0  # never seen, as never shown


@pytest.mark.parametrize(
    ("params", "said"),
    [
        (
            {"header.Authorization": "Bearer sk-right"},
            "header.authorization: the journal shows this header redacted",
        ),
        ({"header.authorization": ""}, "header.authorization: the journal shows"),
        ({"header.cookie": "sid=1"}, "give '[redacted]'"),
        ({"query.api_key": "k-right"}, "query.api_key: the journal shows this parameter redacted"),
        (
            {"body_contains": '"password": "p-right"'},
            "body_contains: the journal shows the value of 'password' redacted",
        ),
        ({"query.": "79"}, "query.: give the parameter's name after 'query.'"),
        ({"header.": "a"}, "header.: give the header's name after 'header.'"),
        ({"header.X Road": "a"}, "header.X Road: 'X Road' is no header name"),
        ({"header.x-a": " a"}, "header.x-a: a header's value has no spaces"),
        ({"body_contains": ""}, "body_contains"),
        (
            {"headers.x-a": "1"},
            "unknown query parameter 'headers.x-a' (did you mean 'header.x-a'?)",
        ),
        ({"qury.a": "1"}, "(did you mean 'query.a'?)"),
        ({"bodycontains": "a"}, "(did you mean 'body_contains'?)"),
        ([("header.X-A", "1"), ("header.x-a", "2")], "header x-a is given twice"),
        ([("query.a", "1"), ("query.a", "2")], "query parameter query.a is given 2 times"),
    ],
)
async def test_bad_filters_by_what_was_sent_are_refused(
    api: httpx.AsyncClient, params: dict[str, str] | list[tuple[str, str]], said: str
) -> None:
    for path in ("/__requests", "/__requests/count"):
        answer = await api.get(path, params=params)
        assert answer.status_code == 422, answer.text
        assert said in answer.json()["message"], answer.text


async def test_the_unknown_names_list_the_new_filters(api: httpx.AsyncClient) -> None:
    said = (await api.get("/__requests/count", params={"x": "1"})).json()["message"]
    assert "query.NAME, header.NAME, body_contains" in said, said
