"""Commands pointed at a database they cannot open say so, without a traceback."""

from __future__ import annotations

import pytest
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
