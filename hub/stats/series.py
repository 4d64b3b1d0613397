"""Figures per local bucket: the time series (optionally split into groups) and growth."""

from __future__ import annotations

import bisect
from datetime import datetime, timedelta
from typing import Any

from hub.stats import names as directory_of
from hub.stats import repository as repo
from hub.stats import timeutil as tu
from hub.stats.common import GROUPS, add_sums, id_filters, mean_of, time_range, window_of
from hub.stats.names import Directory
from hub.stats.schemas import Growth, Period, Point, Timeseries
from hub.stats.timeutil import InputError

MAX_BUCKETS = 10_000
DEFAULT_SPAN = {"minute": "60m", "hour": "24h", "day": "30d", "month": "12mo", "year": "5y"}
LABELS = {"minute": "%Y-%m-%dT%H:%M", "hour": "%Y-%m-%dT%H:00", "day": "%Y-%m-%d",
          "month": "%Y-%m", "year": "%Y"}  # fmt: skip


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
    start, end = _span(bucket, since, until, zone, now)
    # Refuse before building the edges: a year of minutes would take a while to list.
    approx = (end - start) / _BUCKET_LENGTH[bucket]
    if approx > MAX_BUCKETS:
        many = f"that range holds about {int(approx)} {bucket} {name}s; the limit is {MAX_BUCKETS}"
        raise InputError(
            f"{many}: use a coarser {name} or a shorter range",
            f"{many}: use a coarser {tu.option(name)} or a shorter range",
        )
    return tu.local_buckets(start, end, bucket, zone)


def _span(
    bucket: str, since: str | None, until: str | None, zone: Any, now: datetime | None
) -> tuple[datetime, datetime]:
    """The range of a series: without since, the default span of ``bucket`` before until.

    The span counted back from now whatever the until: ``until=2024-06-03`` alone was
    refused as a range that ends before it starts, instead of the days before then.
    """
    if since:
        start, end = time_range(since, until, zone, now)
        assert start is not None
        return start, end
    end = time_range(None, until, zone, now)[1]
    return tu.parse_instant(DEFAULT_SPAN[bucket], zone, name="since", now=end), end


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
    # exact_cover: the last edge may be the range's end, inside a minute.
    ranges = tu.merge_covers([tu.exact_cover(a, b, horizon) for a, b in tu.pairs(edges)])
    cols = ("bucket", group) if group else ("bucket",)
    rows = await repo.count_sums(conn, ranges, group=cols, filters=filters)
    out: list[dict[Any, list[float]]] = [{} for _ in range(len(edges) - 1)]
    for row in rows:
        index = bisect.bisect_right(edges, row.bucket) - 1
        if 0 <= index < len(out):
            add_sums(out[index], getattr(row, group) if group else None, row)
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
    directory: Directory | None = None,
) -> Timeseries:
    """Volume per local bucket, whole buckets only, optionally split by client/service/provider."""
    zone = tu.zone(tz)
    if group_by is not None and group_by not in GROUPS:
        raise tu.bad("group_by", f"must be one of {', '.join(GROUPS)}; got {group_by!r}")
    now = tu.utcnow() if now is None else now
    edges = _edges(bucket, since, until, zone, now)
    if bucket == "minute" and minute_horizon is not None and edges[0] < minute_horizon:
        days = now - minute_horizon
        kept = f"minute buckets are kept for {max(days.days, 0)} days (HUB_MINUTE_ROLLUP_DAYS)"
        raise InputError(
            f"{kept}; use bucket=hour for older ranges",
            f"{kept}; use --bucket hour for older ranges",
        )
    # The bucket still filling is counted up to the range's end (until, or now), not to its
    # own, and `until` says that instant: a summary of the same since and until adds up to
    # the bars (the dashboard asks it so), without what was logged in between. A bucket
    # over stays whole.
    last = edges[-1]
    if last > now:
        last = min(last, _span(bucket, since, until, zone, now)[1])
    buckets = await _bucketed(
        conn,
        [*edges[:-1], last],
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
                mean_ms=mean_of(ms, total),
                groups={k: int(v[0]) for k, v in groups.items()} if group_by else None,
            )
        )
    keys = [k for k, _ in sorted(key_totals.items(), key=lambda kv: (-kv[1], kv[0]))]
    return Timeseries(
        **window_of(edges[0], last, zone),
        bucket=bucket,
        group_by=group_by,
        keys=keys,
        points=points,
        names=await directory_of.names(conn, directory, keys),
    )


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
    return Growth(**window_of(edges[1], edges[-1], zone), period=period, periods=periods)


def label_of(start: datetime, bucket: str, zone: Any) -> str:
    local = tu.to_local(start, zone)
    label = local.strftime(LABELS[bucket])
    # An hour the clocks set back repeats: both of its buckets would read 02:00, and the CSV
    # export, which has only the label, would show two rows no one could tell apart.
    if bucket in ("minute", "hour") and tu.is_repeated(local):
        label += local.isoformat()[-6:]
    return label
