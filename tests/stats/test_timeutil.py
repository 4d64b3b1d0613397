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


@pytest.mark.parametrize(
    ("text", "utc"),
    [
        ("2024-06-01T08:00:00+07:00", datetime(2024, 6, 1, 1)),
        # The same pasted into a URL unencoded: the + arrives as a space.
        ("2024-06-01T08:00:00 07:00", datetime(2024, 6, 1, 1)),
        ("2024-06-01 08:00 07:00", datetime(2024, 6, 1, 1)),
        ("2024-06-01T08:00:00.5 0530", datetime(2024, 6, 1, 2, 30, 0, 500000)),
        ("2024-06-01 08:00", datetime(2024, 6, 1, 1)),  # local, a space before the time
        ("2024-06-01T08:00:00-05:00", datetime(2024, 6, 1, 13)),
    ],
)
def test_an_offset_whose_plus_became_a_space_still_reads(text: str, utc: datetime) -> None:
    assert tu.parse_instant(text, tu.zone("Asia/Ho_Chi_Minh"), name="since") == utc


@pytest.mark.parametrize(
    "text", ["2024-06-01t08:00:00z", "2024-06-01T08:00:00Z", "2024-06-01T08:00:00z"]
)
def test_t_and_z_may_be_lower_case(text: str) -> None:
    """RFC 3339 (5.6) lets T and Z be lower case, as some tools write them."""
    assert tu.parse_instant(text, tu.zone("Asia/Ho_Chi_Minh"), name="since") == datetime(
        2024, 6, 1, 8
    )
