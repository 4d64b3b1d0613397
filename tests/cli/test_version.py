"""``hub --version`` and the version the API documents are the project's, from pyproject."""

from __future__ import annotations

import tomllib
from pathlib import Path

from typer.testing import CliRunner

from hub.app import create_app
from hub.cli.main import app
from tests.support import make_settings

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"
VERSION = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]["version"]


def test_version_option_prints_the_projects_version() -> None:
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.output == f"hub {VERSION}\n"


def test_version_option_needs_no_command_and_no_database(tmp_path: Path) -> None:
    # Eager: answered before any sub-command or setting is looked at.
    env = {"HUB_DATABASE_URL": "not a url", "HUB_ENV": "nonsense"}
    result = CliRunner().invoke(app, ["--version", "db", "upgrade"], env=env)
    assert result.exit_code == 0, result.output
    assert result.output == f"hub {VERSION}\n"


def test_openapi_document_carries_the_projects_version(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path}/hub.db", tmp_path)
    assert create_app(settings).api.openapi()["info"]["version"] == VERSION
