"""`hub audit verify` holds the statistics to the log: counts equal the log's (SPEC §7)."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Table, delete, func, select, text, update

from hub.core.db import create_engine
from hub.models import MinutePrune, RollupMark, StatsDay, StatsHour, StatsMinute
from hub.models.stats import LatencyHour
from hub.stats import synth
from hub.stats.retention import prune
from hub.stats.rollup import Rollup
from hub.stats.timeutil import floor_hour, utcnow
from hub.txlog.audit import AuditReport, verify_log
from hub.txlog.audit_stats import Statistics
from hub.txlog.signing import Signer
from hub.txlog.sqlite import create_writer_engine
from tests.txlog.test_audit import cli_result

RECORDS = 600


@pytest.fixture
def signer(tmp_path: Path) -> Signer:
    return Signer.from_file(tmp_path / "signing-key.pem", create=True)


@pytest.fixture
async def log_url(db_url: str, signer: Signer) -> str:
    """Two days of synthetic traffic, logged with its rollups as the hub logs it."""
    engine = create_writer_engine(db_url)
    await synth.load(engine, records=RECORDS, days=2, secret="s" * 20, seed=5, signer=signer,
                     batch_size=100)  # fmt: skip
    await engine.dispose()
    return db_url


async def audit(url: str, signer: Signer) -> AuditReport:
    engine = create_engine(url)
    try:
        return await verify_log(engine, public_key=signer.public_key, minute_days=35)
    finally:
        await engine.dispose()


async def change(url: str, table: Any, delta: int, nth: int = 0, **where: Any) -> Any:
    """Add ``delta`` to the count of the ``nth`` row of a rollup table; that row's key."""
    t: Table = table.__table__
    engine = create_engine(url)
    async with engine.begin() as conn:
        count = "n_total" if "bin" in t.c else "count"
        keys = [c for c in t.primary_key.columns]
        query = select(*keys).order_by(*keys)
        for name, value in where.items():
            query = query.where(t.c[name] == value)
        row = (await conn.execute(query.offset(nth).limit(1))).one()
        match = [c == v for c, v in zip(keys, row, strict=True)]
        await conn.execute(update(t).where(*match).values({count: t.c[count] + delta}))
    await engine.dispose()
    return row


async def test_rollups_written_with_the_log_agree_with_it(log_url: str, signer: Signer) -> None:
    report = await audit(log_url, signer)
    assert report.ok, report.problems
    assert report.rollup_mark == RECORDS == report.last_seq


@pytest.mark.parametrize("table", [StatsDay, StatsHour])
async def test_forged_counts_disagree_with_the_log(
    log_url: str, signer: Signer, table: Any
) -> None:
    row = await change(log_url, table, 5000)
    day = f"{row.bucket:%Y-%m-%d}"
    problems = (await audit(log_url, signer)).problems
    name = table.__tablename__
    first = [p for p in problems if p.startswith(f"statistics disagree with the log: {name} ")]
    assert first and first[0].startswith(
        f"statistics disagree with the log: {name} on {day} (UTC): count "
    )
    assert f"in all it counts {RECORDS + 5000:,} exchanges, the log {RECORDS:,} up to the " \
        f"rollup mark seq={RECORDS}" in first[0]  # fmt: skip


async def test_counts_moved_between_the_rows_of_a_day_disagree_with_the_log(
    log_url: str, signer: Signer
) -> None:
    # An hour with two rows at least: the window's first hour may hold a single record,
    # depending on the time of day the test runs.
    engine = create_engine(log_url)
    async with engine.connect() as conn:
        t = StatsHour.__table__
        hour = (
            await conn.execute(
                select(t.c.bucket).group_by(t.c.bucket).having(func.count() > 1).limit(1)
            )
        ).scalar_one()
    await engine.dispose()
    first = await change(log_url, StatsHour, -1, bucket=hour)
    await change(log_url, StatsHour, +1, nth=1, bucket=hour)  # the day's totals hold
    problems = (await audit(log_url, signer)).problems
    moved = "the same totals, split differently between hours, clients or statuses"
    assert problems[0].startswith(
        f"statistics disagree with the log: stats_hour on {first.bucket:%Y-%m-%d} (UTC): {moved}"
    )


async def test_forged_minutes_disagree_with_their_hour(log_url: str, signer: Signer) -> None:
    row = await change(log_url, StatsMinute, 5000)
    problems = (await audit(log_url, signer)).problems
    assert len(problems) == 1
    assert problems[0].startswith(
        "statistics disagree with the log: stats_minute does not add up to stats_hour at ("
    )
    assert row.client in problems[0]


@pytest.mark.parametrize("kept_hours", [24, 0])
async def test_minutes_pruned_under_a_shorter_retention_are_no_tampering(
    log_url: str, signer: Signer, kept_hours: int
) -> None:
    # The hub kept a day of minutes (or none are left); `hub audit verify`, run without the
    # hub's HUB_MINUTE_ROLLUP_DAYS, believed in 35 days and reported the log as tampered
    # with: "stats_minute does not add up to stats_hour".
    engine = create_engine(log_url)
    try:
        horizon = floor_hour(utcnow() - timedelta(hours=kept_hours)) + timedelta(hours=1)
        assert await prune(engine, horizon) > 0
    finally:
        await engine.dispose()
    report = await audit(log_url, signer)
    assert report.ok, report.problems
    if kept_hours:  # the minutes still kept are still held to their hours
        await change(log_url, StatsMinute, 5000, nth=0)
        assert not (await audit(log_url, signer)).ok


async def delete_minutes(url: str, before: datetime) -> tuple[int, str]:
    """``DELETE FROM stats_minute WHERE bucket < before``, as whoever can write to the
    database may; the exchanges the deleted rows counted, and the hours they lay in."""
    t: Table = StatsMinute.__table__  # type: ignore[assignment]
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            old = t.c.bucket < before
            counted, first, last = (
                await conn.execute(
                    select(func.sum(t.c.count), func.min(t.c.bucket), func.max(t.c.bucket)).where(
                        old
                    )
                )
            ).one()
            await conn.execute(delete(t).where(old))
    finally:
        await engine.dispose()
    if not counted:
        return 0, ""
    end = floor_hour(last) + timedelta(hours=1)
    return int(counted), f"from {floor_hour(first):%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} (UTC)"


@pytest.mark.parametrize("pruned", [True, False])
async def test_the_oldest_minutes_deleted_inside_the_kept_range_are_found(
    log_url: str, signer: Signer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pruned: bool
) -> None:
    # The oldest minute rows looked pruned: the audit held only the minutes from the oldest
    # row's hour on to their hours, whatever the pruner had deleted.
    now = utcnow()
    if pruned:  # the pruner went up to a day and a half ago; none of this is retention's
        engine = create_engine(log_url)
        try:
            assert await prune(engine, floor_hour(now - timedelta(hours=36))) > 0
        finally:
            await engine.dispose()
        assert (await audit(log_url, signer)).ok
    missing, hours = await delete_minutes(log_url, floor_hour(now - timedelta(hours=20)))
    assert missing > 0

    problems = (await audit(log_url, signer)).problems
    assert len(problems) == 1, problems
    # "of 1 exchanges, in 1 hours" before: the nouns follow their counts.
    exchanges = f"exchange{'s' * (missing != 1)}"
    assert problems[0].startswith(
        f"statistics disagree with the log: stats_minute has lost the minutes of {missing:,} "
        f"{exchanges}, in "
    )
    counted = re.search(r", in (\d+) (hours?) ", problems[0])
    assert counted and counted[2] == "hour" + "s" * (counted[1] != "1"), problems[0]
    assert f" {hours} that stats_hour counts: their rows were deleted, or " in problems[0]

    result = await cli_result(log_url, signer, tmp_path, monkeypatch)
    assert result.exit_code == 1
    assert "the log has been tampered with" in result.output
    assert f"stats_minute has lost the minutes of {missing:,} {exchanges}" in result.output


async def test_minutes_an_older_hub_pruned_are_no_tampering(log_url: str, signer: Signer) -> None:
    # A hub before revision 0009 pruned without saying how far: the oldest minute row's hour
    # is all there is to go by, and no alarm is raised for the minutes before it.
    from alembic import command

    from hub.core.migrate import alembic_config, upgrade

    await asyncio.to_thread(command.downgrade, alembic_config(log_url), "0008")
    horizon = floor_hour(utcnow() - timedelta(hours=30))
    assert (await delete_minutes(log_url, horizon))[0] > 0  # that hub's prune
    await asyncio.to_thread(upgrade, log_url)
    report = await audit(log_url, signer)
    assert report.ok, report.problems
    # From the upgrade on, the minutes kept are known: deleting the oldest of them is seen.
    missing, _ = await delete_minutes(log_url, horizon + timedelta(hours=6))
    assert missing > 0
    problems = (await audit(log_url, signer)).problems
    assert [p.split(", in ")[0] for p in problems] == [
        f"statistics disagree with the log: stats_minute has lost the minutes of {missing:,} "
        "exchanges"
    ]


async def test_without_a_recorded_prune_the_oldest_minute_row_is_trusted(
    log_url: str, signer: Signer
) -> None:
    # No row says how far the minutes were pruned (a database an older hub pruned): the
    # minutes before the oldest row's hour are taken as pruned, as before.
    engine = create_engine(log_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(delete(MinutePrune))
    finally:
        await engine.dispose()
    assert (await delete_minutes(log_url, floor_hour(utcnow() - timedelta(hours=20))))[0] > 0
    report = await audit(log_url, signer)
    assert report.ok, report.problems


async def test_a_recorded_prune_that_is_no_hour_is_named(log_url: str, signer: Signer) -> None:
    if not log_url.startswith("sqlite"):
        pytest.skip("SQLite only: PostgreSQL keeps a timestamp in a timestamp column")
    engine = create_engine(log_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("UPDATE minute_prune SET pruned_before = 'yesterday'"))
    finally:
        await engine.dispose()
    problems = (await audit(log_url, signer)).problems
    assert problems == [
        "the record of how far the minute rollups were pruned was changed: "
        "pruned_before='yesterday' is not a whole hour"
    ]


async def test_a_forged_latency_histogram_disagrees_with_its_hour(
    log_url: str, signer: Signer
) -> None:
    row = await change(log_url, LatencyHour, 1)
    problems = (await audit(log_url, signer)).problems
    assert len(problems) == 1
    # The row's key as an operator reads it, on both engines: PostgreSQL's showed
    # "(datetime.datetime(2026, 12, 6, 13, 0), 'VN/GOV/...', ...)".
    assert problems[0] == (
        "statistics disagree with the log: stats_latency_hour does not add up to the "
        f"exchanges of stats_hour at ({row.bucket:%Y-%m-%d %H:%M}, {row.client}, "
        f"{row.service}, {row.provider})"
    )


async def set_mark(url: str, seq: int) -> None:
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(update(RollupMark).where(RollupMark.id == 1).values(seq=seq))
    await engine.dispose()


async def test_a_mark_moved_back_counts_records_twice_and_is_found(
    log_url: str, signer: Signer
) -> None:
    await set_mark(log_url, 0)  # readers would add every record again to the rollups'
    problems = (await audit(log_url, signer)).problems
    assert [p.split(" on ")[0] for p in problems] == [
        "statistics disagree with the log: stats_hour",
        "statistics disagree with the log: stats_day",
    ]
    assert all(
        f"in all it counts {RECORDS:,} exchanges, the log 0 up to the rollup mark seq=0" in p
        for p in problems
    )


async def test_a_mark_past_the_log_is_found(log_url: str, signer: Signer) -> None:
    await set_mark(log_url, RECORDS + 100)
    problems = (await audit(log_url, signer)).problems
    assert problems == [
        f"the rollup mark says the statistics count the log up to seq={RECORDS + 100}, but "
        f"the records end at seq={RECORDS}: it was changed, or records were deleted from the end"
    ]


def test_the_check_sums_the_log_as_the_rollups_do() -> None:
    """``Statistics.add_records`` repeats the hour keys and sums of ``Rollup`` (for speed)."""
    gen = synth.Generator("s" * 20, seed=9)
    records = gen.hour(utcnow().replace(minute=0, second=0, microsecond=0), 400)
    records += gen.hour(records[0]["started_at"].replace(minute=0, second=0), 300)
    ours = Statistics(mark=10**9, horizon=None)
    ours.add_records(records[:350])  # in two chunks, as the walk gives them
    ours.add_records(records[350:])
    theirs = Statistics(mark=10**9, horizon=None)
    theirs.secret, theirs.mix = ours.secret, ours.mix
    rollup = Rollup(records).grains()
    theirs._add(theirs.log, "stats_hour", rollup.counts["hour"].items())
    theirs._add(theirs.log, "stats_day", rollup.counts["day"].items())
    assert ours.log.keys() == theirs.log.keys()
    for key, sums in ours.log.items():
        assert sums[:5] == theirs.log[key][:5]
        assert sums[5:] == pytest.approx(theirs.log[key][5:])


async def test_milliseconds_changed_below_the_shown_decimals_show_how_they_differ(
    log_url: str, signer: Signer
) -> None:
    engine = create_engine(log_url)
    async with engine.begin() as conn:
        t = StatsDay.__table__
        day = (await conn.execute(select(func.min(t.c.bucket)))).scalar_one()
        ms = (await conn.execute(select(func.sum(t.c.total_ms)).where(t.c.bucket == day))).scalar()
        # A day's sum moved by a few ten-thousandths, staying the same to three decimals.
        shown = round(ms, 3)
        moved = shown + 0.0003 if ms < shown + 0.0002 else shown - 0.0003
        keys = list(t.primary_key.columns)
        row = (await conn.execute(select(*keys).where(t.c.bucket == day).limit(1))).one()
        one_row = [c == v for c, v in zip(keys, row, strict=True)]
        await conn.execute(update(t).where(*one_row).values(total_ms=t.c.total_ms + moved - ms))
    await engine.dispose()
    problems = (await audit(log_url, signer)).problems
    # It said "total_ms 1,932.226 in the table, 1,932.226 in the log": no difference to see.
    assert len(problems) == 1 and problems[0].startswith(
        f"statistics disagree with the log: stats_day on {day:%Y-%m-%d} (UTC): total_ms "
    ), problems
    found = re.search(r"total_ms ([\d,.]+) in the table, ([\d,.]+) in the log;", problems[0])
    assert found is not None, problems[0]
    table, log = (float(v.replace(",", "")) for v in found.groups())
    assert table != log
    assert table == pytest.approx(moved, abs=1e-4) and log == pytest.approx(ms, abs=1e-4)
