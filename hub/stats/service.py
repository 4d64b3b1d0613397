"""Operator statistics from the rollups: summary, time series, matrix, top, growth, health.

Each function takes a connection (or session) and the raw parameters as the API and the CLI
receive them, so both answer the same. Counts are exact: a range is read as whole days,
hours and minutes of the rollups (``timeutil.cover``), and what lies outside whole minutes
(its edges, to the microsecond) and the minutes before the minute rows' retention horizon
are counted from the log itself (``timeutil.exact_cover``).
"""

from __future__ import annotations

import bisect
from datetime import datetime, timedelta
from typing import Any

from hub.core.ids import IdError, parse_service, parse_subsystem
from hub.stats import repository as repo
from hub.stats import timeutil as tu
from hub.stats.histogram import percentiles
from hub.stats.schemas import (
    Cell,
    Growth,
    Matrix,
    Percentiles,
    Period,
    Point,
    Summary,
    Timeseries,
    Top,
    TopRow,
    Window,
)
from hub.stats.timeutil import InputError

GROUPS = ("client", "service", "provider")
NONE = "none"  # the filter value of a client, service or provider not identified
MAX_BUCKETS = 10_000
DEFAULT_SPAN = {"minute": "60m", "hour": "24h", "day": "30d", "month": "12mo", "year": "5y"}
LABELS = {"minute": "%Y-%m-%dT%H:%M", "hour": "%Y-%m-%dT%H:00", "day": "%Y-%m-%d",
          "month": "%Y-%m", "year": "%Y"}  # fmt: skip


def _range(
    since: str | None, until: str | None, tz: Any, now: datetime | None
) -> tuple[datetime | None, datetime]:
    now = now or tu.utcnow()
    start = tu.parse_instant(since, tz, name="since", now=now) if since else None
    end = tu.parse_instant(until, tz, name="until", now=now) if until else now
    if start is not None and start >= end:
        raise tu.not_before(since, until)
    return start, end


def id_filters(client: str | None, service: str | None, provider: str | None) -> dict[str, Any]:
    """The client, service and provider a query is narrowed to, each a well-formed id or
    ``none``.

    A malformed one (client=VN/GOV, client=a b) matched nothing and answered zero: the log
    names only registered ids, or "" for a caller refused before it was identified (a
    missing or unknown key) and a service or provider that does not exist. ``none`` (as
    ``fault=none``; no id has that form) keeps those: the "(not identified)" of the tables
    and the dashboard could be seen but not listed. An empty value (?client=, a form's
    empty field) is no filter, as an empty since is.
    """
    found = {"client": client or None, "service": service or None, "provider": provider or None}
    for name, value in found.items():
        if value is None:
            continue
        if value.strip().lower() == NONE:
            found[name] = ""
            continue
        try:
            parse_service(value, name) if name == "service" else parse_subsystem(value, name)
        except IdError as exc:
            said = str(exc).removeprefix(f"{name} identifier ")
            unknown = f"{NONE} keeps the exchanges whose {name} was not identified"
            raise InputError(
                f"{name}={said} ({name}={unknown})", f"{tu.option(name)} {said} ({unknown})"
            ) from None
    return found


def _window(start: datetime | None, end: datetime, tz: Any) -> dict[str, Any]:
    return {"since": tu.iso_utc(start), "until": tu.iso_utc(end), "timezone": str(tz)}


def _add(acc: dict[Any, list[float]], key: Any, row: Any) -> None:
    sums = acc.setdefault(key, [0, 0, 0, 0, 0.0, 0.0])
    # PostgreSQL sums BIGINT into NUMERIC: back to int for counts, float for milliseconds.
    values = row._mapping  # Row.count is also tuple's count method: go by name
    for i, name in enumerate(repo.SUMS):
        value = values[name] or 0
        sums[i] += int(value) if i < 4 else float(value)


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
    start, end = _range(since, until, zone, now)
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
        _add(acc, None, row)
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
        **_window(start, end, zone),
        total=int(total),
        succeeded=int(succeeded),
        failed=int(total - succeeded),
        by_fault=dict(sorted(by_fault.items(), key=lambda kv: -kv[1])),
        by_status=dict(sorted(by_status.items())),
        provider_failed=dict(sorted(provider_failed.items())),
        request_bytes=int(req),
        response_bytes=int(resp),
        latency_ms=Percentiles(**percentiles(bins_total), mean=_mean(total_ms, total)),
        hub_ms=Percentiles(**percentiles(bins_hub), mean=_mean(hub_ms, total)),
        latency_window=Window(**_window(start, end, zone)),
    )


def _mean(total: float, n: float) -> float | None:
    return round(total / n, 3) if n else None


def _edges(
    bucket: str,
    since: str | None,
    until: str | None,
    zone: Any,
    now: datetime | None,
    *,
    name: str = "bucket",
) -> list[datetime]:
    """The edges of the local buckets of a range; ``name`` is the parameter that chose the
    bucket (growth's is ``period``), for the refusal of too many."""
    if bucket not in tu.BUCKETS:
        raise tu.bad("bucket", f"must be one of {', '.join(tu.BUCKETS)}; got {bucket!r}")
    start, end = _range(since or DEFAULT_SPAN[bucket], until, zone, now)
    assert start is not None
    # Refuse before building the edges: a year of minutes would take a while to list.
    approx = (end - start) / _BUCKET_LENGTH[bucket]
    if approx > MAX_BUCKETS:
        many = f"that range holds about {int(approx)} {bucket} {name}s; the limit is {MAX_BUCKETS}"
        raise InputError(
            f"{many}: use a coarser {name} or a shorter range",
            f"{many}: use a coarser {tu.option(name)} or a shorter range",
        )
    return tu.local_buckets(start, end, bucket, zone)


_BUCKET_LENGTH = {
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "month": timedelta(days=28),
    "year": timedelta(days=365),
}


async def _bucketed(
    conn: repo.Conn,
    edges: list[datetime],
    *,
    group: str | None,
    filters: dict[str, Any],
    horizon: datetime | None,
) -> list[dict[Any, list[float]]]:
    """Per output bucket (edges[i], edges[i+1]): group key -> sums."""
    ranges = tu.merge_covers([tu.cover(a, b, horizon) for a, b in tu.pairs(edges)])
    cols = ("bucket", group) if group else ("bucket",)
    rows = await repo.count_sums(conn, ranges, group=cols, filters=filters)
    out: list[dict[Any, list[float]]] = [{} for _ in range(len(edges) - 1)]
    for row in rows:
        index = bisect.bisect_right(edges, row.bucket) - 1
        if 0 <= index < len(out):
            _add(out[index], getattr(row, group) if group else None, row)
    return out


async def timeseries(
    conn: repo.Conn,
    *,
    tz: str,
    bucket: str = "hour",
    group_by: str | None = None,
    since: str | None = None,
    until: str | None = None,
    client: str | None = None,
    service: str | None = None,
    provider: str | None = None,
    now: datetime | None = None,
    minute_horizon: datetime | None = None,
) -> Timeseries:
    """Volume per local bucket, whole buckets only, optionally split by client/service/provider."""
    zone = tu.zone(tz)
    if group_by is not None and group_by not in GROUPS:
        raise tu.bad("group_by", f"must be one of {', '.join(GROUPS)}; got {group_by!r}")
    edges = _edges(bucket, since, until, zone, now)
    if bucket == "minute" and minute_horizon is not None and edges[0] < minute_horizon:
        days = (tu.utcnow() if now is None else now) - minute_horizon
        kept = f"minute buckets are kept for {max(days.days, 0)} days (HUB_MINUTE_ROLLUP_DAYS)"
        raise InputError(
            f"{kept}; use bucket=hour for older ranges",
            f"{kept}; use --bucket hour for older ranges",
        )
    buckets = await _bucketed(
        conn,
        edges,
        group=group_by,
        filters=id_filters(client, service, provider),
        horizon=minute_horizon,
    )
    key_totals: dict[str, int] = {}
    points = []
    for start, groups in zip(edges, buckets, strict=False):
        total = succeeded = req = resp = 0
        ms = 0.0
        for key, (n, ok, rq, rs, tms, _h) in groups.items():
            total, succeeded = total + int(n), succeeded + int(ok)
            req, resp, ms = req + int(rq), resp + int(rs), ms + tms
            if group_by:
                key_totals[key] = key_totals.get(key, 0) + int(n)
        points.append(
            Point(
                start=tu.iso_local(start, zone),
                label=label_of(start, bucket, zone),
                total=int(total),
                succeeded=int(succeeded),
                failed=int(total - succeeded),
                request_bytes=int(req),
                response_bytes=int(resp),
                mean_ms=_mean(ms, total),
                groups={k: int(v[0]) for k, v in groups.items()} if group_by else None,
            )
        )
    return Timeseries(
        **_window(edges[0], edges[-1], zone),
        bucket=bucket,
        group_by=group_by,
        keys=[k for k, _ in sorted(key_totals.items(), key=lambda kv: (-kv[1], kv[0]))],
        points=points,
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
    start, end = _range(since, until, zone, now)
    rows = await repo.count_sums(
        conn, tu.exact_cover(start or tu.EPOCH, end, minute_horizon), group=group, filters=filters
    )
    acc: dict[Any, list[float]] = {}
    for row in rows:
        _add(acc, tuple(getattr(row, g) for g in group), row)
    return acc, _window(start, end, zone)


async def matrix(
    conn: repo.Conn,
    *,
    tz: str,
    since: str | None = None,
    until: str | None = None,
    now: datetime | None = None,
    minute_horizon: datetime | None = None,
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
    return Matrix(
        **window,
        clients=sorted({c.client for c in cells}),
        providers=sorted({c.provider for c in cells}),
        cells=cells,
        total=sum(c.count for c in cells),
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
    return Top(**window, by=by, rows=rows)


async def growth(
    conn: repo.Conn,
    *,
    tz: str,
    period: str = "month",
    since: str | None = None,
    until: str | None = None,
    now: datetime | None = None,
    minute_horizon: datetime | None = None,
) -> Growth:
    """Each period's volume and its change against the period before (the first one too)."""
    if period not in ("day", "month", "year"):
        raise tu.bad("period", f"must be day, month or year; got {period!r}")
    zone = tu.zone(tz)
    edges = _edges(period, since, until, zone, now, name="period")
    before = tu.floor_local(edges[0] - timedelta(minutes=1), period, zone)
    edges = [before, *edges]
    buckets = await _bucketed(conn, edges, group=None, filters={}, horizon=minute_horizon)
    totals = [int(b.get(None, [0])[0]) for b in buckets]
    current = tu.utcnow() if now is None else now
    periods = []
    for i in range(1, len(totals)):
        prev, cur = totals[i - 1], totals[i]
        periods.append(
            Period(
                period=tu.to_local(edges[i], zone).strftime(LABELS[period]),
                start=tu.iso_local(edges[i], zone),
                total=cur,
                change=cur - prev,
                change_pct=round((cur - prev) * 100 / prev, 2) if prev else None,
                # Four days of December against all of November read -82 %: say so.
                partial=edges[i + 1] > current,
            )
        )
    return Growth(**_window(edges[1], edges[-1], zone), period=period, periods=periods)


def label_of(start: datetime, bucket: str, zone: Any) -> str:
    local = tu.to_local(start, zone)
    label = local.strftime(LABELS[bucket])
    # An hour the clocks set back repeats: both of its buckets would read 02:00, and the CSV
    # export, which has only the label, would show two rows no one could tell apart.
    if bucket in ("minute", "hour") and tu.is_repeated(local):
        label += local.isoformat()[-6:]
    return label
