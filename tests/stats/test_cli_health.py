"""`hub stats health`: the figures of GET /api/health/providers, read from the database."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from hub.cli.main import app
from tests.gateway.conftest import PROVIDER, Hub
from tests.stats.conftest import AUTH
from tests.stats.test_cli import run
from tests.stats.test_exactness import traffic

# What only the serving hub knows: its breakers, and when and how fast its own check ran.
SERVING_ONLY = ("circuit", "circuit_workers", "check_ms", "checked_at")


def figures(report: dict[str, Any]) -> dict[str, Any]:
    rows = [{k: v for k, v in r.items() if k not in SERVING_ONLY} for r in report["providers"]]
    return report | {"providers": rows}


async def provider_errors(hub: Hub) -> None:
    """A provider's own 500, a timeout and an answered 404: errors and an exchange that is not."""
    headers = hub.headers()
    for path in ("answers/status/500", "slow/slow", "answers/status/404"):
        await hub.client.get(f"/r1/{PROVIDER}/{path}", headers=headers)


@pytest.fixture
def cli_env(hub: Hub, monkeypatch: pytest.MonkeyPatch) -> Hub:
    settings = hub.app.state.settings
    monkeypatch.setenv("HUB_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("HUB_HEALTH_INTERVAL_S", str(settings.health_interval_s))
    return hub


async def test_health_prints_the_apis_figures(cli_env: Hub) -> None:
    hub = cli_env
    await traffic(hub)
    await provider_errors(hub)
    for window in ("15", "1"):
        api = await hub.client.get(
            f"/api/health/providers?refresh=true&window_minutes={window}", headers=AUTH
        )
        shown = await asyncio.to_thread(
            run, "stats", "health", "--check", "--window-minutes", window, "--json"
        )
        cli = json.loads(shown)
        assert figures(cli) == figures(api.json())
    (row,) = cli["providers"]
    assert row["provider"] == PROVIDER and row["reachable"] is True and row["status"] == 404
    # 5 lookups, 2 citizens not found, 2 echoes, a failed call and a bad answer (502s); and
    # the 500, the timeout and the 404 above: 14 calls, 4 of them the provider's errors.
    assert (row["exchanges"], row["errors"]) == (14, 4) and row["error_rate"] == 0.2857
    assert cli["names"] == {PROVIDER: "Bộ Công an · Dân cư"}
    assert cli["connection_rate"] == 1.0
    # The command line holds no breaker: the serving hub's circuits are its API's.
    assert row["circuit"] == "n/a"

    shown = await asyncio.to_thread(run, "stats", "health", "--csv")
    rows = [(r["provider"], r["exchanges"], r["errors"], r["error_rate"], r["name"])
            for r in csv.DictReader(io.StringIO(shown))]  # fmt: skip
    assert rows == [(PROVIDER, "14", "4", "0.2857", "Bộ Công an · Dân cư")]
    table = await asyncio.to_thread(run, "stats", "health", "--check")
    line = next(x for x in table.splitlines() if PROVIDER in x)
    assert "reachable" in line and "14" in line and "0.286" in line


async def test_health_checks_providers_only_when_asked(cli_env: Hub) -> None:
    await provider_errors(cli_env)
    report = json.loads(await asyncio.to_thread(run, "stats", "health", "--json"))
    (row,) = report["providers"]
    assert row["reachable"] is None and row["status"] is None and row["error"] is None
    assert (row["exchanges"], row["errors"]) == (3, 2)
    assert report["reachable"] == 0 and report["registered"] == 1
    table = " ".join((await asyncio.to_thread(run, "stats", "health")).split())
    assert "not checked" in table and "--check" in table


async def test_health_table_fits_80_columns(cli_env: Hub, monkeypatch: pytest.MonkeyPatch) -> None:
    await provider_errors(cli_env)
    screen = Console(file=io.StringIO(), width=80, force_terminal=True, color_system=None)
    monkeypatch.setattr("hub.cli.stats.console", screen)
    await asyncio.to_thread(run, "stats", "health", "--check")
    shown = screen.file.getvalue()  # type: ignore[attr-defined]
    lines = shown.splitlines()
    assert max(len(x) for x in lines) <= 80
    assert any(PROVIDER in x for x in lines), shown  # the id whole, not folded
    assert "Bộ Công an · Dân cư" in shown


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--window-minutes", "0"], "'--window-minutes': Input should be greater than or equal"),
        (["--window-minutes", "1441"], "'--window-minutes': Input should be less than or equal"),
        (["--window-minutes", "soon"], "'--window-minutes': Input should be a valid integer"),
        (["--json", "--csv"], "give --json or --csv, not both"),
    ],
)  # fmt: skip
def test_health_refuses_bad_options(
    args: list[str], said: str, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_DATABASE_URL", sqlite_url)
    result = CliRunner().invoke(app, ["stats", "health", *args])
    message = " ".join(result.output.replace("│", " ").split())
    assert result.exit_code == 2, message
    assert said in message and "Traceback" not in message


def test_health_says_when_the_registry_has_no_provider_to_report(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_DATABASE_URL", sqlite_url)
    report = json.loads(run("stats", "health", "--check", "--json"))
    assert report["providers"] == [] and report["connection_rate"] is None
    table = " ".join(run("stats", "health", "--check").split())
    assert "no providers registered" in table and "not checked" not in table
