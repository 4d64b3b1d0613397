"""What a mock refuses because it would match nothing or read back wrong (an empty or
slashless path pattern, an encoded path, an empty method filter, a seed past 2^53 - 1), what a
caller gets from a stub deleted while its answer waits out the stub's latency, and the ids of
stubs: one left empty in a URL, one named like the mock's own s1, s2..."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

import connectors
from connectors.kit import fault_acts
from hub.cli.main import app as hub_cli

MAX_SAFE_INTEGER = 2**53 - 1  # JavaScript's Number.MAX_SAFE_INTEGER
PAST_SAFE = MAX_SAFE_INTEGER + 2  # 2^53 + 1: JavaScript reads it back as 2^53


@pytest.mark.parametrize(
    ("stub", "said"),
    [
        ({"path_pattern": ""}, "path_pattern: an empty pattern matches no path"),
        ({"path_pattern": "citizens/.*"}, "this pattern starts with 'c'"),
        ({"path_pattern": "^(?:v1|v2)/x"}, "starts with 'v'"),
        ({"path": "/files/a%20b"}, "give '/files/a b' (got '/files/a%20b')"),
        ({"path": "/a", "times": PAST_SAFE}, "times: must be at most 9007199254740991"),
        ({"path": "/a", "priority": PAST_SAFE}, "priority: must be at most 9007199254740991"),
    ],
)
async def test_a_stub_no_path_could_reach_is_refused(
    api: httpx.AsyncClient, stub: dict[str, Any], said: str
) -> None:
    # The empty pattern was taken, listed, and never answered a call.
    answer = await api.post("/__stubs", json={"method": "GET", **stub})
    assert answer.status_code == 422, answer.text
    assert said in answer.json()["message"], answer.json()
    assert (await api.get("/__stubs")).json() == []


@pytest.mark.parametrize(
    "pattern", ["/v2/.*", "^/v2/x$", "(?i)/V2/X", "v1|/v2/x", "(/v2)/x", ".*x"]
)
async def test_patterns_that_can_match_a_path_are_taken(
    api: httpx.AsyncClient, pattern: str
) -> None:
    answer = await api.post("/__stubs", json={"method": "GET", "path_pattern": pattern})
    assert answer.status_code == 201, answer.text
    assert (await api.get("/v2/x")).status_code == 200


@pytest.mark.parametrize(
    ("params", "said"),
    [
        ({"method": ""}, "method: '' is no HTTP method"),
        ({"method": "GET POST"}, "method: 'GET POST' is no HTTP method"),
        ({"path": ""}, "path: a path starts with '/' (got '')"),
        ({"path": "citizens/1"}, "path: a path starts with '/'"),
        ({"path": "/citizens?id=1"}, "path: a path holds no query"),
        ({"path": "/files/a%20b"}, "path: calls are matched on their decoded path"),
        ({"path_pattern": ""}, "path_pattern: an empty pattern matches no path"),
        ({"path_pattern": "citizens/.*"}, "this pattern starts with 'c'"),
        (
            {"since": "2026-12-06T08:00:00Z", "until": "2026-12-06T14:00:00+07:00"},
            "until (2026-12-06T14:00:00+07:00) is not after since",
        ),
    ],
)
async def test_a_journal_filter_that_could_match_nothing_is_refused(
    api: httpx.AsyncClient, params: dict[str, str], said: str
) -> None:
    # "method=" counted every call, as if no method were given; the others counted none,
    # so a verify of "count: 0" passed whatever the mock received.
    await api.get("/citizens/1")
    for path in ("/__requests", "/__requests/count"):
        answer = await api.get(path, params=params)
        assert answer.status_code == 422, answer.text
        assert said in answer.json()["message"], answer.json()
    assert (await api.get("/__requests/count", params={"method": "get"})).json()["count"] == 1


async def test_a_stub_of_a_decoded_path_answers_its_encoded_call(api: httpx.AsyncClient) -> None:
    stub = {"method": "GET", "path": "/files/a b", "text": "spaced"}
    assert (await api.post("/__stubs", json=stub)).status_code == 201
    assert (await api.get("/files/a%20b")).text == "spaced"
    count = await api.get("/__requests/count", params={"path": "/files/a b"})
    assert count.json()["count"] == 1


async def test_a_fault_seed_past_2_53_is_refused_saying_the_range(api: httpx.AsyncClient) -> None:
    refused = await api.put("/__faults", json={"seed": PAST_SAFE})
    assert refused.status_code == 422, refused.text
    said = refused.json()["message"]
    assert said.startswith("seed must be a whole number from -9007199254740991 to 9007199254740991")
    assert (await api.get("/__faults")).json()["seed"] is None
    for edge in (MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER):
        taken = await api.put("/__faults", json={"seed": edge})
        assert taken.status_code == 200 and taken.json()["seed"] == edge, taken.text


def test_a_data_seed_past_2_53_is_refused() -> None:
    with pytest.raises(ValueError, match="seed must be a whole number from -9007199254740991"):
        connectors.get("population").create_app(seed=PAST_SAFE)


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (
            ["mock", "population", "--size", "1000", "--seed", str(PAST_SAFE)],
            "--seed must be a whole number",
        ),
        (["mock", "population", "--fault-seed", str(PAST_SAFE)], "--fault-seed must be a whole"),
        (["mock", "population", "--fault-seed", str(-PAST_SAFE)], "to 9007199254740991"),
        (["up", "--seed", str(PAST_SAFE)], "--seed must be a whole number"),
        # The dataset's refusal named "size", no option of the command.
        (["mock", "population", "--size", "2000000"], "error: --size must be between 1 and"),
    ],
)
def test_the_cli_refuses_a_seed_past_2_53(
    monkeypatch: pytest.MonkeyPatch, args: list[str], said: str
) -> None:
    def went_on(*_: Any, **__: Any) -> None:
        raise AssertionError("went on to start")

    monkeypatch.setattr(uvicorn, "run", went_on)
    monkeypatch.setattr("hub.cli.connectors.listenable", lambda *_: None)
    monkeypatch.setattr("hub.cli.serve.ready_to_sign", went_on)
    result = CliRunner().invoke(hub_cli, args)
    assert result.exit_code == 2 and said in result.output, result.output
    assert "Traceback" not in result.output


async def test_a_stub_deleted_during_its_latency_still_gives_its_answer(
    api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The stub was chosen when the call came: the caller gets its answer, and the journal,
    # the deleted stub's hits and the x-mock-stub header all name it.
    released = asyncio.Event()
    wait = fault_acts.delay

    async def held(seconds: float, receive: Any) -> Any:  # the latency lasts until released
        await released.wait()
        return await wait(0, receive)

    monkeypatch.setattr(fault_acts, "delay", held)
    stub = {"id": "slow", "method": "GET", "path": "/slow", "latency_ms": 5, "body": {"a": 1}}
    assert (await api.post("/__stubs", json=stub)).status_code == 201
    call = asyncio.create_task(api.get("/slow"))
    for _ in range(500):  # until the call is in, waiting out the latency
        if (await api.get("/__requests/count", params={"stub": "slow"})).json()["count"]:
            break
        await asyncio.sleep(0.01)
    removed = (await api.delete("/__stubs/slow")).json()
    [waiting] = (await api.get("/__requests")).json()["items"]
    assert removed["hits"] == 1 and waiting["status"] is None and not call.done()
    released.set()
    answer = await call
    assert answer.status_code == 200 and answer.json() == {"a": 1}
    assert answer.headers["x-mock-stub"] == "slow"
    [done] = (await api.get("/__requests")).json()["items"]
    assert (done["status"], done["stub"], done["unmatched"]) == (200, "slow", False)
    assert (await api.get("/slow")).status_code == 404  # and the next call finds no stub


async def test_a_stub_id_left_empty_does_not_reach_every_stub() -> None:
    # DELETE /__stubs/ was redirected (307) to DELETE /__stubs, which removes them all.
    app = connectors.get("population").create_app(seed=42)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://mock", follow_redirects=True
    ) as mock:
        await mock.post("/__stubs", json={"id": "keep", "method": "GET", "path": "/k"})
        for method in ("GET", "PUT", "POST", "DELETE"):
            answer = await mock.request(method, "/__stubs/")
            assert answer.status_code == 404, answer.text
            assert answer.json()["message"].startswith("no stub id given"), answer.json()
        assert [s["id"] for s in (await mock.get("/__stubs")).json()] == ["keep"]


@pytest.mark.parametrize("method", ["PUT", "POST"])
async def test_a_stub_named_like_the_mock_s_ids_next_to_one_unnamed(
    api: httpx.AsyncClient, method: str
) -> None:
    # The unnamed stub took s1 first, and the list was refused: "id 's1' is given twice".
    stubs = [
        {"method": "GET", "path": "/a", "text": "a"},
        {"id": "s1", "method": "GET", "path": "/b"},
    ]
    answer = await api.request(method, "/__stubs", json=stubs)
    assert answer.status_code in (200, 201), answer.text
    assert [s["id"] for s in answer.json()] == ["s2", "s1"]
    assert (await api.get("/a")).headers["x-mock-stub"] == "s2"


async def test_a_refused_stub_list_takes_up_no_ids(api: httpx.AsyncClient) -> None:
    twice = [{"id": "x", "method": "GET", "path": "/a"}, {"id": "x", "method": "GET", "path": "/b"}]
    refused = await api.post("/__stubs", json=[{"method": "GET", "path": "/c"}, *twice])
    assert refused.status_code == 422 and "id 'x' is given twice" in refused.text
    added = await api.post("/__stubs", json={"method": "GET", "path": "/c"})
    assert added.json()["id"] == "s1"
