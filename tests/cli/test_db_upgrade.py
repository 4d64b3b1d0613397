"""`hub db upgrade` says the revision the database is at, and never claims one it is not at."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from pathlib import Path

import pytest
import uvicorn
from typer.testing import CliRunner

from hub.cli.main import app
from hub.core.migrate import revisions, upgrade
from tests.support import POSTGRES_URL, database


def _said(args: list[str]) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["db", "upgrade", *args])
    return result.exit_code, " ".join(result.output.split())


def test_db_upgrade_names_the_revision_and_never_claims_an_older_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path}/hub.db"
    monkeypatch.setenv("HUB_DATABASE_URL", url)
    head = revisions(url)[1]
    code, said = _said(["--revision", "0007"])
    assert code == 0 and said.endswith("is at revision 0007"), said
    assert said.startswith("made the hub's tables: database at "), said
    code, said = _said([])
    assert code == 0 and said.endswith(f"is at revision {head} (the newest)"), said
    assert said.startswith("migrated from 0007: database at "), said
    code, said = _said([])  # again: nothing to do, and it says where the database is
    assert code == 0 and said.endswith(f"is at revision {head} (the newest)"), said
    # All three said only "database at ... is at revision ...".
    assert said.startswith("nothing to migrate: database at "), said
    # It said "is at revision 0007" of a database left at the newest, and exited 0.
    code, said = _said(["--revision", "0007"])
    assert code == 2, said
    assert f"is at revision {head}, past 0007: `hub db upgrade` never goes back" in said, said
    assert revisions(url)[0] == head


def test_what_it_says_is_one_line_in_a_deploy_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Printed to a pipe (80 columns), "is at revision 0011" was cut into two lines, so a
    # deploy script's `grep "revision 0011"` found nothing after a good upgrade.
    url = f"sqlite+aiosqlite:///{tmp_path / ('long-folder-name-' * 3)}/hub.db"
    Path(url.removeprefix("sqlite+aiosqlite:///")).parent.mkdir()
    head = revisions(url)[1]
    result = CliRunner().invoke(app, ["db", "upgrade", "--db", url], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert result.output.endswith(f"is at revision {head} (the newest)\n"), result.output
    assert result.output.count("\n") == 1, result.output


@pytest.mark.parametrize("revision", ["9999", "000", "base", "+1"])
def test_a_revision_that_is_no_migration_is_refused_before_the_database_is_touched(
    revision: str, tmp_path: Path
) -> None:
    # "9999" made an empty database file and ended in exit 1 with "Can't locate revision
    # identified by '9999'"; "base" said "is at revision None" and exit 0.
    path = tmp_path / "hub.db"
    code, said = _said(["--revision", revision, "--db", f"sqlite+aiosqlite:///{path}"])
    assert code == 2, said
    assert f"--revision {revision} is no migration of this hub: give one from 0001 to " in said
    assert "or leave --revision out for the newest" in said, said
    assert not path.exists()


def test_a_percent_sign_in_the_url_is_taken_as_written(tmp_path: Path) -> None:
    # A password with "@" or "/" is written percent-encoded (postgresql+asyncpg://hub:p%40ss@db/
    # hub): Alembic's configuration read "%" as its own syntax and every migration failed with
    # "invalid interpolation syntax", quoting the password.
    folder = tmp_path / "a@b"  # written a%40b in the URL, as a password's "@" is
    folder.mkdir()
    url = f"sqlite+aiosqlite:///{tmp_path}/a%40b/hub.db"
    head = revisions(url)[1]
    code, said = _said(["--db", url])
    assert code == 0 and said.endswith(f"is at revision {head} (the newest)"), said
    assert _tables(folder / "hub.db"), "no tables made"


def _tables(path: Path) -> list[str]:
    with sqlite3.connect(path) as db:
        return sorted(r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'"))


@pytest.mark.parametrize("command", [["db", "upgrade"], ["serve", "--port", "1"]])
def test_a_database_of_another_application_is_left_alone(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The hub's tables were added beside the other application's, and it said "is at
    # revision 0008 (the newest)".
    path = tmp_path / "crm.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)")
    monkeypatch.setattr(uvicorn, "run", _never_started)
    monkeypatch.setattr("hub.cli.serve.listenable", lambda *_args: None)
    result = CliRunner().invoke(app, [*command, "--db", f"sqlite+aiosqlite:///{path}"])
    said = " ".join(result.output.split())
    assert result.exit_code == 2, said
    assert "holds tables that are not this hub's (customers)" in said, said
    assert _tables(path) == ["customers"]


@pytest.mark.parametrize(
    "command", [["db", "upgrade"], ["serve", "--port", "1"], ["serve", "--no-migrate"]]
)
def test_a_database_at_a_revision_this_hub_does_not_know_is_named_so(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # "Can't locate revision identified by '0099'" (exit 1), and with --no-migrate the
    # advice to run `hub db upgrade`, which failed so.
    path = tmp_path / "newer.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)
    head = revisions(url)[1]
    with sqlite3.connect(path) as db:
        db.execute("UPDATE alembic_version SET version_num = '0099'")
    monkeypatch.setattr(uvicorn, "run", _never_started)
    monkeypatch.setattr("hub.cli.serve.listenable", lambda *_args: None)
    result = CliRunner().invoke(app, [*command, "--db", url])
    said = " ".join(result.output.split())
    assert result.exit_code == 2, said
    assert f"is at revision 0099, which this hub does not know (its newest is {head})" in said
    assert "hub db upgrade" not in said


def _never_started(*_args: object, **_kwargs: object) -> None:
    raise AssertionError("the hub started on a database that is not its own")


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def test_upgrades_started_at_once_on_an_empty_database_all_succeed(
    kind: str, tmp_path: Path
) -> None:
    # Two nodes (or a deploy job and a `hub serve`) migrating one new database at once: on
    # PostgreSQL all but one failed with "duplicate key value violates unique constraint
    # pg_type_typname_nsp_index", each creating the same tables; on SQLite they saw the
    # first one's tables without a revision and refused the database as another
    # application's (exit 2).
    if kind == "postgres" and not POSTGRES_URL:
        pytest.skip("needs HUB_TEST_POSTGRES_URL")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    async with database(kind, tmp_path, migrated=False) as url:
        procs = [
            await asyncio.create_subprocess_exec(
                *[sys.executable, "-m", "hub", "db", "upgrade", "--db", url],
                env=env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            for _ in range(4)
        ]
        said = [(await p.communicate())[0].decode() for p in procs]
        current, head = await asyncio.to_thread(revisions, url)
        assert [p.returncode for p in procs] == [0] * 4, said
        assert all(f"is at revision {head} (the newest)" in " ".join(s.split()) for s in said)
        assert current == head
