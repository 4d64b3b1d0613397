"""Time for operators: parsing ``since``/``until``, local calendar buckets, rollup covers.

Storage is naive UTC. Days, months and years are the operator's (``settings.timezone``),
so their boundaries are computed in that zone and then turned back into UTC instants.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

BUCKETS = ("minute", "hour", "day", "month", "year")
RELATIVE = re.compile(r"^\s*(\d{1,6})\s*(m|min|h|d|w|mo|y)\s*$")
# A datetime whose offset's + was sent unencoded in a URL, where it reads as a space.
_PLUS_AS_SPACE = re.compile(r"^(\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?) (\d\d:?\d\d)$")
_UNIT_MINUTES = {"m": 1, "min": 1, "h": 60, "d": 1440, "w": 10080}
EPOCH = datetime(1970, 1, 1)
# The times a query may name. Python's datetime ends at years 1 and 9999, and a bucket or
# time zone past them raised OverflowError deep inside a query; these bounds leave room for
# any UTC offset and the year-long bucket around either end.
FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(2999, 12, 31)
_EARLIEST = datetime.combine(FIRST_DAY, datetime.min.time()) - timedelta(days=1)
_LATEST = datetime.combine(LAST_DAY, datetime.min.time()) + timedelta(days=2)


class InputError(ValueError):
    """A statistics parameter the caller must fix; its message says how.

    The message names the API's query parameters (group_by); ``cli`` says the same with the
    options of `hub stats` and `hub tx` (--group-by), which have no such parameters.
    """

    def __init__(self, message: str, cli: str | None = None) -> None:
        super().__init__(message)
        self.cli = cli or message


def option(name: str) -> str:
    """The command line's option for the API's query parameter ``name``."""
    return "--" + name.replace("_", "-")


def bad(name: str, problem: str) -> InputError:
    """The parameter ``name`` has ``problem`` ("must be one of ..."), in either's words."""
    return InputError(f"{name} {problem}", f"{option(name)} {problem}")


def not_before(
    since: str | None = None,
    until: str | None = None,
    *,
    start: datetime | None = None,
    end: datetime | None = None,
    tz: ZoneInfo | None = None,
) -> InputError:
    """The refusal of a range that ends before it starts, with the likely reason; given
    the instants read (``start``, ``end``) and the zone, it says them in that zone."""
    api = cli = ""
    if not until:  # a since in the future: "before until" named an until never given
        api, cli = " (now, as no until was given)", " (now, as no --until was given)"
    elif any(RELATIVE.match(v) for v in (since or "", until)):
        why = "relative forms count back from now ({} is the last day but its final hour)"
        api = ": " + why.format("since=24h&until=1h")
        cli = ": " + why.format("--since 24h --until 1h")
    if start is not None and end is not None and tz is not None:
        # "since=2026-12-07T00:00:00Z" at 02:00 in Ha Noi is 07:00 there, hours ahead: the
        # bare refusal left the operator to find out that the Z made it a future instant.
        # To the second; to the microsecond where only that tells the two apart.
        close = start != end and start.replace(microsecond=0) == end.replace(microsecond=0)
        spec = "microseconds" if close else "seconds"
        first, last = (to_local(t, tz).isoformat(timespec=spec) for t in (start, end))
        if start == end:
            empty = f"; both are {first}, an empty range"
            api, cli = api + empty, cli + empty
        else:
            api += f"; since is {first}, {'until' if until else 'now'} {last}"
            cli += f"; --since is {first}, {'--until' if until else 'now'} {last}"
    return InputError(f"since must be before until{api}", f"--since must be before --until{cli}")


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(
            f"unknown time zone {name!r}; use an IANA name like Asia/Ho_Chi_Minh"
        ) from None


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def to_utc(local: datetime, tz: ZoneInfo) -> datetime:
    return local.replace(tzinfo=tz).astimezone(UTC).replace(tzinfo=None)


def to_local(utc: datetime, tz: ZoneInfo) -> datetime:
    return utc.replace(tzinfo=UTC).astimezone(tz)


def parse_instant(value: str, tz: ZoneInfo, *, name: str, now: datetime | None = None) -> datetime:
    """``value`` as a naive UTC instant: ``24h``/``7d``/``3mo`` ago, an ISO date (local
    midnight), or an ISO datetime (local unless it carries an offset)."""
    try:
        found = _instant(value.strip(), tz, now or utcnow())
    except (OverflowError, ValueError):
        found = datetime.min  # past year 9999 or before year 1, once in UTC or gone back
    if found is None:
        problem = (
            "is not a time: use an ISO date (2024-06-01), an ISO datetime "
            "(2024-06-01T08:00:00+07:00), or a relative form like 30m, 24h, 7d, 3mo"
        )
    elif not _EARLIEST <= found < _LATEST:
        problem = f"is out of range: send a time between {FIRST_DAY} and {LAST_DAY}"
    else:
        return found
    shown = repr(value[:60])
    raise InputError(f"{name}={shown} {problem}", f"{option(name)} {shown} {problem}")


def _instant(text: str, tz: ZoneInfo, now: datetime) -> datetime | None:
    if text.lower() == "now":
        return now
    rel = RELATIVE.match(text)
    if rel:
        n, unit = int(rel.group(1)), rel.group(2)
        if unit in _UNIT_MINUTES:
            return now - timedelta(minutes=n * _UNIT_MINUTES[unit])
        local = to_local(now, tz).replace(tzinfo=None)
        months = n * (12 if unit == "y" else 1)
        return to_utc(_add_months(local, -months), tz)
    text = _PLUS_AS_SPACE.sub(r"\1+\2", text)
    try:
        if len(text) == 10:
            parsed = datetime.combine(date.fromisoformat(text), datetime.min.time())
        else:
            # upper(): RFC 3339 lets T and Z be lower case; fromisoformat takes no "z".
            parsed = datetime.fromisoformat(text.upper().replace("Z", "+00:00").replace(" ", "T"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return to_utc(parsed, tz)
    return parsed.astimezone(UTC).replace(tzinfo=None)


def _add_months(local: datetime, months: int) -> datetime:
    index = local.year * 12 + local.month - 1 + months
    year, month = divmod(index, 12)
    day = min(local.day, _month_days(year, month + 1))
    return local.replace(year=year, month=month + 1, day=day)


def _month_days(year: int, month: int) -> int:
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return (nxt - timedelta(days=1)).day


def floor_minute(t: datetime) -> datetime:
    return t.replace(second=0, microsecond=0)


def ceil_minute(t: datetime) -> datetime:
    f = floor_minute(t)
    return f if f == t else f + timedelta(minutes=1)


def floor_local(t: datetime, bucket: str, tz: ZoneInfo) -> datetime:
    """The UTC start of the local ``bucket`` holding UTC instant ``t``."""
    if bucket == "minute":
        return floor_minute(t)
    local = to_local(t, tz).replace(tzinfo=None)
    if bucket == "hour":
        local = local.replace(minute=0, second=0, microsecond=0)
    elif bucket == "day":
        local = local.replace(hour=0, minute=0, second=0, microsecond=0)
    elif bucket == "month":
        local = local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    else:
        local = local.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    return to_utc(local, tz)


def next_local(start: datetime, bucket: str, tz: ZoneInfo) -> datetime:
    """The UTC start of the local bucket after the one starting at UTC ``start``."""
    if bucket == "minute":
        return start + timedelta(minutes=1)
    local = to_local(start, tz).replace(tzinfo=None)
    if bucket == "hour":
        # Stepping in UTC keeps DST-repeated hours apart; the result is re-floored locally.
        nxt = floor_local(start + timedelta(hours=1, minutes=1), "hour", tz)
        return nxt if nxt > start else start + timedelta(hours=1)
    if bucket == "day":
        return floor_local(to_utc(local + timedelta(days=1, hours=3), tz), "day", tz)
    # From the bucket's local month, not from its start's local time: a zone whose offset
    # changed since (Asia/Ho_Chi_Minh was +08:00 until 1975) put that start at 23:00 or
    # 01:00 local, and every later month would have kept the hour.
    mid = local + timedelta(days=15)
    first = mid.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    if bucket == "year":
        return to_utc(first.replace(year=first.year + 1, month=1), tz)
    return to_utc(_add_months(first, 1), tz)


def local_buckets(start: datetime, end: datetime, bucket: str, tz: ZoneInfo) -> list[datetime]:
    """UTC starts of every local bucket from the one holding ``start`` up to ``end``
    (exclusive), plus the end of the last one: n buckets give n + 1 edges."""
    edges = [floor_local(start, bucket, tz)]
    while edges[-1] < end:
        edges.append(next_local(edges[-1], bucket, tz))
    if len(edges) == 1:
        edges.append(next_local(edges[0], bucket, tz))
    return edges


def cover(
    start: datetime, end: datetime, horizon: datetime | None = None
) -> dict[str, list[tuple[datetime, datetime]]]:
    """The fewest rollup rows adding up to ``[start, end)`` (minute-aligned, UTC): whole UTC
    days in the middle, whole hours next to them, minutes at the edges.

    Minute rows before ``horizon`` (a whole hour) may be pruned: minutes there come under
    ``log``, to be counted from the log itself, so an edge that is no whole hour (local
    midnight in Asia/Kolkata is 18:30 UTC) stays where it is and its counts exact.
    """
    out: dict[str, list[tuple[datetime, datetime]]] = {"minute": [], "hour": [], "day": []}
    if start >= end:
        return out
    h0, h1 = _ceil(start, 3600), _floor(end, 3600)
    if h0 >= h1:
        out["minute"].append((start, end))
    else:
        _push(out["minute"], start, h0)
        _push(out["minute"], h1, end)
        d0, d1 = _ceil(h0, 86400), _floor(h1, 86400)
        if d0 >= d1:
            out["hour"].append((h0, h1))
        else:
            _push(out["hour"], h0, d0)
            _push(out["hour"], d1, h1)
            out["day"].append((d0, d1))
    if horizon is not None:
        minutes, out["minute"], out["log"] = out["minute"], [], []
        for a, b in minutes:
            _push(out["log"], a, min(b, horizon))
            _push(out["minute"], max(a, horizon), b)
    return out


def hour_cover(start: datetime, end: datetime) -> dict[str, list[tuple[datetime, datetime]]]:
    """Like ``cover`` but widened to whole hours: latency histograms have no minute grain."""
    return cover(_floor(start, 3600), _ceil(end, 3600))


def exact_cover(
    start: datetime, end: datetime, horizon: datetime | None = None
) -> dict[str, list[tuple[datetime, datetime]]]:
    """``cover`` of ``[start, end)`` at any instants: the whole minutes inside from the
    rollups, the parts of a minute at either edge under ``log``, counted from the log."""
    whole, edges = _whole(start, end, 60)
    out = cover(*whole, horizon) if whole else {}
    out["log"] = out.get("log", []) + edges
    return out


def hour_split(
    start: datetime, end: datetime
) -> tuple[dict[str, list[tuple[datetime, datetime]]], list[tuple[datetime, datetime]]]:
    """``[start, end)`` as the ``cover`` of its whole UTC hours (what latency histograms
    hold) and the spans left at either edge (to be binned from the log)."""
    whole, edges = _whole(start, end, 3600)
    return (cover(*whole) if whole else {}), edges


def _whole(
    start: datetime, end: datetime, seconds: int
) -> tuple[tuple[datetime, datetime] | None, list[tuple[datetime, datetime]]]:
    """The whole units of ``seconds`` inside ``[start, end)`` (None when there is none), and
    the spans left at either edge."""
    a, b = _ceil(start, seconds), _floor(end, seconds)
    if a >= b:
        return None, [(start, end)] if start < end else []
    edges: list[tuple[datetime, datetime]] = []
    _push(edges, start, a)
    _push(edges, b, end)
    return (a, b), edges


def merge_covers(
    covers: list[dict[str, list[tuple[datetime, datetime]]]],
) -> dict[str, list[tuple[datetime, datetime]]]:
    """Join many covers into as few ranges per grain as possible."""
    out: dict[str, list[tuple[datetime, datetime]]] = {}
    for grain in ("log", "minute", "hour", "day"):
        ranges = sorted(r for c in covers for r in c.get(grain, []))
        merged: list[tuple[datetime, datetime]] = []
        for a, b in ranges:
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
            else:
                merged.append((a, b))
        out[grain] = merged
    return out


def _push(ranges: list[tuple[datetime, datetime]], a: datetime, b: datetime) -> None:
    if a < b:
        ranges.append((a, b))


def _floor(t: datetime, seconds: int) -> datetime:
    s = int((t - EPOCH).total_seconds())
    return EPOCH + timedelta(seconds=s - s % seconds)


def _ceil(t: datetime, seconds: int) -> datetime:
    f = _floor(t, seconds)
    return f if f == t else f + timedelta(seconds=seconds)


def is_repeated(local: datetime) -> bool:
    """Whether the local time ``local`` (aware) comes twice, as where clocks are set back."""
    return local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset()


def iso_local(t: datetime, tz: ZoneInfo) -> str:
    return to_local(t, tz).isoformat()


def iso_utc(t: datetime | None) -> str | None:
    return None if t is None else t.isoformat(timespec="microseconds") + "Z"


def pairs(edges: list[datetime]) -> Iterator[tuple[datetime, datetime]]:
    return zip(edges, edges[1:], strict=False)


def floor_hour(t: datetime) -> datetime:
    """The whole UTC hour holding ``t``."""
    return _floor(t, 3600)
