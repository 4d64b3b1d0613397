"""The batch rows themselves: the hub writes them one after another from seq 1, so a row
inserted beside them, or one deleted from among them, is named by `hub audit verify`."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from hub.core.db import create_engine
from hub.models import ChainHead, LogBatch
from hub.txlog.audit import verify_log
from hub.txlog.signing import Signer
from tests.txlog.test_audit import run_cli, write_log


@pytest.fixture
def signer(tmp_path: Path) -> Signer:
    return Signer.from_file(tmp_path / "signing-key.pem", create=True)


@pytest.fixture
async def log_url(db_url: str, signer: Signer) -> str:
    await write_log(db_url, signer)  # records 1..20 in batches 1..4 of five
    return db_url


@pytest.fixture
async def engine(log_url: str) -> Any:
    engine = create_engine(log_url)
    yield engine
    await engine.dispose()


async def copy_batch(engine: AsyncEngine, of: int, **changes: Any) -> None:
    """A forged batch row: batch ``of``'s, signature and all, under another id or range."""
    async with engine.begin() as conn:
        row = (await conn.execute(select(LogBatch.__table__).where(LogBatch.id == of))).one()
        await conn.execute(insert(LogBatch).values(dict(row._mapping) | changes))


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        # Its range is batch 2's: the walk checked one of the two rows ending at seq 10
        # and said the log was whole.
        ({"id": 0}, "batch 0 (records 6..10) is not one the hub wrote"),
        # An empty range matches no record, so nothing looked at it.
        ({"id": -1, "first_seq": 9, "last_seq": 3}, "batch -1 (records 9..3) is not one"),
    ],
)
async def test_a_forged_batch_row_beside_the_real_ones_is_found(
    log_url: str,
    engine: AsyncEngine,
    signer: Signer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    changes: dict[str, Any],
    named: str,
) -> None:
    await copy_batch(engine, 2, **changes)
    report = await verify_log(engine, public_key=signer.public_key)
    assert not report.ok
    assert report.problems[0].startswith(named), report.problems
    assert "the hub writes batches one after another" in report.problems[0]
    # The real rows around it are not accused.
    assert not any(p.startswith(("batch 1 ", "batch 2 ", "batch 3 ")) for p in report.problems)
    result = await asyncio.to_thread(run_cli, log_url, signer, tmp_path, monkeypatch)
    assert result.exit_code == 1, result.output
    assert named in result.output


async def test_a_batch_row_deleted_from_the_middle_is_named(
    engine: AsyncEngine, signer: Signer
) -> None:
    async with engine.begin() as conn:
        await conn.execute(delete(LogBatch).where(LogBatch.id == 2))
    report = await verify_log(engine, public_key=signer.public_key)
    assert report.problems[0] == (
        "batch 3 (records 11..15) does not follow batch 1 (records 1..5): the hub writes "
        "batches one after another from seq=1, so batch 2 (records 6..10) was deleted"
    )
    # Its records say so too, each by its batch.
    assert any("record seq=6 id=msg-6 lies in no committed batch" in p for p in report.problems)


async def test_batches_that_follow_one_another_are_not_reported(
    engine: AsyncEngine, signer: Signer, log_url: str
) -> None:
    await write_log(log_url, signer, batches=2, start=21)  # more of them, as the hub writes
    report = await verify_log(engine, public_key=signer.public_key)
    assert report.ok, report.problems
    assert report.batches == 6


async def test_a_chain_head_moved_forward_leaves_records_in_no_batch(
    engine: AsyncEngine, signer: Signer, log_url: str
) -> None:
    async with engine.begin() as conn:
        await conn.execute(update(ChainHead).where(ChainHead.id == 1).values(seq=25))
    await write_log(log_url, signer, batches=1, start=21)  # the hub goes on from the head
    report = await verify_log(engine, public_key=signer.public_key)
    assert report.problems[0] == (
        "batch 5 (records 26..30) does not follow batch 4 (records 16..20): the hub writes "
        "batches one after another from seq=1, so records 21..25 belong to no batch (the "
        "chain head was moved past them, or a row's range changed)"
    )
