"""Synthetic past traffic for demos and benchmarks, logged like live traffic.

The mix follows NDXP's public figures (DOMAIN.md): identity verification dominates, traffic
peaks on weekday office hours in Asia/Ho_Chi_Minh, and a few percent fail (no data, denied,
rate-limited, provider down or slow). Records go through the same chain (``append``) and
rollup code (``rollup.add_records``) as the log writer's, in large transactions, so
``hub audit verify`` and the statistics treat them like any other records.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from hub.core.security import pseudonym
from hub.stats import rollup
from hub.stats import timeutil as tu
from hub.txlog.repository import append
from hub.txlog.signing import Signer

POP = "VN/GOV/BCA/population"
BUS = "VN/GOV/BTC/business-registry"
LAND = "VN/GOV/BNNMT/land-registry"
INS = "VN/GOV/BHXH/health-insurance"
CIVIL = "VN/GOV/BTP/civil-status"
SOCIAL = "VN/GOV/BHXH/social-insurance"
PORTAL = "VN/LOC/79/one-stop-portal"
BANK = "VN/COM/0101234565/ekyc"


@dataclass(frozen=True, slots=True)
class Flow:
    """One kind of exchange and its share of the traffic."""

    client: str
    service: str
    weight: float
    method: str
    path: str  # "{id}" is a personal identifier, pseudonymised as the gateway would
    personal: bool
    request_bytes: int
    response_bytes: int
    median_ms: float


MIX = (
    Flow(BANK, f"{POP}/citizen-verify", 34, "POST", "/citizens/verify", True, 96, 16, 18),
    Flow(SOCIAL, f"{POP}/citizen-verify", 14, "POST", "/citizens/verify", True, 96, 16, 18),
    Flow(PORTAL, f"{POP}/citizen-verify", 10, "POST", "/citizens/verify", True, 96, 16, 18),
    Flow(BUS, f"{POP}/citizen-verify", 6, "POST", "/citizens/verify", True, 96, 16, 20),
    Flow(LAND, f"{POP}/citizen-verify", 4, "POST", "/citizens/verify", True, 96, 16, 20),
    Flow(CIVIL, f"{POP}/citizen-lookup", 7, "GET", "/citizens/{id}", True, 0, 820, 25),
    Flow(SOCIAL, f"{POP}/citizen-lookup", 4, "GET", "/citizens/{id}", True, 0, 820, 25),
    Flow(PORTAL, f"{POP}/citizen-lookup", 3, "GET", "/citizens/{id}", True, 0, 820, 25),
    Flow(BANK, f"{POP}/citizen-search", 2, "GET", "/citizens?province=79&limit=10", True, 0,
         4200, 60),
    Flow(CIVIL, f"{POP}/birth-registration", 1.5, "POST", "/births", True, 640, 410, 90),
    Flow(CIVIL, f"{POP}/death-registration", 0.5, "POST", "/deaths", True, 420, 300, 80),
    Flow(CIVIL, f"{INS}/card-issue", 1.5, "POST", "/cards", True, 380, 350, 70),
    Flow(SOCIAL, f"{INS}/card-lookup", 3, "GET", "/cards/{id}", True, 0, 520, 30),
    Flow(PORTAL, f"{BUS}/enterprise-lookup", 3, "GET", "/enterprises/0312345678", False, 0,
         1100, 35),
    Flow(LAND, f"{BUS}/enterprise-lookup", 1, "GET", "/enterprises/0312345678", False, 0, 1100,
         35),
    Flow(PORTAL, f"{BUS}/enterprise-registration", 0.7, "POST", "/enterprises", False, 1500,
         900, 150),
    Flow(PORTAL, f"{LAND}/parcel-lookup", 2, "GET", "/parcels/w3gv2c7y8m1q", False, 0, 1400, 45),
    Flow(PORTAL, f"{LAND}/certificate-verify", 1.5, "POST", "/certificates/verify", False, 120,
         40, 40),
    Flow(PORTAL, f"{LAND}/land-transfer", 0.3, "POST", "/transfers", True, 2100, 700, 220),
)  # fmt: skip
# (share, status, fault, upstream reached) of the exchanges that do not succeed.
FAILURES = (
    (0.35, 404, None, True),  # the provider has no such record
    (0.15, 403, "Client.AccessDenied", False),
    (0.08, 400, "Client.MissingPurpose", False),
    (0.07, 401, "Client.Unauthorized", False),
    (0.12, 429, "Client.RateLimited", False),
    (0.13, 502, "Server.ServiceFailed", True),
    (0.10, 504, "Server.ServiceTimeout", True),
)
FAILURE_SHARE = 0.03
# Relative traffic per local hour of a working day, and per weekday (Mon..Sun).
HOURLY = (1, 0.6, 0.4, 0.4, 0.5, 1, 3, 8, 14, 16, 15, 12, 7, 9, 15, 16, 14, 10, 5, 3, 2.5, 2,
          1.6, 1.2)  # fmt: skip
WEEKDAY = (1.0, 1.0, 1.0, 0.98, 0.95, 0.35, 0.18)


def slots(
    records: int, days: int, end: datetime, tz: str, rng: random.Random
) -> list[tuple[datetime, int]]:
    """(UTC hour start, records in it) for every local hour of the last ``days`` days."""
    zone = tu.zone(tz)
    stop = tu.floor_local(end, "hour", zone)
    start = stop - timedelta(days=days)
    hours, weights = [], []
    t = start
    while t < stop:
        local = tu.to_local(t, zone)
        # A slow growth across the range, so month-over-month growth shows a rise.
        trend = 0.8 + 0.4 * (t - start) / (stop - start)
        noise = rng.uniform(0.85, 1.15)
        hours.append(t)
        weights.append(HOURLY[local.hour] * WEEKDAY[local.weekday()] * trend * noise)
        t += timedelta(hours=1)
    scale = records / sum(weights)
    counts = [int(w * scale) for w in weights]
    # Hand out what rounding dropped, largest remainders first, so the total is exact.
    missing = records - sum(counts)
    order = sorted(range(len(weights)), key=lambda i: counts[i] - weights[i] * scale)
    for i in order[:missing]:
        counts[i] += 1
    return list(zip(hours, counts, strict=True))


class Generator:
    """Makes the records of one hour; deterministic for a seed, except the request ids."""

    def __init__(self, secret: str, seed: int) -> None:
        self.rng = random.Random(seed)
        self.nonce = os.urandom(4).hex()  # two runs over the same hours never clash
        self.counter = 0
        self.cum = []
        acc = 0.0
        for flow in MIX:
            acc += flow.weight
            self.cum.append(acc)
        self.fail_cum = []
        acc = 0.0
        for share, *_ in FAILURES:
            acc += share
            self.fail_cum.append(acc)
        ids = [f"0{self.rng.randint(1, 96):02d}{self.rng.randint(0, 3)}"
               f"{self.rng.randint(0, 99):02d}{self.rng.randint(0, 999999):06d}"
               for _ in range(2000)]  # fmt: skip
        self.pseudonyms = [pseudonym(secret, cid) for cid in ids]

    def hour(self, start: datetime, n: int) -> list[dict[str, Any]]:
        rng = self.rng
        offsets = sorted(rng.random() * 3600 for _ in range(n))
        flows = rng.choices(MIX, cum_weights=self.cum, k=n)
        out = []
        for offset, flow in zip(offsets, flows, strict=True):
            out.append(self._record(start + timedelta(seconds=offset), flow))
        return out

    def _record(self, started: datetime, flow: Flow) -> dict[str, Any]:
        rng = self.rng
        self.counter += 1
        rid = f"{int(started.timestamp() * 1e6):015x}{self.nonce}{self.counter:09x}"
        status, fault, reached = 200, None, True
        if rng.random() < FAILURE_SHARE:
            _, status, fault, reached = rng.choices(FAILURES, cum_weights=self.fail_cum)[0]
        hub_ms = rng.lognormvariate(0.2, 0.5)  # about 1.2 ms
        upstream = rng.lognormvariate(0, 0.55) * flow.median_ms if reached else None
        if fault == "Server.ServiceTimeout":
            upstream = 10_000.0
        path = flow.path
        if "{id}" in path:
            path = path.replace("{id}", rng.choice(self.pseudonyms))
        ok = status < 400
        body = flow.request_bytes
        return {
            "id": rid,
            "request_id": rid,
            "client": flow.client,
            "service": flow.service,
            "provider": flow.service.rsplit("/", 1)[0],
            "method": flow.method,
            "path": path,
            "user_id": f"officer-{rng.randint(1, 400):03d}" if flow.personal else None,
            "issue": f"HS-{rng.randint(1, 99999):05d}" if flow.personal else None,
            "status_code": status,
            "succeeded": ok,
            "fault_code": fault,
            "request_bytes": body,
            "response_bytes": flow.response_bytes if ok else 120,
            "started_at": started,
            "total_ms": round(hub_ms + (upstream or 0.0), 3),
            "upstream_ms": round(upstream, 3) if upstream is not None else None,
            "hub_ms": round(hub_ms, 3),
            "request_hash": None,
            "response_hash": None,
            "request_body": None,
            "response_body": None,
        }


def batches(
    records: int, days: int, *, secret: str, seed: int, tz: str, end: datetime, size: int
) -> Iterator[list[dict[str, Any]]]:
    """The records, oldest first, in lists of about ``size``."""
    gen = Generator(secret, seed)
    pending: list[dict[str, Any]] = []
    for start, n in slots(records, days, end, tz, gen.rng):
        pending.extend(gen.hour(start, n))
        while len(pending) >= size:
            yield pending[:size]
            pending = pending[size:]
    if pending:
        yield pending


@dataclass
class LoadReport:
    records: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


async def load(
    engine: AsyncEngine,
    *,
    records: int,
    days: int,
    secret: str,
    seed: int = 1,
    tz: str = "Asia/Ho_Chi_Minh",
    end: datetime | None = None,
    signer: Signer | None = None,
    batch_size: int = 20_000,
    progress: Callable[[int], None] | None = None,
) -> LoadReport:
    """Append ``records`` synthetic exchanges spread over the ``days`` before ``end``."""
    t0 = time.perf_counter()
    done = 0
    lock = engine.dialect.name == "postgresql"
    for batch in batches(
        records, days, secret=secret, seed=seed, tz=tz, end=end or tu.utcnow(), size=batch_size
    ):
        async with engine.begin() as conn:
            await append(conn, batch, signer=signer, lock=lock)
            await rollup.add_records(conn, batch)
        done += len(batch)
        if progress is not None:
            progress(len(batch))
    return LoadReport(done, time.perf_counter() - t0)
