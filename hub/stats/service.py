"""Operator statistics from the rollups: summary, matrix and top (hub/stats/series.py has
the time series and growth; hub/stats/common.py the ranges and filters they share).

Each function takes a connection (or session) and the raw parameters as the API and the CLI
receive them, so both answer the same. Counts are exact (hub/stats/common.py says how).
Answers that list clients, services or providers name them (``names``) from a
``Directory`` of the registry: the API passes the hub's snapshot, the CLI reads one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hub.stats import names as directory_of
from hub.stats import repository as repo
from hub.stats import timeutil as tu
from hub.stats.common import GROUPS, add_sums, id_filters, mean_of, time_range, window_of
from hub.stats.histogram import percentiles
from hub.stats.names import Directory
from hub.stats.schemas import Cell, Matrix, Percentiles, Summary, Top, TopRow, Window
from hub.stats.series import growth, label_of, timeseries

__all__ = ["growth", "id_filters", "label_of", "matrix", "summary", "timeseries", "top"]


async def summary(
    conn: repo.Conn,
    *,
    tz: str,
    since: str | None = None,
    until: str | None = None,
    client: str | None = None,
    service: str | None = None,
    provider: str | None = None,
    now: datetime | None = None,
    minute_horizon: datetime | None = None,
) -> Summary:
    """Totals, faults, bytes and latency percentiles of the exchanges in a range."""
    zone = tu.zone(tz)
    start, end = time_range(since, until, zone, now)
    first = start or tu.EPOCH
    filters = id_filters(client, service, provider)
    rows = await repo.count_sums(
        conn,
        tu.exact_cover(first, end, minute_horizon),
        group=("status_code", "fault_code"),
        filters=filters,
    )
    by_status: dict[str, int] = {}
    by_fault: dict[str, int] = {}
    provider_failed: dict[str, int] = {}
    acc: dict[Any, list[float]] = {}
    for row in rows:
        add_sums(acc, None, row)
        values = row._mapping
        n = int(values["count"])
        by_status[str(row.status_code)] = by_status.get(str(row.status_code), 0) + n
        if row.fault_code:
            by_fault[row.fault_code] = by_fault.get(row.fault_code, 0) + n
        elif n - int(values["succeeded"] or 0):
            # The provider's own failure (a 404 "no data", its 500): no hub fault code, and
            # a third of the failures on synthetic traffic, missing from every breakdown.
            key = str(row.status_code)
            provider_failed[key] = provider_failed.get(key, 0) + n - int(values["succeeded"])
    total, succeeded, req, resp, total_ms, hub_ms = acc.get(None, [0, 0, 0, 0, 0.0, 0.0])
    # Whole hours from the hourly and daily histograms; the parts of an hour at the edges
    # binned from the log, so the percentiles are of this range, within the bins' 4.4 %.
    hours, edges = tu.hour_split(first, end)
    bins_total, bins_hub = await repo.latency_bins(conn, hours, filters=filters)
    await repo.log_latency_bins(conn, edges, filters=filters, total=bins_total, hub=bins_hub)
    return Summary(
        **window_of(start, end, zone),
        total=int(total),
        succeeded=int(succeeded),
        failed=int(total - succeeded),
        by_fault=dict(sorted(by_fault.items(), key=lambda kv: (-kv[1], kv[0]))),
        by_status=dict(sorted(by_status.items())),
        provider_failed=dict(sorted(provider_failed.items())),
        request_bytes=int(req),
        response_bytes=int(resp),
        latency_ms=Percentiles(**percentiles(bins_total), mean=mean_of(total_ms, total)),
        hub_ms=Percentiles(**percentiles(bins_hub), mean=mean_of(hub_ms, total)),
        latency_window=Window(**window_of(start, end, zone)),
    )


async def _grouped(
    conn: repo.Conn,
    group: tuple[str, ...],
    *,
    tz: str,
    since: str | None,
    until: str | None,
    filters: dict[str, Any],
    now: datetime | None,
    minute_horizon: datetime | None = None,
) -> tuple[dict[Any, list[float]], dict[str, Any]]:
    zone = tu.zone(tz)
    start, end = time_range(since, until, zone, now)
    rows = await repo.count_sums(
        conn, tu.exact_cover(start or tu.EPOCH, end, minute_horizon), group=group, filters=filters
    )
    acc: dict[Any, list[float]] = {}
    for row in rows:
        add_sums(acc, tuple(getattr(row, g) for g in group), row)
    return acc, window_of(start, end, zone)


async def matrix(
    conn: repo.Conn,
    *,
    tz: str,
    since: str | None = None,
    until: str | None = None,
    now: datetime | None = None,
    minute_horizon: datetime | None = None,
    directory: Directory | None = None,
) -> Matrix:
    """Who shared with whom: exchanges per (client, provider)."""
    acc, window = await _grouped(
        conn, ("client", "provider"), tz=tz, since=since, until=until, filters={}, now=now,
        minute_horizon=minute_horizon,
    )  # fmt: skip
    cells = [
        Cell(client=c, provider=p, count=int(v[0]), succeeded=int(v[1]), failed=int(v[0] - v[1]))
        for (c, p), v in sorted(acc.items())
    ]
    clients = sorted({c.client for c in cells})
    providers = sorted({c.provider for c in cells})
    return Matrix(
        **window,
        clients=clients,
        providers=providers,
        cells=cells,
        total=sum(c.count for c in cells),
        names=await directory_of.names(conn, directory, [*clients, *providers]),
    )


async def top(
    conn: repo.Conn,
    *,
    tz: str,
    by: str = "service",
    limit: int = 10,
    since: str | None = None,
    until: str | None = None,
    client: str | None = None,
    service: str | None = None,
    provider: str | None = None,
    now: datetime | None = None,
    minute_horizon: datetime | None = None,
    directory: Directory | None = None,
) -> Top:
    """The busiest clients, services or providers in a range."""
    if by not in GROUPS:
        raise tu.bad("by", f"must be one of {', '.join(GROUPS)}; got {by!r}")
    acc, window = await _grouped(
        conn,
        (by,),
        tz=tz,
        since=since,
        until=until,
        filters=id_filters(client, service, provider),
        now=now,
        minute_horizon=minute_horizon,
    )
    grand = sum(v[0] for v in acc.values()) or 1
    ranked = sorted(acc.items(), key=lambda kv: (-kv[1][0], kv[0]))[: max(limit, 0)]
    rows = [
        TopRow(
            key=k[0],
            count=int(v[0]),
            succeeded=int(v[1]),
            failed=int(v[0] - v[1]),
            share=round(v[0] / grand, 4),
            request_bytes=int(v[2]),
            response_bytes=int(v[3]),
        )
        for k, v in ranked
    ]
    named = await directory_of.names(conn, directory, [r.key for r in rows])
    return Top(**window, by=by, rows=rows, names=named)
