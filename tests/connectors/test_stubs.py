"""Stubs (``/__stubs``): a running mock answers what a test tells it to, before its handlers."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from click.testing import Result
from typer.testing import CliRunner

import connectors
from connectors.population.dataset import DEFAULT_SIZE, citizen_at
from hub.cli.main import app as hub_cli

PERSON = citizen_at(42, DEFAULT_SIZE, 0)
OTHER = citizen_at(42, DEFAULT_SIZE, 1)
GONE = {"type": "NotFound", "message": "stubbed: no such citizen"}


async def put(api: httpx.AsyncClient, stubs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    answer = await api.put("/__stubs", json=stubs)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_a_stub_answers_before_the_mock(api: httpx.AsyncClient) -> None:
    path = f"/citizens/{PERSON['id']}"
    gone = {"method": "GET", "path": path, "status": 404, "headers": {"X-Case": "gone"}}
    [stub] = await put(api, [{**gone, "body": GONE}])
    answer = await api.get(path)
    assert answer.status_code == 404 and answer.json() == GONE
    assert answer.headers["x-case"] == "gone"
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["x-mock-stub"] == stub["id"]
    # Another citizen, or another method on the path, is still the mock's own answer.
    assert (await api.get(f"/citizens/{OTHER['id']}")).json()["id"] == OTHER["id"]
    assert (await api.post(path)).status_code == 405


async def test_a_stub_expires_after_times(api: httpx.AsyncClient) -> None:
    path = f"/citizens/{PERSON['id']}"
    await put(api, [{"method": "GET", "path": path, "status": 503, "times": 2}])
    assert [(await api.get(path)).status_code for _ in range(3)] == [503, 503, 200]
    [shown] = (await api.get("/__stubs")).json()
    assert shown["hits"] == 2 and shown["remaining"] == 0


async def test_stubs_are_listed_in_the_order_tried_with_their_hits(api: httpx.AsyncClient) -> None:
    general = {"method": "ANY", "path_pattern": "/v2/.*", "text": "general", "id": "general"}
    added = await api.post("/__stubs", json=general)
    assert added.status_code == 201 and added.json()["id"] == "general"
    # Added later, so tried first: the specific stub of a test wins over a general one.
    specific = {"method": "GET", "path": "/v2/ping", "text": "pong"}
    assert (await api.post("/__stubs", json=specific)).status_code == 201
    assert (await api.get("/v2/ping")).text == "pong"
    assert (await api.get("/v2/other")).text == "general"
    assert (await api.delete("/v2/ping")).text == "general"
    listed = (await api.get("/__stubs")).json()
    assert [(s["path"] if "path" in s else s["path_pattern"], s["hits"]) for s in listed] == [
        ("/v2/ping", 1),
        ("/v2/.*", 2),
    ]
    assert listed[0]["remaining"] is None
    # What GET shows can be PUT back as it is.
    assert [s["id"] for s in await put(api, listed)] == [s["id"] for s in listed]


async def test_query_and_header_matchers(api: httpx.AsyncClient) -> None:
    await put(
        api,
        [
            {
                "method": "get",
                "path": "/citizens",
                "query": {"province": "79"},
                "request_headers": {"X-Road-UserId": "officer-01"},
                "body": {"items": [], "next_cursor": None},
            }
        ],
    )
    officer = {"x-road-userid": "officer-01"}
    stubbed = await api.get("/citizens?province=79&limit=5", headers=officer)
    assert stubbed.json() == {"items": [], "next_cursor": None}
    for params, headers in (({"province": "01"}, officer), ({"province": "79"}, {})):
        real = await api.get("/citizens", params={**params, "limit": 1}, headers=headers)
        assert real.status_code == 200 and len(real.json()["items"]) == 1, real.text


async def test_a_stub_of_a_path_the_mock_lacks_reads_the_body(api: httpx.AsyncClient) -> None:
    stub = {"method": "POST", "path": "/v2/births", "status": 202, "text": "queued"}
    await put(api, [stub])
    answer = await api.post("/v2/births", json={"child": "Bé"})
    assert answer.status_code == 202 and answer.text == "queued"
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"
    [seen] = (await api.get("/__requests")).json()["items"]
    assert seen["body_size"] == len(b'{"child":"B\xc3\xa9"}') and seen["stub"] == "s1"


async def test_stub_latency(api: httpx.AsyncClient) -> None:
    await put(api, [{"method": "GET", "path": "/slow", "latency_ms": 300, "body": 1}])
    started = time.perf_counter()
    assert (await api.get("/slow")).json() == 1
    assert 0.3 <= time.perf_counter() - started < 1.5


async def test_reset_clears_stubs(api: httpx.AsyncClient) -> None:
    path = f"/citizens/{PERSON['id']}"
    await put(api, [{"method": "GET", "path": path, "status": 410}])
    assert (await api.get(path)).status_code == 410
    assert (await api.post("/__reset")).status_code == 200
    assert (await api.get("/__stubs")).json() == []
    assert (await api.get(path)).status_code == 200


async def test_delete_one_stub_or_all(api: httpx.AsyncClient) -> None:
    await put(
        api,
        [
            {"id": "a", "method": "GET", "path": "/a", "text": "A"},
            {"id": "b", "method": "GET", "path": "/b", "text": "B"},
        ],
    )
    await api.get("/a")
    removed = await api.delete("/__stubs/a")
    assert removed.status_code == 200 and removed.json()["hits"] == 1
    assert (await api.get("/a")).status_code == 404
    missing = await api.delete("/__stubs/a")
    assert missing.status_code == 404 and "no stub 'a'" in missing.json()["message"]
    assert [s["id"] for s in (await api.delete("/__stubs")).json()] == ["b"]
    assert (await api.get("/__stubs")).json() == []


async def test_faults_come_before_stubs(api: httpx.AsyncClient) -> None:
    path = f"/citizens/{PERSON['id']}"
    await put(api, [{"method": "GET", "path": path, "status": 404, "times": 1}])
    assert (await api.put("/__faults", json={"error_rate": 1, "error_status": 503})).is_success
    faulted = await api.get(path)
    assert faulted.status_code == 503 and faulted.json()["type"] == "InjectedFault"
    # A stubbed path no service has gets the global faults too.
    await api.post("/__stubs", json={"method": "GET", "path": "/v2/x", "text": "x"})
    assert (await api.get("/v2/x")).status_code == 503
    # The faulted calls did not use the stub up.
    assert [s["hits"] for s in (await api.get("/__stubs")).json()] == [0, 0]
    await api.delete("/__faults")
    assert (await api.get(path)).status_code == 404
    newest = (await api.get("/__requests")).json()["items"]
    assert [(e["status"], e["stub"], e["fault"]) for e in newest[:3]] == [
        (404, "s1", None),
        (503, None, "error"),
        (503, None, "error"),
    ]


@pytest.mark.parametrize(
    ("stub", "said"),
    [
        ({"method": "GET"}, "give path (exact) or path_pattern"),
        ({"method": "GET", "path": "/a", "path_pattern": "/a"}, "not both"),
        ({"method": "GET", "path": "citizens"}, "path: must start with '/'"),
        ({"method": "GET", "path": "/__faults"}, "controls"),
        ({"method": "GET", "path_pattern": "/citizens/("}, "path_pattern: not a regular"),
        ({"method": "FETCH", "path": "/a"}, "method: must be one of GET"),
        ({"method": "GET", "path": "/a", "status": 700}, "status: must be at most 599"),
        ({"method": "GET", "path": "/a", "status": "404"}, "status: must be a valid integer"),
        ({"method": "GET", "path": "/a", "body": {}, "text": "x"}, "body (JSON) or text"),
        ({"method": "GET", "path": "/a", "status": 204, "text": "x"}, "204 answers no body"),
        ({"method": "GET", "path": "/a", "times": 0}, "times: must be at least 1"),
        ({"method": "GET", "path": "/a", "latency_ms": True}, "latency_ms"),
        ({"method": "GET", "path": "/a", "staus": 404}, "staus is not a field"),
        ({"method": "GET", "path": "/a", "headers": {"x": "a\r\nb"}}, "headers: 'x'"),
        ({"method": "GET", "path": "/a", "headers": {"a b": "1"}}, "headers: 'a b'"),
        ({"method": "GET", "path": "/a", "headers": {"Content-Length": "9"}}, "content-length"),
        ({"method": "GET", "path": "/a", "query": {"limit": 2}}, "query.limit"),
        ({"method": "GET", "path": "/a", "id": "a b"}, "id: use letters"),
    ],
)
async def test_bad_stubs_are_refused_saying_what_to_fix(
    api: httpx.AsyncClient, stub: dict[str, Any], said: str
) -> None:
    for answer in (await api.post("/__stubs", json=stub), await api.put("/__stubs", json=[stub])):
        assert answer.status_code == 422, answer.text
        problem = answer.json()
        assert problem["type"] == "InvalidRequest" and said in problem["message"], problem
    assert (await api.get("/__stubs")).json() == []


async def test_bad_stub_lists_are_refused(api: httpx.AsyncClient) -> None:
    one = {"method": "GET", "path": "/a", "id": "a"}
    not_a_list = await api.put("/__stubs", json=one)
    assert not_a_list.status_code == 422 and "a JSON list of stubs" in not_a_list.json()["message"]
    for method in ("PUT", "POST"):
        form = await api.request(method, "/__stubs", data={"method": "GET"})
        assert form.status_code == 422, form.text
        assert "sent with Content-Type: application/json" in form.json()["message"]
        missing = await api.request(method, "/__stubs")
        assert missing.status_code == 422 and "the body is missing" in missing.json()["message"]
    second_bad = await api.put("/__stubs", json=[one, {"method": "GET"}])
    assert second_bad.status_code == 422
    assert second_bad.json()["message"].startswith("stubs[1]: "), second_bad.text
    twice = await api.put("/__stubs", json=[one, one])
    assert twice.status_code == 422 and "id 'a' is given twice" in twice.json()["message"]
    await put(api, [one])
    taken = await api.post("/__stubs", json=one)
    assert taken.status_code == 409 and "already a stub 'a'" in taken.json()["message"]
    broken = await api.put("/__stubs", content=b"[{", headers={"content-type": "application/json"})
    assert broken.status_code == 422 and "not valid JSON" in broken.json()["message"]


async def test_controls_are_refused_through_the_hub(api: httpx.AsyncClient) -> None:
    via_hub = {"x-road-client": "VN/GOV/BTP/civil-status"}
    for method, path in (("GET", "/__stubs"), ("PUT", "/__stubs"), ("GET", "/__requests")):
        answer = await api.request(method, path, headers=via_hub, json=[])
        assert answer.status_code == 403, (method, path)


@pytest.mark.parametrize("name", connectors.names())
async def test_every_mock_takes_stubs(name: str) -> None:
    app = connectors.get(name).create_app()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mock") as mock:
        await put(mock, [{"method": "GET", "path": "/stubbed", "body": {"ok": name}}])
        assert (await mock.get("/stubbed")).json() == {"ok": name}
        assert (await mock.get("/__requests/count", params={"path": "/stubbed"})).json()[
            "count"
        ] == 1


async def test_a_path_with_a_query_is_refused_pointing_at_query(api: httpx.AsyncClient) -> None:
    # The whole URL, query included, is what a stub matches elsewhere; here that stub could
    # never match, since the path a call has holds no query.
    stub = {"method": "GET", "path": "/citizens?province=79", "body": {"items": []}}
    for answer in (await api.post("/__stubs", json=stub), await api.put("/__stubs", json=[stub])):
        assert answer.status_code == 422, answer.text
        assert "give its parameters in query" in answer.json()["message"]
    assert (await api.get("/__stubs")).json() == []


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity"])
async def test_a_body_that_is_no_json_is_refused(api: httpx.AsyncClient, number: bytes) -> None:
    # Python's parser takes NaN; the stub then answered `NaN` labelled application/json.
    raw = b'[{"method": "GET", "path": "/a", "body": {"n": [%s]}}]' % number
    answer = await api.put("/__stubs", content=raw, headers={"content-type": "application/json"})
    assert answer.status_code == 422, answer.text
    assert "stubs[0].body: " in answer.json()["message"]
    assert "not JSON" in answer.json()["message"]


async def test_the_stub_id_header_is_the_mock_s(api: httpx.AsyncClient) -> None:
    stub = {"method": "GET", "path": "/a", "headers": {"X-Mock-Stub": "mine"}}
    answer = await api.post("/__stubs", json=stub)
    assert answer.status_code == 422 and "x-mock-stub" in answer.json()["message"], answer.text


async def test_request_json_matcher(api: httpx.AsyncClient) -> None:
    wanted = {"id": PERSON["id"], "names": ["A", {"b": 1}]}
    await put(
        api,
        [
            {"id": "body", "method": "POST", "path": "/citizens/verify", "request_json": wanted,
             "body": {"match": False}},
            {"id": "null", "method": "POST", "path": "/things", "request_json": None, "text": "n"},
        ],
    )  # fmt: skip

    async def stub_of(body: Any, path: str = "/citizens/verify") -> str | None:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        answer = await api.post(path, content=content, headers={"content-type": "application/json"})
        return answer.headers.get("x-mock-stub")

    # Extra fields of an object may come; lists and values must be as given.
    assert await stub_of({**wanted, "full_name": "X"}) == "body"
    assert await stub_of({**wanted, "names": ["A", {"b": 1.0, "c": 2}]}) == "body"
    assert await stub_of({**wanted, "names": ["A", {"b": True}]}) is None
    assert await stub_of({**wanted, "names": ["A"]}) is None
    assert await stub_of({"id": PERSON["id"]}) is None
    assert await stub_of(b"{not json") is None
    assert await stub_of(None, "/things") == "null"
    assert await stub_of({}, "/things") is None
    # The handler still reads the body a stub looked at.
    answer = await api.post("/citizens/verify", json={"id": PERSON["id"], "full_name": "X"})
    assert answer.status_code == 200 and answer.json() == {"match": False}
    assert "x-mock-stub" not in answer.headers
    [seen, *_] = (await api.get("/__requests")).json()["items"]
    assert seen["body_size"] > 0 and seen["stub"] is None
    listed = (await api.get("/__stubs")).json()
    assert listed[0]["request_json"] == wanted and listed[0]["hits"] == 2
    assert listed[1]["request_json"] is None and "request_json" in listed[1]


async def test_an_unmatched_call_says_so(api: httpx.AsyncClient) -> None:
    await put(api, [{"method": "GET", "path": "/once", "text": "once", "times": 1}])
    assert (await api.get("/once")).text == "once"
    gone = await api.get("/once")
    assert gone.status_code == 404, gone.text
    assert gone.json()["type"] == "NotFound"
    assert "GET /once" in gone.json()["message"] and "/__stubs" in gone.json()["message"]
    wrong = await api.delete(f"/citizens/{PERSON['id']}")
    assert wrong.status_code == 405 and wrong.headers["allow"] == "GET"
    assert wrong.json()["type"] == "MethodNotAllowed" and "GET" in wrong.json()["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/__stubs"),
        ("DELETE", "/__stubs"),
        ("GET", "/__stubs/s1"),
        ("DELETE", "/__stubs/s1"),
        ("GET", "/__faults"),
        ("DELETE", "/__faults"),
        ("POST", "/__reset"),
    ],
)
async def test_controls_refuse_unknown_query_parameters(
    api: httpx.AsyncClient, method: str, path: str
) -> None:
    await put(api, [{"id": "s1", "method": "GET", "path": "/a"}])
    answer = await api.request(method, path, params={"id": "s1"})
    assert answer.status_code == 422, answer.text
    assert "unknown query parameter 'id'" in answer.json()["message"]
    assert len((await api.get("/__stubs")).json()) == 1


def _mock_with_stubs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str
) -> tuple[Result, list[Any]]:
    """``hub mock population --stubs FILE`` with ``content`` in FILE; the app it would serve."""
    served: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda api, **_: served.append(api))
    path = tmp_path / "stubs.json"
    path.write_text(content)
    args = ["mock", "population", "--size", "1000", "--port", "1", "--stubs", str(path)]
    monkeypatch.setattr("hub.cli.connectors.listenable", lambda *_: None)
    return CliRunner().invoke(hub_cli, args), served


async def test_a_mock_starts_with_the_stubs_of_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Stubs lived only as long as the process: a restart, even with --state, lost them all.
    stubs = [{"id": "down", "method": "GET", "path_pattern": "/citizens/.*", "status": 503}]
    result, [app] = _mock_with_stubs(tmp_path, monkeypatch, json.dumps(stubs))
    assert result.exit_code == 0, result.output
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://mock") as mock:
        assert (await mock.get(f"/citizens/{PERSON['id']}")).status_code == 503
        await mock.delete("/__stubs")
        assert (await mock.get("/v2/x")).status_code == 404
        # A reset goes back to the stubs the mock started with, as it does for faults.
        await mock.post("/__reset")
        [shown] = (await mock.get("/__stubs")).json()
        assert shown["id"] == "down" and shown["hits"] == 0


@pytest.mark.parametrize(
    ("content", "said"),
    [
        ("[{", "is not JSON"),
        ('{"method": "GET"}', "a JSON list of stubs"),
        ('[{"method": "GET", "path": "/a"}, {"method": "GET", "path": "/a", "status": 700}]',
         "stubs[1].status: must be at most 599"),
        ('[{"id": "a", "method": "GET", "path": "/a"}, {"id": "a", "method": "GET", "path": "/b"}]',
         "id 'a' is given twice"),
    ],
)  # fmt: skip
def test_a_bad_stubs_file_stops_the_mock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, content: str, said: str
) -> None:
    result, served = _mock_with_stubs(tmp_path, monkeypatch, content)
    assert result.exit_code == 2 and said in result.output, result.output
    assert "stubs.json" in result.output and not served


def test_a_missing_stubs_file_stops_the_mock(tmp_path: Path) -> None:
    result = CliRunner().invoke(hub_cli, ["mock", "population", "--stubs", str(tmp_path / "no")])
    assert result.exit_code == 2 and "cannot read" in result.output, result.output


async def test_a_repeated_parameter_matches_on_any_of_its_values(api: httpx.AsyncClient) -> None:
    # Only the last value counted, so the order of the parameters decided the match.
    await put(api, [{"method": "GET", "path": "/v2/x", "query": {"tag": "a"}, "text": "a"}])
    assert (await api.get("/v2/x?tag=b&tag=a")).text == "a"
    assert (await api.get("/v2/x?tag=a&tag=b")).text == "a"
    assert (await api.get("/v2/x?tag=b")).status_code == 404
