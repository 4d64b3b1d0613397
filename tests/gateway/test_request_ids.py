"""X-Road-Request-Id: a UUIDv7, so the log's indexes grow at one end."""

from __future__ import annotations

import time
import uuid

from hub.core.ids import request_id


def test_request_ids_are_uuid7_ordered_by_time_and_unique() -> None:
    first = [request_id() for _ in range(1000)]
    time.sleep(0.002)
    later = request_id()
    parsed = uuid.UUID(later)
    assert parsed.version == 7 and parsed.variant == uuid.RFC_4122
    assert len(later) == 32 and later == parsed.hex
    assert abs(int(later[:12], 16) - time.time_ns() // 1_000_000) < 1000  # milliseconds
    assert all(rid < later for rid in first)  # a later millisecond sorts after
    assert len(set(first)) == 1000
