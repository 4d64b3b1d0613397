"""The audit trail from the command line: `hub registry apply` and `hub keys` leave events of
the OS user's, `hub audit events` lists them, and `hub audit verify` finds one tampered with."""

from __future__ import annotations

import asyncio
import getpass
import json
import socket
from pathlib import Path
from typing import Any

from sqlalchemy import delete, text, update
from typer.testing import CliRunner

from hub.cli.main import app
from hub.core.db import create_engine
from hub.models import RegistryEvent, RegistryVersion
from tests.support import SECRET

DOC = """\
members:
  - {id: VN/GOV/BCA, name: Bộ Công an}
  - {id: VN/GOV/BTP, name: Bộ Tư pháp}
subsystems:
  - {id: VN/GOV/BCA/population, base_url: "http://127.0.0.1:9"}
  - {id: VN/GOV/BTP/civil-status}
services:
  - {id: VN/GOV/BCA/population/citizen-lookup}
grants:
  - {client: VN/GOV/BTP/civil-status, service: VN/GOV/BCA/population/citizen-lookup}
"""
ME = f"{getpass.getuser()}@{socket.gethostname()}"


def hub(url: str, *args: str) -> Any:
    env = {"HUB_SECRET_KEY": SECRET, "HUB_ENV": "test", "COLUMNS": "200"}
    return CliRunner().invoke(app, [*args, "--db", url], env=env)


async def cli(url: str, *args: str) -> Any:
    return await asyncio.to_thread(hub, url, *args)


async def listed(url: str, *args: str) -> list[dict[str, Any]]:
    result = await cli(url, "audit", "events", "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["items"]


async def sql(url: str, *statements: Any) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            for statement in statements:
                await conn.execute(statement)
    finally:
        await engine.dispose()


async def test_cli_changes_are_events_of_the_os_user(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "reg.yaml").write_text(DOC, encoding="utf-8")
    dry = await cli(db_url, "registry", "apply", "--dry-run", str(tmp_path / "reg.yaml"))
    assert dry.exit_code == 0, dry.output
    assert await listed(db_url) == []  # a dry run writes nothing
    done = await cli(db_url, "registry", "apply", str(tmp_path / "reg.yaml"))
    assert done.exit_code == 0, done.output
    events = await listed(db_url)
    assert {(e["actor"], e["source"]) for e in events} == {(ME, "cli")}
    assert [e["action"] for e in events] == [
        "registry.apply", "grant.create", "service.create", "subsystem.create",
        "subsystem.create", "member.create", "member.create",
    ]  # fmt: skip
    assert events[0]["detail"] == {"created": 6, "updated": 0, "deleted": 0, "unchanged": 0}
    again = await cli(db_url, "registry", "apply", str(tmp_path / "reg.yaml"))
    assert again.exit_code == 0 and len(await listed(db_url)) == 7  # nothing changed

    issued = await cli(db_url, "keys", "issue", "VN/GOV/BTP/civil-status", "--json")
    assert issued.exit_code == 0, issued.output
    key = json.loads(issued.stdout)
    refused = await cli(db_url, "keys", "revoke", "999")
    assert refused.exit_code == 1
    revoked = await cli(db_url, "keys", "revoke", str(key["id"]))
    assert revoked.exit_code == 0, revoked.output
    latest = await listed(db_url, "--action", "key")
    assert [(e["action"], e["target"], e["actor"]) for e in latest] == [
        ("key.revoke", f"key:{key['id']}", ME),
        ("key.issue", f"key:{key['id']}", ME),
    ]
    assert key["api_key"] not in json.dumps(latest)

    table = await cli(db_url, "audit", "events", "--target", "VN/GOV/BTP/civil-status")
    assert table.exit_code == 0, table.output
    assert "grant.create VN/GOV/BTP/civil-status -> VN/GOV/BCA/population/citizen-lookup" in (
        table.output
    )
    # --target is the subsystem's own events; --under adds its services' and grants'.
    table = await cli(db_url, "audit", "events", "--under", "VN/GOV/BCA/population")
    assert table.exit_code == 0, table.output
    assert "service.create VN/GOV/BCA/population/citizen-lookup" in table.output
    assert "grant.create VN/GOV/BTP/civil-status -> VN/GOV/BCA/population" in table.output
    bad = await cli(db_url, "audit", "events", "--under", "key:1")
    assert bad.exit_code == 2 and "--under: 'key:1' is not a member's" in bad.output
    bad = await cli(db_url, "audit", "events", "--since", "yesterday")
    assert bad.exit_code == 2 and "--since 'yesterday' is not a time" in bad.output
    # A target no event could have listed nothing and exited 0, as if no change was made.
    bad = await cli(db_url, "audit", "events", "--target", "civil-status")
    assert bad.exit_code == 2 and "--target: 'civil-status' is no entry's id" in bad.output

    verified = await cli(db_url, "audit", "verify", "--no-signatures")
    assert verified.exit_code == 0, verified.output
    assert "registry changes: 9 events chained" in verified.output


async def test_a_misspelt_target_is_said_with_the_id_meant(db_url: str, tmp_path: Path) -> None:
    await _applied(db_url, tmp_path)
    # "no events" alone read as "no change was made to it", and the id meant went unseen.
    said = await cli(db_url, "audit", "events", "--target", "VN/GOV/BTP/civil-statsu")
    assert said.exit_code == 0 and said.stdout == "no events\n", said.output
    assert " ".join(said.stderr.split()) == (
        "note: no subsystem VN/GOV/BTP/civil-statsu is registered or in the audit trail (did you "
        "mean VN/GOV/BTP/civil-status?): nothing matches --target VN/GOV/BTP/civil-statsu"
    )
    grant = "VN/GOV/BTP/civil-status -> VN/GOV/BCA/population/citizen-lookpu"
    said = await cli(db_url, "audit", "events", "--json", "--target", grant)
    assert said.exit_code == 0 and json.loads(said.stdout)["items"] == [], said.output
    assert "(did you mean VN/GOV/BTP/civil-status -> VN/GOV/BCA/population/citizen-lookup?)" in (
        " ".join(said.stderr.split())
    )
    said = await cli(db_url, "audit", "events", "--target", "VN/GOV/XYZ/nothing-alike")
    assert said.exit_code == 0 and said.stderr.startswith(
        "note: no subsystem VN/GOV/XYZ/nothing-alike is registered or in the audit trail: "
    ), said.stderr
    assert "did you mean" not in said.stderr
    said = await cli(db_url, "audit", "events", "--target", "key:12")
    assert said.exit_code == 0 and " ".join(said.stderr.split()) == (
        "note: no key key:12 is issued or in the audit trail: nothing matches --target key:12"
    )

    # --under was as silent; --json prints the API's notes, in the command line's words.
    said = await cli(db_url, "audit", "events", "--json", "--under", "VN/GOV/BCA/populatoin")
    note = (
        "no subsystem VN/GOV/BCA/populatoin is registered or in the audit trail (did you mean "
        "VN/GOV/BCA/population?): nothing matches --under VN/GOV/BCA/populatoin"
    )
    assert said.exit_code == 0 and json.loads(said.stdout)["notes"] == [note], said.output
    assert " ".join(said.stderr.split()) == f"note: {note}"
    said = await cli(db_url, "audit", "events", "--under", "VN/GOV/BCA", "--action", "key")
    assert said.exit_code == 0 and said.stdout == "no events\n" and said.stderr == ""

    # No note for a target the registry or the trail holds, whatever the other filters leave.
    for held in ("VN/GOV/BCA", "registry", grant.replace("lookpu", "lookup")):
        said = await cli(db_url, "audit", "events", "--target", held, "--action", "key")
        assert said.exit_code == 0 and said.stdout == "no events\n", said.output
        assert said.stderr == "", (held, said.stderr)
    issued = await cli(db_url, "keys", "issue", "VN/GOV/BCA/population", "--json")
    assert issued.exit_code == 0, issued.output
    held = f"key:{json.loads(issued.stdout)['id']}"
    said = await cli(db_url, "audit", "events", "--target", held, "--action", "grant")
    assert said.exit_code == 0 and said.stderr == "", said.stderr
    # A subsystem deleted from the registry is still in the trail: its events are listed.
    await sql(db_url, text("DELETE FROM grants"), text("DELETE FROM subsystems"))
    said = await cli(db_url, "audit", "events", "--target", "VN/GOV/BTP/civil-status")
    assert said.exit_code == 0 and "subsystem.create" in said.stdout and said.stderr == ""
    said = await cli(
        db_url, "audit", "events", "--target", "VN/GOV/BTP/civil-status", "--action", "key"
    )
    assert said.exit_code == 0 and said.stderr == "", said.stderr
    # The id meant may be one the registry no longer holds: the trail's are offered too.
    said = await cli(db_url, "audit", "events", "--target", "VN/GOV/BTP/civil-statsu")
    assert "(did you mean VN/GOV/BTP/civil-status?)" in said.stderr, said.stderr


async def _applied(url: str, tmp_path: Path) -> None:
    (tmp_path / "reg.yaml").write_text(DOC, encoding="utf-8")
    assert (await cli(url, "registry", "apply", str(tmp_path / "reg.yaml"))).exit_code == 0


async def _verify(url: str) -> str:
    result = await cli(url, "audit", "verify", "--no-signatures")
    assert result.exit_code == 1, result.output
    assert "the audit trail of registry changes has been tampered with" in result.output
    return " ".join(result.output.split())


async def test_an_edited_event_is_named(db_url: str, tmp_path: Path) -> None:
    await _applied(db_url, tmp_path)
    forged = json.dumps({"enabled": False})
    await sql(db_url, update(RegistryEvent).where(RegistryEvent.id == 6).values(detail=forged))
    said = await _verify(db_url)
    assert "event id=6 (grant.create" in said and "its hash does not match its content" in said


async def test_a_deleted_event_is_named(db_url: str, tmp_path: Path) -> None:
    await _applied(db_url, tmp_path)
    await sql(db_url, delete(RegistryEvent).where(RegistryEvent.id == 3))
    said = await _verify(db_url)
    assert "event id=4 (subsystem.create VN/GOV/BTP/civil-status): follows event id=2" in said
    assert "event id=3 was deleted" in said


async def test_an_inserted_event_is_named(db_url: str, tmp_path: Path) -> None:
    await _applied(db_url, tmp_path)
    # Moved up one, and a forged grant put in the gap with a chain of its own.
    await sql(
        db_url,
        text("UPDATE registry_events SET id = id + 100 WHERE id >= 6"),
        text("UPDATE registry_events SET id = id - 99 WHERE id >= 106"),
        text(
            "INSERT INTO registry_events (id, at, actor, source, action, target, version, "
            "detail, prev_hash, hash) SELECT 6, at, actor, source, 'grant.create', 'X -> Y', "
            "version, '{}', hash, hash FROM registry_events WHERE id = 5"
        ),
    )
    said = await _verify(db_url)
    assert "event id=6 (grant.create X -> Y): its hash does not match" in said
    assert "event id=7 (grant.create VN/GOV/BTP/civil-status" in said


async def test_events_cut_from_the_end_are_said(db_url: str, tmp_path: Path) -> None:
    await _applied(db_url, tmp_path)
    issued = await cli(db_url, "keys", "issue", "VN/GOV/BTP/civil-status")
    assert issued.exit_code == 0, issued.output
    await sql(db_url, delete(RegistryEvent).where(RegistryEvent.id == 8))
    said = await _verify(db_url)
    assert "events were cut from the end" in said


async def test_a_registry_version_set_back_below_the_last_event_is_said(
    db_url: str, tmp_path: Path
) -> None:
    # The version only grows, and each event keeps the one its change made: a version below
    # the last event's was set back by hand (or its row deleted, which the next change makes
    # again at 1), and hubs holding a newer snapshot would no longer see changes.
    await _applied(db_url, tmp_path)
    await sql(db_url, update(RegistryVersion).values(version=0))
    said = await _verify(db_url)
    assert "the registry is at version 0, but the last event (id=7) made version 1" in said
    assert "set back" in said

    await sql(db_url, delete(RegistryVersion))
    said = await _verify(db_url)
    assert "the registry's version row is gone, but the last event (id=7) made version 1" in said


async def test_a_trail_deleted_whole_is_not_passed_as_no_events_yet(
    db_url: str, tmp_path: Path
) -> None:
    await _applied(db_url, tmp_path)
    await sql(db_url, delete(RegistryEvent))
    result = await cli(db_url, "audit", "verify", "--no-signatures")
    # A database upgraded from before the trail (migration 0011) and not changed since looks
    # the same, so it is not a finding; but "no events yet" would say the registry was never
    # changed, when its version says it was.
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert "no events yet" not in said
    assert "no events, but the registry is at version 1" in said
    assert "or its trail was deleted whole" in said


async def test_hub_ups_demo_loading_is_the_demos_and_once(sqlite_url: str, tmp_path: Path) -> None:
    import connectors
    from connectors.demo import demo_registry
    from hub.cli.serve import load_demo
    from tests.support import make_settings

    settings = make_settings(sqlite_url, tmp_path, env="development")
    urls = {n: f"http://127.0.0.1:{9100 + i}" for i, n in enumerate(connectors.names())}
    await load_demo(settings, demo_registry(urls))
    events = await listed(sqlite_url)
    assert events and {(e["actor"], e["source"]) for e in events} == {("demo", "demo")}
    assert {"registry.apply", "key.issue", "grant.create"} <= {e["action"] for e in events}
    await load_demo(settings, demo_registry(urls))  # the next `hub up`: nothing changed
    assert await listed(sqlite_url) == events
