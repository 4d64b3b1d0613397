"""On a log of months, an operator's question reads the rows it needs through an index,
never a table or index whole, and still counts every record exactly.

SQLite's plans here depend on the schema and the query alone (no ANALYZE statistics): each
query the statistics and the listing run is explained and its plan checked.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from hub.core.db import create_engine
from hub.stats import browse, service
from hub.stats.repository import _chunks
from tests.stats.conftest import log_records, record

NOW = datetime(2026, 12, 7, 10, 30, 15)
TZ = "Asia/Ho_Chi_Minh"
BANK = "VN/COM/0101234565/ekyc"
CIVIL = "VN/GOV/BTP/civil-status"
LAND = "VN/GOV/BNNMT/land-registry"


def _year_of_records() -> list[dict[str, Any]]:
    """A record every 7 hours for a year, two clients; a case and an officer on a few."""
    out = []
    for i in range(365 * 24 // 7):
        at = NOW - timedelta(days=365, minutes=-3) + timedelta(hours=7 * i, seconds=i % 60)
        fields: dict[str, Any] = {"client": BANK if i % 3 else CIVIL}
        if i % 97 == 0:
            fields |= {"issue": "HS-00042", "user_id": "officer-7"}
        if i % 89 == 0:
            fields |= {"status_code": 502, "succeeded": False, "fault_code": "Server.ServiceFailed",
                       "service": f"{LAND}/parcel-lookup", "provider": LAND}  # fmt: skip
        out.append(record(at, **fields))
    return out


@pytest.fixture
async def year(sqlite_url: str) -> tuple[str, list[dict[str, Any]]]:
    records = _year_of_records()
    await log_records(sqlite_url, records)
    return sqlite_url, records


@contextmanager
def _statements(engine: Any) -> Iterator[list[tuple[str, Any]]]:
    """Every statement ``engine`` runs inside the block, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def note(_c: Any, _cur: Any, stmt: str, params: Any, _ctx: Any, _many: bool) -> None:
        seen.append((stmt, params))

    event.listen(engine.sync_engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", note)


def _plans(url: str, statements: list[tuple[str, Any]]) -> list[list[str]]:
    path = url.split(":///", 1)[1]
    with sqlite3.connect(Path(path)) as db:
        return [
            [row[3] for row in db.execute("EXPLAIN QUERY PLAN " + stmt, params)]
            for stmt, params in statements
            if stmt.lstrip().upper().startswith("SELECT")
        ]


def _whole_reads(plans: list[list[str]]) -> list[str]:
    """The plan lines that read a table or an index from end to end."""
    return [
        line for plan in plans for line in plan
        if line.startswith("SCAN ") and not line.startswith("SCAN CONSTANT ROW")
    ]  # fmt: skip


async def _run(url: str, call: Any) -> tuple[Any, list[list[str]]]:
    engine = create_engine(url)
    try:
        with _statements(engine) as seen:
            async with engine.connect() as conn:
                answer = await call(conn)
    finally:
        await engine.dispose()
    return answer, _plans(url, seen)


@pytest.mark.parametrize("client", [None, BANK])
async def test_a_year_s_summary_reads_by_index_and_counts_every_record(
    year: tuple[str, list[dict[str, Any]]], client: str | None
) -> None:
    url, records = year

    async def ask(conn: Any) -> Any:
        return await service.summary(
            conn, tz=TZ, since="1y", client=client, now=NOW,
            minute_horizon=NOW.replace(minute=0, second=0) - timedelta(days=35),
        )  # fmt: skip

    summary, plans = await _run(url, ask)
    assert summary.total == sum(
        1 for r in records if NOW - timedelta(days=365) <= r["started_at"] < NOW
        and client in (None, r["client"])
    )  # fmt: skip
    # min() and max() of a column in one select scanned its whole index on SQLite.
    assert _whole_reads(plans) == []
    # The minutes at the year's edges are read from the log by time, not by walking every
    # record of the client.
    assert not any("ix_transactions_client_seq" in line for plan in plans for line in plan)


def test_spans_far_apart_are_queried_apart() -> None:
    """A year's edge hours in one query read every hour row of the year between them."""
    hour = timedelta(hours=1)
    first, last = datetime(2025, 12, 7, 21), datetime(2026, 12, 7, 0)
    near = [(last + i * hour, last + (i + 1) * hour) for i in range(3)]
    assert list(_chunks([*near, (first, first + 3 * hour)])) == [
        [(first, first + 3 * hour)],
        near,
    ]


@pytest.mark.parametrize(
    ("filters", "index"),
    [
        ({"fault": "Server.ServiceFailed"}, "ix_transactions_fault_seq"),
        ({"status": 502}, "ix_transactions_status_seq"),
    ],
)
async def test_a_sparse_filter_lists_through_its_index(
    year: tuple[str, list[dict[str, Any]]], filters: dict[str, Any], index: str
) -> None:
    """A rare fault's few records a year were found by reading the whole log, newest first."""
    url, records = year
    field = {"status": "status_code", "fault": "fault_code"}
    wanted = [
        r["request_id"] for r in reversed(records)
        if all(r[field.get(k, k)] == v for k, v in filters.items())
    ]  # fmt: skip
    assert 3 < len(wanted) < 20
    got: list[str] = []
    cursor = None
    while True:  # pages of 3, through the cursor, to the oldest
        page, plans = await _run(
            url, partial(browse.page, tz=TZ, limit=3, cursor=cursor, now=NOW, **filters)
        )
        got += [i["request_id"] for i in page.items]
        lines = [line for plan in plans for line in plan]
        assert lines and all(
            line.startswith(f"SEARCH transactions USING INDEX {index} (") for line in lines
        ), lines
        cursor = page.next_cursor
        if cursor is None:
            break
    assert got == wanted


@pytest.mark.parametrize(
    "filters",
    [
        {"issue": "HS-00042"},
        {"user_id": "officer-7"},
        {"provider": LAND},
        {"client": BANK, "issue": "HS-00042"},
    ],
)
async def test_a_filter_with_no_index_of_its_own_lists_every_match(
    year: tuple[str, list[dict[str, Any]]], filters: dict[str, Any]
) -> None:
    """Provider, officer and case have no index (every exchange would pay for it, migration
    0012): their listing walks the log, and still gives each match once, newest first."""
    url, records = year
    wanted = [
        r["request_id"] for r in reversed(records)
        if all(r[k] == v for k, v in filters.items())
    ]  # fmt: skip
    assert 3 < len(wanted) < 20
    got, _ = await _pages(url, **filters)
    assert got == wanted


async def _pages(url: str, **filters: Any) -> tuple[list[str], list[str]]:
    """Every page of a listing, 4 at a time: its request ids and its queries' plan lines."""
    got: list[str] = []
    lines: list[str] = []
    cursor = None
    while True:
        page, plans = await _run(
            url, partial(browse.page, tz=TZ, limit=4, cursor=cursor, now=NOW, **filters)
        )
        got += [i["request_id"] for i in page.items]
        # The count of the window's first records reads a subquery (anon_1) of the index.
        lines += [line for plan in plans for line in plan if "anon_" not in line]
        cursor = page.next_cursor
        if cursor is None:
            return got, lines


def _in_window(records: list[dict[str, Any]], a: datetime, b: datetime, client: str) -> list[str]:
    return [
        r["request_id"] for r in reversed(records)
        if a <= r["started_at"] < b and r["client"] == client
    ]  # fmt: skip


async def test_a_short_window_of_last_year_is_read_by_time(
    year: tuple[str, list[dict[str, Any]]],
) -> None:
    """A client's records of a week eleven months ago were found by walking every record of
    the client from the newest, and past the week to the first record on the last page."""
    url, records = year
    a, b = datetime(2026, 1, 5), datetime(2026, 1, 12)
    got, lines = await _pages(url, client=BANK, since="2026-01-05T07:00", until="2026-01-12T07:00")
    assert got == _in_window(records, a, b, BANK)
    assert set(lines) == {
        "SEARCH transactions USING COVERING INDEX ix_transactions_started_at "
        "(started_at>? AND started_at<?)",
        "SEARCH transactions USING INDEX ix_transactions_started_at "
        "(started_at>? AND started_at<?)",
        "USE TEMP B-TREE FOR ORDER BY",
    }


@pytest.mark.parametrize("near", [2, 20_000])
async def test_a_wide_window_is_walked_within_its_records_seqs(
    year: tuple[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch, near: int
) -> None:
    """Ten months were sorted whole for each page of twenty; walked newest first, a page
    stops at the window's first record (a next page not found near the last is looked for
    in the whole window)."""
    from hub.stats import records as log

    monkeypatch.setattr(log, "WINDOW_SORTED", 5)  # the test's log is small
    monkeypatch.setattr(log, "NEAR_SEQS", near)
    url, records = year
    a, b = datetime(2026, 1, 5), datetime(2026, 11, 1)
    got, lines = await _pages(url, client=CIVIL, since="2026-01-05T07:00", until="2026-11-01T07:00")
    assert got == _in_window(records, a, b, CIVIL)
    assert not any("TEMP B-TREE" in line or line.startswith("SCAN ") for line in lines), lines
    # "SEARCH transactions": the newest seq, read from the end of the primary key.
    walks = [
        line for line in lines
        if "ix_transactions_started_at" not in line and line != "SEARCH transactions"
    ]  # fmt: skip
    assert walks and all("seq>? AND seq<?" in w for w in walks), walks
