"""A population subscription delivered through the real hub: checked, granted and logged."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from connectors.demo import demo_registry
from hub.core.security import demo_api_key
from hub.replay.loader import load_file
from hub.replay.runner import RunOptions
from hub.replay.service import replay
from tests.e2e.conftest import Stack
from tests.e2e.test_linked_procedures import adult
from tests.support import SECRET

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"

POP = "VN/GOV/BCA/population"
BUSINESS = "VN/GOV/BTC/business-registry"
CIVIL = "VN/GOV/BTP/civil-status"


async def test_a_registered_death_reaches_the_subscribed_business_registry(stack: Stack) -> None:
    subscribed = await stack.http.post(
        f"/r1/{POP}/citizen-subscribe/subscriptions",
        json={"service": f"{BUSINESS}/citizen-events", "events": ["death"]},
        headers=stack.headers(BUSINESS),
    )
    assert subscribed.status_code == 201, subscribed.text
    sub = subscribed.json()
    assert sub["subscriber"] == BUSINESS  # the X-Road-Client the hub vouched for

    person = adult(40)
    died = await stack.http.post(
        f"/r1/{POP}/death-registration/deaths",
        json={"id": person["id"], "date_of_death": "2025-10-30"},
        headers=stack.headers(CIVIL, **{"X-Road-Issue": "KT-E2E-7"}),
    )
    assert died.status_code == 200, died.text

    # The delivery runs after the answer. The registry has the event before the hub has
    # logged the notification and answered population, which counts it delivered only then:
    # wait for the delivery to end (on a busy machine that takes a while), then look.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 30
    while True:
        listed = await stack.http.get(
            f"/r1/{POP}/citizen-subscriptions/subscriptions", headers=stack.headers(BUSINESS)
        )
        assert listed.status_code == 200, listed.text
        [mine] = listed.json()["items"]
        if mine["deliveries"]["pending"] == 0 or loop.time() > deadline:
            break
        await asyncio.sleep(0.05)
    assert mine["deliveries"]["delivered"] == 1 and mine["deliveries"]["failed"] == 0, mine
    answer = await stack.http.get(
        f"/r1/{BUSINESS}/citizen-events-received/events/citizens",
        params={"citizen_id": person["id"]},
        headers=stack.headers(BUSINESS),
    )
    assert answer.status_code == 200, answer.text
    received = answer.json()["items"]
    assert [(e["event"], e["sender"], e["subscription"]) for e in received] == [
        ("death", POP, sub["id"])
    ]

    # The notification is an exchange of its own in the hub's log, under population's identity
    # and the registration's dossier.
    records = await stack.records()
    [notice] = [r for r in records if r["service"] == f"{BUSINESS}/citizen-events"]
    assert notice["client"] == POP and notice["issue"] == "KT-E2E-7" and notice["succeeded"]

    # A client that is not granted the events service cannot post one.
    forged = await stack.http.post(
        f"/r1/{BUSINESS}/citizen-events/events/citizens",
        json={**received[0], "seq": 999},
        headers=stack.headers(CIVIL),
    )
    assert forged.status_code == 403 and forged.headers["X-Road-Error"] == "Client.AccessDenied"


async def test_the_death_subscription_scenario_replays(stack: Stack, tmp_path: Path) -> None:
    plan = load_file(SCENARIOS / "death-subscription.yaml")
    subsystems = demo_registry(stack.providers)["subsystems"]
    credentials = tmp_path / "credentials.json"
    credentials.write_text(json.dumps({s["id"]: demo_api_key(SECRET, s["id"]) for s in subsystems}))
    # Two at once: each iteration's subscription also receives the other's death.
    options = RunOptions(iterations=2, concurrency=2)
    [result], _ = await replay(
        [plan], hub_url=stack.hub_url, options=options, credentials_file=credentials
    )
    failures = [f"{s.id}: {s.first_failure.message()}" for s in result.steps if s.first_failure]
    assert result.ok, failures
    assert result.iterations_passed == 2
