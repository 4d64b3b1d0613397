"""The hash chain of the transaction log: what each record's hash covers, and how."""

from __future__ import annotations

import hashlib
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


def record_hash(prev_hash: str, record: dict[str, Any]) -> str:
    """SHA-256 over the previous hash and the record's fields, unit-separated."""
    text = "\x1f".join(_text(record.get(name)) for name in CHAINED_FIELDS)
    return hashlib.sha256(f"{prev_hash}\x1e{text}".encode()).hexdigest()


def batch_message(batch_id: int, first_seq: int, last_seq: int, last_hash: str) -> bytes:
    """What a batch signature covers."""
    return f"hub-log-batch|{batch_id}|{first_seq}|{last_seq}|{last_hash}".encode()
