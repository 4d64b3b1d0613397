"""Paging through /api/transactions while exchanges keep arriving: every page continues the
listing the first one began, over the same range."""

from __future__ import annotations

from datetime import timedelta

from hub.core.db import create_engine
from hub.stats import browse
from hub.stats.timeutil import utcnow
from tests.gateway.conftest import Hub
from tests.stats.conftest import log_records, record
from tests.stats.test_exactness import LOOKUP, PURPOSE, get, traffic


async def test_records_arriving_between_pages_neither_shift_nor_repeat(hub: Hub) -> None:
    before = await traffic(hub)
    first = await get(hub, "/api/transactions", limit=5)
    for _ in range(3):  # newer than every record of the first page
        await hub.client.get(LOOKUP, headers=hub.headers(**PURPOSE))
    seen = [i["request_id"] for i in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = await get(hub, "/api/transactions", limit=5, cursor=cursor)
        seen += [i["request_id"] for i in page["items"]]
        cursor = page["next_cursor"]
    assert seen == [r["request_id"] for r in reversed(before)]


async def test_a_relative_range_means_the_same_instants_on_every_page(db_url: str) -> None:
    # since=1h was read anew on each page: a listing paged over some minutes lost the
    # records that had meanwhile slipped out of the last hour.
    now = utcnow().replace(microsecond=0)
    records = [record(now - timedelta(minutes=m)) for m in (50, 40, 30, 20, 10)]
    await log_records(db_url, records)
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            first = await browse.page(conn, tz="UTC", since="1h", limit=2, now=now)
            assert first.next_cursor is not None
            later = now + timedelta(minutes=25)  # the oldest two are past the hour now
            rest = await browse.page(
                conn, tz="UTC", since="1h", limit=10, cursor=first.next_cursor, now=later
            )
            fresh = await browse.page(conn, tz="UTC", since="1h", limit=10, now=later)
    finally:
        await engine.dispose()
    listed = [i["request_id"] for i in first.items + rest.items]
    assert listed == [r["request_id"] for r in reversed(records)]
    assert len(fresh.items) == 3  # a new listing starts from its own now


def test_cursors_of_older_hubs_still_read_and_forged_instants_do_not() -> None:
    import base64

    import pytest

    from hub.stats.timeutil import InputError

    def made(text: str) -> str:
        return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")

    assert browse.decode_cursor(made("seq:42")) == (42, None)
    at = utcnow()
    assert browse.decode_cursor(browse.encode_cursor(42, at)) == (42, at)
    for forged in ("seq:42:99999999999999999999999", "seq:42:", "seq:42:-5", "seq:42:1:2"):
        with pytest.raises(InputError, match="next_cursor"):
            browse.decode_cursor(made(forged))


async def test_a_cursor_of_other_filters_is_refused_not_paged(db_url: str) -> None:
    # A cursor carried only its place in the log: reused with other filters it answered
    # a page of that other listing, from the middle, as if it were the whole of it.
    import pytest

    from hub.stats.timeutil import InputError

    now = utcnow().replace(microsecond=0)
    records = [record(now - timedelta(minutes=m)) for m in range(6, 0, -1)]
    await log_records(db_url, records)
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            first = await browse.page(conn, tz="UTC", since="1h", limit=2, now=now)
            assert first.next_cursor is not None
            same = await browse.page(conn, tz="UTC", since="1h", limit=10, cursor=first.next_cursor)
            assert len(same.items) == 4  # the same filters: the rest of the listing
            for other in ({"since": "2h"}, {"since": "1h", "fault": "none"}, {}):
                with pytest.raises(InputError, match="other filters") as refused:
                    await browse.page(conn, tz="UTC", limit=10, cursor=first.next_cursor, **other)
                assert "--cursor" in refused.value.cli
    finally:
        await engine.dispose()
