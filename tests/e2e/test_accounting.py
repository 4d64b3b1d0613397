"""One replay under provider faults, counted everywhere the hub counts it: all agree.

SPEC section 7 says counts are exact. A tester's replay report, the transaction log
(`/api/transactions`, paged), `/api/stats/summary`, the matrix, `/metrics` and each mock
agency's request journal all describe the same exchanges; here they are held against one
another after a run in which providers answer errors, cut bodies, resets and timeouts, and
the hub refuses some calls itself (no key, no grant, an open circuit).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

import connectors
from connectors.demo import demo_registry
from hub.core.security import demo_api_key
from hub.replay.loader import load_file
from hub.replay.results import ScenarioResult
from hub.replay.runner import RunOptions
from hub.replay.service import replay
from tests.e2e.conftest import Stack
from tests.support import SECRET

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
# The bank's two services, the hub's own refusals, and a registration whose business
# registry calls the population register through the hub (exchanges the replay never sent).
PLAYED = ("bank-ekyc.yaml", "enterprise-registration.yaml", "failures/not-permitted.yaml")
FAULTS = {
    "error_rate": 0.1,
    "timeout_rate": 0.02,
    "reset_rate": 0.02,
    "malformed_rate": 0.02,
    "seed": 7,
}
# A short timeout for the services the faults may leave unanswered, so a timeout costs a
# fraction of a second, not the demo's 5 s.
TIMEOUT_MS = 500
# Refusals the hub makes before the call: such an exchange never reaches a provider.
NOT_FORWARDED = {
    "Client.BadRequest",
    "Client.MissingPurpose",
    "Client.Unauthorized",
    "Client.AccessDenied",
    "Client.UnknownService",
    "Client.PayloadTooLarge",
    "Client.InvalidPayload",
    "Client.RateLimited",
    "Server.ServiceDisabled",
    "Server.ServiceUnavailable",
}
SAMPLE = re.compile(r"^(\w+)(?:\{(.*)\})? (\S+)$")


async def test_every_count_of_a_faulted_replay_agrees(any_db_stack: Stack, tmp_path: Path) -> None:
    stack = any_db_stack
    registry = demo_registry(stack.providers)
    for service in registry["services"]:
        r = await stack.admin(
            "PATCH", f"/admin/services/{service['id']}", json={"timeout_ms": TIMEOUT_MS}
        )
        assert r.status_code == 200, r.text
    async with httpx.AsyncClient() as direct:
        for base in stack.providers.values():
            r = await direct.put(f"{base}/__faults", json=FAULTS)
            assert r.status_code == 200, r.text

    results = await _replay(stack, registry, tmp_path)
    records = await _all_transactions(stack)
    summary = (await stack.admin("GET", "/api/stats/summary")).json()

    # The replay's own counts: every request it sent has one answer in its report.
    sent = sum(result.requests for result in results)
    answered: Counter[int] = Counter()
    for result in results:
        for step in result.steps:
            answered.update(step.statuses)
    assert sum(answered.values()) == sent and sent > 0
    assert not any(result.transport_errors for result in results)

    # The log holds those requests and the agencies' own calls through the hub, each once.
    assert len({r["id"] for r in records}) == len(records)
    agencies = {connectors.get(name).manifest.subsystem_id for name in connectors.names()}
    by_agencies = [r for r in records if r["client"] in agencies]
    assert by_agencies, "the business registry's calls to the population register are missing"
    logged = Counter(r["status_code"] for r in records)
    assert logged == answered + Counter(r["status_code"] for r in by_agencies)
    assert len(records) == sent + len(by_agencies)

    # The faults did what they were set for, so the figures below count failures too.
    faults = Counter(r["fault_code"] for r in records if r["fault_code"])
    assert faults["Client.Unauthorized"] and faults["Client.AccessDenied"]
    assert faults["Server.ServiceFailed"] and any(r["status_code"] == 500 for r in records)

    succeeded = sum(1 for r in records if r["succeeded"])
    assert summary["total"] == len(records)
    assert summary["succeeded"] == succeeded
    assert summary["failed"] == len(records) - succeeded
    assert summary["by_fault"] == dict(faults)
    assert summary["by_status"] == {str(k): v for k, v in logged.items()}
    assert summary["request_bytes"] == sum(r["request_bytes"] for r in records)
    assert summary["response_bytes"] == sum(r["response_bytes"] for r in records)

    matrix = (await stack.admin("GET", "/api/stats/matrix")).json()
    assert sum(cell["count"] for cell in matrix["cells"]) == len(records)
    assert sum(cell["failed"] for cell in matrix["cells"]) == len(records) - succeeded

    metrics = _samples((await stack.http.get("/metrics")).text)
    assert _total(metrics, "hub_exchanges_total") == len(records)
    assert _total(metrics, "hub_exchanges_failed_total") == len(records) - succeeded
    assert _total(metrics, "hub_log_records_total") == len(records)
    for code, count in faults.items():
        assert _total(metrics, "hub_exchanges_total", fault_code=code) == count, code

    # A mock's journal holds exactly the exchanges the hub forwarded to it; the others are
    # the hub's own refusals, and their fault code says so.
    for record in records:
        forwarded = record["upstream_ms"] is not None
        assert forwarded == (record["fault_code"] not in NOT_FORWARDED), record
    async with httpx.AsyncClient() as direct:
        for provider in registry["subsystems"]:
            provider_id, base = provider["id"], provider.get("base_url")
            if not base:
                continue  # a client only
            journal = (await direct.get(f"{base}/__requests/count")).json()
            assert journal["dropped"] == 0
            expected = sum(
                1 for r in records if r["provider"] == provider_id and r["upstream_ms"] is not None
            )
            assert journal["count"] == expected, provider_id


async def _replay(stack: Stack, registry: dict[str, Any], tmp_path: Path) -> list[ScenarioResult]:
    keys = {s["id"]: demo_api_key(SECRET, s["id"]) for s in registry["subsystems"]}
    credentials = tmp_path / "credentials.json"
    credentials.write_text(json.dumps(keys))
    plans = [load_file(SCENARIOS / name) for name in PLAYED]
    results, _ = await replay(
        plans,
        hub_url=stack.hub_url,
        options=RunOptions(iterations=12, concurrency=4),
        credentials_file=credentials,
    )
    return results


async def _all_transactions(stack: Stack) -> list[dict[str, Any]]:
    """Every record through `/api/transactions`, a small page at a time (the cursor too)."""
    records: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 25}
    while True:
        page = (await stack.admin("GET", "/api/transactions", params=params)).json()
        records += page["items"]
        if not page["next_cursor"]:
            return records
        params["cursor"] = page["next_cursor"]


def _samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    samples = []
    for line in text.splitlines():
        match = SAMPLE.match(line)
        if match and not line.startswith("#"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
            samples.append((match.group(1), labels, float(match.group(3))))
    return samples


def _total(samples: list[tuple[str, dict[str, str], float]], name: str, **labels: str) -> float:
    return sum(
        value
        for sample, have, value in samples
        if sample == name and all(have.get(k) == v for k, v in labels.items())
    )
