"""A proof of one exchange, written by `hub audit proof` and checked offline."""

from __future__ import annotations

import asyncio
import copy
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from hub.cli.main import app as cli
from hub.core.db import create_engine
from hub.models import Transaction
from hub.txlog.chain import CHAINED_FIELDS
from hub.txlog.proof import check_proof, make_proof
from hub.txlog.repository import append
from hub.txlog.signing import Signer
from hub.txlog.sqlite import create_writer_engine
from tests.txlog.test_audit import record, split_bodies_record, write_log

_tx = Transaction.__table__


@pytest.fixture
def signer(tmp_path: Path) -> Signer:
    return Signer.from_file(tmp_path / "signing-key.pem", create=True)


@pytest.fixture
async def log_url(db_url: str, signer: Signer) -> str:
    await write_log(db_url, signer)  # records 1..20, batches of five
    return db_url


async def proof_of(url: str, ident: str) -> dict[str, Any] | None:
    engine = create_engine(url)
    try:
        return await make_proof(engine, ident)
    finally:
        await engine.dispose()


async def hub(url: str, monkeypatch: pytest.MonkeyPatch, *args: str) -> Any:
    monkeypatch.setenv("HUB_DATABASE_URL", url)
    runner = CliRunner()
    return await asyncio.to_thread(runner.invoke, cli, list(args), env={"COLUMNS": "200"})


async def test_a_proof_holds_offline_and_gives_the_canonical_text(
    log_url: str, signer: Signer
) -> None:
    proof = await proof_of(log_url, "req-0012")
    assert proof is not None
    assert check_proof(proof, {signer.key_id: signer.public_key}) == []
    # Record 12 and the rest of its batch (11..15), as the text the chain hashes.
    assert proof["exchange"]["seq"] == 12 and len(proof["chain"]) == 3
    assert proof["batch"]["id"] == 3 and proof["batch"]["key_id"] == signer.key_id
    fields = proof["exchange"]["fields"]
    assert list(fields) == list(CHAINED_FIELDS)
    # The forms docs/security.md describes: NULL, bool, float, datetime, int.
    assert fields["fault_code"] == "\x00" and fields["request_body"] == "\x00"
    assert fields["succeeded"] == "1" and fields["status_code"] == "200"
    assert fields["total_ms"] == "24.500" and fields["upstream_ms"] == "10.250"
    assert fields["started_at"] == "2026-01-05T09:00:12.123456"
    assert proof["chain"][0].split("\x1f")[:3] == ["13", "msg-13", "req-0013"]
    # The last record of a batch needs no chain.
    last = await proof_of(log_url, "req-0015")
    assert last is not None and last["chain"] == []
    assert check_proof(last, {signer.key_id: signer.public_key}) == []


def changed(proof: dict[str, Any], how: str) -> dict[str, Any]:
    p = copy.deepcopy(proof)
    if how == "field":
        p["exchange"]["fields"]["status_code"] = "403"
    elif how == "chain":
        p["chain"] = p["chain"][:-1]
    elif how == "chain text":
        p["chain"][1] = p["chain"][1].replace("HS-14", "HS-99")
    elif how == "batch":
        p["batch"]["last_seq"] += 1
    elif how == "seq":
        p["exchange"]["seq"] = 13
    return p


@pytest.mark.parametrize(
    ("how", "problem"),
    [
        ("field", "its record's fields do not give its record_hash"),
        ("chain", "the chain from seq=12 does not end at batch 3's last record"),
        ("chain text", "the chain does not lead to batch 3's signed last hash"),
        ("batch", "batch 3's signature does not hold"),
        ("seq", "its record's seq or batch is not the one the proof names"),
    ],
)
async def test_a_changed_proof_does_not_hold(
    sqlite_url: str, signer: Signer, how: str, problem: str
) -> None:
    await write_log(sqlite_url, signer)
    proof = await proof_of(sqlite_url, "req-0012")
    assert proof is not None
    assert problem in check_proof(changed(proof, how), {signer.key_id: signer.public_key})


async def test_a_proof_signed_by_another_key_does_not_hold(
    log_url: str, signer: Signer, tmp_path: Path
) -> None:
    other = Signer.from_file(tmp_path / "other.pem", create=True)
    proof = await proof_of(log_url, "req-0012")
    assert proof is not None
    assert check_proof(proof, {other.key_id: other.public_key}) == [
        f"batch 3 was signed by another key ({signer.key_id})"
    ]


async def test_the_cli_writes_and_checks_a_proof(
    log_url: str, signer: Signer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out, key = tmp_path / "proof.json", tmp_path / "public.pem"
    key.write_text(signer.public_pem())
    made = await hub(log_url, monkeypatch, "audit", "proof", "req-0007", "--out", str(out),
                     "--db", log_url)  # fmt: skip
    assert made.exit_code == 0, made.output
    # Said where it went and how to check it (it printed nothing).
    assert f"wrote the proof of exchange req-0007 to {out}" in made.output
    assert "hub audit check-proof" in made.output
    checked = await hub(log_url, monkeypatch, "audit", "check-proof", str(out),
                        "--public-key", str(key))  # fmt: skip
    assert checked.exit_code == 0, checked.output
    assert (
        f"the proof holds: exchange req-0007 is record seq=7 of the log, in batch 2 (records "
        f"6..10) signed by key {signer.key_id}"
    ) in checked.output
    forged = json.loads(out.read_text())
    forged["exchange"]["fields"]["user_id"] = "someone-else"
    out.write_text(json.dumps(forged))
    refused = await hub(log_url, monkeypatch, "audit", "check-proof", str(out),
                        "--public-key", str(key))  # fmt: skip
    assert refused.exit_code == 1
    assert "its record's fields do not give its record_hash" in refused.output
    unknown = await hub(log_url, monkeypatch, "audit", "proof", "nope", "--db", log_url)
    assert unknown.exit_code == 1 and "no transaction has" in unknown.output


async def test_a_proof_takes_an_id_with_blanks_around_it(
    log_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An id copied from a table with a blank at an end: `hub tx show` and the API drop the
    # blanks, `hub audit proof` answered "no transaction has ' req-0007 '".
    out = tmp_path / "proof.json"
    made = await hub(log_url, monkeypatch, "audit", "proof", " req-0007\t", "--out", str(out),
                     "--db", log_url)  # fmt: skip
    assert made.exit_code == 0, made.output
    assert json.loads(out.read_text())["exchange"]["fields"]["request_id"] == "req-0007"
    unknown = await hub(log_url, monkeypatch, "audit", "proof", " nope ", "--db", log_url)
    assert unknown.exit_code == 1 and "'nope'" in unknown.output, unknown.output


async def test_no_proof_is_made_where_the_log_does_not_hold(
    log_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine(log_url)
    async with engine.begin() as conn:
        await conn.execute(update(_tx).where(_tx.c.seq == 7).values(issue="HS-forged"))
    await engine.dispose()
    result = await hub(log_url, monkeypatch, "audit", "proof", "req-0007", "--db", log_url)
    assert result.exit_code == 1
    assert "no proof: the log does not hold around 'req-0007'" in " ".join(result.output.split())


@pytest.mark.parametrize(
    ("proof", "problem"),
    [
        ({"format": "other/1"}, "not a hub-log-proof/1 proof"),
        ({"format": "hub-log-proof/1", "exchange": {}}, "not a complete hub-log-proof/1 proof"),
        (
            {
                "format": "hub-log-proof/1",
                "exchange": {"seq": 1, "fields": {"seq": "1"}},
                "chain": [],
                "batch": {"id": 1, "first_seq": 1, "last_seq": 1},
            },
            "its fields are not the chained fields, in their order",
        ),
    ],  # fmt: skip
)
def test_what_is_not_a_proof_is_said_to_be_none(proof: dict[str, Any], problem: str) -> None:
    assert check_proof(proof, {})[0].startswith(problem)


@pytest.mark.parametrize(
    ("how", "said"),
    [
        ("no exchange", "it has no exchange"),
        ("batch null", "its batch is not an object"),
        ("fields text", "its exchange's fields are not an object"),
        ("seq text", "its batch's first_seq is not a whole number"),
        ("chain numbers", "its fields and chain are not all text"),
        ("chain text", "its chain is not a list"),
    ],
)
def test_a_malformed_proof_says_which_part_in_words(how: str, said: str) -> None:
    # They read "ValueError('dictionary update sequence element #0 ...')" and the like.
    proof: dict[str, Any] = {
        "format": "hub-log-proof/1",
        "exchange": {"seq": 1, "fields": {"seq": "1"}},
        "chain": [],
        "batch": {"id": 1, "first_seq": 1, "last_seq": 1},
    }
    if how == "no exchange":
        del proof["exchange"]
    elif how == "batch null":
        proof["batch"] = None
    elif how == "fields text":
        proof["exchange"]["fields"] = "x"
    elif how == "seq text":
        proof["batch"]["first_seq"] = "abc"
    elif how == "chain numbers":
        proof["chain"] = [5]
    else:
        proof["chain"] = "13"
    problems = check_proof(proof, {})
    assert problems == [f"not a complete hub-log-proof/1 proof: {said}"]


@pytest.mark.parametrize(
    "how",
    ["no record_hash", "no prev_hash", "no last_hash", "key_id a list", "signature a number"],
)
async def test_a_proof_with_a_part_missing_or_of_another_type_is_said_not_to_hold(
    sqlite_url: str, signer: Signer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    await write_log(sqlite_url, signer)
    proof = await proof_of(sqlite_url, "req-0012")
    assert proof is not None
    if how == "no record_hash":
        del proof["exchange"]["record_hash"]
    elif how == "no prev_hash":
        del proof["exchange"]["prev_hash"]
    elif how == "no last_hash":
        del proof["batch"]["last_hash"]
    elif how == "key_id a list":
        proof["batch"]["key_id"] = [signer.key_id]
    else:
        proof["batch"]["signature"] = 12
    # Each was a KeyError or TypeError traceback from `hub audit check-proof`.
    problems = check_proof(proof, {signer.key_id: signer.public_key})
    assert problems and problems[0].startswith("not a complete hub-log-proof/1 proof")
    out, key = tmp_path / "proof.json", tmp_path / "public.pem"
    out.write_text(json.dumps(proof))
    key.write_text(signer.public_pem())
    result = await hub(sqlite_url, monkeypatch, "audit", "check-proof", str(out),
                       "--public-key", str(key))  # fmt: skip
    assert result.exit_code == 1 and "the proof does not hold" in result.output


async def test_a_signature_changed_in_its_unused_base64_bits_does_not_hold(
    sqlite_url: str, signer: Signer
) -> None:
    await write_log(sqlite_url, signer)
    proof = await proof_of(sqlite_url, "req-0012")
    assert proof is not None
    sig = proof["batch"]["signature"]
    assert sig.endswith("==")  # 64 bytes: the last character before "==" has 4 unused bits
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    n = alphabet.index(sig[-3])
    proof["batch"]["signature"] = f"{sig[:-3]}{alphabet[n ^ 1]}=="
    # The same bytes once decoded: a one-character change to the proof that still held.
    assert check_proof(proof, {signer.key_id: signer.public_key}) == [
        "batch 3's signature does not hold"
    ]


async def test_a_proof_by_a_shared_x_road_id_says_which_exchange_it_proves(
    db_url: str, signer: Signer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A client may send one X-Road-Id with several exchanges; the proof took the newest
    # and said nothing of the others.
    from hub.txlog.repository import append
    from hub.txlog.sqlite import create_writer_engine
    from tests.txlog.test_audit import record

    engine = create_writer_engine(db_url)
    async with engine.begin() as conn:
        records = [record(n) | {"id": "case-42"} for n in (1, 2, 3)] + [record(4)]
        await append(conn, records, signer=signer, lock=db_url.startswith("postgresql"))
    await engine.dispose()
    shared = await hub(db_url, monkeypatch, "audit", "proof", "case-42", "--db", db_url)
    assert shared.exit_code == 0, shared.output
    said = " ".join(shared.output.split())
    assert (
        "note: 3 exchanges carry X-Road-Id 'case-42'; this proves the newest, "
        "X-Road-Request-Id req-0003. To prove another, give its request id"
    ) in said
    one = await hub(db_url, monkeypatch, "audit", "proof", "msg-4", "--db", db_url)
    by_request = await hub(db_url, monkeypatch, "audit", "proof", "req-0002", "--db", db_url)
    assert "note:" not in one.output + by_request.output


async def test_a_proof_with_text_moved_from_one_kept_body_to_the_other_does_not_hold(
    sqlite_url: str, signer: Signer
) -> None:
    # The record's hash joins its fields with U+001F, which a kept body may hold itself: the
    # same text split elsewhere gives the same hash, and a proof showed another request.
    kept = split_bodies_record(1)
    engine = create_writer_engine(sqlite_url)
    async with engine.begin() as conn:
        await append(conn, [kept, record(2)], signer=signer, lock=False)
    await engine.dispose()
    proof = await proof_of(sqlite_url, "req-0001")
    assert proof is not None
    keys = {signer.key_id: signer.public_key}
    assert check_proof(proof, keys) == []
    fields = proof["exchange"]["fields"]
    fields["request_body"], fields["response_body"] = "transfer 100 to A", 'note\x1f{"ok": true}'
    assert check_proof(proof, keys) == [
        "record seq=1 was edited: its stored request body does not match its request_hash",
        "record seq=1 was edited: its stored response body does not match its response_hash",
    ]
