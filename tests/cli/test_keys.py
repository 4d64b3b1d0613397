"""`hub keys`: API keys issued, listed, rotated and revoked straight on the database, as the
admin API does, and seen by a hub running on it."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from hub.cli.main import app
from hub.core import security
from tests.reliability.conftest import RHub, running_hub
from tests.reliability.fakes import CLIENT, LOOKUP, OTHER, PROVIDER, PURPOSE
from tests.support import SECRET

KEY = re.compile(r"hub_[0-9a-f]{12}_\S+")


def hub_keys(url: str, *args: str, **env: str) -> Result:
    """`hub keys ARGS --db URL` as an operator on the hub's host runs it."""
    environ = {"HUB_SECRET_KEY": SECRET, "HUB_ENV": "test", **env}
    return CliRunner().invoke(app, ["keys", *args, "--db", url], env=environ)


async def cli(url: str, *args: str, **env: str) -> Result:
    # The command runs its own event loop: beside the hub's, in a thread of its own.
    return await asyncio.to_thread(hub_keys, url, *args, **env)


def cells(table: str) -> list[list[str]]:
    """The header and rows of a table printed to a pipe, each as its cells."""
    lines = [line[1:-1] for line in table.splitlines() if line.startswith(("┃", "│"))]
    return [[cell.strip() for cell in re.split("[┃│]", line)] for line in lines]


async def status(hub: RHub, key: str) -> int:
    headers = {"X-Road-Client": CLIENT, "Authorization": f"Bearer {key}", **PURPOSE}
    return (await hub.client.get(LOOKUP, headers=headers)).status_code


async def refused_within(hub: RHub, key: str, seconds: float) -> bool:
    """Whether the hub refuses ``key`` (401) within ``seconds``, as its periodic reload does."""
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while loop.time() < end:
        if await status(hub, key) == 401:
            return True
        await asyncio.sleep(0.05)
    return False


async def test_an_issued_key_works_at_once_in_a_running_hub(
    sqlite_url: str, tmp_path: Path
) -> None:
    # No periodic reload during the test: the hub finds the key by checking the version.
    async with running_hub(sqlite_url, tmp_path, registry_refresh_s=3600) as hub:
        result = await cli(sqlite_url, "issue", CLIENT, "--label", "tư pháp")
        assert result.exit_code == 0, result.output
        key = result.stdout.strip()
        assert KEY.fullmatch(key), result.stdout  # the key alone: KEY=$(hub keys issue ...)
        assert "shown once" in result.stderr and security.key_prefix(key) in result.stderr
        assert await status(hub, key) == 200

        listed = await cli(sqlite_url, "list", "--json")
        assert listed.exit_code == 0, listed.output
        rows = json.loads(listed.stdout)
        mine = [r for r in rows if r["prefix"] == security.key_prefix(key)]
        assert len(mine) == 1 and mine[0]["client"] == CLIENT and mine[0]["label"] == "tư pháp"
        assert mine[0]["revoked_at"] is None and mine[0]["expires_at"] is None
        assert key not in listed.stdout and "hash" not in listed.stdout


async def test_json_issue_answers_as_the_admin_api(sqlite_url: str, tmp_path: Path) -> None:
    async with running_hub(sqlite_url, tmp_path) as hub:
        result = await cli(sqlite_url, "issue", CLIENT, "--json", "--expires", "30d")
        assert result.exit_code == 0, result.output
        out = json.loads(result.stdout)
        assert set(out) == {
            "id", "client", "prefix", "label", "created_at", "expires_at", "revoked_at", "api_key",
            "current_secret",
        }  # fmt: skip
        assert out["current_secret"] is True
        assert out["client"] == CLIENT and out["prefix"] == security.key_prefix(out["api_key"])
        ends = datetime.fromisoformat(out["expires_at"])
        assert timedelta(days=29, hours=23) < ends - datetime.now(UTC) <= timedelta(days=30)
        assert await status(hub, out["api_key"]) == 200


async def test_list_is_a_table_without_secrets(sqlite_url: str, tmp_path: Path) -> None:
    await _registry(sqlite_url, tmp_path)
    first = await cli(sqlite_url, "issue", CLIENT, "--label", "batch")
    other = await cli(sqlite_url, "issue", OTHER)
    assert first.exit_code == other.exit_code == 0, first.output + other.output
    revoked_id = json.loads((await cli(sqlite_url, "list", "--json")).stdout)[-1]["id"]
    assert (await cli(sqlite_url, "revoke", str(revoked_id))).exit_code == 0

    table = await cli(sqlite_url, "list")
    assert table.exit_code == 0, table.output
    for key in (first.stdout.strip(), other.stdout.strip()):
        assert key not in table.output and security.key_prefix(key) in table.output
    header, *rows = cells(table.stdout)
    assert header == ["id", "client", "prefix", "label", "created", "state"]
    by_id = {row[0]: dict(zip(header, row, strict=True)) for row in rows}
    assert by_id[str(revoked_id - 1)]["label"] == "batch"
    assert by_id[str(revoked_id - 1)]["state"] == "active"
    assert by_id[str(revoked_id)]["state"].startswith("revoked 20")

    only = await cli(sqlite_url, "list", "--client", OTHER, "--json")
    assert {r["client"] for r in json.loads(only.stdout)} == {OTHER}


async def test_listing_the_keys_of_a_misspelt_client_names_the_one_meant(
    sqlite_url: str, tmp_path: Path
) -> None:
    # "no keys for VN/GOV/BTP/civil-statu" read as a client without keys, not as a typo.
    await _registry(sqlite_url, tmp_path)
    assert (await cli(sqlite_url, "issue", CLIENT)).exit_code == 0
    for args in (["list", "--client", CLIENT[:-1]], ["list", "--client", CLIENT[:-1], "--json"]):
        listed = await cli(sqlite_url, *args)
        assert listed.exit_code == 0, listed.output
        said = " ".join(listed.stderr.split())
        assert (
            f"no keys for {CLIENT[:-1]}: no subsystem {CLIENT[:-1]} is registered "
            f"(did you mean {CLIENT}?)"
        ) in said, said
    # A registered client without keys is only that.
    listed = await cli(sqlite_url, "list", "--client", PROVIDER)
    assert " ".join(listed.stderr.split()) == f"no keys for {PROVIDER}", listed.stderr


async def test_revoking_an_expired_key_says_it_had_expired(sqlite_url: str, tmp_path: Path) -> None:
    # It said "hubs running on this database refuse it within HUB_REGISTRY_REFRESH_S", as
    # of a key that had worked until then.
    async with running_hub(sqlite_url, tmp_path):
        issued = json.loads((await cli(sqlite_url, "issue", CLIENT, "--json")).stdout)
        rotated = await cli(sqlite_url, "rotate", str(issued["id"]), "--grace-seconds", "0")
        assert rotated.exit_code == 0, rotated.output
        revoked = await cli(sqlite_url, "revoke", str(issued["id"]))
    assert revoked.exit_code == 0, revoked.output
    said = " ".join(revoked.stdout.split())
    assert f"revoked key {issued['id']} of {CLIENT}" in said
    assert ": it had expired already at 20" in said and "within" not in said, said


async def test_rotate_keeps_the_old_key_through_its_grace_then_revoke_ends_the_new(
    sqlite_url: str, tmp_path: Path
) -> None:
    async with running_hub(sqlite_url, tmp_path, registry_refresh_s=0.2) as hub:
        issued = json.loads((await cli(sqlite_url, "issue", CLIENT, "--json")).stdout)
        rotated = await cli(sqlite_url, "rotate", str(issued["id"]), "--grace-seconds", "600")
        assert rotated.exit_code == 0, rotated.output
        new = rotated.stdout.strip()
        assert KEY.fullmatch(new) and new != issued["api_key"]
        assert "works until" in rotated.stderr
        assert await status(hub, issued["api_key"]) == 200 and await status(hub, new) == 200

        again = await cli(sqlite_url, "rotate", str(issued["id"]))
        assert again.exit_code == 1
        assert f"key {issued['id']} already has an end" in " ".join(again.stderr.split())

        new_id = issued["id"] + 1
        revoked = await cli(sqlite_url, "revoke", str(new_id))
        assert revoked.exit_code == 0, revoked.output
        assert f"revoked key {new_id}" in " ".join(revoked.stdout.split())
        # By the periodic reload (HUB_REGISTRY_REFRESH_S is 0.2 here), which a busy machine
        # can hold up for longer than the 2 s once allowed.
        assert await refused_within(hub, new, 30.0)
        assert await status(hub, issued["api_key"]) == 200  # in its grace period still

        gone = await cli(sqlite_url, "rotate", str(new_id))
        assert gone.exit_code == 1 and f"there is no active key {new_id}" in gone.stderr
        # Why, as for an expired key: it was revoked (not a wrong id).
        assert ": it was revoked at " in " ".join(gone.stderr.split())
        twice = await cli(sqlite_url, "revoke", str(new_id))
        assert twice.exit_code == 0 and "already revoked" in " ".join(twice.stdout.split())


async def test_grace_zero_ends_the_old_key_now(sqlite_url: str, tmp_path: Path) -> None:
    await _registry(sqlite_url, tmp_path)
    issued = json.loads((await cli(sqlite_url, "issue", CLIENT, "--json")).stdout)
    rotated = await cli(sqlite_url, "rotate", str(issued["id"]), "--grace-seconds", "0", "--json")
    assert rotated.exit_code == 0, rotated.output
    assert json.loads(rotated.stdout)["client"] == CLIENT
    rows = {r["id"]: r for r in json.loads((await cli(sqlite_url, "list", "--json")).stdout)}
    ended = datetime.fromisoformat(rows[issued["id"]]["expires_at"])
    assert ended <= datetime.now(UTC)
    _, *rows = cells((await cli(sqlite_url, "list")).stdout)
    assert {row[0]: row[-1] for row in rows}[str(issued["id"])].startswith("expired 20")
    # Rotating it again says when it ended and which key to rotate instead.
    again = await cli(sqlite_url, "rotate", str(issued["id"]))
    assert again.exit_code == 1
    said = " ".join(again.stderr.split())
    assert f"there is no active key {issued['id']}: it expired at 20" in said, said
    assert "rotate the key that replaced it, or issue a new key" in said


@pytest.mark.parametrize(
    ("args", "code", "said"),
    [
        (["issue", "VN/GOV/XYZ/nobody"], 1, "unknown client VN/GOV/XYZ/nobody: no subsystem"),
        (
            ["issue", "VN/GOV/BTP/civil-statu"],
            1,
            "unknown client VN/GOV/BTP/civil-statu (did you mean VN/GOV/BTP/civil-status?): "
            "no subsystem has that id",
        ),
        (["issue", "not-an-id"], 2, "CLIENT: subsystem identifier 'not-an-id'"),
        (["issue", CLIENT, "--expires", "2001-01-01T00:00:00Z"], 2, "--expires"),
        (["issue", CLIENT, "--expires", "soon"], 2, "--expires"),
        (["issue", CLIENT, "--label", "x" * 201], 2, "--label"),
        (["rotate", "999"], 1, "there is no active key 999"),
        (["rotate", "1", "--grace-seconds", "99999999"], 2, "--grace-seconds"),
        (["revoke", "999"], 1, "there is no key 999"),
        (["list", "--client", "nobody"], 2, "--client"),
    ],
)
async def test_refusals_are_one_line_and_a_non_zero_exit(
    sqlite_url: str, tmp_path: Path, args: list[str], code: int, said: str
) -> None:
    await _registry(sqlite_url, tmp_path)
    assert (await cli(sqlite_url, "issue", CLIENT)).exit_code == 0  # key 1
    result = await cli(sqlite_url, *args)
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit)  # a message, not a traceback
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and said in " ".join(result.stderr.split())


async def test_production_needs_the_real_secret(sqlite_url: str, tmp_path: Path) -> None:
    await _registry(sqlite_url, tmp_path)
    tokens = {"HUB_ADMIN_TOKEN": "a" * 20, "HUB_OPERATOR_TOKEN": "o" * 20, "HUB_ENV": "production"}
    refused = await cli(sqlite_url, "issue", CLIENT, **tokens, HUB_SECRET_KEY="change-me")
    assert refused.exit_code == 2 and "HUB_SECRET_KEY" in refused.stderr, refused.output
    issued = await cli(sqlite_url, "issue", CLIENT, **tokens)
    assert issued.exit_code == 0, issued.output
    stored = json.loads((await cli(sqlite_url, "list", "--json", **tokens)).stdout)[-1]
    assert stored["prefix"] == security.key_prefix(issued.stdout.strip())


def test_a_missing_database_is_not_made(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/typo.db"
    for args in (["issue", CLIENT], ["list"], ["rotate", "1"], ["revoke", "1"]):
        result = hub_keys(url, *args)
        assert result.exit_code == 2 and "there is no database" in result.stderr, result.output
    assert not (tmp_path / "typo.db").exists()


async def test_development_placeholder_secret_is_warned_about(
    sqlite_url: str, tmp_path: Path
) -> None:
    await _registry(sqlite_url, tmp_path)
    args = ["keys", "issue", CLIENT, "--db", sqlite_url]
    result = await asyncio.to_thread(CliRunner().invoke, app, args, env={"HUB_SECRET_KEY": None})
    assert result.exit_code == 0, result.output
    assert KEY.fullmatch(result.stdout.strip())
    assert "HUB_SECRET_KEY is not set" in " ".join(result.stderr.split())


async def test_a_refusal_without_the_secret_is_not_preceded_by_its_warning(
    sqlite_url: str, tmp_path: Path
) -> None:
    # The placeholder warning is about a key made: a refused command made none, and the
    # warning printed before its error was noise (it was printed before the database said no).
    await _registry(sqlite_url, tmp_path)
    unset: dict[str, str | None] = {"HUB_SECRET_KEY": None, "HUB_ENV": "test"}

    def keys_cmd(*args: str) -> Result:
        return CliRunner().invoke(app, ["keys", *args, "--db", sqlite_url], env=unset)

    for args in (["issue", "VN/GOV/XYZ/nobody"], ["rotate", "999"], ["revoke", "999"]):
        refused = await asyncio.to_thread(keys_cmd, *args)
        assert refused.exit_code == 1, refused.output
        assert refused.stderr.startswith("error: "), refused.stderr
        assert "HUB_SECRET_KEY" not in refused.stderr, refused.stderr

    issued = await asyncio.to_thread(keys_cmd, "issue", CLIENT)
    assert issued.exit_code == 0, issued.output
    rotated = await asyncio.to_thread(keys_cmd, "rotate", "1")
    assert rotated.exit_code == 0, rotated.output
    assert "HUB_SECRET_KEY is not set" in " ".join(rotated.stderr.split())
    revoked = await asyncio.to_thread(keys_cmd, "revoke", "2")
    assert revoked.exit_code == 0, revoked.output
    again = await asyncio.to_thread(keys_cmd, "revoke", "2")
    assert again.exit_code == 0 and "already revoked" in " ".join(again.stdout.split())
    assert "HUB_SECRET_KEY" not in revoked.stderr + again.stderr


@pytest.mark.parametrize("command", ["issue", "list", "rotate", "revoke"])
def test_each_command_has_help(command: str) -> None:
    result = CliRunner().invoke(app, ["keys", command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "--db" in result.stdout
    group = CliRunner().invoke(app, ["keys", "--help"], env={"COLUMNS": "200"})
    assert group.exit_code == 0 and f" {command} " in group.stdout
    assert "HUB_REGISTRY_REFRESH_S" in " ".join(group.stdout.split())


async def _registry(url: str, tmp_path: Path) -> None:
    """The clients of tests/reliability's registry, on ``url``."""
    async with running_hub(url, tmp_path):
        pass


async def test_a_label_is_shown_as_written_not_as_markup(sqlite_url: str, tmp_path: Path) -> None:
    # A label is any text an admin gave: "[/]" in it stopped `hub keys list` with a
    # MarkupError traceback, and "[red]" was taken as a style.
    await _registry(sqlite_url, tmp_path)
    label = "a[/]b [red]x[/red] [link=http://x]y"
    assert (await cli(sqlite_url, "issue", CLIENT, "--label", label)).exit_code == 0
    table = await cli(sqlite_url, "list")
    assert table.exit_code == 0, table.output
    _, *rows = cells(table.stdout)
    assert rows[-1][3] == label


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
async def test_a_key_that_cannot_be_written_out_is_named_for_revoking(
    sqlite_url: str, tmp_path: Path
) -> None:
    # On a full disk the key was issued and lost, with only "cannot write the output".
    await _registry(sqlite_url, tmp_path)
    proc = await asyncio.to_thread(_to_a_full_disk, "keys", "issue", CLIENT, "--db", sqlite_url)
    issued = json.loads((await cli(sqlite_url, "list", "--json")).stdout)[-1]["id"]
    assert proc.returncode == 1, proc.stderr
    said = " ".join(proc.stderr.split())
    assert f"key {issued} was issued but could not be written out" in said
    assert f"`hub keys revoke {issued}`" in said


def _to_a_full_disk(*args: str) -> subprocess.CompletedProcess[str]:
    """`hub ARGS > /dev/full`: every write to stdout fails with ENOSPC."""
    hub = str(Path(sys.executable).parent / "hub")
    env = {**os.environ, "HUB_SECRET_KEY": SECRET, "HUB_ENV": "test"}
    with open("/dev/full", "w") as full:
        return subprocess.run(
            [hub, *args], stdout=full, stderr=subprocess.PIPE, text=True, env=env, timeout=60
        )


@pytest.mark.parametrize(
    "args", [["issue", CLIENT], ["rotate", "1"], ["revoke", "1"]], ids=lambda a: a[0]
)
def test_a_change_never_migrates_the_database_under_a_running_hub(
    tmp_path: Path, args: list[str]
) -> None:
    import sqlite3

    from hub.core.migrate import upgrade

    old = tmp_path / "old.db"
    upgrade(f"sqlite+aiosqlite:///{old}", "0006")
    result = hub_keys(f"sqlite+aiosqlite:///{old}", *args)
    assert result.exit_code == 2, result.output
    assert "is at revision 0006 and this hub needs" in " ".join(result.stderr.split())
    assert "hub db upgrade" in result.stderr
    with sqlite3.connect(old) as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchone() == ("0006",)
