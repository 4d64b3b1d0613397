"""Commands given what they cannot use (a database they cannot open, a port out of range)
say so and stop, without a traceback."""

from __future__ import annotations

import subprocess

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
