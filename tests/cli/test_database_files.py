"""Database files the hub cannot run on: one that refuses writes, a damaged copy."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
import uvicorn
from typer.testing import CliRunner

from hub.cli.main import app
from hub.core.migrate import upgrade
from tests.support import free_port


def _never_started(*_args: object, **_kwargs: object) -> None:
    raise AssertionError("the hub started on a database that refuses every write")


def test_hub_serve_refuses_a_database_that_takes_no_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A read-only file (or a read-only open of it) passed the migration, which had nothing
    # to write; the hub then answered /readyz 200, sent the first exchanges to providers
    # and withheld their answers (503, the log could not record them).
    path = tmp_path / "hub.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    monkeypatch.setattr(uvicorn, "run", _never_started)
    monkeypatch.chdir(tmp_path)
    url = f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true"
    for migrate in ([], ["--no-migrate"]):
        result = CliRunner().invoke(
            app, ["serve", "--port", str(free_port()), *migrate, "--db", url]
        )
        said = " ".join(result.output.split())
        assert result.exit_code == 1, said
        assert isinstance(result.exception, SystemExit), result.exception
        assert "refuses writes (attempt to write a readonly database)" in said, said
        assert "Traceback" not in said
        # The URL as given, not as SQLAlchemy renders it ("file%3A").
        assert f"the database at {url} refuses" in said, said


def test_a_damaged_copy_is_named_as_one(tmp_path: Path) -> None:
    # A copy cut short (a file copied while it grew, a full disk) said only SQLite's
    # "database disk image is malformed".
    path = tmp_path / "hub.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    cut = tmp_path / "cut.db"
    with path.open("rb") as src, cut.open("wb") as dst:
        shutil.copyfileobj(src, dst)
    size = cut.stat().st_size
    with cut.open("r+b") as f:
        f.truncate(size // 2)
    url = f"sqlite+aiosqlite:///{cut}"
    # hub audit verify's exit 1 means a record found bad; a log it could not read is 2, as
    # it was when the damage showed after the revision check, and 1 when it showed there.
    cases = [
        (["audit", "verify", "--no-signatures"], 2),
        (["stats", "summary"], 1),
        (["tx", "list"], 1),
    ]
    for command, code in cases:
        result = CliRunner().invoke(app, [*command, "--db", url])
        said = " ".join(result.output.split())
        assert result.exit_code == code, said
        assert "database disk image is malformed (the file is damaged" in said, said
        assert "Traceback" not in said


def test_a_time_edited_by_hand_points_at_the_audit(tmp_path: Path) -> None:
    # A started_at set to text the hub never writes said only "Invalid isoformat string".
    path = tmp_path / "hub.db"
    url = f"sqlite+aiosqlite:///{path}"
    upgrade(url)
    env = {"HUB_ENV": "development"}
    made = CliRunner().invoke(app, ["tx", "synth", "--records", "50", "--db", url], env=env)
    assert made.exit_code == 0, made.output
    with sqlite3.connect(path) as db:
        db.execute("UPDATE transactions SET started_at = 'garbage' WHERE seq = 5")
    for command in (["stats", "summary", "--since", "30d"], ["tx", "list", "--limit", "100"]):
        result = CliRunner().invoke(app, [*command, "--db", url])
        said = " ".join(result.output.split())
        assert result.exit_code == 1, said
        assert "Invalid isoformat string: 'garbage'" in said, said
        assert "`hub audit verify` names the rows" in said and "Traceback" not in said
