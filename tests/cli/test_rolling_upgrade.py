"""A database at an older revision is migrated by `hub db upgrade` alone (or `hub serve
--migrate`, asked for): hubs of the older version may still run on it. A new database (no
tables) still gets its tables from the commands that write, as before."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hub.cli.main import app
from hub.core.migrate import revisions, upgrade
from tests.conftest import ENGINES
from tests.support import POSTGRES_URL, SECRET, database, free_port

OLDER = "0009"
MEMBER = "members:\n  - id: VN/GOV/BCA\n    name: Bộ Công an\n"


@pytest.fixture(params=ENGINES)
async def new_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A database without any table: SQLite always, PostgreSQL when given."""
    if request.param == "postgres" and not POSTGRES_URL:
        pytest.skip("PostgreSQL tests need HUB_TEST_POSTGRES_URL (e.g. postgresql+asyncpg://...)")
    async with database(request.param, tmp_path, migrated=False) as url:
        if request.param == "sqlite":
            await asyncio.to_thread(Path(url.removeprefix("sqlite+aiosqlite:///")).touch)
        yield url


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The ports `hub serve` would have listened on; nothing is served."""
    ports: list[int] = []
    monkeypatch.setattr("hub.cli.listen.run_server", lambda _host, port, *_a: ports.append(port))
    return ports


def hub(url: str, tmp_path: Path, *args: str) -> Any:
    (tmp_path / "reg.yaml").write_text(MEMBER, encoding="utf-8")
    env = {
        "HUB_ENV": "test",
        "HUB_SECRET_KEY": SECRET,
        "HUB_SIGNING_KEY_FILE": str(tmp_path / "signing-key.pem"),
        "COLUMNS": "200",
    }
    args = tuple(str(tmp_path / "reg.yaml") if a == "REG" else a for a in args)
    return CliRunner().invoke(app, [*args, "--db", url], env=env)


async def run(url: str, tmp_path: Path, *args: str) -> Any:
    return await asyncio.to_thread(hub, url, tmp_path, *args)


async def revision(url: str) -> str | None:
    return (await asyncio.to_thread(revisions, url))[0]


def said(result: Any) -> str:
    return " ".join(result.output.split())


WRITERS = {
    "registry apply": ["registry", "apply", "REG"],
    "registry apply --dry-run": ["registry", "apply", "--dry-run", "REG"],
    "tx synth": ["tx", "synth", "--records", "100", "--days", "1", "--batch", "100"],
    "serve": ["serve", "--port", "PORT"],
    "serve --no-migrate": ["serve", "--no-migrate", "--port", "PORT"],
    "keys issue": ["keys", "issue", "VN/GOV/BCA/x"],
}


@pytest.mark.parametrize("command", list(WRITERS))
async def test_only_db_upgrade_migrates_an_older_database(
    command: str, new_db: str, tmp_path: Path, started: list[int]
) -> None:
    # A rolling upgrade: nodes of the older hub still run on the database. `hub registry
    # apply` (and `hub serve`, `hub tx synth`) migrated it silently, while `hub keys` refused.
    await asyncio.to_thread(upgrade, new_db, OLDER)
    args = [str(free_port()) if a == "PORT" else a for a in WRITERS[command]]
    result = await run(new_db, tmp_path, *args)
    assert result.exit_code == 2, result.output
    head = (await asyncio.to_thread(revisions, new_db))[1]
    assert f"is at revision {OLDER} and this hub needs {head}: run `hub db upgrade` first" in said(
        result
    )
    if command.startswith("serve"):
        assert "or start with `hub serve --migrate` if no hub of the older version" in said(result)
    else:
        assert "never migrate a database in use, where hubs of the older version" in said(result)
    assert result.output.count("error:") == 1 and "Traceback" not in result.output
    assert await revision(new_db) == OLDER and started == []

    upgraded = await run(new_db, tmp_path, "db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    if command == "keys issue":
        return  # no such subsystem: its refusal is another test's
    again = await run(new_db, tmp_path, *args)
    assert again.exit_code == 0, again.output


async def test_hub_serve_migrate_migrates_when_asked(
    new_db: str, tmp_path: Path, started: list[int]
) -> None:
    await asyncio.to_thread(upgrade, new_db, OLDER)
    port = free_port()
    result = await run(new_db, tmp_path, "serve", "--migrate", "--port", str(port))
    assert result.exit_code == 0, result.output
    head = (await asyncio.to_thread(revisions, new_db))[1]
    assert await revision(new_db) == head and started == [port]


@pytest.mark.parametrize("command", ["registry apply", "tx synth", "serve"])
async def test_a_new_database_gets_its_tables(
    command: str, new_db: str, tmp_path: Path, started: list[int]
) -> None:
    # No tables, so no hub runs on it: made as `hub db upgrade` makes it (`hub up` and the
    # development `hub serve` rely on it).
    args = [str(free_port()) if a == "PORT" else a for a in WRITERS[command]]
    result = await run(new_db, tmp_path, *args)
    assert result.exit_code == 0, result.output
    head = (await asyncio.to_thread(revisions, new_db))[1]
    assert await revision(new_db) == head


async def test_a_production_change_refused_for_its_signing_key_makes_no_tables(
    new_db: str, tmp_path: Path
) -> None:
    # The tables were made, and then the change refused: "nothing was changed" was not so,
    # and a later `hub db upgrade --revision` found the database "past" it.
    env = {
        "HUB_ENV": "production",
        "HUB_ADMIN_TOKEN": "a" * 24,
        "HUB_OPERATOR_TOKEN": "o" * 24,
        "HUB_SECRET_KEY": SECRET,
        "HUB_SIGNING_KEY_FILE": str(tmp_path / "absent.pem"),
    }
    (tmp_path / "reg.yaml").write_text(MEMBER, encoding="utf-8")
    args = ["registry", "apply", str(tmp_path / "reg.yaml"), "--db", new_db]
    result = await asyncio.to_thread(CliRunner().invoke, app, args, env=env)
    assert result.exit_code == 2, result.output
    assert "in production a change is not written to the audit trail unsigned" in said(result)
    assert await revision(new_db) is None
