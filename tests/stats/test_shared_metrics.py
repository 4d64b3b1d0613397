"""How the workers' /metrics are merged (hub/stats/shared.py) over their link
(hub/core/workers.py); end to end with two workers: tests/reliability/test_worker_metrics.py."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.parser import text_string_to_metric_families

from hub.core.workers import WorkerLink
from hub.stats import shared


def _registry(records: int, depth: int, commits: list[float]) -> CollectorRegistry:
    r = CollectorRegistry()
    Counter("hub_log_records", "Records.", registry=r).inc(records)
    Gauge("hub_log_queue_depth", "Waiting.", registry=r).set(depth)
    h = Histogram("hub_log_commit_seconds", "Commits.", buckets=(0.01, 0.1), registry=r)
    for s in commits:
        h.observe(s)
    return r


def _values(text: bytes) -> dict[str, float]:
    return {
        s.name + "".join(f"{{{k}={v}}}" for k, v in sorted(s.labels.items())): s.value
        for family in text_string_to_metric_families(text.decode())
        for s in family.samples
    }


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], **OUT)
    return int(proc.stdout)


OUT = {"capture_output": True, "text": True, "check": True}


def _worker(tmp_path: Path, registry: CollectorRegistry, pid: int) -> shared.SharedMetrics:
    """A worker's metrics on the link in ``tmp_path``, as if of process ``pid``."""
    link = WorkerLink(str(tmp_path))
    link.pid, link.socket = pid, tmp_path / f"{pid}.sock"
    return shared.SharedMetrics(link, registry)


async def test_counters_and_histograms_add_up_and_a_stopped_workers_gauge_drops(
    tmp_path: Path,
) -> None:
    mine = shared.SharedMetrics(WorkerLink(str(tmp_path)), _registry(5, 3, [0.005, 0.05]))
    live = _worker(tmp_path, _registry(7, 2, [0.5]), os.getppid())  # a process that runs
    stopped = _worker(tmp_path, _registry(11, 9, [0.005]), _dead_pid())
    await live.link.start()
    await stopped.stop()  # what a worker leaves when it stops
    try:
        got = _values(await mine.render())
    finally:
        await live.link.stop()
    assert got["hub_log_records_total"] == 5 + 7 + 11  # a stopped worker's still count
    assert got["hub_log_queue_depth"] == 3 + 2  # what waits now: the workers running
    assert got["hub_log_commit_seconds_count"] == 4
    assert got["hub_log_commit_seconds_bucket{le=0.01}"] == 2
    assert got["hub_log_commit_seconds_bucket{le=0.1}"] == 3
    assert got["hub_log_commit_seconds_bucket{le=+Inf}"] == 4
    assert got["hub_log_commit_seconds_sum"] == pytest.approx(0.56)
    # When the series began: the earliest of the three, not their sum.
    first = _values(shared.generate_latest(mine.registry))["hub_log_records_created"]
    assert got["hub_log_records_created"] == first


async def test_a_series_only_another_worker_has_is_shown(tmp_path: Path) -> None:
    r = CollectorRegistry()
    c = Counter("hub_things", "Things.", ["service"], registry=r)
    c.labels("a").inc()
    mine = shared.SharedMetrics(WorkerLink(str(tmp_path)), r)
    other_r = CollectorRegistry()
    Counter("hub_things", "Things.", ["service"], registry=other_r).labels("b").inc(4)
    other = _worker(tmp_path, other_r, os.getppid())
    await other.link.start()
    try:
        c.labels("a").inc(2)
        got = _values(await mine.render())
    finally:
        await other.link.stop()
    assert got["hub_things_total{service=a}"] == 3
    assert got["hub_things_total{service=b}"] == 4


async def test_a_crashed_workers_socket_is_cleared_and_the_scrape_still_answers(
    tmp_path: Path,
) -> None:
    r = CollectorRegistry()
    Counter("hub_things", "Things.", registry=r).inc(2)
    mine = shared.SharedMetrics(WorkerLink(str(tmp_path)), r)
    crashed = tmp_path / f"{_dead_pid()}.sock"
    crashed.touch()  # what a killed worker leaves: nobody listens there
    assert _values(await mine.render())["hub_things_total"] == 2
    assert not crashed.exists()
