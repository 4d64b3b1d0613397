"""Commands given what they cannot use (a database they cannot open, a port out of range)
say so and stop, without a traceback."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import uvicorn
from typer.testing import CliRunner

from hub.cli.main import app

UNREACHABLE = "postgresql+asyncpg://nobody@127.0.0.1:1/hub"


@pytest.mark.parametrize(
    "args",
    [
        ["registry", "export", "--db", "nodriver://x"],
        ["registry", "export", "--db", UNREACHABLE],
        ["demo", "credentials", "--db", UNREACHABLE],
        ["db", "upgrade", "--db", "nodriver://x"],
        ["stats", "summary", "--db", UNREACHABLE],
    ],
    ids=["registry bad url", "registry unreachable", "demo", "db upgrade", "stats"],
)
def test_unopenable_database_is_a_message_not_a_traceback(args: list[str]) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), result.exception  # not an uncaught error
    assert "error:" in result.output and (
        "database" in result.output or "migrate" in result.output or "statistics" in result.output
    )


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["serve", "--port", "70000"], "less than or equal to 65535"),
        (["mock", "population", "--port", "99999"], "less than or equal to 65535"),
        (["up", "--port", "0"], "greater than or equal to 1"),
        (["up", "--port", "65534"], "pick 65531 or lower"),
    ],
    ids=["serve", "mock", "up zero", "up no room for the mocks"],
)
def test_a_port_out_of_range_is_refused_before_anything_starts(
    args: list[str], said: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The kernel keeps a port's low 16 bits: --port 99999 listened on 34463 and said 99999,
    # and `up --port 65534` ended in an OverflowError from its port check.
    def started(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("a server started on a port out of range")

    monkeypatch.setattr(uvicorn, "run", started)
    monkeypatch.setattr(uvicorn.Server, "run", started)
    monkeypatch.setattr(subprocess, "Popen", started)
    result = CliRunner().invoke(
        app, [*args], env={"HUB_DATABASE_URL": "sqlite+aiosqlite:///:memory:"}
    )
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert said in " ".join(result.output.split()), result.output


READ_ONLY = [
    ["stats", "summary"],
    ["stats", "timeseries"],
    ["tx", "list"],
    ["tx", "show", "abc"],
    ["audit", "verify", "--no-signatures"],
    ["registry", "export"],
    ["demo", "credentials"],
]
READ_ONLY_IDS = [" ".join(a[:2]) for a in READ_ONLY]


@pytest.mark.parametrize("args", READ_ONLY, ids=READ_ONLY_IDS)
def test_a_missing_sqlite_file_is_named_and_not_created(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Connecting made the file (and the engine its folder): a typo in --db left an empty
    # database behind, and the error blamed its schema or showed the SQL.
    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)
    typo = tmp_path / "nowhere" / "typo.db"
    result = CliRunner().invoke(app, [*args, "--db", f"sqlite+aiosqlite:///{typo}"])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    said = " ".join(result.output.split())
    assert f"no database at {typo}" in said and "--db or HUB_DATABASE_URL" in said
    assert not typo.parent.exists()


@pytest.mark.parametrize("args", READ_ONLY[:3], ids=READ_ONLY_IDS[:3])
def test_the_default_database_is_not_created_by_a_read(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "no database at" in result.output
    assert not (tmp_path / "var").exists()


@pytest.mark.parametrize(
    ("args", "code"),
    [
        (["stats", "summary"], 1),
        (["tx", "list"], 1),
        (["tx", "show", "abc"], 1),
        (["audit", "verify", "--no-signatures"], 2),  # its exit 1 means a tampered log
    ],
    ids=["stats", "tx list", "tx show", "audit verify"],
)
def test_an_empty_database_says_to_upgrade_without_sql(
    args: list[str], code: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HUB_DATABASE_URL", raising=False)
    empty = tmp_path / "empty.db"
    empty.touch()
    result = CliRunner().invoke(app, [*args, "--db", f"sqlite+aiosqlite:///{empty}"])
    assert result.exit_code == code, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    said = " ".join(result.output.split())
    assert "run `hub db upgrade` first" in said and "no such table" in said
    assert "SELECT" not in said and "[SQL" not in said
