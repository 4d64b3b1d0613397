"""/metrics histogram buckets against the durations a hub sees: neither everything in the
first bucket nor past the last bound (where histogram_quantile reads nothing)."""

from __future__ import annotations

from typing import Any

from annotated_types import Le
from prometheus_client.parser import text_string_to_metric_families

from hub.core.settings import Settings
from hub.registry.schemas import ServiceIn
from hub.stats.metrics import Metrics
from tests.support import QuietWriter

SERVICE = "VN/GOV/BCA/population/citizen-search"


def _metrics(writer: QuietWriter | None = None) -> Metrics:
    return Metrics(Settings(), writer or QuietWriter())  # type: ignore[arg-type]


def _record(total_s: float, hub_s: float = 0.0001) -> dict[str, Any]:
    return {
        "service": SERVICE,
        "client": "VN/GOV/BTP/civil-status",
        "provider": "VN/GOV/BCA/population",
        "fault_code": None,
        "succeeded": True,
        "request_bytes": 0,
        "response_bytes": 10,
        "total_ms": total_s * 1000,
        "upstream_ms": (total_s - hub_s) * 1000,
        "hub_ms": hub_s * 1000,
    }


def _buckets(metrics: Metrics, name: str) -> list[tuple[float, float]]:
    """(bound, count in that bucket alone) of one histogram, +Inf last."""
    cumulative = sorted(
        (float(s.labels["le"]), s.value)
        for family in text_string_to_metric_families(metrics.render().decode())
        for s in family.samples
        if s.name == f"{name}_bucket"
    )
    out, before = [], 0.0
    for bound, value in cumulative:
        out.append((bound, value - before))
        before = value
    return out


def _longest_timeout_s() -> float:
    bounds: list[Any] = [
        m.le for m in ServiceIn.model_fields["timeout_ms"].metadata if isinstance(m, Le)
    ]
    return float(bounds[0]) / 1000


def test_an_exchange_as_long_as_a_service_timeout_allows_has_a_finite_bucket() -> None:
    # A service may wait up to 600 s (timeout_ms); a 45 s answer of one with a 120 s timeout
    # fell past the last bound (30 s), where histogram_quantile reads only "over 30 s". A call
    # cut at the longest timeout ends a little after it.
    metrics = _metrics()
    longest = _longest_timeout_s()
    for seconds in (45.0, 100.0, longest + 1):
        metrics.observe(_record(seconds))
    for name in ("hub_exchange_duration_seconds", "hub_upstream_duration_seconds"):
        buckets = _buckets(metrics, name)
        assert buckets[-1] == (float("inf"), 0), (name, buckets)
        assert sum(n for _, n in buckets) == 3


def test_the_time_the_hub_adds_is_not_all_in_the_first_bucket() -> None:
    # The hub added 0.02 to 0.12 ms an exchange (p50 0.07 ms, /api/stats/summary hub_ms after
    # hub replay scenarios/ --iterations 20): the first bound, 0.1 ms, held 57 % of them.
    metrics = _metrics()
    for i in range(100):
        metrics.observe(_record(0.001, hub_s=0.00002 + i * 0.000001))
    buckets = _buckets(metrics, "hub_added_duration_seconds")
    assert buckets[0][1] < 50, buckets


def test_group_commits_are_not_all_in_the_first_bucket() -> None:
    # One-record commits on SQLite took 0.2 to 0.5 ms (mean 0.46 ms): 90 % of them fell in
    # the first bucket (0.5 ms); a database that stalls takes seconds, past the last (1 s).
    writer = QuietWriter()
    metrics = _metrics(writer)
    for i in range(100):
        for on_commit in writer.on_commit:  # as the log writer calls it after a commit
            on_commit(1, 0.0002 + i * 0.000003)
    for on_commit in writer.on_commit:
        on_commit(1, 4.0)
    buckets = _buckets(metrics, "hub_log_commit_seconds")
    assert buckets[0][1] < 50, buckets
    assert buckets[-1] == (float("inf"), 0), buckets
