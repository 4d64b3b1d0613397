"""The request journal (``/__requests``): what a mock received, newest first, secrets hidden."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from connectors.kit.journal import Journal
from connectors.population.dataset import DEFAULT_SIZE, citizen_at

PERSON = citizen_at(42, DEFAULT_SIZE, 0)


async def test_the_journal_records_each_call_newest_first(api: httpx.AsyncClient) -> None:
    before = dt.datetime.now(dt.UTC)
    await api.get(f"/citizens/{PERSON['id']}")
    await api.get("/citizens", params={"province": "79", "limit": 2})
    await api.post("/citizens/verify", json={"id": PERSON["id"], "full_name": "X"})
    await api.get("/__health")  # controls are not recorded
    journal = (await api.get("/__requests")).json()
    assert journal["matched"] == 3 and journal["dropped"] == 0 and journal["capacity"] == 1000
    verify, search, lookup = journal["items"]
    assert (verify["method"], verify["path"], verify["status"]) == ("POST", "/citizens/verify", 200)
    assert verify["body_size"] > 20 and verify["body_preview"].startswith('{"id":')
    assert search["query"] == "province=79&limit=2" and search["body_size"] == 0
    assert lookup["path"] == f"/citizens/{PERSON['id']}" and lookup["stub"] is None
    assert lookup["fault"] is None and lookup["duration_ms"] >= 0
    assert before <= dt.datetime.fromisoformat(lookup["time"]) <= dt.datetime.now(dt.UTC)
    assert verify["id"] > search["id"] > lookup["id"]


async def test_secrets_are_redacted(api: httpx.AsyncClient) -> None:
    await api.get(
        "/citizens",
        params={"province": "79", "access_token": "tok-123"},
        headers={
            "Authorization": "Bearer sk-very-secret",
            "Cookie": "session=abc",
            "X-Api-Key": "key-456",
            "X-Road-UserId": "officer-01",
        },
    )
    [seen] = (await api.get("/__requests")).json()["items"]
    assert seen["status"] == 422  # access_token is no parameter of the search
    headers = seen["headers"]
    assert headers["authorization"] == "Bearer [redacted]"
    assert headers["cookie"] == headers["x-api-key"] == "[redacted]"
    assert headers["x-road-userid"] == "officer-01"
    assert seen["query"] == "province=79&access_token=[redacted]"
    shown = str(seen)
    assert "sk-very-secret" not in shown and "tok-123" not in shown and "key-456" not in shown


async def test_short_secret_names_are_redacted_too(api: httpx.AsyncClient) -> None:
    # A one-time code, a PIN and a password sent as pwd were shown as sent.
    secrets = {"otp": "493021", "PIN": "1234", "pwd": "hunter2", "credentials": "c-9"}
    await api.get("/citizens", params={"province": "79", "pinned": "yes", **secrets})
    [seen] = (await api.get("/__requests")).json()["items"]
    assert seen["query"] == (
        "province=79&pinned=yes&otp=[redacted]&PIN=[redacted]&pwd=[redacted]&credentials=[redacted]"
    )


async def test_a_long_body_is_previewed_short(api: httpx.AsyncClient) -> None:
    await api.post("/citizens/verify", json={"id": PERSON["id"], "full_name": "Đ" * 3000})
    [seen] = (await api.get("/__requests")).json()["items"]
    assert seen["body_size"] > 6000 and len(seen["body_preview"]) == 200


async def test_filters_limit_and_count(api: httpx.AsyncClient) -> None:
    for _ in range(3):
        await api.get(f"/citizens/{PERSON['id']}")
    await api.get("/households/HK79000001")
    await api.post("/citizens/verify", json={"id": PERSON["id"], "full_name": "X"})

    async def count(**params: str) -> int:
        answer = await api.get("/__requests/count", params=params)
        assert answer.status_code == 200, answer.text
        return answer.json()["count"]

    assert await count() == 5
    assert await count(method="get") == 4
    assert await count(method="GET", path=f"/citizens/{PERSON['id']}") == 3
    assert await count(path_pattern="/citizens/.*") == 4
    assert await count(status="200") == 4
    limited = (await api.get("/__requests", params={"method": "GET", "limit": 2})).json()
    assert limited["matched"] == 4 and len(limited["items"]) == 2
    assert limited["items"][0]["path"] == "/households/HK79000001"
    assert (await api.delete("/__requests")).json() == {"deleted": 5}
    assert await count() == 0


@pytest.mark.parametrize(
    ("params", "said"),
    [
        ({"limit": "0"}, "query parameter limit: must be at least 1 (got 0)"),
        ({"limit": "5000"}, "query parameter limit: must be at most 1000"),
        ({"path_pattern": "("}, "path_pattern: not a regular expression"),
        ({"methd": "GET"}, "unknown query parameter 'methd' (did you mean 'method'?)"),
        ({"status": "abc"}, "query parameter status"),
    ],
)
async def test_bad_filters_are_refused(
    api: httpx.AsyncClient, params: dict[str, str], said: str
) -> None:
    for path in ("/__requests", "/__requests/count"):
        if path.endswith("count") and "limit" in params:
            continue
        answer = await api.get(path, params=params)
        assert answer.status_code == 422, answer.text
        assert answer.json()["type"] == "InvalidRequest" and said in answer.json()["message"]


async def test_reset_clears_the_journal(api: httpx.AsyncClient) -> None:
    await api.get(f"/citizens/{PERSON['id']}")
    await api.post("/__reset")
    assert (await api.get("/__requests")).json()["items"] == []


def test_the_journal_keeps_the_newest_and_counts_the_dropped() -> None:
    journal = Journal(size=3)
    for i in range(5):
        journal.open({"method": "GET", "path": f"/p{i}", "query_string": b"", "headers": []})
    assert [e.path for e in journal.select()] == ["/p4", "/p3", "/p2"]
    assert journal.dropped == 2
    assert journal.clear() == 3 and journal.dropped == 0 and not journal.select()


async def test_clearing_the_journal_takes_no_filters(api: httpx.AsyncClient) -> None:
    # DELETE /__requests?method=GET cleared every call, the POSTs too.
    await api.get(f"/citizens/{PERSON['id']}")
    answer = await api.delete("/__requests", params={"method": "GET"})
    assert answer.status_code == 422, answer.text
    assert "unknown query parameter 'method'" in answer.json()["message"]
    assert (await api.get("/__requests/count")).json()["count"] == 1


async def test_secrets_in_a_json_body_are_redacted(api: httpx.AsyncClient) -> None:
    body = {"id": PERSON["id"], "password": "hunter2", "nested": {"api_key": "k-9"}, "n": 1}
    await api.post("/citizens/verify", json=body)
    [seen] = (await api.get("/__requests")).json()["items"]
    preview = seen["body_preview"]
    assert "hunter2" not in preview and "k-9" not in preview, preview
    assert '"password":"[redacted]"' in preview and PERSON["id"] in preview


async def test_secrets_in_a_form_body_are_redacted(api: httpx.AsyncClient) -> None:
    # An OAuth token request, as curl -d and HTML forms send it: no JSON, the same secrets.
    body = "grant_type=password&username=an&password=hunter2&client%5Fsecret=cs-9&scope=x+y"
    headers = {"content-type": "application/x-www-form-urlencoded"}
    await api.post("/v2/oauth/token", content=body, headers=headers)
    [seen] = (await api.get("/__requests")).json()["items"]
    preview = seen["body_preview"]
    assert "hunter2" not in preview and "cs-9" not in preview, preview
    assert preview == (
        "grant_type=password&username=an&password=[redacted]&client%5Fsecret=[redacted]&scope=x+y"
    )
    for guess in ("hunter2", "password=hunter2", "cs-9"):
        found = await api.get("/__requests/count", params={"body_contains": guess})
        assert found.status_code == 422 or found.json()["count"] == 0, (guess, found.text)
    found = await api.get("/__requests/count", params={"body_contains": "password=[redacted]"})
    assert found.json()["count"] == 1, found.text
    refused = await api.get("/__requests/count", params={"body_contains": "password=hunter2"})
    assert refused.status_code == 422, refused.text
    said = refused.json()["message"]
    assert "journal shows the value of 'password' redacted" in said, said
    assert "give 'password=[redacted]', or leave the value out" in said, said


async def test_a_json_body_is_not_read_as_a_form(api: httpx.AsyncClient) -> None:
    body = {"id": PERSON["id"], "note": "a=b&token=kept-as-text"}
    await api.post("/citizens/verify", json=body)
    [seen] = (await api.get("/__requests")).json()["items"]
    assert "token=kept-as-text" in seen["body_preview"], seen["body_preview"]


async def test_calls_by_the_stub_that_answered_them(api: httpx.AsyncClient) -> None:
    stubs = [
        {"id": "down", "method": "GET", "path_pattern": "/citizens/.*", "status": 503},
        {"id": "ping", "method": "GET", "path": "/v2/ping", "text": "pong"},
    ]
    assert (await api.put("/__stubs", json=stubs)).status_code == 200
    for path in (f"/citizens/{PERSON['id']}", "/v2/ping", "/v2/ping", "/households/HK79000001"):
        await api.get(path)
    found = (await api.get("/__requests", params={"stub": "ping"})).json()
    assert found["matched"] == 2 and {e["stub"] for e in found["items"]} == {"ping"}
    assert (await api.get("/__requests/count", params={"stub": "down"})).json()["count"] == 1
    assert (await api.get("/__requests/count", params={"stub": "none"})).json()["count"] == 0


async def test_unmatched_calls_are_those_no_service_nor_stub_answered(
    api: httpx.AsyncClient,
) -> None:
    # WireMock's "unmatched requests": what the connector called that the mock does not serve.
    await api.put("/__stubs", json=[{"method": "GET", "path": "/v2/ping", "times": 1}])
    await api.get("/v2/ping")  # a stub's
    await api.get("/v2/ping")  # used up: unmatched
    await api.get(f"/citizens/{PERSON['id']}")  # a service's
    await api.get("/citizens/000000000000")  # a service's "no data" 404 is matched
    await api.delete(f"/citizens/{PERSON['id']}")  # a method the path does not take
    await api.get("/openapi.json")  # the mock's own document
    found = (await api.get("/__requests", params={"unmatched": "true"})).json()
    assert [(e["method"], e["path"]) for e in found["items"]] == [
        ("DELETE", f"/citizens/{PERSON['id']}"),
        ("GET", "/v2/ping"),
    ]
    assert all(e["unmatched"] for e in found["items"]), found
    count = await api.get("/__requests/count", params={"unmatched": "false"})
    assert count.json()["count"] == 4


async def test_an_unmatched_call_shows_its_body(api: httpx.AsyncClient) -> None:
    # What a connector sent to a path the mock does not serve is what a tester looks for;
    # nobody read that body, so the journal showed its size and an empty preview.
    await api.post("/v2/orders", json={"order": 7})
    await api.put(f"/citizens/{PERSON['id']}", json={"full_name": "X"})  # a method it lacks
    await api.put("/__stubs", json=[{"method": "GET", "path": "/v2/ping"}])
    await api.post("/v2/ping", content=b"ping body")  # a stub of its path, another method
    found = (await api.get("/__requests", params={"unmatched": "true"})).json()["items"]
    assert [(e["status"], e["body_preview"]) for e in found] == [
        (404, "ping body"),
        (405, '{"full_name":"X"}'),
        (404, '{"order":7}'),
    ]
    assert [e["body_size"] for e in found] == [9, 17, 11]


async def test_calls_since_and_until_a_time(api: httpx.AsyncClient) -> None:
    await api.get("/v2/first")
    [first] = (await api.get("/__requests")).json()["items"]
    await api.get("/v2/second")

    async def paths(**params: str) -> list[str]:
        answer = await api.get("/__requests", params=params)
        assert answer.status_code == 200, answer.text
        return [e["path"] for e in answer.json()["items"]]

    assert await paths(since=first["time"]) == ["/v2/second", "/v2/first"]
    after = dt.datetime.fromisoformat(first["time"]) + dt.timedelta(microseconds=1)
    assert await paths(since=after.isoformat()) == ["/v2/second"]
    assert await paths(until=after.isoformat()) == ["/v2/first"]
    # Z, and a time without an offset, are UTC as the journal shows it.
    assert await paths(since=after.strftime("%Y-%m-%dT%H:%M:%S.%fZ")) == ["/v2/second"]
    assert await paths(since=after.strftime("%Y-%m-%dt%H:%M:%S.%fz")) == ["/v2/second"]
    assert await paths(since=after.replace(tzinfo=None).isoformat()) == ["/v2/second"]
    # An unescaped + in a URL arrives as a space: it is taken as the + it was.
    assert await paths(since=after.isoformat().replace("+", " ")) == ["/v2/second"]
    later = (await api.get("/__requests/count", params={"since": after.isoformat()})).json()
    assert later["count"] == 1


@pytest.mark.parametrize(
    ("params", "said"),
    [
        ({"since": "yesterday"}, "since: 'yesterday' is not a time"),
        ({"until": "2026-13-01"}, "until: '2026-13-01' is not a time"),
        ({"unmatched": "maybe"}, "query parameter unmatched"),
        ({"stub": ""}, "query parameter stub"),
        # A stub's "any method", which no call has: every count of it was 0.
        ({"method": "any"}, "method: ANY is a stub's any method"),
    ],
)
async def test_bad_time_and_stub_filters_are_refused(
    api: httpx.AsyncClient, params: dict[str, str], said: str
) -> None:
    for path in ("/__requests", "/__requests/count"):
        answer = await api.get(path, params=params)
        assert answer.status_code == 422, answer.text
        assert said in answer.json()["message"], answer.text
