"""SQLite stores any value in any column: values the hash reads back as the hub's own, and
values that are not values at all, are tampering named by their record or batch."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from hub.cli.main import app as cli
from hub.core.db import create_engine
from hub.txlog.audit import verify_log
from hub.txlog.signing import Signer
from tests.txlog.test_audit import write_log


@pytest.fixture
def signer(tmp_path: Path) -> Signer:
    return Signer.from_file(tmp_path / "signing-key.pem", create=True)


@pytest.fixture
async def log_url(sqlite_url: str, signer: Signer) -> str:
    await write_log(sqlite_url, signer)
    return sqlite_url


async def tamper(url: str, sql: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text(sql))
    await engine.dispose()


async def verify_cli(url: str, signer: Signer, tmp_path: Path, monkeypatch: Any) -> Any:
    key_file = tmp_path / "public.pem"
    key_file.write_text(signer.public_pem())
    monkeypatch.setenv("HUB_DATABASE_URL", url)
    args = ["audit", "verify", "--db", url, "--public-key", str(key_file)]
    return await asyncio.to_thread(CliRunner().invoke, cli, args, env={"COLUMNS": "250"})


# Each reads back through SQLAlchemy as the value the hub hashed, so the record's hash still
# matches; SQL sees another value (fault_code IS NULL, a range of started_at, succeeded = 1).
SAME_TO_THE_HASH = [
    ("UPDATE transactions SET fault_code = char(0) WHERE seq = 7", "fault_code='\\x00'"),
    (
        "UPDATE transactions SET started_at = replace(started_at, ' ', 'T') WHERE seq = 7",
        "started_at='2026-01-05T09:00:07.123456'",
    ),
    ("UPDATE transactions SET succeeded = 'maybe' WHERE seq = 7", "succeeded='maybe'"),
    ("UPDATE transactions SET response_body = char(0) WHERE seq = 7", "response_body='\\x00'"),
]


@pytest.mark.parametrize(("sql", "shown"), SAME_TO_THE_HASH)
async def test_a_value_stored_in_another_form_is_found(
    log_url: str, signer: Signer, tmp_path: Path, monkeypatch: Any, sql: str, shown: str
) -> None:
    await tamper(log_url, sql)
    engine = create_engine(log_url)
    report = await verify_log(engine, public_key=signer.public_key)
    await engine.dispose()
    assert report.problems == [
        f"record seq=7 id=msg-7 was edited: {shown} is not stored the way the hub writes it "
        "(read back, it may hash the same, but SQL sees it otherwise)"
    ]
    result = await verify_cli(log_url, signer, tmp_path, monkeypatch)
    assert result.exit_code == 1, result.output
    assert f"record seq=7 id=msg-7 was edited: {shown}" in result.output


# Values that are no values of their column: reading them failed the whole check (exit 2,
# "cannot read the log") instead of naming the record or batch.
GARBAGE = [
    (
        "UPDATE transactions SET started_at = 'garbage' WHERE seq = 7",
        "record seq=7 id=msg-7 was edited: started_at='garbage' is not stored the way the hub "
        "writes it",
    ),
    (
        "UPDATE transactions SET started_at = '2026-13-45 09:00:07.123456' WHERE seq = 7",
        "record seq=7 id=msg-7 was edited: started_at='2026-13-45 09:00:07.123456' is not a date",
    ),
    (
        "UPDATE log_batches SET last_seq = 'x' WHERE id = 2",
        "batch 2 was changed: last_seq='x' is not stored the way the hub writes it",
    ),
    (
        "UPDATE log_batches SET committed_at = 'garbage' WHERE id = 3",
        "batch 3 was changed: committed_at='garbage' is not stored the way the hub writes it",
    ),
    (
        "UPDATE chain_head SET seq = 'x'",
        "the chain head was changed: seq='x' is not stored the way the hub writes it",
    ),
    ("UPDATE rollup_mark SET seq = 'x'", "the rollup mark was changed: seq='x' is not a seq"),
]


@pytest.mark.parametrize(("sql", "problem"), GARBAGE)
async def test_garbage_in_a_column_is_tampering_named_by_its_row(
    log_url: str, signer: Signer, tmp_path: Path, monkeypatch: Any, sql: str, problem: str
) -> None:
    await tamper(log_url, sql)
    result = await verify_cli(log_url, signer, tmp_path, monkeypatch)
    assert result.exit_code == 1, result.output
    assert "the log has been tampered with" in result.output
    assert problem in result.output


async def test_the_rows_around_a_damaged_one_are_still_checked(
    log_url: str, signer: Signer
) -> None:
    await tamper(log_url, "UPDATE log_batches SET first_seq = 'x' WHERE id = 2")
    await tamper(log_url, "UPDATE transactions SET issue = 'forged' WHERE seq = 14")
    engine = create_engine(log_url)
    report = await verify_log(engine, public_key=signer.public_key)
    await engine.dispose()
    # The damaged batch is named once, not once for each of its records.
    assert report.problems == [
        "batch 2 was changed: first_seq='x' is not stored the way the hub writes it",
        "record seq=14 id=msg-14 was edited: its content no longer matches its hash",
    ]
