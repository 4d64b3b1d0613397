"""What `hub` imports before it answers: every call of the command waits for it.

FastAPI, Alembic, uvicorn, the connector kit's app and the database layer took about a
second to import, and `hub --help`, `hub keys --help` or `hub replay --help` waited for all
of them, `hub keys list` for the web framework too. Each command imports what it uses when
it runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer

from hub.cli.main import app

# Run in a fresh interpreter: this one has imported everything already.
SCRIPT = """
import json, sys
from hub.cli.main import app
try:
    app(sys.argv[2:], prog_name="hub")
except SystemExit as exc:
    code = exc.code
else:
    code = 0
with open(sys.argv[1], "w") as f:
    json.dump({"code": code, "modules": sorted(sys.modules)}, f)
"""
SLOW = ("fastapi", "starlette", "alembic", "uvicorn", "connectors.kit.app", "sqlalchemy", "httpx")
ROOT: Any = typer.main.get_command(app)
TOP = sorted(ROOT.commands)


def _imported(tmp_path: Path, *args: str) -> list[str]:
    """Those of SLOW that ``hub ARGS`` imported."""
    out = tmp_path / "modules.json"
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(out), *args], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    found = json.loads(out.read_text())
    assert found["code"] == 0, done.stdout + done.stderr
    return [m for m in SLOW if m in found["modules"]]


def test_every_command_is_checked() -> None:
    assert {"keys", "stats", "replay", "serve", "mock", "tx", "db"} <= set(TOP)


@pytest.mark.parametrize("args", [["--help"], *([name, "--help"] for name in TOP)])
def test_help_imports_no_web_framework_server_or_database_layer(
    tmp_path: Path, args: list[str]
) -> None:
    assert _imported(tmp_path, *args) == []


@pytest.mark.parametrize("args", [["tx", "list", "--help"], ["audit", "verify", "--help"]])
def test_a_commands_own_help_imports_none_either(tmp_path: Path, args: list[str]) -> None:
    assert _imported(tmp_path, *args) == []


def test_the_version_imports_none_either(tmp_path: Path) -> None:
    assert _imported(tmp_path, "--version") == []


@pytest.mark.parametrize(
    "args", [["keys", "list"], ["tx", "list"], ["stats", "summary"], ["registry", "export"]]
)
def test_a_command_on_the_database_imports_no_web_framework_or_server(
    tmp_path: Path, args: list[str]
) -> None:
    db = ["--db", f"sqlite+aiosqlite:///{tmp_path}/hub.db"]
    _imported(tmp_path, "db", "upgrade", *db)
    web = ("fastapi", "starlette", "uvicorn", "connectors.kit.app", "httpx")
    assert [m for m in _imported(tmp_path, *args, *db) if m in web] == []
