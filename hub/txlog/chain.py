"""The hash chain of the transaction log: what each record's hash covers, and how."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

GENESIS = "0" * 64

# Every column a record is judged by; changing this list breaks verification of old logs.
CHAINED_FIELDS = (
    "seq",
    "id",
    "request_id",
    "client",
    "service",
    "provider",
    "method",
    "path",
    "user_id",
    "issue",
    "status_code",
    "succeeded",
    "fault_code",
    "request_bytes",
    "response_bytes",
    "started_at",
    "total_ms",
    "upstream_ms",
    "hub_ms",
    "request_hash",
    "response_hash",
    "request_body",
    "response_body",
    "batch_id",
)


def _text(value: Any) -> str:
    if value is None:
        return "\x00"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(timespec="microseconds")
    return str(value)


def canonical_text(record: dict[str, Any]) -> str:
    """The fields a record's hash covers, as the text that is hashed (the definition)."""
    return "\x1f".join(_text(record.get(name)) for name in CHAINED_FIELDS)


def _float3(value: float) -> str:
    return f"{value:.3f}"


def _datetime(value: datetime) -> str:
    # The log's datetimes are naive UTC already: datetime.replace costs 1.4 us, more than
    # the isoformat itself (timeit), so it runs only for an aware one. Same text either way.
    if value.tzinfo is not None:
        value = value.replace(tzinfo=None)
    return value.isoformat(timespec="microseconds")


# _text by exact type: one dict lookup instead of a chain of isinstance calls, which
# made record_hash a third of the writer's time at 1,000 records a batch (cProfile).
# Anything else (subclasses, odd types) goes to _text itself, so hashes are the same.
_TEXT: dict[type, Callable[[Any], str]] = {
    str: str,
    int: str,
    bool: lambda v: "1" if v else "0",
    float: _float3,
    type(None): lambda _v: "\x00",
    datetime: _datetime,
}


def record_hash(prev_hash: str, record: dict[str, Any], started_text: str | None = None) -> str:
    """SHA-256 over the previous hash and ``canonical_text(record)``, computed fast.

    ``started_text``: ``record["started_at"].isoformat(timespec="microseconds")`` when the
    caller has it already (the SQLite writer needs the same text for its row).
    """
    text = _exchange_text(record, started_text)
    if text is None:
        # Strings as they are, without a call: 11 of the 24 fields of the bench record (6.1
        # -> 5.5 us, timeit).
        text = "\x1f".join(
            [
                v if type(v) is str else (_TEXT.get(type(v)) or _text)(v)
                for v in map(record.get, CHAINED_FIELDS)
            ]
        )
    return hashlib.sha256(f"{prev_hash}\x1e{text}".encode()).hexdigest()


_NONE = "\x00"


def _exchange_text(r: dict[str, Any], started_text: str | None = None) -> str | None:
    """``canonical_text`` of a record as the gateway makes it; None for any other record.

    One f-string over the fields in ``CHAINED_FIELDS`` order, once every value is of the
    exact type the gateway gives it (so each is formatted as ``_text`` would). 9.1 -> 7.3 us
    a record on the bench record (timeit), in the log writer's commit; a property test
    holds it to the definition.
    """
    try:
        seq, xid, rid = r["seq"], r["id"], r["request_id"]
        client, service, provider, method, path = (
            r["client"], r["service"], r["provider"], r["method"], r["path"]
        )  # fmt: skip
        user_id, issue, status, ok, fault = (
            r["user_id"], r["issue"], r["status_code"], r["succeeded"], r["fault_code"]
        )  # fmt: skip
        req_n, resp_n, started = r["request_bytes"], r["response_bytes"], r["started_at"]
        total, upstream, hub = r["total_ms"], r["upstream_ms"], r["hub_ms"]
        req_h, resp_h, req_b, resp_b = (
            r["request_hash"], r["response_hash"], r["request_body"], r["response_body"]
        )  # fmt: skip
        batch = r["batch_id"]
    except KeyError:
        return None
    if not (
        type(seq) is int
        and type(xid) is str
        and type(rid) is str
        and type(client) is str
        and type(service) is str
        and type(provider) is str
        and type(method) is str
        and type(path) is str
        and (user_id is None or type(user_id) is str)
        and (issue is None or type(issue) is str)
        and type(status) is int
        and type(ok) is bool
        and (fault is None or type(fault) is str)
        and type(req_n) is int
        and type(resp_n) is int
        and type(started) is datetime
        and started.tzinfo is None
        and type(total) is float
        and (upstream is None or type(upstream) is float)
        and type(hub) is float
        and (req_h is None or type(req_h) is str)
        and (resp_h is None or type(resp_h) is str)
        and (req_b is None or type(req_b) is str)
        and (resp_b is None or type(resp_b) is str)
        and type(batch) is int
    ):
        return None
    n = _NONE
    if started_text is None:
        started_text = started.isoformat(timespec="microseconds")
    return (
        f"{seq}\x1f{xid}\x1f{rid}\x1f{client}\x1f{service}\x1f{provider}\x1f{method}\x1f{path}\x1f"
        f"{n if user_id is None else user_id}\x1f{n if issue is None else issue}\x1f{status}\x1f"
        f"{'1' if ok else '0'}\x1f{n if fault is None else fault}\x1f{req_n}\x1f{resp_n}\x1f"
        f"{started_text}\x1f{total:.3f}\x1f"
        f"{n if upstream is None else format(upstream, '.3f')}\x1f{hub:.3f}\x1f"
        f"{n if req_h is None else req_h}\x1f{n if resp_h is None else resp_h}\x1f"
        f"{n if req_b is None else req_b}\x1f{n if resp_b is None else resp_b}\x1f{batch}"
    )


def batch_message(batch_id: int, first_seq: int, last_seq: int, last_hash: str) -> bytes:
    """What a batch signature covers."""
    return f"hub-log-batch|{batch_id}|{first_seq}|{last_seq}|{last_hash}".encode()
