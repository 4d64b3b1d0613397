"""Local buckets: every edge is the first instant of its local month, day or year, across
a century of a zone's changes of offset."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest

from hub.stats import timeutil as tu


@pytest.mark.parametrize("zone", ["Asia/Ho_Chi_Minh", "Asia/Kolkata", "Europe/Berlin"])
@pytest.mark.parametrize("bucket", ["day", "month", "year"])
def test_edges_since_1900_start_their_local_bucket(zone: str, bucket: str) -> None:
    tz = tu.zone(zone)
    edges = tu.local_buckets(datetime(1900, 1, 1), datetime(2026, 12, 1), bucket, tz)
    for edge in edges:
        local = tu.to_local(edge, tz)
        # The bucket's first instant: local midnight, or the first time that day has where
        # the clocks jumped past midnight (Saigon went from +07:00 to +08:00 at midnight on
        # 1947-04-01, so that day began at 01:00).
        before = tu.to_local(edge - timedelta(seconds=1), tz)
        assert local.date() != before.date(), (edge, local, before)
        assert local.time() == time(0) or before.time() >= time(23), (edge, local)
        if bucket != "day":
            assert local.day == 1 and (bucket == "month" or local.month == 1), (edge, local)
    # Recent edges, far from any change of offset, are plain local midnights.
    assert all(tu.to_local(e, tz).time() == time(0) for e in edges if e.year >= 2000)
