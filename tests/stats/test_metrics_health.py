"""/metrics against the log, and provider health: active checks, passive errors, circuits."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from hub.core.db import create_engine
from hub.stats import repository as repo
from hub.stats.health import HealthMonitor
from hub.stats.repository import PROVIDER_FAULTS
from tests.gateway.conftest import PROVIDER, Hub, load_registry, provider_app, registry_doc
from tests.stats.conftest import AUTH, log_records, record
from tests.stats.test_exactness import traffic
from tests.stats.test_folding import _append_unfolded
from tests.support import hub_client, make_settings, serve

ROOT = Path(__file__).resolve().parents[2]


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
    # By provider too ("with whom"), the log's own provider of each exchange.
    by_provider: Counter[str] = Counter()
    for s in exchanges:
        by_provider[s.labels["provider"]] += int(s.value)
    # An unknown service of a registered provider counts under that provider, as in the log.
    assert by_provider == Counter(r["provider"] or "-" for r in records)
    assert PROVIDER in by_provider
    for name in ("hub_request_bytes_total", "hub_exchange_duration_seconds_count"):
        assert all(s.labels["provider"] for s in samples(text, name))
    failed = sum(s.value for s in samples(text, "hub_exchanges_failed_total"))
    assert failed == sum(not r["succeeded"] for r in records)
    counts = sum(s.value for s in samples(text, "hub_exchange_duration_seconds_count"))
    assert counts == len(records)
    assert sum(s.value for s in samples(text, "hub_log_records_total")) == len(records)
    assert samples(text, "hub_log_commit_seconds_count")[0].value >= 1
    assert samples(text, "hub_log_queue_depth")[0].value == 0


async def test_the_operators_table_lists_every_metric_with_its_labels(hub: Hub) -> None:
    await traffic(hub)  # every series of the exchanges, the upstream histogram included
    exposed: dict[str, set[str]] = {}
    for family in text_string_to_metric_families((await hub.client.get("/metrics")).text):
        name = family.name + ("_total" if family.type == "counter" else "")
        exposed[name] = {k for s in family.samples for k in s.labels if k != "le"}
    text = (ROOT / "docs" / "operators.md").read_text()
    table = text.split("## Prometheus: `GET /metrics`", 1)[1].split("\n\n")[1]
    documented: dict[str, set[str]] = {}
    labels: set[str] = set()
    for row in table.splitlines()[2:]:
        names, said, _what = (cell.strip() for cell in row.strip().strip("|").split("|"))
        if said != "same":
            labels = set(re.findall(r"\b[a-z_]+\b", re.sub(r"\(.*?\)", "", said)))
        for name in re.findall(r"`([a-z_]+)`", names):
            documented[name] = labels
    assert exposed == documented


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
    # The exchanges that reached the provider: its answers, and the calls it failed.
    assert row["exchanges"] == sum(
        r["provider"] == PROVIDER and r["fault_code"] in (None, *PROVIDER_FAULTS) for r in records
    )
    assert row["errors"] == sum(
        r["provider"] == PROVIDER and r["status_code"] >= 500 for r in records
    )
    assert report["registered"] == 1 and report["connection_rate"] == 1.0
    extras["breaker"] = saved


async def test_a_provider_that_does_not_answer_is_unreachable(hub: Hub) -> None:
    monitor = HealthMonitor(hub.app.state.registry, interval_s=3600)
    check = await monitor._check("http://127.0.0.1:9")
    assert check.reachable is False and check.error


def test_exchange_series_read_as_prometheus_clients_own() -> None:
    """The hand-kept series expose what prometheus_client's Counter and Histogram would."""
    import random

    from prometheus_client import CollectorRegistry, Histogram, generate_latest

    from hub.stats.metrics import LATENCY_BUCKETS, ExchangeCollector

    ours = ExchangeCollector(with_client=True)
    mine = CollectorRegistry()
    mine.register(ours)
    ref = CollectorRegistry()
    total = Histogram(
        "hub_exchange_duration_seconds", "x", ["service", "provider", "client"],
        buckets=LATENCY_BUCKETS,
        registry=ref,
    )  # fmt: skip
    rng = random.Random(7)
    edges = [*LATENCY_BUCKETS, 0.0, 99.0]  # values on the bounds go to their own bucket
    n_failed = 0
    for i in range(500):
        seconds = rng.choice(edges) if i % 5 == 0 else rng.expovariate(50)
        ok = i % 7 != 0
        n_failed += not ok
        record = {
            "service": "VN/GOV/BCA/population/citizen-lookup",
            "client": "VN/GOV/BTP/civil-status",
            "fault_code": None if ok else "Server.ServiceFailed",
            "succeeded": ok,
            "request_bytes": i,
            "response_bytes": 2 * i,
            "total_ms": seconds * 1000,
            "upstream_ms": None,
            "hub_ms": 0.5 if i % 2 else 0.2,
        }
        ours.observe(record)
        total.labels(record["service"], "VN/GOV/BCA/population", record["client"]).observe(seconds)

    def series(text: str, prefix: str) -> dict[tuple, float]:  # type: ignore[type-arg]
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
            if s.name.startswith(prefix) and not s.name.endswith("_created")
        }

    got = generate_latest(mine).decode()
    want = generate_latest(ref).decode()
    got_total = series(got, "hub_exchange_duration_seconds")
    want_total = series(want, "hub_exchange_duration_seconds")
    assert got_total.keys() == want_total.keys()
    for key, value in want_total.items():
        assert abs(got_total[key] - value) < 1e-9, key
    assert sum(s.value for s in samples(got, "hub_exchanges_total")) == 500
    assert sum(s.value for s in samples(got, "hub_exchanges_failed_total")) == n_failed
    assert samples(got, "hub_request_bytes_total")[0].value == sum(range(500))
    assert samples(got, "hub_response_bytes_total")[0].value == 2 * sum(range(500))
    assert samples(got, "hub_upstream_duration_seconds_count") == []  # nothing forwarded
    added = samples(got, "hub_added_duration_seconds_bucket")
    # What the hub adds (0.2 or 0.5 ms) is told apart below a millisecond.
    added_le = {s.labels["le"]: s.value for s in added}
    assert (added_le["0.00025"], added_le["0.0005"], added_le["0.001"]) == (250, 500, 500)


async def test_the_dashboard_is_served_with_or_without_a_trailing_slash(hub: Hub) -> None:
    page = await hub.client.get("/dashboard")
    slashed = await hub.client.get("/dashboard/")
    script = await hub.client.get("/dashboard/dashboard.js")
    missing = await hub.client.get("/dashboard/nothing.js")
    assert page.status_code == slashed.status_code == 200
    assert slashed.text == page.text and "<title>" in page.text
    assert slashed.headers["content-type"].startswith("text/html")
    assert script.status_code == 200
    assert missing.status_code == 404 and "no dashboard file" in missing.json()["detail"]


async def test_provider_errors_are_the_providers_not_the_hubs_own_refusals(hub: Hub) -> None:
    """A service an operator disabled is refused with 503 by the hub, the provider never
    asked: that counted as the provider's error, and a healthy provider's error rate rose."""
    headers = hub.headers()
    for _ in range(3):
        r = await hub.client.get(f"/r1/{PROVIDER}/closed/citizens/1", headers=headers)
        assert r.headers["X-Road-Error"] == "Server.ServiceDisabled"
    r = await hub.client.get(f"/r1/{PROVIDER}/answers/status/500", headers=headers)
    assert r.status_code == 500 and "X-Road-Error" not in r.headers  # the provider's own
    r = await hub.client.get(f"/r1/{PROVIDER}/slow/slow", headers=headers)
    assert r.headers["X-Road-Error"] == "Server.ServiceTimeout"
    r = await hub.client.get(f"/r1/{PROVIDER}/unreachable/x", headers=headers)
    assert r.headers["X-Road-Error"] == "Server.ServiceFailed"
    r = await hub.client.get(f"/r1/{PROVIDER}/answers/status/404", headers=headers)
    assert r.status_code == 404 and "X-Road-Error" not in r.headers  # answered: no error
    report = (await hub.client.get("/api/health/providers", headers=AUTH)).json()
    (row,) = report["providers"]
    assert row["exchanges"] == 4
    assert row["errors"] == 3 and row["error_rate"] == 0.75


async def test_provider_exchanges_are_those_that_reached_it(hub: Hub) -> None:
    """Refusals the provider never saw (no grant, an unknown key, a metaservice the hub
    answers itself) counted in ``exchanges`` and diluted the error rate: one failed call
    among 9 refusals read as 10 %, though every call that reached the provider failed."""
    headers = hub.headers()
    r = await hub.client.get(f"/r1/{PROVIDER}/unreachable/x", headers=headers)
    assert r.headers["X-Road-Error"] == "Server.ServiceFailed"
    for _ in range(3):
        r = await hub.client.get(f"/r1/{PROVIDER}/ungranted/citizens/1", headers=headers)
        assert r.headers["X-Road-Error"] == "Client.AccessDenied"
        r = await hub.client.get(f"/r1/{PROVIDER}/closed/citizens/1", headers=headers)
        assert r.headers["X-Road-Error"] == "Server.ServiceDisabled"
        r = await hub.client.get(f"/r1/{PROVIDER}/listMethods", headers=headers)
        assert r.status_code == 200
    (row,) = (await hub.client.get("/api/health/providers", headers=AUTH)).json()["providers"]
    assert (row["exchanges"], row["errors"], row["error_rate"]) == (1, 1, 1.0)


def _mix(start: datetime) -> list[dict[str, Any]]:
    """One of each way an exchange of the provider ends, a second apart."""
    provider = "VN/GOV/BCA/population"
    ends = [
        (200, None, "citizen-lookup"),
        (404, None, "citizen-lookup"),
        (500, None, "citizen-lookup"),
        (502, "Server.ServiceFailed", "citizen-lookup"),
        (504, "Server.ServiceTimeout", "citizen-lookup"),
        (403, "Client.AccessDenied", "citizen-lookup"),
        (429, "Client.RateLimited", "citizen-lookup"),
        (503, "Server.ServiceDisabled", "citizen-lookup"),
        (503, "Server.ServiceUnavailable", "citizen-lookup"),
        (500, "Server.InternalError", "citizen-lookup"),
        (200, None, "listMethods"),
        (502, "Server.ServiceFailed", "getOpenAPI"),
    ]
    return [
        record(start + timedelta(seconds=i), status_code=status, fault_code=fault,
               succeeded=fault is None and status < 400, service=f"{provider}/{code}")
        for i, (status, fault, code) in enumerate(ends)
    ]  # fmt: skip


async def test_provider_errors_count_alike_folded_or_not(db_url: str) -> None:
    """The rollups' sums and the unfolded tail's decide alike which exchanges reached the
    provider: 5 of the 12 (200, 404, 500, a failed call, a timeout), 3 of them errors."""
    start = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0)
    await log_records(db_url, _mix(start))
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            folded = await repo.provider_errors(conn, start)
        await _append_unfolded(db_url, _mix(start))
        async with engine.connect() as conn:
            both = await repo.provider_errors(conn, start)
    finally:
        await engine.dispose()
    assert folded == {"VN/GOV/BCA/population": (5, 3)}
    assert both == {"VN/GOV/BCA/population": (10, 6)}


async def test_exchanges_the_log_could_not_take_are_counted(hub: Hub) -> None:
    """An exchange refused with Server.LoggingFailed has no record, so it was in no counter:
    an operator scraping /metrics had nothing to alert on while the database was down."""
    from tests.gateway.test_exchange import LOOKUP, PURPOSE, _stop_log_probe

    _stop_log_probe(hub)  # the log stays failing until /readyz finds it writable
    await hub.app.state.writer.engine.dispose()

    async def broken(conn, records):  # type: ignore[no-untyped-def]
        raise RuntimeError("disk full")

    def figure(text: str, name: str) -> float:
        return sum(s.value for s in samples(text, name))

    before = (await hub.client.get("/metrics")).text
    assert figure(before, "hub_exchanges_unlogged_total") == 0
    assert figure(before, "hub_log_failing") == 0
    assert figure(before, "hub_log_failed_batches_total") == 0
    hub.app.state.writer.hooks.append(broken)
    first = await hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE))  # its batch fails
    hub.app.state.writer.hooks.remove(broken)
    second = await hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE))  # refused before
    assert [first.status_code, second.status_code] == [503, 503]
    assert {first.headers["X-Road-Error"], second.headers["X-Road-Error"]} == {
        "Server.LoggingFailed"
    }
    during = (await hub.client.get("/metrics")).text
    assert figure(during, "hub_exchanges_unlogged_total") == 2
    assert figure(during, "hub_log_failing") == 1
    assert figure(during, "hub_log_failed_batches_total") == 1
    assert figure(during, "hub_exchanges_total") == 0  # neither is in the log
    assert (await hub.client.get("/readyz")).status_code == 200  # the database takes writes
    after = (await hub.client.get("/metrics")).text
    assert figure(after, "hub_log_failing") == 0
    assert figure(after, "hub_exchanges_unlogged_total") == 2  # a counter: it stays
