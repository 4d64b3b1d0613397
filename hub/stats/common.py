"""What every operator statistic shares: its range, its filters, and how rows add up.

Counts are exact: a range is read as whole days, hours and minutes of the rollups
(``timeutil.cover``), and what lies outside whole minutes (its edges, to the microsecond)
and the minutes before the minute rows' retention horizon are counted from the log itself
(``timeutil.exact_cover``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from hub.core.ids import IdError, parse_service, parse_subsystem
from hub.stats import repository as repo
from hub.stats import timeutil as tu
from hub.stats.timeutil import InputError

GROUPS = ("client", "service", "provider")
NONE = "none"  # the filter value of a client, service or provider not identified


def time_range(
    since: str | None, until: str | None, tz: Any, now: datetime | None
) -> tuple[datetime | None, datetime]:
    now = now or tu.utcnow()
    start = tu.parse_instant(since, tz, name="since", now=now) if since else None
    end = tu.parse_instant(until, tz, name="until", now=now) if until else now
    if start is not None and start >= end:
        raise tu.not_before(since, until, start=start, end=end, tz=tz)
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
        # Blanks around an id (a field copied from a page or a spreadsheet) are no part of
        # it, as the gateway takes X-Road-Client: "has an invalid part 'civil-status '"
        # refused what was plainly meant, the blank to be spotted between the quotes.
        value = found[name] = value.strip() or None
        if value is None:  # blanks alone, as an empty field
            continue
        if value.lower() == NONE:
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


def window_of(start: datetime | None, end: datetime, tz: Any) -> dict[str, Any]:
    return {"since": tu.iso_utc(start), "until": tu.iso_utc(end), "timezone": str(tz)}


def add_sums(acc: dict[Any, list[float]], key: Any, row: Any) -> None:
    sums = acc.setdefault(key, [0, 0, 0, 0, 0.0, 0.0])
    # PostgreSQL sums BIGINT into NUMERIC: back to int for counts, float for milliseconds.
    values = row._mapping  # Row.count is also tuple's count method: go by name
    for i, name in enumerate(repo.SUMS):
        value = values[name] or 0
        sums[i] += int(value) if i < 4 else float(value)


def mean_of(total: float, n: float) -> float | None:
    """The mean to the microsecond of latencies logged to the microsecond.

    Their float sum differs in its last bits between SQLite and PostgreSQL (each adds in its
    own order), so a mean falling on a half microsecond would round up on one and down on
    the other: the sum is rounded to the microsecond first and divided exactly.
    """
    if not n:
        return None
    exact = Decimal(repr(round(total, 3))) / Decimal(repr(n))
    return float(exact.quantize(Decimal("0.001"), rounding=ROUND_HALF_EVEN))
