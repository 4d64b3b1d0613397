"""Anchors against a log cut from the end and appended to, and what `hub audit` prints."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from hub.cli.main import app as cli
from hub.core.db import create_engine
from hub.models import ChainHead, LogBatch, Transaction
from hub.stats import rollup
from hub.txlog.audit import verify_log
from hub.txlog.signing import Signer
from hub.txlog.sqlite import create_writer_engine
from tests.txlog.test_audit import BATCHES, PER_BATCH, write_log

_tx = Transaction.__table__
LAST = BATCHES * PER_BATCH  # 20 records in 4 batches


@pytest.fixture
def signer(tmp_path: Path) -> Signer:
    return Signer.from_file(tmp_path / "signing-key.pem", create=True)


@pytest.fixture
async def log_url(db_url: str, signer: Signer) -> str:
    await write_log(db_url, signer)
    return db_url


async def hub(url: str, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    """`hub ARGS...` in a thread (it runs its own event loop)."""
    # The CLI exports the URL for the hub it configures; monkeypatch puts it back.
    monkeypatch.setenv("HUB_DATABASE_URL", url)
    runner = CliRunner()
    return await asyncio.to_thread(runner.invoke, cli, list(args), env={"COLUMNS": "200"})


async def verify(
    url: str, signer: Signer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *args: str
) -> Any:
    key_file = tmp_path / "public.pem"
    key_file.write_text(signer.public_pem())
    return await hub(url, monkeypatch, "audit", "verify", "--db", url, "--public-key",
                     str(key_file), *args)  # fmt: skip


def anchor_of(output: str) -> str:
    found = re.search(r"--expect (\d+:[0-9a-f]{64})", output)
    assert found, output
    return found[1]


async def cut_back(url: str, to_batch: int) -> None:
    """The database administrator's truncation: the last batches go with their records,
    and the chain head moves back to the last record left, as if they had never been."""
    engine = create_engine(url)
    async with engine.begin() as conn:
        last_seq = (
            await conn.execute(select(LogBatch.last_seq).where(LogBatch.id == to_batch))
        ).scalar_one()
        last_hash = (
            await conn.execute(select(_tx.c.record_hash).where(_tx.c.seq == last_seq))
        ).scalar_one()
        await conn.execute(delete(_tx).where(_tx.c.seq > last_seq))
        await conn.execute(delete(LogBatch).where(LogBatch.id > to_batch))
        await conn.execute(
            update(ChainHead)
            .where(ChainHead.id == 1)
            .values(seq=last_seq, record_hash=last_hash, batch_id=to_batch)
        )
    await engine.dispose()


async def test_the_ok_output_gives_an_anchor_that_hub_tx_show_confirms(
    log_url: str, signer: Signer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = await verify(log_url, signer, tmp_path, monkeypatch)
    assert result.exit_code == 0, result.output
    assert f"{LAST} records chained, {BATCHES} batches, {BATCHES} signatures valid" in (
        result.output
    )
    assert f"by key {signer.key_id} ({BATCHES} batches)" in result.output
    anchor = anchor_of(result.output)
    seq, digest = anchor.split(":")
    assert f"anchor: {anchor} (record seq={LAST}, batch {BATCHES}, signed by key " in (
        result.output
    )
    # The record itself, as an auditor would look it up for a proof.
    shown = await hub(log_url, monkeypatch, "tx", "show", f"req-{LAST:04d}", "--db", log_url)
    assert shown.exit_code == 0, shown.output
    record = json.loads(shown.output)
    assert (record["seq"], record["record_hash"], record["batch_id"]) == (int(seq), digest, 4)
    assert len(record["prev_hash"]) == 64
    # The same log checked against its anchor: found, unchanged.
    again = await verify(log_url, signer, tmp_path, monkeypatch, "--expect", anchor)
    assert again.exit_code == 0, again.output
    assert "1 kept anchor(s) found unchanged" in again.output


async def test_a_log_cut_from_the_end_and_appended_to_fails_its_anchor(
    log_url: str, signer: Signer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    anchor = anchor_of((await verify(log_url, signer, tmp_path, monkeypatch)).output)
    await cut_back(log_url, to_batch=2)  # records 11..20 and batches 3 and 4 gone
    await write_log(log_url, signer, batches=3, start=100)  # the hub goes on: 11..25
    # Inside the database nothing shows it: every batch is signed, every link holds.
    engine = create_engine(log_url)
    assert (await verify_log(engine, public_key=signer.public_key)).ok
    report = await verify_log(
        engine, public_key=signer.public_key, expect={LAST: anchor.split(":")[1]}
    )
    await engine.dispose()
    assert report.problems == [
        f"record seq={LAST} is not the record kept as an anchor: its hash is "
        f"{report.problems[0].split('its hash is ')[1].split(',')[0]}, the anchor's "
        f"{anchor.split(':')[1]} (the log was cut back to before it and appended to again, "
        "or rewritten)"
    ]
    result = await verify(log_url, signer, tmp_path, monkeypatch, "--expect", anchor)
    assert result.exit_code == 1, result.output
    assert f"record seq={LAST} is not the record kept as an anchor" in result.output


async def test_a_log_cut_from_the_end_fails_an_anchor_past_its_end(
    log_url: str, signer: Signer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = anchor_of((await verify(log_url, signer, tmp_path, monkeypatch)).output)
    await cut_back(log_url, to_batch=3)
    result = await verify(log_url, signer, tmp_path, monkeypatch, "--expect", first)
    assert result.exit_code == 1, result.output
    assert (
        f"record seq={LAST}, kept as an anchor, is missing: the log now ends at seq=15"
    ) in result.output


async def test_an_anchor_deleted_from_the_middle_is_missing(log_url: str, signer: Signer) -> None:
    engine = create_engine(log_url)
    async with engine.connect() as conn:
        kept = (await conn.execute(select(_tx.c.record_hash).where(_tx.c.seq == 7))).scalar()
    async with engine.begin() as conn:
        await conn.execute(delete(_tx).where(_tx.c.seq == 7))
    report = await verify_log(engine, public_key=signer.public_key, expect={7: kept})
    await engine.dispose()
    assert report.problems[0].startswith("record seq=7 is missing (deleted)")
    assert (
        "record seq=7, kept as an anchor, is missing: it was deleted (records were cut from "
        "the log, and maybe others appended in their place)"
    ) in report.problems


@pytest.mark.parametrize(
    "value",
    # Past a BIGINT, a seq no row can have: it was "missing", the log "tampered with".
    ["20", "20:abc", f"0:{'a' * 64}", f"x:{'a' * 64}", f"20:{'g' * 64}", f"{2**63}:{'a' * 64}"],
)
async def test_an_anchor_that_is_not_one_is_refused(
    value: str, sqlite_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    signer = Signer.from_file(tmp_path / "k.pem", create=True)
    result = await verify(sqlite_url, signer, tmp_path, monkeypatch, "--expect", value)
    assert result.exit_code == 2
    assert "is not an anchor: give SEQ:HASH" in result.output


async def test_a_deleted_chain_head_is_reported(
    log_url: str, signer: Signer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine(log_url)
    async with engine.begin() as conn:
        await conn.execute(delete(ChainHead))
    report = await verify_log(engine, public_key=signer.public_key)
    await engine.dispose()
    assert report.problems == [
        "the chain head is missing (its row was deleted): the hub cannot append, and the end "
        "of the log cannot be checked against it"
    ]
    result = await verify(log_url, signer, tmp_path, monkeypatch)
    assert result.exit_code == 1
    assert "the chain head is missing" in result.output


async def test_a_head_that_names_a_batch_past_the_last_is_reported(
    log_url: str, signer: Signer
) -> None:
    engine = create_engine(log_url)
    async with engine.begin() as conn:
        await conn.execute(update(ChainHead).where(ChainHead.id == 1).values(batch_id=9))
    report = await verify_log(engine, public_key=signer.public_key)
    await engine.dispose()
    assert report.problems == [
        "the chain head names batch 9 but the last batch is 4: batches were deleted from or "
        "added to the end"
    ]


async def test_without_signatures_the_output_says_they_were_not_checked(
    log_url: str, signer: Signer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = await hub(log_url, monkeypatch, "audit", "verify", "--db", log_url, "--no-signatures")
    assert result.exit_code == 0, result.output
    assert not result.output.startswith("ok")
    assert result.output.startswith("the chain holds, but signatures were NOT checked")
    assert "signatures valid" not in result.output and "signed by" not in result.output


def test_public_key_prints_the_key_id_of_a_given_key_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    signer = Signer.from_file(tmp_path / "private.pem", create=True)
    public = tmp_path / "public.pem"
    public.write_text(signer.public_pem())
    monkeypatch.setenv("HUB_SIGNING_KEY_FILE", str(tmp_path / "absent.pem"))
    runner = CliRunner()
    shown = runner.invoke(cli, ["audit", "public-key", "--file", str(public), "--id"])
    assert shown.exit_code == 0, shown.output
    lines = shown.output.splitlines()
    assert lines[0] == f"key id: {signer.key_id}"
    assert lines[1].startswith(f"sha256: {signer.key_id}") and len(lines[1]) == 8 + 64
    # A private key file gives its public half, the PEM `--public-key` takes.
    pem = runner.invoke(cli, ["audit", "public-key", "--file", str(tmp_path / "private.pem")])
    assert pem.output == signer.public_pem()
    # The hub's own key, when there is none: a clear error, not a traceback.
    missing = runner.invoke(cli, ["audit", "public-key", "--id"])
    assert missing.exit_code == 2 and "does not exist" in missing.output


def test_a_key_file_that_is_not_an_ed25519_key_is_one_line_and_exit_2(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    pem, pkcs8 = serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8
    rsa_key = tmp_path / "rsa.pem"
    rsa_key.write_bytes(
        rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            pem, pkcs8, serialization.NoEncryption()
        )
    )
    locked = tmp_path / "locked.pem"
    locked.write_bytes(
        ed25519.Ed25519PrivateKey.generate().private_bytes(
            pem, pkcs8, serialization.BestAvailableEncryption(b"secret")
        )
    )
    proof = tmp_path / "proof.json"
    proof.write_text("{}")
    runner = CliRunner()
    for key, words in ((rsa_key, "not an Ed25519"), (locked, "encrypted")):
        # Each was an AssertionError or TypeError traceback.
        for args in (
            ["audit", "public-key", "--file", str(key)],
            ["audit", "check-proof", str(proof), "--public-key", str(key)],
        ):
            result = runner.invoke(cli, args)
            assert result.exit_code == 2, (args, result.output)
            assert words in result.output and str(key.name) in result.output


async def test_an_unfolded_tail_is_said_as_such_not_as_statistics_up_to_seq_0(
    log_url: str, signer: Signer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # write_log appends as the writer does between two folds: a hub gone quiet leaves its
    # last records after the rollup mark, which stays at 0 on a young log.
    result = await verify(log_url, signer, tmp_path, monkeypatch)
    assert result.exit_code == 0, result.output
    assert "up to seq=0" not in result.output
    assert (
        f"the statistics' rollups have folded no record yet; the last {LAST} records are "
        "counted by every statistics query from the log itself"
    ) in result.output
    engine = create_writer_engine(log_url)
    async with engine.begin() as conn:
        await rollup.fold(conn, LAST - 1)
    await engine.dispose()
    result = await verify(log_url, signer, tmp_path, monkeypatch)
    assert f"agree with the log up to seq={LAST - 1}; the last record is counted" in result.output
    async with engine.begin() as conn:
        await rollup.fold(conn, LAST)
    await engine.dispose()
    result = await verify(log_url, signer, tmp_path, monkeypatch)
    assert f"agree with the log and count all of it (seq={LAST})" in result.output
