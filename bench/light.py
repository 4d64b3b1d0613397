"""Hub-added latency at a light, steady load: one client, one connection, a fixed rate.

Reads the hub's own ``X-Hub-Latency`` header (time the hub added, provider time excluded)
and the round trip the client saw, so the header can be checked against the wire.
"""

from __future__ import annotations

import http.client
import math
import time
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass
class LightResult:
    rate: float
    sent: int
    errors: int
    hub_ms: list[float]  # X-Hub-Latency, sorted
    upstream_ms: list[float]  # X-Hub-Upstream-Latency, sorted
    round_trip_ms: list[float]  # as the client saw it, sorted


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    # Nearest rank: the smallest value with at least p % of the values at or below it.
    index = min(len(sorted_values) - 1, max(0, math.ceil(p / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def run(url: str, headers: dict[str, str], *, rate: float, seconds: float) -> LightResult:
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=10)
    hub, upstream, trip = [], [], []
    errors = 0
    interval = 1.0 / rate
    count = int(rate * seconds)
    start = time.perf_counter()
    for i in range(count):
        # A fixed schedule, not "sleep after each": a slow answer does not lower the rate.
        delay = start + i * interval - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        t0 = time.perf_counter()
        conn.request("GET", path, headers=headers)
        answer = conn.getresponse()
        answer.read()
        trip.append((time.perf_counter() - t0) * 1000)
        if answer.status != 200:
            errors += 1
        if (value := answer.getheader("X-Hub-Latency")) is not None:
            hub.append(float(value))
        if (value := answer.getheader("X-Hub-Upstream-Latency")) is not None:
            upstream.append(float(value))
    elapsed = time.perf_counter() - start
    conn.close()
    return LightResult(count / elapsed, count, errors, sorted(hub), sorted(upstream), sorted(trip))
