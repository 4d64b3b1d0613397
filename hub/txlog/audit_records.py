"""``hub audit verify``: the checks on one record's stored values that its hash cannot see.

A record's hash covers its values as Python reads them back, so a value stored in another
form (SQLite), text moved between the stored bodies, or milliseconds with more decimals
than the hub writes keep the hash; these checks find them (see ``hub/txlog/audit.py``).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any


def read_stored(rec: dict[str, Any], where: str, problems: list[str]) -> tuple[str | None, bool]:
    """SQLite: a record's stored values as Python ones, and whether it can be counted.

    Also returns the text ``chain.record_hash`` takes for started_at when it is stored as the
    hub stores it (one ``isoformat`` saved per record), None when it is to be worked out,
    and "" when there is no hash to compare: a value is not stored as the hub writes it (said
    so here), or started_at is no date. Problems go to ``problems``.
    """
    stored = rec["started_at"]
    started_text: str | None = None
    try:
        rec["started_at"] = datetime.fromisoformat(stored)
    except (TypeError, ValueError):
        started_text = ""
    ok = rec["succeeded"]
    if ok in (0, 1):
        rec["succeeded"] = ok == 1
    bad = rec.pop("bad_form")
    if bad:
        described = shown(bad, {**rec, "started_at": stored})
        problems.append(
            f"{where} was edited: {described} (read back, it may hash the same, but SQL sees it "
            "otherwise)"
        )
        return "", started_text is None  # counted in the statistics, as they counted it
    if started_text == "":
        problems.append(f"{where} was edited: started_at={stored!r} is not a date")
        return "", False
    return f"{stored[:10]}T{stored[11:]}", True  # as isoformat gives it: the GLOB held


def shown(bad: str, stored: Mapping[str, Any]) -> str:
    """The columns ``bad`` names (see ``bad_form``), with their stored values."""
    columns = bad.split()
    values = ", ".join(f"{c}={stored[c]!r:.80}" for c in columns)
    return f"{values} {'is' if len(columns) == 1 else 'are'} not stored the way the hub writes it"


def body_problems(rec: dict[str, Any], where: str) -> list[str]:
    """Stored bodies (keep_bodies services) against the body hashes taken at the exchange.

    The record hash covers fields joined by a separator a body may hold itself, so text moved
    from one body to the other kept the hash ("pay A\x1fnote" | "{...}" read as "pay A" |
    "note\x1f{...}"); each body's own SHA-512 does not follow. A body stored with U+FFFD
    (bytes that were not UTF-8, replaced) cannot be hashed back, and is not judged.
    """
    problems = []
    for side in ("request", "response"):
        body = rec[f"{side}_body"]
        if type(body) is not str or "\ufffd" in body:
            continue
        digest = base64.b64encode(hashlib.sha512(body.encode()).digest()).decode()
        if digest != rec[f"{side}_hash"]:
            problems.append(
                f"{where} was edited: its stored {side} body does not match its {side}_hash"
            )
    return problems


MS_FIELDS = ("total_ms", "upstream_ms", "hub_ms")


def ms_problems(rec: dict[str, Any], where: str) -> list[str]:
    """Milliseconds with more decimals than the hub writes (it rounds them to three).

    The record's hash takes them to three decimals, so 12.5 made 12.5004 kept the hash
    while the statistics and any SQL read the changed value.
    """
    bad = [
        f"{name}={value!r}"
        for name in MS_FIELDS
        if type(value := rec[name]) is float and round(value, 3) != value
    ]
    if not bad:
        return []
    return [
        f"{where} was edited: {', '.join(bad)} has more than the three decimals the hub "
        "writes (the hash reads three, so it still holds)"
    ]
