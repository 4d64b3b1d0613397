"""Active health checks of every registered provider, on an interval.

Each provider subsystem with a base URL gets ``GET {base_url}/__health``; any HTTP answer
below 500 means the provider is reachable (a provider without that endpoint answers 404,
which still proves it is up). Passive error rates come from the rollups instead
(``hub.stats.repository.provider_errors``), so every worker sees the same figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker

from hub.registry.cache import RegistryCache
from hub.stats import repository as repo
from hub.stats.names import Directory
from hub.stats.schemas import HealthReport, ProviderHealth
from hub.stats.timeutil import iso_utc

log = logging.getLogger(__name__)
CHECK_TIMEOUT_S = 3.0


@dataclass(slots=True)
class Check:
    """The last active check of one provider."""

    reachable: bool
    status: int | None
    latency_ms: float | None
    error: str | None
    checked_at: datetime


class HealthMonitor:
    """Checks providers every ``interval_s`` seconds; ``results`` holds the last answers."""

    def __init__(self, registry: RegistryCache, *, interval_s: float) -> None:
        self.registry = registry
        self.interval_s = interval_s
        self.results: dict[str, Check] = {}
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    def providers(self) -> dict[str, str]:
        """Provider subsystem id -> base URL, for every enabled subsystem with a base URL."""
        snap = self.registry.snapshot
        providers = {s.provider for s in snap.services.values()}
        return {
            sid: url
            for sid, (_name, url, enabled) in snap.subsystems.items()
            if url and enabled and sid in providers
        }

    async def start(self) -> None:
        self._client = _new_client()
        self._task = asyncio.create_task(self._loop(), name="provider-health")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._client is not None:
            await self._client.aclose()

    async def _loop(self) -> None:
        while True:
            try:
                await self.check_all()
            except Exception:  # a check must never end the loop
                log.exception("provider health checks failed")
            await asyncio.sleep(self.interval_s)

    async def check_all(self) -> None:
        if self._client is None:  # a monitor never started (`hub stats health --check`)
            async with _new_client() as client:
                await self._check_all(client)
        else:
            await self._check_all(self._client)

    async def _check_all(self, client: httpx.AsyncClient) -> None:
        providers = self.providers()
        checks = (self._check(url, client) for url in providers.values())
        results = await asyncio.gather(*checks)
        self.results = dict(zip(providers, results, strict=True))

    async def _check(self, base_url: str, client: httpx.AsyncClient | None = None) -> Check:
        if client is None:
            async with _new_client() as own:
                return await self._check(base_url, own)
        t0 = time.perf_counter()
        now = datetime.now(UTC).replace(tzinfo=None)
        try:
            resp = await client.get(base_url.rstrip("/") + "/__health")
        except httpx.HTTPError as exc:
            return Check(False, None, None, f"{type(exc).__name__}: {exc}"[:200], now)
        ms = round((time.perf_counter() - t0) * 1000, 3)
        ok = resp.status_code < 500
        return Check(ok, resp.status_code, ms, None if ok else f"HTTP {resp.status_code}", now)


def _new_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=CHECK_TIMEOUT_S, follow_redirects=False)


async def read(
    conn: AsyncConnection, *, interval_s: float, window_minutes: int = 15, check: bool = False
) -> HealthReport:
    """The report of a process that serves nothing (the CLI): the registry read from the
    database, each provider checked now if ``check`` (else ``reachable`` is null, as before
    a hub's first check), and no breaker, whose circuits only the serving hub holds."""
    registry = RegistryCache(async_sessionmaker(bind=conn, expire_on_commit=False))
    await registry.refresh(force=True)
    monitor = HealthMonitor(registry, interval_s=interval_s)
    if check:
        await monitor.check_all()
    return await report(conn, monitor, None, window_minutes=window_minutes)


async def report(
    conn: Any,
    monitor: HealthMonitor,
    breaker: Any,
    *,
    window_minutes: int = 15,
    others: list[dict[str, str]] | None = None,
) -> HealthReport:
    """Every provider's last active check, passive error rate (its own errors), and circuit
    state; ``others``: the circuit states of the other workers of ``hub serve --workers N``."""
    since = datetime.now(UTC).replace(tzinfo=None, second=0, microsecond=0) - timedelta(
        minutes=window_minutes
    )
    passive = await repo.provider_errors(conn, since)
    providers = monitor.providers()
    rows = []
    for pid in sorted(set(providers) | set(monitor.results)):
        check = monitor.results.get(pid)
        n, errors = passive.get(pid, (0, 0))
        rows.append(
            ProviderHealth(
                provider=pid,
                base_url=providers.get(pid),
                reachable=check.reachable if check else None,
                status=check.status if check else None,
                check_ms=check.latency_ms if check else None,
                checked_at=iso_utc(check.checked_at) if check else None,
                error=check.error if check else None,
                exchanges=n,
                errors=errors,
                error_rate=round(errors / n, 4) if n else None,
                **_circuits(_circuit(breaker, pid), pid, others),
            )
        )
    registered = [r for r in rows if r.base_url]
    reachable = sum(1 for r in registered if r.reachable)
    return HealthReport(
        providers=rows,
        registered=len(registered),
        reachable=reachable,
        connection_rate=round(reachable / len(registered), 4) if registered else None,
        window_minutes=window_minutes,
        interval_s=monitor.interval_s,
        names=Directory(monitor.registry.snapshot).pick(r.provider for r in rows),
    )


# Which state a provider is shown in when the workers differ: the one that refuses most.
_WORST = {"open": 0, "half_open": 1, "unknown": 2, "closed": 3, "n/a": 4}


def _circuits(own: str, provider: str, others: list[dict[str, str]] | None) -> dict[str, Any]:
    """The circuit fields of one provider: each worker has its own breaker, and the page
    showed the state of whichever worker answered (open, closed, open on reloads)."""
    if not others:
        return {"circuit": own}
    # A worker whose breaker never saw the provider holds no circuit for it: closed.
    states = [own] + [o.get(provider, "closed" if own != "n/a" else "n/a") for o in others]
    counts = dict.fromkeys(sorted(set(states), key=lambda s: _WORST.get(s, 2)), 0)
    for state in states:
        counts[state] += 1
    return {"circuit": next(iter(counts)), "circuit_workers": counts}


def _circuit(breaker: Any, provider: str) -> str:
    if breaker is None:
        return "n/a"
    try:
        return str(breaker.state(provider))
    except Exception:  # the breaker's own bug must not break the health page
        log.exception("circuit state of %s unavailable", provider)
        return "unknown"
