"""/metrics against the log, and provider health: active checks, passive errors, circuits."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from hub.stats.health import HealthMonitor
from tests.gateway.conftest import PROVIDER, Hub, load_registry, provider_app, registry_doc
from tests.stats.conftest import AUTH
from tests.stats.test_exactness import traffic
from tests.support import hub_client, make_settings, serve


def samples(text: str, name: str) -> list:  # type: ignore[type-arg]
    return [
        s for family in text_string_to_metric_families(text) for s in family.samples
        if s.name == name
    ]  # fmt: skip


async def test_metrics_counters_match_the_log(hub: Hub) -> None:
    records = await traffic(hub)
    text = (await hub.client.get("/metrics")).text
    exchanges = samples(text, "hub_exchanges_total")
    assert sum(s.value for s in exchanges) == len(records)
    by_fault: Counter[str] = Counter()
    for s in exchanges:
        by_fault[s.labels["fault_code"]] += int(s.value)
        assert "client" in s.labels
    assert by_fault == Counter(r["fault_code"] or "none" for r in records)
    failed = sum(s.value for s in samples(text, "hub_exchanges_failed_total"))
    assert failed == sum(not r["succeeded"] for r in records)
    counts = sum(s.value for s in samples(text, "hub_exchange_duration_seconds_count"))
    assert counts == len(records)
    assert sum(s.value for s in samples(text, "hub_log_records_total")) == len(records)
    assert samples(text, "hub_log_commit_seconds_count")[0].value >= 1
    assert samples(text, "hub_log_queue_depth")[0].value == 0


async def test_client_label_can_be_switched_off(db_url: str, tmp_path: Path) -> None:
    papp = provider_app()
    async with serve(papp) as base_url:
        keys = await load_registry(db_url, registry_doc(base_url))
        settings = make_settings(db_url, tmp_path, metrics_client_label=False)
        async with hub_client(settings) as (app, client):
            hub = Hub(app, client, keys, papp)
            records = await traffic(hub)
            text = (await client.get("/metrics")).text
    exchanges = samples(text, "hub_exchanges_total")
    assert sum(s.value for s in exchanges) == len(records)
    assert all("client" not in s.labels for s in exchanges)


class Breaker:
    def state(self, provider: str) -> str:
        return "open" if provider == PROVIDER else "closed"


async def test_provider_health_reports_reachability_errors_and_circuit(hub: Hub) -> None:
    records = await traffic(hub)
    extras = hub.app.state.extras
    saved = extras.pop("breaker", None)
    before = (await hub.client.get("/api/health/providers", headers=AUTH)).json()
    assert before["providers"][0]["circuit"] == "n/a"
    extras["breaker"] = Breaker()
    resp = await hub.client.get("/api/health/providers?refresh=true", headers=AUTH)
    report = resp.json()
    (row,) = report["providers"]
    assert row["provider"] == PROVIDER and row["reachable"] is True
    assert row["circuit"] == "open"
    assert row["exchanges"] == sum(r["provider"] == PROVIDER for r in records)
    assert row["errors"] == sum(
        r["provider"] == PROVIDER and r["status_code"] >= 500 for r in records
    )
    assert report["registered"] == 1 and report["connection_rate"] == 1.0
    extras["breaker"] = saved


async def test_a_provider_that_does_not_answer_is_unreachable(hub: Hub) -> None:
    monitor = HealthMonitor(hub.app.state.registry, interval_s=3600)
    check = await monitor._check("http://127.0.0.1:9")
    assert check.reachable is False and check.error
