"""`hub audit verify` finds every way of rewriting the log, and names the first bad record."""

from __future__ import annotations

import asyncio
import base64
import hashlib
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from typer.testing import CliRunner

from hub.cli.main import app as cli
from hub.core.db import create_engine
from hub.models import ChainHead, LogBatch, Transaction
from hub.txlog.audit import AuditReport, verify_log
from hub.txlog.chain import CHAINED_FIELDS, record_hash
from hub.txlog.repository import append
from hub.txlog.signing import Signer
from hub.txlog.sqlite import create_writer_engine

_tx = Transaction.__table__
BATCHES, PER_BATCH = 4, 5  # records 1..20 in batches 1..4 of five
T0 = datetime(2026, 1, 5, 9, 0, 0, 123456)


def record(n: int) -> dict[str, Any]:
    return {
        "id": f"msg-{n}",
        "request_id": f"req-{n:04d}",
        "client": "VN/GOV/BTP/civil-status",
        "service": "VN/GOV/BCA/population/citizen-lookup",
        "provider": "VN/GOV/BCA/population",
        "method": "GET",
        "path": f"/citizens/~pseudonym{n}",
        "user_id": "officer-01",
        "issue": f"HS-{n}",
        "status_code": 200,
        "succeeded": True,
        "fault_code": None,
        "request_bytes": 0,
        "response_bytes": 100 + n,
        "started_at": T0 + timedelta(seconds=n),
        "total_ms": 12.5 + n,
        "upstream_ms": 10.25,
        "hub_ms": 2.25 + n,
        "request_hash": "req-hash",
        "response_hash": f"resp-hash-{n}",
        "request_body": None,
        "response_body": None,
    }


def body_hash(text: str) -> str:
    """A kept body's hash as the hub writes it: base64 of its SHA-512."""
    return base64.b64encode(hashlib.sha512(text.encode()).digest()).decode()


# A kept request body holding U+001F, the separator of the record's text: moved to the other
# body, the same text splits another way under the same record hash.
SPLIT_SENT, SPLIT_ANSWERED = "transfer 100 to A\x1fnote", '{"ok": true}'


def split_bodies_record(n: int) -> dict[str, Any]:
    """Record ``n`` with the bodies above kept, and their hashes."""
    return record(n) | {
        "request_body": SPLIT_SENT,
        "response_body": SPLIT_ANSWERED,
        "request_hash": body_hash(SPLIT_SENT),
        "response_hash": body_hash(SPLIT_ANSWERED),
    }


async def write_log(url: str, signer: Signer, batches: int = BATCHES, start: int = 1) -> None:
    """Commit ``batches`` signed batches of PER_BATCH records, as the log writer does."""
    engine = create_writer_engine(url)
    try:
        n = start
        for _ in range(batches):
            async with engine.begin() as conn:
                records = [record(i) for i in range(n, n + PER_BATCH)]
                await append(conn, records, signer=signer, lock=url.startswith("postgresql"))
            n += PER_BATCH
    finally:
        await engine.dispose()


@pytest.fixture
def signer(tmp_path: Path) -> Signer:
    return Signer.from_file(tmp_path / "signing-key.pem", create=True)


@pytest.fixture
async def log_url(db_url: str, signer: Signer) -> str:
    await write_log(db_url, signer)
    return db_url


@pytest.fixture
async def engine(log_url: str) -> Any:
    engine = create_engine(log_url)
    yield engine
    await engine.dispose()


async def audit(engine: AsyncEngine, signer: Signer) -> AuditReport:
    return await verify_log(engine, public_key=signer.public_key)


async def rows_from(conn: AsyncConnection, seq: int) -> list[dict[str, Any]]:
    result = await conn.execute(select(_tx).where(_tx.c.seq >= seq).order_by(_tx.c.seq))
    return [dict(r._mapping) for r in result]


async def rechain(conn: AsyncConnection, seq: int) -> str:
    """Recompute prev_hash and record_hash from ``seq`` on and move the chain head: what a
    database administrator who understands the chain would do after changing a record."""
    prev_row = (await conn.execute(select(_tx.c.record_hash).where(_tx.c.seq == seq - 1))).first()
    prev = prev_row[0] if prev_row else "0" * 64
    for row in await rows_from(conn, seq):
        new = record_hash(prev, {k: row[k] for k in CHAINED_FIELDS})
        await conn.execute(
            update(_tx).where(_tx.c.seq == row["seq"]).values(prev_hash=prev, record_hash=new)
        )
        prev = new
    last = (await conn.execute(select(_tx.c.seq).order_by(_tx.c.seq.desc()).limit(1))).scalar()
    await conn.execute(
        update(ChainHead).where(ChainHead.id == 1).values(seq=last, record_hash=prev)
    )
    return prev


def run_cli(url: str, signer: Signer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """`hub audit verify --db URL --public-key FILE`, in a thread (it runs its own loop)."""
    key_file = tmp_path / "public.pem"
    key_file.write_text(signer.public_pem())
    # The CLI exports the URL for the hub it configures; monkeypatch puts it back.
    monkeypatch.setenv("HUB_DATABASE_URL", url)
    args = ["audit", "verify", "--db", url, "--public-key", str(key_file)]
    return CliRunner().invoke(cli, args, env={"COLUMNS": "200"})


async def cli_result(
    url: str, signer: Signer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Any:
    return await asyncio.to_thread(run_cli, url, signer, tmp_path, monkeypatch)


async def test_a_clean_log_verifies(
    log_url: str, engine: AsyncEngine, signer: Signer, tmp_path: Path, monkeypatch: Any
) -> None:
    report = await audit(engine, signer)
    assert report.ok, report.problems
    assert report.records == BATCHES * PER_BATCH
    assert report.batches == report.signatures_checked == BATCHES
    assert report.last_seq == BATCHES * PER_BATCH
    result = await cli_result(log_url, signer, tmp_path, monkeypatch)
    assert result.exit_code == 0, result.output
    assert "20 records chained, 4 batches, 4 signatures valid" in result.output


async def test_an_edited_field_is_found(
    log_url: str, engine: AsyncEngine, signer: Signer, tmp_path: Path, monkeypatch: Any
) -> None:
    async with engine.begin() as conn:
        await conn.execute(update(_tx).where(_tx.c.seq == 7).values(status_code=403))
    report = await audit(engine, signer)
    assert report.problems[0] == (
        "record seq=7 id=msg-7 was edited: its content no longer matches its hash"
    )
    result = await cli_result(log_url, signer, tmp_path, monkeypatch)
    assert result.exit_code == 1
    assert "record seq=7 id=msg-7 was edited" in result.output


async def test_a_record_deleted_in_the_middle_is_found(
    log_url: str, engine: AsyncEngine, signer: Signer, tmp_path: Path, monkeypatch: Any
) -> None:
    async with engine.begin() as conn:
        await conn.execute(delete(_tx).where(_tx.c.seq == 12))
    report = await audit(engine, signer)
    assert report.problems[0].startswith("record seq=12 is missing (deleted) before record seq=13")
    result = await cli_result(log_url, signer, tmp_path, monkeypatch)
    assert result.exit_code == 1
    assert "record seq=12 is missing" in result.output


async def test_the_last_record_deleted_is_found_even_with_the_head_moved_back(
    log_url: str, engine: AsyncEngine, signer: Signer, tmp_path: Path, monkeypatch: Any
) -> None:
    async with engine.begin() as conn:
        await conn.execute(delete(_tx).where(_tx.c.seq == 20))
        await rechain(conn, 20)  # nothing to rechain; moves the head back to seq 19
    report = await audit(engine, signer)
    assert report.problems == [
        "batch 4 covers records 16..20 but the records end at seq=19: record seq=20 and later "
        "were deleted from the end"
    ]
    result = await cli_result(log_url, signer, tmp_path, monkeypatch)
    assert result.exit_code == 1
    assert "record seq=20 and later were deleted" in result.output


async def test_a_chain_head_pointing_at_another_last_hash_is_named_as_such(
    log_url: str, engine: AsyncEngine, signer: Signer, tmp_path: Path, monkeypatch: Any
) -> None:
    async with engine.begin() as conn:
        await conn.execute(update(ChainHead).where(ChainHead.id == 1).values(record_hash="ab" * 32))
        last = (await conn.execute(select(_tx.c.record_hash).where(_tx.c.seq == 20))).scalar()
    report = await audit(engine, signer)
    # It said "ends at seq=20 but the records end at seq=20: records were deleted from or
    # added to the end", which the auditor could make nothing of.
    assert report.problems == [
        f"the chain head names record seq=20 with hash {'ab' * 8}..., but that record's hash "
        f"is {last[:16]}...: the chain head was changed, or the last record replaced"
    ]
    result = await cli_result(log_url, signer, tmp_path, monkeypatch)
    assert result.exit_code == 1 and "the chain head was changed" in result.output


async def test_a_forged_record_appended_with_a_recomputed_chain_is_found(
    log_url: str, engine: AsyncEngine, signer: Signer, tmp_path: Path, monkeypatch: Any
) -> None:
    async with engine.begin() as conn:
        forged = record(21) | {"seq": 21, "batch_id": 4, "prev_hash": "", "record_hash": ""}
        await conn.execute(insert(_tx).values(forged))
        await rechain(conn, 21)
    report = await audit(engine, signer)
    assert report.problems == [
        "record seq=21 id=msg-21 lies in no committed batch (it names batch 4): it was added "
        "after the fact"
    ]
    result = await cli_result(log_url, signer, tmp_path, monkeypatch)
    assert result.exit_code == 1
    assert "record seq=21 id=msg-21 lies in no committed batch" in result.output


async def test_a_forged_record_inserted_in_the_middle_is_found(
    log_url: str, engine: AsyncEngine, signer: Signer, tmp_path: Path, monkeypatch: Any
) -> None:
    async with engine.begin() as conn:
        # Make room at seq 9 (one row at a time, from the end, so seq stays unique) and
        # widen batch 2 to hold it, then rechain everything after it.
        for seq in range(20, 8, -1):
            await conn.execute(update(_tx).where(_tx.c.seq == seq).values(seq=seq + 1))
        forged = record(99) | {"seq": 9, "batch_id": 2, "prev_hash": "", "record_hash": ""}
        await conn.execute(insert(_tx).values(forged))
        await rechain(conn, 9)
    report = await audit(engine, signer)
    # Batch 2 (6..10) now ends on another record; the forged one is first in it.
    assert report.problems[0].startswith(
        "batch 2 (records 6..10) was committed with a different last hash: a record among "
        "seq 6..10 was changed"
    )
    result = await cli_result(log_url, signer, tmp_path, monkeypatch)
    assert result.exit_code == 1
    assert "batch 2 (records 6..10)" in result.output


async def test_a_dba_rewriting_history_is_caught_by_the_signatures(
    log_url: str, engine: AsyncEngine, signer: Signer, tmp_path: Path, monkeypatch: Any
) -> None:
    async with engine.begin() as conn:
        await conn.execute(update(_tx).where(_tx.c.seq == 8).values(client="VN/GOV/BTP/other"))
        await rechain(conn, 8)
    report = await audit(engine, signer)
    # The chain itself is consistent again; only the signed last hashes disagree.
    assert report.problems[0].startswith(
        "batch 2 (records 6..10) was committed with a different last hash: a record among "
        "seq 6..10 was changed and the chain recomputed after the fact"
    )
    assert len(report.problems) == 3  # batches 2, 3 and 4
    result = await cli_result(log_url, signer, tmp_path, monkeypatch)
    assert result.exit_code == 1
    assert "a record among seq 6..10 was changed" in result.output


async def test_a_dba_who_also_rewrites_the_batch_rows_breaks_their_signatures(
    engine: AsyncEngine, signer: Signer
) -> None:
    async with engine.begin() as conn:
        await conn.execute(update(_tx).where(_tx.c.seq == 3).values(issue="HS-forged"))
        await rechain(conn, 3)
        for b in (await conn.execute(select(LogBatch.id, LogBatch.last_seq))).all():
            new_last = (
                await conn.execute(select(_tx.c.record_hash).where(_tx.c.seq == b.last_seq))
            ).scalar()
            await conn.execute(
                update(LogBatch).where(LogBatch.id == b.id).values(last_hash=new_last)
            )
    report = await audit(engine, signer)
    # "its row was changed" did not say the records were what the rewrite was after.
    assert report.problems[0] == (
        "batch 1 (records 1..5) has an invalid signature: its signature, range or last hash "
        "was changed (a signature forged or moved from another batch, or a record among seq "
        "1..5 rewritten and the chain recomputed after it)"
    )
    # Without the public key only the chain is checked, and the rewrite goes unseen: the
    # signatures are what make the log non-repudiable.
    assert (await verify_log(engine)).ok


async def test_batches_signed_before_a_key_rotation_verify_with_the_old_public_key(
    log_url: str, engine: AsyncEngine, signer: Signer, tmp_path: Path
) -> None:
    new = Signer.from_file(tmp_path / "new-key.pem", create=True)
    await write_log(log_url, new, batches=1, start=BATCHES * PER_BATCH + 1)
    report = await verify_log(engine, public_key=new.public_key)
    assert report.problems == [
        f"batch {n} (records {n * 5 - 4}..{n * 5}) was signed by an unknown key ({signer.key_id})"
        for n in range(1, BATCHES + 1)
    ]
    both = await verify_log(engine, public_keys=[signer.public_key, new.public_key])
    assert both.ok and both.signatures_checked == BATCHES + 1


async def test_stopping_at_the_problem_limit_claims_nothing_about_the_unread_rest(
    log_url: str, engine: AsyncEngine, signer: Signer, tmp_path: Path
) -> None:
    # The wrong key (the old one not kept after a rotation): every batch is a problem.
    other = Signer.from_file(tmp_path / "other-key.pem", create=True)
    report = await verify_log(engine, public_key=other.public_key, max_problems=2)
    assert report.problems[:2] == [
        f"batch {n} (records {n * 5 - 4}..{n * 5}) was signed by an unknown key ({signer.key_id})"
        for n in (1, 2)
    ]
    # Stopped there: the records past it were not read, not deleted.
    assert report.problems[2:] == [
        "stopped after 2 problems at record seq=10; the records after it were not checked"
    ]
    assert not any("deleted" in p for p in report.problems)


async def test_text_moved_from_one_stored_body_to_the_other_is_found(
    db_url: str, signer: Signer
) -> None:
    sha = body_hash
    kept = split_bodies_record(1)
    not_utf8 = record(2) | {"request_body": "caf\ufffd", "request_hash": sha("café")}
    engine = create_writer_engine(db_url)
    async with engine.begin() as conn:
        await append(conn, [kept, not_utf8], signer=signer, lock=db_url.startswith("postgresql"))
    await engine.dispose()
    engine = create_engine(db_url)
    try:
        assert (await audit(engine, signer)).ok  # the U+FFFD body is not judged
        async with engine.begin() as conn:
            moved = {"request_body": "transfer 100 to A", "response_body": 'note\x1f{"ok": true}'}
            await conn.execute(update(_tx).where(_tx.c.seq == 1).values(**moved))
        report = await audit(engine, signer)
    finally:
        await engine.dispose()
    # The record's own hash still matches: the separator stands where it stood.
    assert report.problems == [
        "record seq=1 id=msg-1 was edited: its stored request body does not match its request_hash",
        "record seq=1 id=msg-1 was edited: its stored response body does not match its "
        "response_hash",
    ]


async def test_milliseconds_changed_below_the_hashed_decimals_are_found(
    log_url: str, engine: AsyncEngine, signer: Signer
) -> None:
    # The hash reads three decimals: 13.5 -> 13.5004 kept it, and verify said the log was ok.
    async with engine.begin() as conn:
        await conn.execute(update(_tx).where(_tx.c.seq == 1).values(total_ms=13.5004))
        await conn.execute(update(_tx).where(_tx.c.seq == 9).values(hub_ms=11.2499))
    report = await audit(engine, signer)
    assert report.problems == [
        "record seq=1 id=msg-1 was edited: total_ms=13.5004 has more than the three decimals "
        "the hub writes (the hash reads three, so it still holds)",
        "record seq=9 id=msg-9 was edited: hub_ms=11.2499 has more than the three decimals "
        "the hub writes (the hash reads three, so it still holds)",
    ]


@pytest.mark.parametrize("table", ["log_batches", "chain_head", "stats_hour", "registry_events"])
async def test_a_table_of_the_log_dropped_is_tampering_not_an_old_database(
    log_url: str, engine: AsyncEngine, signer: Signer, tmp_path: Path, monkeypatch: Any, table: str
) -> None:
    async with engine.begin() as conn:
        await conn.exec_driver_sql(f"DROP TABLE {table}")
    result = await cli_result(log_url, signer, tmp_path, monkeypatch)
    # It exited 2 advising `hub db upgrade`, which finds the database up to date.
    assert result.exit_code == 1, result.output
    # The trail of registry changes is no part of the log, and was said to be.
    what = "the audit trail of registry changes" if table == "registry_events" else "the log"
    said = " ".join(result.output.split())
    assert f"{what} has been tampered with" in said
    assert f"table {table} was dropped" in said and f"so {what} cannot be checked" in said
    assert "hub db upgrade" not in result.output


async def test_after_a_key_rotation_verify_says_to_pass_the_old_public_key(
    log_url: str, signer: Signer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # docs/security.md's rotation: a new key file in place, the old public key saved. A
    # plain `hub audit verify` then reads the batches of the old key as signed by an unknown
    # one: the operator who just rotated it is told how to verify, not only "tampered".
    new = Signer.from_file(tmp_path / "new-key.pem", create=True)
    await write_log(log_url, new, batches=1, start=BATCHES * PER_BATCH + 1)
    monkeypatch.setenv("HUB_SIGNING_KEY_FILE", str(tmp_path / "new-key.pem"))
    monkeypatch.setenv("HUB_DATABASE_URL", log_url)
    args = ["audit", "verify", "--db", log_url]
    result = await asyncio.to_thread(CliRunner().invoke, cli, args, env={"COLUMNS": "200"})
    assert result.exit_code == 1, result.output
    out = " ".join(result.output.split())
    assert f"was signed by an unknown key ({signer.key_id})" in out
    assert (
        f"signed by key {signer.key_id}, which this check was not given: if "
        'HUB_SIGNING_KEY_FILE was replaced (docs/security.md, "Rotating secrets"), pass the '
        "public key of each key the hub signed with, the old ones too: hub audit verify "
        "--public-key OLD.pub.pem --public-key NEW.pub.pem"
    ) in out
    # Given both, it passes, and a failure with every key known says nothing of rotations.
    old_pub, new_pub = tmp_path / "old.pub.pem", tmp_path / "new.pub.pem"
    old_pub.write_text(signer.public_pem())
    new_pub.write_text(new.public_pem())
    both = args + ["--public-key", str(old_pub), "--public-key", str(new_pub)]
    result = await asyncio.to_thread(CliRunner().invoke, cli, both, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "which this check was not given" not in result.output
    # The ok line names the batches each key signed: one is "1 batch", not "1 batches".
    assert f"{signer.key_id} ({BATCHES} batches)" in result.output
    assert f"{new.key_id} (1 batch)" in result.output
    assert "(1 batches)" not in result.output


async def test_a_batch_whose_key_id_was_erased_is_named_without_a_traceback(
    log_url: str, engine: AsyncEngine, signer: Signer, tmp_path: Path, monkeypatch: Any
) -> None:
    async with engine.begin() as conn:
        await conn.execute(update(LogBatch).where(LogBatch.id == 2).values(key_id=None))
    report = await audit(engine, signer)
    assert report.problems == [
        "batch 2 (records 6..10) is signed, but its key_id was erased: its signature cannot "
        "be checked"
    ]
    result = await cli_result(log_url, signer, tmp_path, monkeypatch)
    # The rotation hint sorted the key ids it had not been given, None among them: TypeError.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == 1, result.output
    assert "pass the public key" not in result.output


async def test_verify_reports_its_progress_through_the_records(
    engine: AsyncEngine, signer: Signer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A million records took half a minute with nothing shown; the CLI draws this as a bar.
    monkeypatch.setattr("hub.txlog.audit.CHUNK", 6)
    seen: list[tuple[int, int]] = []
    report = await verify_log(
        engine, public_key=signer.public_key, progress=lambda seq, end: seen.append((seq, end))
    )
    assert report.ok, report.problems
    end = BATCHES * PER_BATCH
    assert seen == [(6, end), (12, end), (18, end), (20, end)]


@pytest.mark.parametrize("seq", [0, -5])
async def test_a_record_forged_before_seq_1_is_found(
    log_url: str, engine: AsyncEngine, signer: Signer, tmp_path: Path, monkeypatch: Any, seq: int
) -> None:
    # The walk began after seq 0, so a record put below it was never read: `hub tx show`
    # showed it, and `hub audit proof` sent its reader to a verify that said ok.
    forged = record(99) | {"seq": seq, "batch_id": 1, "prev_hash": "0" * 64}
    forged["record_hash"] = record_hash("0" * 64, forged)
    async with engine.begin() as conn:
        await conn.execute(insert(_tx).values(forged))
    report = await audit(engine, signer)
    assert report.problems == [
        f"record seq={seq} id=msg-99 lies before seq=1, where the hub begins the log: it was "
        "inserted (1 record below seq=1)"
    ]
    result = await cli_result(log_url, signer, tmp_path, monkeypatch)
    assert result.exit_code == 1, result.output
