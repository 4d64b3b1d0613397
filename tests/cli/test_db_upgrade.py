"""`hub db upgrade` says the revision the database is at, and never claims one it is not at."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli.main import app
from hub.core.migrate import revisions


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
    code, said = _said([])
    assert code == 0 and said.endswith(f"is at revision {head} (the newest)"), said
    code, said = _said([])  # again: nothing to do, and it says where the database is
    assert code == 0 and said.endswith(f"is at revision {head} (the newest)"), said
    # It said "is at revision 0007" of a database left at the newest, and exited 0.
    code, said = _said(["--revision", "0007"])
    assert code == 2, said
    assert f"is at revision {head}, past 0007: `hub db upgrade` never goes back" in said, said
    assert revisions(url)[0] == head
