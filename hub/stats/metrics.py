"""Prometheus metrics of one hub process, fed by the gateway's observers and the log writer.

Each app gets its own ``CollectorRegistry`` (tests and ``hub up`` build several apps in one
process). With ``hub serve --workers N`` every worker has its own registry, and the one
that answers a scrape adds the others' figures (hub/stats/shared.py).
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from hub.core.settings import Settings
from hub.gateway.paths import METASERVICES
from hub.registry.cache import RegistryCache
from hub.stats.shared import SharedMetrics
from hub.txlog.remote import RemoteLogWriter
from hub.txlog.writer import LogWriter

# Seconds; from a sub-millisecond hub hop up to the longest service timeouts. The hub adds
# about 0.2 ms an exchange (docs/benchmarks.md): with 0.5 ms the first bound, 97 % of
# hub_added_duration_seconds fell in it and its quantiles said nothing, hence 0.1 and 0.25;
# with 0.1 ms first, 57 % still did on a faster host (0.07 ms its median), hence 0.05. A
# service may wait up to 600 s (timeout_ms): past 30 s every slow exchange counted in +Inf
# alone, hence 60 to 900 (a call cut at 600 s ends a little after it).
LATENCY_BUCKETS = (
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 900.0,
)  # fmt: skip
# A one-record commit takes 0.2-0.5 ms on SQLite (90 % fell in a first bucket of 0.5 ms);
# one that waits on a stalled database, seconds.
COMMIT_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
)  # fmt: skip


class Metrics:
    """The hub's counters and histograms; ``observe`` is a gateway observer."""

    def __init__(
        self,
        settings: Settings,
        writer: LogWriter | RemoteLogWriter,
        known: RegistryCache | None = None,
        unlogged: Callable[[], int] | None = None,
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.with_client = settings.metrics_client_label
        r = self.registry
        self.exchanges = ExchangeCollector(with_client=self.with_client, known=known)
        r.register(self.exchanges)
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
        r.register(LogHealthCollector(writer, unlogged or (lambda: 0)))
        writer.on_commit.append(self._on_commit)
        self.observe = self.exchanges.observe
        self.shared: SharedMetrics | None = None  # with several workers: hub/stats/shared.py

    def _on_commit(self, n: int, seconds: float | None) -> None:
        if seconds is not None:  # None: another worker's figures count this batch's commit
            self.commits.observe(seconds)
        self.committed.inc(n)

    async def scrape(self) -> bytes:
        """What /metrics answers: this process's figures, or with several workers, all."""
        if self.shared is not None:
            return await self.shared.render()
        return self.render()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class LogHealthCollector(Collector):
    """What an operator alerts on while the log cannot be written: the exchanges refused
    for it (they have no record, so no other series counts them), the batches that failed,
    and whether this worker refuses exchanges now. Read from the writer and the gateway on
    a scrape: the gateway's refusal branches count, its passing path does nothing more."""

    def __init__(self, writer: LogWriter | RemoteLogWriter, unlogged: Callable[[], int]) -> None:
        self.writer = writer
        self.unlogged = unlogged

    def collect(self) -> Iterator[Metric]:
        writer = self.writer
        refused = CounterMetricFamily(
            "hub_exchanges_unlogged",
            "Exchanges refused with Server.LoggingFailed: the transaction log could not take "
            "their record, so they are in no other series.",
        )
        refused.add_metric([], self.unlogged())
        yield refused
        failed = CounterMetricFamily(
            "hub_log_failed_batches", "Group commits of the transaction log that failed."
        )
        failed.add_metric([], writer.failed_batches)
        yield failed
        failing = writer.refusal(time.perf_counter()) is not None or not writer.linked
        yield GaugeMetricFamily(
            "hub_log_failing",
            "1 while this worker refuses exchanges because its log cannot take them (the last "
            "write failed, a commit is stuck, or the log writer is out of reach), else 0.",
            value=int(failing),
        )


class _Sums:
    """One (service, fault code[, client], provider) series: exchanges and failures."""

    __slots__ = ("exchanges", "failed")

    def __init__(self) -> None:
        self.exchanges = 0
        self.failed = 0


class _Latencies:
    """One (service[, client], provider) series: bytes and three latency histograms."""

    __slots__ = ("request_bytes", "response_bytes", "total", "upstream", "added")

    def __init__(self) -> None:
        self.request_bytes = 0
        self.response_bytes = 0
        # Per histogram: a count per bucket (the last one past the largest bound), then
        # the sum in the last place.
        self.total = [0.0] * (len(LATENCY_BUCKETS) + 2)
        self.upstream = [0.0] * (len(LATENCY_BUCKETS) + 2)
        self.added = [0.0] * (len(LATENCY_BUCKETS) + 2)


class ExchangeCollector(Collector):
    """The per-exchange series, kept in plain Python and turned into metrics on a scrape.

    prometheus_client's own Counter and Histogram take a lock and check the value on
    every update; for the seven updates of each exchange that was 4.6 % of a hub
    worker's CPU samples (py-spy, bench/profile_notes.md, fourth round). The gateway
    observes from the event loop's thread alone, and /metrics is read from the same
    loop, so no lock is needed. The exposition is the same as before, without the
    ``_created`` samples: series appear once something was counted in them (a failure
    counter at the first failure, an upstream histogram at the first forwarded call).
    """

    def __init__(self, *, with_client: bool, known: RegistryCache | None = None) -> None:
        self.with_client = with_client
        self.known = known
        self.sums: dict[tuple[str, str, str, str], _Sums] = {}
        self.latencies: dict[tuple[str, str, str], _Latencies] = {}

    def observe(self, record: dict[str, Any]) -> None:
        """Count one committed exchange.

        Labels are registered ids, else "-": a refused caller's own X-Road-Client and the
        service its path names are anything it likes, and each new pair was a new series
        (200 refused requests grew /metrics from 55 KB to 849 KB).
        """
        service = record["service"] or "-"
        client = (record["client"] or "-") if self.with_client else ""
        # The provider label of a service counted as "-"; "" when it is made from the service
        # label on a scrape (a known service: the success path does nothing more here).
        owner = ""
        if self.known is not None:
            snap = self.known.snapshot
            if service not in snap.services:
                provider, _, code = service.rpartition("/")
                if code not in METASERVICES or provider not in snap.subsystems:
                    service = "-"
            if client and client not in snap.subsystems:
                client = "-"
            if service == "-":
                # An unknown service of a registered provider: the API counts it under that
                # provider (its record names it), and so does /metrics, or the two disagreed
                # on the provider's traffic. Providers are registered: no new series from it.
                owner = record["provider"] or ""
                if owner not in snap.subsystems:
                    owner = ""
        key = (service, record["fault_code"] or "none", client, owner)
        sums = self.sums.get(key)
        if sums is None:
            sums = self.sums[key] = _Sums()
        sums.exchanges += 1
        if not record["succeeded"]:
            sums.failed += 1
        lat = self.latencies.get((service, client, owner))
        if lat is None:
            lat = self.latencies[(service, client, owner)] = _Latencies()
        lat.request_bytes += record["request_bytes"]
        lat.response_bytes += record["response_bytes"]
        _observe(lat.total, record["total_ms"] / 1000)
        if record["upstream_ms"] is not None:
            _observe(lat.upstream, record["upstream_ms"] / 1000)
        _observe(lat.added, record["hub_ms"] / 1000)

    def describe(self) -> Iterator[Metric]:
        return iter(self._families())

    def collect(self) -> Iterator[Metric]:
        families = self._families()
        for (service, fault, client, owner), sums in list(self.sums.items()):
            provider = owner or _provider(service)
            values = [service, provider, fault] + ([client] if self.with_client else [])
            families[0].add_metric(values, sums.exchanges)
            if sums.failed:
                families[1].add_metric(values, sums.failed)
        for (service, client, owner), lat in list(self.latencies.items()):
            values = [service, owner or _provider(service)] + ([client] if self.with_client else [])
            families[2].add_metric(values, lat.request_bytes)
            families[3].add_metric(values, lat.response_bytes)
            for family, hist in zip(
                families[4:], (lat.total, lat.upstream, lat.added), strict=True
            ):
                if any(hist[:-1]):
                    family.add_metric(values, _cumulative(hist), hist[-1])
        return iter(families)

    def _families(self) -> list[Any]:
        labels = ["service", "provider", "fault_code"] + (["client"] if self.with_client else [])
        lat_labels = ["service", "provider"] + (["client"] if self.with_client else [])
        return [
            CounterMetricFamily(
                "hub_exchanges",
                "Exchanges logged, by service, provider and fault code (none: no fault).",
                labels=labels,
            ),
            CounterMetricFamily(
                "hub_exchanges_failed", "Exchanges that did not succeed.", labels=labels
            ),
            CounterMetricFamily(
                "hub_request_bytes", "Request body bytes received.", labels=lat_labels
            ),
            CounterMetricFamily(
                "hub_response_bytes", "Response body bytes sent.", labels=lat_labels
            ),
            HistogramMetricFamily(
                "hub_exchange_duration_seconds",
                "Whole exchange as the hub measured it.",
                labels=lat_labels,
            ),
            HistogramMetricFamily(
                "hub_upstream_duration_seconds",
                "Time spent waiting for the provider.",
                labels=lat_labels,
            ),
            HistogramMetricFamily(
                "hub_added_duration_seconds",
                "Time the hub itself added to the exchange.",
                labels=lat_labels,
            ),
        ]


def _provider(service: str) -> str:
    """The provider subsystem of a service id (its first four parts), "-" for none. Made on
    a scrape from the service label, so the gateway's path counts nothing more."""
    return service.rpartition("/")[0] or "-"


def _observe(hist: list[float], value: float) -> None:
    # Bucket i counts values at most LATENCY_BUCKETS[i] ("le"); past the last, +Inf.
    hist[bisect_left(LATENCY_BUCKETS, value)] += 1
    hist[-1] += value


def _cumulative(hist: list[float]) -> list[tuple[str, float]]:
    out, running = [], 0.0
    for bound, n in zip((*map(str, LATENCY_BUCKETS), "+Inf"), hist[:-1], strict=True):
        running += n
        out.append((bound, running))
    return out
