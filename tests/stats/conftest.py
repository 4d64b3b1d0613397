"""Fixtures of the statistics tests: the gateway's running hub, and records logged directly."""

from __future__ import annotations

import math
import uuid
from datetime import datetime
from typing import Any

from hub.stats import rollup
from hub.txlog.repository import append
from hub.txlog.sqlite import create_writer_engine
from tests.gateway.conftest import hub  # noqa: F401  (the running hub fixture)
from tests.support import OPERATOR

AUTH = {"Authorization": f"Bearer {OPERATOR}"}


def record(started_at: datetime, **fields: Any) -> dict[str, Any]:
    """A log record as the gateway makes it, with ``fields`` overriding the defaults."""
    rid = uuid.uuid4().hex
    base: dict[str, Any] = {
        "id": rid,
        "request_id": rid,
        "client": "VN/GOV/BTP/civil-status",
        "service": "VN/GOV/BCA/population/citizen-lookup",
        "provider": "VN/GOV/BCA/population",
        "method": "GET",
        "path": "/citizens/x",
        "user_id": None,
        "issue": None,
        "status_code": 200,
        "succeeded": True,
        "fault_code": None,
        "request_bytes": 0,
        "response_bytes": 10,
        "started_at": started_at,
        "total_ms": 10.0,
        "upstream_ms": 8.0,
        "hub_ms": 2.0,
        "request_hash": None,
        "response_hash": None,
        "request_body": None,
        "response_body": None,
    }
    base.update(fields)
    return base


async def log_records(db_url: str, records: list[dict[str, Any]]) -> None:
    """Append ``records`` as the log writer does: chain and rollups in one transaction."""
    engine = create_writer_engine(db_url)
    try:
        async with engine.begin() as conn:
            await append(conn, records, signer=None, lock=engine.dialect.name == "postgresql")
            await rollup.add_records(conn, records)
    finally:
        await engine.dispose()


def exact_percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile, the definition the histograms approximate."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q / 100 * len(ordered))) - 1]
