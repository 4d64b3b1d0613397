"""Browsing the transaction log: filtered pages with opaque cursors, and single records."""

from __future__ import annotations

import base64
import binascii
import hashlib
from datetime import datetime, timedelta
from typing import Any

from hub.core.errors import ALL_ERRORS
from hub.core.limits import PAGE_MAX, ROW_ID_MAX
from hub.stats import records
from hub.stats import timeutil as tu
from hub.stats.common import id_filters
from hub.stats.schemas import TransactionPage
from hub.stats.timeutil import InputError

MAX_LIMIT = PAGE_MAX
MAX_SEQ = ROW_ID_MAX  # a cursor past it is none we gave out
HIDDEN = ("prev_hash", "record_hash")
_SCOPE_CHARS = 12  # hex digits of a cursor's hash of its listing's filters
_HEX = set("0123456789abcdef")


def encode_cursor(seq: int, at: datetime, scope: str = "") -> str:
    """The next page: records before ``seq``, their range read at ``at`` (its "now"), of
    the listing whose filters hash to ``scope``."""
    micros = (at - tu.EPOCH) // timedelta(microseconds=1)
    text = f"seq:{seq}:{micros}" + (f":{scope}" if scope else "")
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, datetime | None]:
    """The ``seq`` a cursor continues before, and the instant its listing began (None in
    the cursors of older hubs, which carried no instant)."""
    seq, at, _ = _decode(cursor)
    return seq, at


def _decode(cursor: str) -> tuple[int, datetime | None, str | None]:
    """As decode_cursor, with the scope of the listing (None in the cursors of older hubs)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, rest = raw.partition(":")
        value, timed, rest = rest.partition(":")
        micros, scoped, scope = rest.partition(":")
        numbers = (value, micros) if timed else (value,)
        digits = all(n.isascii() and n.isdigit() for n in numbers)
        known = not scoped or (len(scope) == _SCOPE_CHARS and set(scope) <= _HEX)
        if kind == "seq" and digits and known and int(value) <= MAX_SEQ:
            at = tu.EPOCH + timedelta(microseconds=int(micros)) if timed else None
            if at is None or tu.EPOCH < at < datetime(3000, 1, 1):
                return int(value), at, scope or None
    except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError):
        pass
    raise InputError(
        "cursor is not one this API gave out; pass next_cursor from the last page",
        "--cursor is not one this hub gave out; give the one the last page printed",
    )


def _scope(*filters: Any) -> str:
    """A short hash of a listing's filters (its range as read): a cursor continues only
    the listing that gave it out."""
    digest = hashlib.blake2b(repr(filters).encode(), digest_size=_SCOPE_CHARS // 2)
    return digest.hexdigest()


# The codes the hub logs, by their lower case: a typo (Client.AccesDenied) listed nothing,
# as if no such exchange had happened, and client.accessdenied missed every one.
FAULTS = {e.code.lower(): e.code for e in ALL_ERRORS}


def fault_code(fault: str | None) -> str | None:
    """``fault`` as the log spells it (None: no filter); a 4xx sentence for no such code."""
    if not fault:
        return None
    found = FAULTS.get(fault.strip().lower())
    if found is None:
        codes = ", ".join(sorted(FAULTS.values()))
        problem = f"{fault[:60]!r} is no fault code the hub logs: use one of {codes}, or none"
        raise InputError(f"fault={problem}", f"--fault {problem}")
    return found


def _jsonable(rec: dict[str, Any]) -> dict[str, Any]:
    out = dict(rec)
    if isinstance(out.get("started_at"), datetime):
        out["started_at"] = tu.iso_utc(out["started_at"])
    return out


async def page(
    conn: records.Conn,
    *,
    tz: str,
    since: str | None = None,
    until: str | None = None,
    client: str | None = None,
    service: str | None = None,
    provider: str | None = None,
    status: int | None = None,
    fault: str | None = None,
    user_id: str | None = None,
    issue: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
    now: datetime | None = None,
) -> TransactionPage:
    """Newest first; ``fault=none`` keeps the exchanges the hub found no fault in."""
    if not 1 <= limit <= MAX_LIMIT:
        raise tu.bad("limit", f"must be between 1 and {MAX_LIMIT}; got {limit}")
    zone = tu.zone(tz)
    before_seq, began, given = _decode(cursor) if cursor else (None, None, None)
    # Relative forms (since=24h) mean the instants the first page read them as: a listing
    # paged over some minutes lost the records that had slipped out of the range meanwhile.
    now = began or now or tu.utcnow()
    start = tu.parse_instant(since, zone, name="since", now=now) if since else None
    end = tu.parse_instant(until, zone, name="until", now=now) if until else None
    if start is not None and end is not None and start >= end:
        # As the statistics say it.
        raise tu.not_before(since, until, start=start, end=end, tz=zone)
    no_fault = fault is not None and fault.strip().lower() == "none"
    equal = {
        **id_filters(client, service, provider),
        "status_code": status,
        "fault_code": None if no_fault else fault_code(fault),
        "user_id": user_id or None,
        "issue": issue or None,
    }
    scope = _scope(start, end, no_fault, sorted(equal.items()))
    if given is not None and given != scope:
        # Another listing's cursor answered a page from the middle of this one.
        again = "or leave it out to start from the newest"
        raise InputError(
            f"cursor is of a listing with other filters: pass the since, until and filters "
            f"of the page that gave it, {again}",
            f"--cursor is of a listing with other filters: give the --since, --until and "
            f"filters of the command that printed it, {again}",
        )
    rows = await records.transactions(
        conn,
        before_seq=before_seq,
        limit=limit + 1,
        since=start,
        until=end,
        equal=equal,
        no_fault=no_fault,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return TransactionPage(
        items=[_jsonable(r) for r in rows],
        next_cursor=encode_cursor(rows[-1]["seq"], now, scope) if more else None,
    )


def typed_id(ident: str) -> str:
    """An X-Road-Id or X-Road-Request-Id as typed or sent: blanks around it (one copied
    from a table) are no part of it, as with the filters; the gateway takes no blank in an
    X-Road-Id. Without this the "no transaction has" message showed the blank between its
    quotes."""
    return ident.strip()


def missing(ident: str) -> str:
    """What `hub tx show`, `hub audit proof` and the API say when no record has ``ident``."""
    return f"no transaction has X-Road-Id or X-Road-Request-Id {typed_id(ident)[:200]!r}"


async def show(conn: records.Conn, ident: str) -> dict[str, Any] | None:
    """One record by X-Road-Request-Id, else the newest with that X-Road-Id."""
    rec = await records.transaction(conn, typed_id(ident))
    if rec is None:
        return None
    out = _jsonable(rec)
    out["same_xroad_id"] = await records.count_same_id(conn, rec["id"])
    return out
