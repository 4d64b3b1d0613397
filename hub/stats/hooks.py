"""How statistics hook into a running hub: rollups in the log writer, metrics, health."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from hub.stats import rollup
from hub.stats.health import HealthMonitor
from hub.stats.metrics import Metrics
from hub.stats.offload import QueryThread
from hub.stats.retention import MinutePruner
from hub.stats.shared import SharedMetrics
from hub.txlog.writer import LogWriter

if TYPE_CHECKING:
    from hub.app import HubState


def install(state: HubState) -> None:
    """Fold the log into the rollups, feed /metrics, watch the providers, answer queries."""
    if isinstance(state.writer, LogWriter):
        # (A log writer process runs the same hook itself: hub/txlog/service.py.)
        state.writer.hooks.append(rollup.Folder())
    gateway = state.gateway
    metrics = Metrics(state.settings, state.writer, state.registry, lambda: gateway.unlogged)
    state.gateway.observers.append(metrics.observe)
    state.extras["metrics"] = metrics
    if (link := state.extras.get("workers")) is not None:
        shared = metrics.shared = SharedMetrics(link, metrics.registry)
        state.on_shutdown.append(shared.stop)

        async def circuits() -> bytes:
            """This worker's circuit states, for the health page another worker answers."""
            breaker = state.extras.get("breaker")
            return json.dumps(breaker.states() if breaker is not None else {}).encode()

        link.handlers["circuits"] = circuits
    monitor = HealthMonitor(state.registry, interval_s=state.settings.health_interval_s)
    state.extras["health"] = monitor
    state.extras.setdefault("on_startup", []).append(monitor.start)
    state.on_shutdown.append(monitor.stop)
    pruner = MinutePruner(state.engine, days=state.settings.minute_rollup_days)
    state.extras["minute_pruner"] = pruner
    state.extras["on_startup"].append(pruner.start)
    state.on_shutdown.append(pruner.stop)
    queries = QueryThread(state.settings.database_url)
    state.extras["queries"] = queries
    state.extras["on_startup"].append(queries.start)
    state.on_shutdown.append(queries.stop)
