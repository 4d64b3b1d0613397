"""Stateful stubs: a scenario's state decides which stub answers, and a stub can move it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

import connectors
from connectors.land.dataset import Parcels

PARCEL = f"/parcels/{Parcels(seed=42).parcel_id(0)}"  # one the mock has
TRANSFERS = f"{PARCEL}/transfers"
# GET of the parcel answers "pending" until a transfer was posted, then "approved".
TRANSFER = [
    {
        "id": "pending",
        "method": "GET",
        "path": PARCEL,
        "scenario": "transfer",
        "required_state": "Started",
        "body": {"status": "pending"},
    },
    {
        "id": "submit",
        "method": "POST",
        "path": TRANSFERS,
        "scenario": "transfer",
        "required_state": "Started",
        "new_state": "submitted",
        "status": 201,
        "body": {"transfer": "t-1"},
    },
    {
        "id": "approved",
        "method": "GET",
        "path": PARCEL,
        "scenario": "transfer",
        "required_state": "submitted",
        "body": {"status": "approved"},
    },
]


@pytest.fixture
async def api() -> AsyncIterator[httpx.AsyncClient]:
    app = connectors.get("land").create_app(seed=42)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://land") as client:
        yield client


async def put(api: httpx.AsyncClient, stubs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    answer = await api.put("/__stubs", json=stubs)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def status_of_parcel(api: httpx.AsyncClient) -> str:
    answer = await api.get(PARCEL)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["status"])


async def scenarios(api: httpx.AsyncClient) -> list[dict[str, Any]]:
    answer = await api.get("/__scenarios")
    assert answer.status_code == 200, answer.text
    return list(answer.json())


async def test_a_stub_moves_its_scenario_and_others_answer_in_the_new_state(
    api: httpx.AsyncClient,
) -> None:
    listed = await put(api, TRANSFER)
    assert listed[1]["scenario"] == "transfer" and listed[1]["new_state"] == "submitted"
    assert await status_of_parcel(api) == "pending"
    assert await status_of_parcel(api) == "pending"  # a GET moves nothing
    posted = await api.post(TRANSFERS, json={})
    assert posted.status_code == 201 and posted.headers["x-mock-stub"] == "submit"
    assert await status_of_parcel(api) == "approved"
    # The submitting stub needs "Started": a second POST is no longer its to answer.
    again = await api.post(TRANSFERS, json={})
    assert again.headers.get("x-mock-stub") is None
    assert await scenarios(api) == [
        {"name": "transfer", "state": "submitted", "states": ["Started", "submitted"]}
    ]


async def test_503_until_the_second_call_then_the_mock_s_own_answer(
    api: httpx.AsyncClient,
) -> None:
    busy = {"method": "GET", "path": PARCEL, "status": 503, "scenario": "flaky"}
    await put(
        api,
        [
            {**busy, "id": "first", "required_state": "Started", "new_state": "once"},
            {**busy, "id": "second", "required_state": "once", "new_state": "up"},
        ],
    )
    answers = [await api.get(PARCEL) for _ in range(3)]
    assert [a.status_code for a in answers] == [503, 503, 200]
    assert [a.headers.get("x-mock-stub") for a in answers] == ["first", "second", None]


async def test_scenarios_are_set_and_reset_by_their_controls(api: httpx.AsyncClient) -> None:
    await put(api, TRANSFER)
    assert await scenarios(api) == [
        {"name": "transfer", "state": "Started", "states": ["Started", "submitted"]}
    ]
    moved = await api.put("/__scenarios/transfer", json={"state": "submitted"})
    assert moved.status_code == 200, moved.text
    transfer = {"name": "transfer", "state": "submitted", "states": ["Started", "submitted"]}
    assert moved.json() == transfer
    assert await status_of_parcel(api) == "approved"
    back = await api.delete("/__scenarios")
    assert back.status_code == 200 and back.json()[0]["state"] == "Started"
    assert await status_of_parcel(api) == "pending"


@pytest.mark.parametrize(
    ("path", "body", "status", "said"),
    [
        ("/__scenarios/nope", {"state": "x"}, 404, "no scenario 'nope'"),
        ("/__scenarios/transfer", {"state": "submited"}, 422, "its stubs know Started, submitted"),
        ("/__scenarios/transfer", {"stat": "submitted"}, 422, "stat is not a field"),
        ("/__scenarios/transfer", {"state": ""}, 422, "state"),
        ("/__scenarios/transfer", ["submitted"], 422, "must be a JSON object"),
    ],
)
async def test_a_bad_scenario_setting_is_refused(
    api: httpx.AsyncClient, path: str, body: Any, status: int, said: str
) -> None:
    await put(api, TRANSFER)
    answer = await api.put(path, json=body)
    assert answer.status_code == status, answer.text
    assert said in answer.json()["message"], answer.text
    assert (await scenarios(api))[0]["state"] == "Started"


async def test_reset_and_replacing_the_stubs_start_scenarios_afresh(
    api: httpx.AsyncClient,
) -> None:
    await put(api, TRANSFER)
    await api.post(TRANSFERS, json={})
    # Adding a stub keeps the scenario where it is.
    extra = {**TRANSFER[0], "id": "extra", "path": "/v2/x"}
    assert (await api.post("/__stubs", json=extra)).status_code == 201
    assert (await scenarios(api))[0]["state"] == "submitted"
    await put(api, TRANSFER)
    assert (await scenarios(api))[0]["state"] == "Started"
    await api.post(TRANSFERS, json={})
    assert (await scenarios(api))[0]["state"] == "submitted"
    assert (await api.post("/__reset")).status_code == 200
    assert await scenarios(api) == []  # the mock started with no stubs, so no scenario
    # A scenario no stub names any more is forgotten: named again, it starts afresh.
    await put(api, TRANSFER)
    await api.post(TRANSFERS, json={})
    await api.delete("/__stubs")
    assert await scenarios(api) == []
    await api.post("/__stubs", json=TRANSFER[0])
    assert (await scenarios(api))[0]["state"] == "Started"


async def test_concurrent_calls_take_a_state_moving_stub_once(api: httpx.AsyncClient) -> None:
    # The stub waits before answering, so every call is chosen for while the first still
    # waits: a state moved only once the answer went out let all of them take it.
    first = {
        "id": "first",
        "method": "POST",
        "path": TRANSFERS,
        "scenario": "transfer",
        "new_state": "taken",
        "required_state": "Started",
        "status": 201,
        "latency_ms": 50,
    }
    later = {
        "id": "later",
        "method": "POST",
        "path": TRANSFERS,
        "scenario": "transfer",
        "required_state": "taken",
        "status": 409,
    }
    await put(api, [first, later])
    answers = await asyncio.gather(*(api.post(TRANSFERS, json={}) for _ in range(20)))
    stubs = sorted(a.headers["x-mock-stub"] for a in answers)
    assert stubs == ["first"] + ["later"] * 19
    assert (await scenarios(api))[0]["state"] == "taken"


async def test_a_faulted_call_does_not_move_the_state(api: httpx.AsyncClient) -> None:
    await put(api, TRANSFER)
    assert (await api.put("/__faults", json={"error_rate": 1, "error_status": 503})).is_success
    assert (await api.post(TRANSFERS, json={})).status_code == 503
    assert (await scenarios(api))[0]["state"] == "Started"
    await api.delete("/__faults")
    assert (await api.post(TRANSFERS, json={})).status_code == 201
    assert (await scenarios(api))[0]["state"] == "submitted"


async def test_a_near_miss_names_the_scenario_state(api: httpx.AsyncClient) -> None:
    waiting = {**TRANSFER[2], "id": "waiting", "path": "/v2/approval"}
    await put(api, [waiting])
    answer = await api.get("/v2/approval")
    assert answer.status_code == 404, answer.text
    said = answer.json()["message"]
    assert "closest stub 'waiting'" in said, said
    assert "scenario 'transfer' is in state 'Started' (needs 'submitted')" in said, said


async def test_the_journal_shows_the_move(api: httpx.AsyncClient) -> None:
    await put(api, TRANSFER)
    await api.get(PARCEL)
    await api.post(TRANSFERS, json={})
    posted, got = (await api.get("/__requests")).json()["items"]
    assert posted["stub"] == "submit"
    assert posted["scenario"] == {"name": "transfer", "from": "Started", "to": "submitted"}
    assert got["stub"] == "pending" and got["scenario"] is None


@pytest.mark.parametrize(
    ("stub", "said"),
    [
        ({"required_state": "x"}, "give scenario"),
        ({"new_state": "x"}, "give scenario"),
        ({"scenario": "a b"}, "scenario: use letters"),
        ({"scenario": "a", "new_state": ""}, "new_state"),
        ({"scenarioName": "a"}, "scenarioName is WireMock's name: give scenario"),
        ({"requiredScenarioState": "a"}, "give required_state"),
        ({"newScenarioState": "a"}, "give new_state"),
    ],
)
async def test_bad_scenario_fields_are_refused(
    api: httpx.AsyncClient, stub: dict[str, Any], said: str
) -> None:
    answer = await api.post("/__stubs", json={"method": "GET", "path": "/a", **stub})
    assert answer.status_code == 422, answer.text
    assert said in answer.json()["message"], answer.text


async def test_the_scenario_controls_are_listed_and_refused_through_the_hub(
    api: httpx.AsyncClient,
) -> None:
    unknown = await api.get("/__scenario")
    assert unknown.status_code == 404 and "/__scenarios" in unknown.json()["message"]
    wiremock = await api.get("/__admin/scenarios")
    assert "/__admin/scenarios is /__scenarios here" in wiremock.json()["message"]
    await put(api, TRANSFER)
    via_hub = {"x-road-client": "VN/GOV/BTP/civil-status"}
    for method, path in (("GET", "/__scenarios"), ("DELETE", "/__scenarios")):
        assert (await api.request(method, path, headers=via_hub)).status_code == 403
    put_via_hub = await api.put("/__scenarios/transfer", json={"state": "x"}, headers=via_hub)
    assert put_via_hub.status_code == 403
    # No scenario name is never taken for all of them (a redirect to DELETE /__scenarios).
    assert (await api.delete("/__scenarios/")).status_code == 404
    await api.put("/__scenarios/transfer", json={"state": "submitted"})
    filtered = await api.delete("/__scenarios", params={"name": "transfer"})
    assert filtered.status_code == 422 and "unknown query parameter 'name'" in filtered.text
    assert (await scenarios(api))[0]["state"] == "submitted"


async def test_journal_ids_keep_increasing_across_clears(api: httpx.AsyncClient) -> None:
    await api.get(PARCEL)
    await api.get(PARCEL)
    [newest, _] = (await api.get("/__requests")).json()["items"]
    assert (await api.delete("/__requests")).json() == {"deleted": 2}
    await api.get(PARCEL)
    [after_clear] = (await api.get("/__requests")).json()["items"]
    await api.post("/__reset")
    await api.get(PARCEL)
    journal = (await api.get("/__requests")).json()
    [after_reset] = journal["items"]
    assert newest["id"] < after_clear["id"] < after_reset["id"]
    # dropped still counts from the last clear: none fell out of the journal since.
    assert journal["dropped"] == 0
