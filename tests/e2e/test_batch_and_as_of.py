"""Batch lookups and point-in-time reads through a real hub, and the scenarios that use them."""

from __future__ import annotations

import json
from pathlib import Path

from connectors.demo import demo_registry
from connectors.population.dataset import DEFAULT_SIZE, citizen_at
from hub.core.security import demo_api_key
from hub.replay.loader import load_file
from hub.replay.runner import RunOptions
from hub.replay.service import replay
from tests.e2e.conftest import Stack
from tests.support import SECRET

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
BANK = "VN/COM/0101234565/ekyc"
BATCH = "VN/GOV/BCA/population/citizen-batch-lookup"
UNKNOWN = "079000000001"


async def test_a_bank_checks_a_hundred_customers_in_one_call(stack: Stack) -> None:
    ids = [citizen_at(42, DEFAULT_SIZE, i)["id"] for i in range(99)] + [UNKNOWN]
    # Pretty-printed, as a client's tool may send it: within the registered body limit.
    body = json.dumps({"ids": ids}, indent=4)
    resp = await stack.http.post(
        f"/r1/{BATCH}/citizens/batch",
        content=body,
        headers={**stack.headers(BANK), "Content-Type": "application/json"},
    )
    assert resp.status_code == 200, resp.text
    assert [c["id"] for c in resp.json()["items"]] == ids[:99]
    assert resp.json()["not_found"] == [UNKNOWN]

    # The hub checks the request schema the manifest registered: 101 IDs never reach the mock.
    over = await stack.http.post(
        f"/r1/{BATCH}/citizens/batch", json={"ids": [*ids, UNKNOWN]}, headers=stack.headers(BANK)
    )
    assert over.status_code == 422, over.text
    assert over.json()["type"] == "Client.InvalidPayload" and "at ids" in over.text

    doc = await stack.http.get(
        "/r1/VN/GOV/BCA/population/getOpenAPI",
        params={"serviceCode": "citizen-batch-lookup"},
        headers=stack.headers(BANK),
    )
    assert doc.status_code == 200, doc.text
    assert list(doc.json()["paths"]) == ["/citizens/batch"]


async def test_as_of_through_the_hub(stack: Stack) -> None:
    person = citizen_at(42, DEFAULT_SIZE, 17)
    path = f"/r1/VN/GOV/BCA/population/citizen-lookup/citizens/{person['id']}"
    portal = stack.headers("VN/LOC/79/one-stop-portal")
    then = await stack.http.get(path, params={"as_of": "1899-12-31"}, headers=portal)
    assert then.status_code == 422 and "from 1900-01-01 to today" in then.json()["message"]
    unborn = await stack.http.get(path, params={"as_of": "1900-01-01"}, headers=portal)
    assert unborn.status_code == 404 and "not yet registered on 1900-01-01" in unborn.text


async def test_the_batch_and_point_in_time_scenarios_pass(stack: Stack, tmp_path: Path) -> None:
    plans = [
        load_file(SCENARIOS / name) for name in ("bank-batch-kyc.yaml", "land-holder-on-date.yaml")
    ]
    subsystems = demo_registry(stack.providers)["subsystems"]
    credentials = tmp_path / "credentials.json"
    credentials.write_text(json.dumps({s["id"]: demo_api_key(SECRET, s["id"]) for s in subsystems}))
    results, _ = await replay(
        plans,
        hub_url=stack.hub_url,
        options=RunOptions(iterations=2, concurrency=1),
        credentials_file=credentials,
    )
    for result in results:
        failures = [f"{s.id}: {s.first_failure.message()}" for s in result.steps if s.first_failure]
        assert result.ok, f"{result.name}: {failures}"
