"""Signed events from the command line: `hub registry apply` and `hub keys` sign with the hub's
key when HUB_SIGNING_KEY_FILE is there (and never make one), and `hub audit verify` names an
event unsigned, forged, rewritten with its chain recomputed, or cut from the end."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from hub.cli.main import app
from hub.core.db import create_engine
from hub.models import RegistryEvent, RegistryVersion
from hub.registry.events import event_hash
from hub.txlog.signing import Signer
from tests.cli.test_audit_events import DOC, sql
from tests.support import ADMIN, OPERATOR, SECRET

PRODUCTION = {"HUB_ENV": "production", "HUB_ADMIN_TOKEN": ADMIN, "HUB_OPERATOR_TOKEN": OPERATOR}


def hub(url: str, key: Path, *args: str, **more: str) -> Any:
    env = {
        "HUB_SECRET_KEY": SECRET,
        "HUB_ENV": "test",
        "COLUMNS": "200",
        "HUB_SIGNING_KEY_FILE": str(key),
        **more,
    }
    return CliRunner().invoke(app, [*args, "--db", url], env=env)


async def cli(url: str, key: Path, *args: str, **env: str) -> Any:
    return await asyncio.to_thread(hub, url, key, *args, **env)


async def rows(url: str) -> list[Any]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(select(RegistryEvent).order_by("id"))).all())
    finally:
        await engine.dispose()


async def applied(url: str, key: Path, tmp_path: Path, **env: str) -> Any:
    (tmp_path / "reg.yaml").write_text(DOC, encoding="utf-8")
    done = await cli(url, key, "registry", "apply", str(tmp_path / "reg.yaml"), **env)
    assert done.exit_code == 0, done.output
    return done


def flat(result: Any) -> str:
    return " ".join(result.output.split())


async def test_a_development_registry_applied_first_is_signed_with_the_hubs_key_to_be(
    db_url: str, tmp_path: Path
) -> None:
    # `hub registry apply` before the first `hub serve`: the key is made where the hub
    # takes it, as the hub would have made it; its events verify with that key.
    key = tmp_path / "var" / "signing-key.pem"
    done = await applied(db_url, key, tmp_path)
    assert "unsigned" not in done.stderr and key.exists()
    signer = Signer.from_file(key, create=False)
    assert {r.key_id for r in await rows(db_url)} == {signer.key_id}
    verified = await cli(db_url, key, "audit", "verify")
    assert verified.exit_code == 0, verified.output


async def test_cli_changes_are_signed_with_the_key_file(db_url: str, tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    signer = Signer.from_file(key, create=True)
    done = await applied(db_url, key, tmp_path)
    assert "unsigned" not in done.stderr
    issued = await cli(db_url, key, "keys", "issue", "VN/GOV/BTP/civil-status")
    assert issued.exit_code == 0 and "unsigned" not in issued.stderr
    found = await rows(db_url)
    assert len(found) == 8 and {r.key_id for r in found} == {signer.key_id}
    listed = json.loads((await cli(db_url, key, "audit", "events", "--json")).stdout)
    assert {e["key_id"] for e in listed["items"]} == {signer.key_id}
    verified = await cli(db_url, key, "audit", "verify")  # the hub's own key
    assert verified.exit_code == 0, verified.output
    said = flat(verified)
    assert f"registry changes: 8 events chained, 8 signatures valid, by key {signer.key_id}" in said
    assert f"hub audit verify --expect-event 8:{found[-1].hash}" in said


async def test_in_production_a_change_without_the_key_file_is_refused(
    db_url: str, tmp_path: Path
) -> None:
    # As `hub serve` refuses to start there without it: the change was written unsigned, a
    # finding of every `hub audit verify` after it, made by a command run from the wrong
    # shell or account. A dry run writes no event, and goes on.
    absent = tmp_path / "absent.pem"
    (tmp_path / "reg.yaml").write_text(DOC, encoding="utf-8")
    tried = await cli(db_url, absent, "registry", "apply", "--dry-run", str(tmp_path / "reg.yaml"),
                      **PRODUCTION)  # fmt: skip
    assert tried.exit_code == 0, tried.output
    for args in (
        ["registry", "apply", str(tmp_path / "reg.yaml")],
        ["keys", "issue", "VN/GOV/BTP/civil-status"],
        ["keys", "revoke", "1"],
    ):
        refused = await cli(db_url, absent, *args, **PRODUCTION)
        assert refused.exit_code == 2, refused.output
        said = " ".join(refused.stderr.split())
        assert said.startswith(f"error: HUB_SIGNING_KEY_FILE {absent} does not exist: in ")
        assert "production a change is not written to the audit trail unsigned" in said
        assert "nothing was changed" in said and "admin API, which the hub signs" in said
    assert await rows(db_url) == [] and not absent.exists()


async def test_without_the_key_file_events_are_unsigned_and_said(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Outside production, a registry its hub signs already, and a command run where its key
    # is not (another folder's var/): the events are unsigned, said, and never a key made.
    monkeypatch.setattr("hub.cli.common._signed_already", lambda _url: True)
    absent = tmp_path / "absent.pem"
    done = await applied(db_url, absent, tmp_path)
    note = " ".join(done.stderr.split())
    assert f"{absent} does not exist" in note and "written unsigned" in note
    assert not absent.exists()
    assert {r.signature for r in await rows(db_url)} == {None}

    issued = await cli(db_url, absent, "keys", "issue", "VN/GOV/BTP/civil-status")
    assert issued.exit_code == 0 and "were written unsigned" in issued.stderr
    refused = await cli(db_url, absent, "keys", "revoke", "999")
    assert refused.exit_code == 1 and "unsigned" not in refused.stderr  # nothing written
    assert not absent.exists()
    hubs = tmp_path / "hub.pem"
    Signer.from_file(hubs, create=True)
    found = await cli(db_url, absent, "audit", "verify", "--public-key", str(hubs))
    assert found.exit_code == 1
    said = flat(found)
    # Unsigned events alone: not proven, which is not said to be tampering.
    assert "the audit trail of registry changes cannot be proven" in said
    assert "tampered" not in said
    assert "event id=1 (member.create VN/GOV/BCA): not signed" in said
    assert "event id=8 (key.issue key:1): not signed" in said
    assert "8 events not signed: written where the hub's signing key was not at hand" in said
    ok = await cli(db_url, absent, "audit", "verify", "--no-signatures")
    assert ok.exit_code == 0, ok.output

    # An anchor the auditor kept vouches for the events up to it: unsigned, they are a note.
    last = (await rows(db_url))[-1]
    kept = await cli(
        db_url, absent, "audit", "verify", "--public-key", str(hubs),
        "--expect-event", f"{last.id}:{last.hash}",
    )  # fmt: skip
    assert kept.exit_code == 0, kept.output
    assert "8 events not signed, all at or before the kept anchor id=8" in flat(kept)


async def test_a_forged_signature_is_named(db_url: str, tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    Signer.from_file(key, create=True)
    await applied(db_url, key, tmp_path)
    found = await rows(db_url)
    await sql(
        db_url,
        update(RegistryEvent).where(RegistryEvent.id == 3).values(signature=found[4].signature),
    )
    result = await cli(db_url, key, "audit", "verify")
    assert result.exit_code == 1, result.output
    said = flat(result)
    assert "the audit trail of registry changes has been tampered with" in said
    assert "event id=3 (subsystem.create VN/GOV/BCA/population): its signature does not" in said


async def test_a_recomputed_chain_no_longer_matches_its_signatures(
    db_url: str, tmp_path: Path
) -> None:
    key = tmp_path / "key.pem"
    Signer.from_file(key, create=True)
    await applied(db_url, key, tmp_path)
    found = await rows(db_url)
    prev = found[4].hash
    statements = []
    for row in found[5:]:
        event = dict(row._mapping)
        if row.id == 6:
            event["detail"] = json.dumps({"forged": True})
        digest = event_hash(prev, event)
        statements.append(
            update(RegistryEvent)
            .where(RegistryEvent.id == row.id)
            .values(detail=event["detail"], prev_hash=prev, hash=digest)
        )
        prev = digest
    await sql(db_url, *statements)
    chained = await cli(db_url, key, "audit", "verify", "--no-signatures")
    assert chained.exit_code == 0, chained.output  # the chain alone holds
    result = await cli(db_url, key, "audit", "verify")
    assert result.exit_code == 1, result.output
    said = flat(result)
    assert "event id=6 (grant.create" in said and "its signature does not match its hash" in said
    assert "event id=7 (registry.apply" in said
    assert "event id=5" not in said


async def test_events_cut_with_the_version_set_back_need_the_anchor(
    db_url: str, tmp_path: Path
) -> None:
    key = tmp_path / "key.pem"
    Signer.from_file(key, create=True)
    await applied(db_url, key, tmp_path)
    issued = await cli(db_url, key, "keys", "issue", "VN/GOV/BTP/civil-status")
    assert issued.exit_code == 0, issued.output
    first = await cli(db_url, key, "audit", "verify")
    assert first.exit_code == 0, first.output
    anchor = flat(first).split("--expect-event ")[1].split()[0]
    found = await rows(db_url)
    assert anchor == f"8:{found[-1].hash}"
    await sql(
        db_url,
        delete(RegistryEvent).where(RegistryEvent.id == 8),
        update(RegistryVersion).values(version=found[6].version),
    )
    unseen = await cli(db_url, key, "audit", "verify")
    assert unseen.exit_code == 0, unseen.output  # signed and whole: only the anchor tells
    caught = await cli(db_url, key, "audit", "verify", "--expect-event", anchor)
    assert caught.exit_code == 1, caught.output
    said = flat(caught)
    assert "event id=8, kept as an anchor, is missing: the trail now ends at id=7" in said

    bad = await cli(db_url, key, "audit", "verify", "--expect-event", "8:nothex")
    assert bad.exit_code == 2 and "--expect-event '8:nothex' is not an anchor" in flat(bad)


async def test_a_key_file_that_is_no_key_stops_the_change(db_url: str, tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    key.write_text("not a key")
    (tmp_path / "reg.yaml").write_text(DOC, encoding="utf-8")
    result = await cli(db_url, key, "registry", "apply", str(tmp_path / "reg.yaml"))
    assert result.exit_code == 2, result.output
    assert "HUB_SIGNING_KEY_FILE: cannot load the signing key" in flat(result)
    assert await rows(db_url) == []


async def test_no_key_is_made_for_a_registry_the_hub_signs_already(
    db_url: str, tmp_path: Path
) -> None:
    # `hub registry apply` from another folder, with the hub's HUB_DATABASE_URL: the default
    # var/signing-key.pem is another folder's. A key made there signed the change with a
    # key the hub never had, and `hub audit verify` called the trail tampered with.
    hubs = tmp_path / "hub.pem"
    signer = Signer.from_file(hubs, create=True)
    await applied(db_url, hubs, tmp_path)
    elsewhere = tmp_path / "elsewhere" / "var" / "signing-key.pem"
    issued = await cli(db_url, elsewhere, "keys", "issue", "VN/GOV/BTP/civil-status")
    assert issued.exit_code == 0, issued.output
    assert not elsewhere.exists()
    note = " ".join(issued.stderr.split())
    assert f"{elsewhere} does not exist" in note and "written unsigned" in note
    found = await rows(db_url)
    assert [r.key_id for r in found] == [signer.key_id] * 7 + [None]
    verified = flat(await cli(db_url, hubs, "audit", "verify"))
    assert "tampered" not in verified and "event id=8 (key.issue key:1): not signed" in verified


async def test_the_unsigned_note_names_the_key_file_by_its_absolute_path(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The default var/signing-key.pem is relative: the note says which folder's it looked in.
    monkeypatch.chdir(tmp_path)
    relative = Path("var/signing-key.pem")
    looked = tmp_path / "var" / "signing-key.pem"
    refused = await cli(db_url, relative, "keys", "revoke", "1", **PRODUCTION)
    assert refused.exit_code == 2, refused.output
    assert f"HUB_SIGNING_KEY_FILE {looked} does not exist" in " ".join(refused.stderr.split())
    monkeypatch.setattr("hub.cli.common._signed_already", lambda _url: True)  # not made here
    done = await applied(db_url, relative, tmp_path)
    note = " ".join(done.stderr.split())
    assert f"HUB_SIGNING_KEY_FILE {looked} does not exist" in note, note


async def test_an_event_whose_key_id_was_erased_is_named_without_a_traceback(
    db_url: str, tmp_path: Path
) -> None:
    key = tmp_path / "key.pem"
    Signer.from_file(key, create=True)
    await applied(db_url, key, tmp_path)
    await sql(db_url, update(RegistryEvent).where(RegistryEvent.id == 3).values(key_id=None))
    result = await cli(db_url, key, "audit", "verify")
    # The rotation hint sorted the key ids it had not been given, None among them: TypeError.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    assert result.exit_code == 1, result.output
    said = flat(result)
    assert (
        "event id=3 (subsystem.create VN/GOV/BCA/population): signed, but its key_id was "
        "erased: its signature cannot be checked" in said
    )
    assert "unknown key (None)" not in said and "pass the public key" not in said


async def test_an_event_time_that_is_no_time_is_named_by_its_event(
    sqlite_url: str, tmp_path: Path
) -> None:
    key = tmp_path / "key.pem"
    Signer.from_file(key, create=True)
    await applied(sqlite_url, key, tmp_path)
    engine = create_engine(sqlite_url)
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql("UPDATE registry_events SET at = 'garbage' WHERE id = 3")
    finally:
        await engine.dispose()
    result = await cli(sqlite_url, key, "audit", "verify")
    # It exited 2, "cannot read the log", telling to run `hub audit verify` to name the rows.
    assert result.exit_code == 1, result.output
    said = flat(result)
    assert "the audit trail of registry changes has been tampered with" in said
    assert (
        "event id=3 (subsystem.create VN/GOV/BCA/population): its time was changed: "
        "at='garbage' is no time" in said
    )
    assert "cannot read" not in said
    listed = await cli(sqlite_url, key, "audit", "events")
    # A traceback (ValueError from SQLAlchemy's reading of the time).
    assert listed.exit_code == 2 and not isinstance(listed.exception, ValueError), listed.output
    assert "`hub audit verify` names the rows" in flat(listed)


async def test_an_event_forged_before_id_1_is_found(db_url: str, tmp_path: Path) -> None:
    key = tmp_path / "key.pem"
    Signer.from_file(key, create=True)
    await applied(db_url, key, tmp_path)
    first = (await rows(db_url))[0]
    # The walk began after id 0, so an event put below it was never read, while `hub audit
    # events` listed it.
    forged = {c.name: getattr(first, c.name) for c in RegistryEvent.__table__.c}
    forged |= {"id": 0, "actor": "someone else"}
    forged["hash"] = event_hash(forged["prev_hash"], forged)
    await sql(db_url, RegistryEvent.__table__.insert().values(forged))
    result = await cli(db_url, key, "audit", "verify")
    assert result.exit_code == 1, result.output
    said = flat(result)
    assert "the audit trail of registry changes has been tampered with" in said
    assert (
        f"event id=0 ({first.action} {first.target}) lies before id=1, where the hub begins the "
        "trail: it was inserted (1 event below id=1)" in said
    )
