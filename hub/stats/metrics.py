"""Prometheus metrics of one hub process, fed by the gateway's observers and the log writer.

Each app gets its own ``CollectorRegistry`` (tests and ``hub up`` build several apps in one
process). With ``hub serve --workers N`` every worker has its own registry, so Prometheus
must scrape each worker, or read the exact totals from ``/api/stats`` instead (see
docs/operators.md).
"""

from __future__ import annotations

import functools
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from hub.core.settings import Settings
from hub.txlog.remote import RemoteLogWriter
from hub.txlog.writer import LogWriter

# Seconds; from a sub-millisecond hub hop up to the longest service timeouts.
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0
)  # fmt: skip
COMMIT_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


class Metrics:
    """The hub's counters and histograms; ``observe`` is a gateway observer."""

    def __init__(self, settings: Settings, writer: LogWriter | RemoteLogWriter) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.with_client = settings.metrics_client_label
        labels = ["service", "fault_code"] + (["client"] if self.with_client else [])
        lat_labels = ["service"] + (["client"] if self.with_client else [])
        r = self.registry
        self.exchanges = Counter(
            "hub_exchanges", "Exchanges logged, by service and fault code.", labels, registry=r
        )
        self.failed = Counter(
            "hub_exchanges_failed", "Exchanges that did not succeed.", labels, registry=r
        )
        self.request_bytes = Counter(
            "hub_request_bytes", "Request body bytes received.", lat_labels, registry=r
        )
        self.response_bytes = Counter(
            "hub_response_bytes", "Response body bytes sent.", lat_labels, registry=r
        )
        self.total = Histogram(
            "hub_exchange_duration_seconds",
            "Whole exchange as the hub measured it.",
            lat_labels,
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.upstream = Histogram(
            "hub_upstream_duration_seconds",
            "Time spent waiting for the provider.",
            lat_labels,
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.added = Histogram(
            "hub_added_duration_seconds",
            "Time the hub itself added to the exchange.",
            lat_labels,
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.commits = Histogram(
            "hub_log_commit_seconds",
            "Duration of one group commit of the transaction log.",
            buckets=COMMIT_BUCKETS,
            registry=r,
        )
        self.committed = Counter(
            "hub_log_records", "Records committed to the transaction log.", registry=r
        )
        depth = Gauge("hub_log_queue_depth", "Records waiting for the log writer.", registry=r)
        depth.set_function(lambda: writer.depth)
        writer.on_commit.append(self._on_commit)
        self._children: dict[tuple[str, str, str], tuple[Any, ...]] = {}

    def _on_commit(self, n: int, seconds: float) -> None:
        self.commits.observe(seconds)
        self.committed.inc(n)

    def observe(self, record: dict[str, Any]) -> None:
        """Count one committed exchange."""
        service = record["service"] or "-"
        fault = record["fault_code"] or "none"
        client = (record["client"] or "-") if self.with_client else ""
        key = (service, fault, client)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = self._labelled(service, fault, client)
        children[0].inc()
        if not record["succeeded"]:
            children[1]().inc()
        children[2].inc(record["request_bytes"])
        children[3].inc(record["response_bytes"])
        children[4].observe(record["total_ms"] / 1000)
        if record["upstream_ms"] is not None:
            children[5]().observe(record["upstream_ms"] / 1000)
        children[6].observe(record["hub_ms"] / 1000)

    def _labelled(self, service: str, fault: str, client: str) -> tuple[Any, ...]:
        # Six .labels() lookups (each validates and joins its label values under a lock)
        # were about 20 us of every exchange; the children are looked up once per key and
        # kept. The key space is bounded like the metrics' own label space: services x
        # fault codes (x clients when the client label is on). The failure counter and
        # the upstream histogram stay lazy (a memoised getter): a series appears in
        # /metrics only once something was counted in it, as before.
        key: tuple[str, ...] = (service, fault)
        lat_key: tuple[str, ...] = (service,)
        if self.with_client:
            key, lat_key = (*key, client), (*lat_key, client)
        return (
            self.exchanges.labels(*key),
            functools.cache(lambda: self.failed.labels(*key)),
            self.request_bytes.labels(*lat_key),
            self.response_bytes.labels(*lat_key),
            self.total.labels(*lat_key),
            functools.cache(lambda: self.upstream.labels(*lat_key)),
            self.added.labels(*lat_key),
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
