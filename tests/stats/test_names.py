"""Agency names beside the ids, where an operator reads who shared with whom: the API's
``names``, the ``hub stats`` tables, JSON and CSV."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from typer.testing import CliRunner

from hub.cli.main import app
from hub.stats.output import emit
from tests.gateway.conftest import load_registry
from tests.stats.conftest import AUTH, log_records, record
from tests.support import ADMIN, hub_client, make_settings

POPULATION = "VN/GOV/BCA/population"
LOOKUP = f"{POPULATION}/citizen-lookup"
CIVIL = "VN/GOV/BTP/civil-status"
OTHER = "VN/GOV/BTP/other"  # no name of its own: its member's
BARE = "VN/GOV/BXD/bare"  # neither it nor its member has a name
GONE = "VN/GOV/OLD/gone"  # in the log, no longer in the registry

NAMES = {
    POPULATION: "Bộ Công an · Cơ sở dữ liệu quốc gia về dân cư",
    CIVIL: "Bộ Tư pháp · Hệ thống đăng ký và quản lý hộ tịch",
    OTHER: "Bộ Tư pháp",
    LOOKUP: "Bộ Công an · Look up one citizen by personal identification number.",
}


def named_registry() -> dict[str, Any]:
    return {
        "members": [
            {"id": "VN/GOV/BCA", "name": "Bộ Công an"},
            {"id": "VN/GOV/BTP", "name": "Bộ Tư pháp"},
            {"id": "VN/GOV/BXD"},
        ],
        "subsystems": [
            {
                "id": POPULATION,
                "name": "Cơ sở dữ liệu quốc gia về dân cư",
                "base_url": "http://127.0.0.1:9",
            },
            {"id": CIVIL, "name": "Hệ thống đăng ký và quản lý hộ tịch"},
            {"id": OTHER},
            {"id": BARE},
        ],  # fmt: skip
        "services": [
            {
                "id": LOOKUP,
                "endpoints": [{"method": "GET", "path": "/citizens/{id}"}],
                "description": "Look up one citizen by personal identification number.",
            },
        ],  # fmt: skip
        "grants": [{"client": CIVIL, "service": LOOKUP}],
    }


async def named_traffic(db_url: str) -> None:
    await load_registry(db_url, named_registry())
    now = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=5)  # the log's UTC
    refused = {"client": "", "service": "", "provider": "", "succeeded": False,
               "status_code": 401, "fault_code": "Client.Unauthorized"}  # fmt: skip
    await log_records(
        db_url,
        [record(now, client=CIVIL, service=LOOKUP, provider=POPULATION) for _ in range(3)]
        + [record(now, client=OTHER, service=LOOKUP, provider=POPULATION)]
        + [record(now, client=BARE, service=LOOKUP, provider=POPULATION)]
        + [record(now, client=GONE, service=LOOKUP, provider=POPULATION)]
        + [record(now, **refused)],
    )


async def test_the_api_names_the_ids_of_each_answer(db_url: str, tmp_path: Path) -> None:
    await named_traffic(db_url)
    async with hub_client(make_settings(db_url, tmp_path)) as (_, client):

        async def get(path: str, **params: Any) -> dict[str, Any]:
            resp = await client.get(path, params=params, headers=AUTH)
            assert resp.status_code == 200, resp.text
            return dict(resp.json())

        matrix = await get("/api/stats/matrix", since="1h")
        by_client = await get("/api/stats/top", by="client", since="1h")
        by_service = await get("/api/stats/top", by="service", since="1h")
        series = await get("/api/stats/timeseries", since="1h", bucket="minute", group_by="client")
        plain = await get("/api/stats/timeseries", since="1h", bucket="minute")
        health = await get("/api/health/providers")
        # A member renamed: the next answer says the new name (the hub's registry snapshot).
        patched = await client.patch(
            "/admin/members/VN/GOV/BCA", json={"name": "Bộ Công an (mới)"},
            headers={"Authorization": f"Bearer {ADMIN}"},
        )  # fmt: skip
        assert patched.status_code == 200, patched.text
        renamed = await get("/api/stats/matrix", since="1h")

    # Only the ids the answer lists; none for "" (not identified), one deleted since (GONE)
    # or one without any name (BARE); the ids and cells are as they were.
    clients = {CIVIL: NAMES[CIVIL], OTHER: NAMES[OTHER]}
    assert matrix["names"] == clients | {POPULATION: NAMES[POPULATION]}
    assert sorted(matrix["clients"]) == sorted(["", BARE, CIVIL, GONE, OTHER])
    assert sum(c["count"] for c in matrix["cells"]) == 7
    assert by_client["names"] == clients
    assert {r["key"] for r in by_client["rows"]} == {"", BARE, CIVIL, GONE, OTHER}
    assert by_service["names"] == {LOOKUP: NAMES[LOOKUP]}
    assert series["names"] == clients and series["keys"][0] == CIVIL
    assert plain["names"] == {}
    assert [p["provider"] for p in health["providers"]] == [POPULATION]
    assert health["names"] == {POPULATION: NAMES[POPULATION]}
    assert renamed["names"][POPULATION] == "Bộ Công an (mới) · Cơ sở dữ liệu quốc gia về dân cư"


@pytest.fixture
async def named_db(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    await named_traffic(db_url)
    monkeypatch.setenv("HUB_DATABASE_URL", db_url)
    monkeypatch.setenv("HUB_SIGNING_KEY_FILE", str(tmp_path / "key.pem"))
    return db_url


def run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_cli_json_has_the_apis_names(named_db: str) -> None:
    matrix = json.loads(run("stats", "matrix", "--since", "1h", "--json"))
    assert matrix["names"] == {POPULATION: NAMES[POPULATION], CIVIL: NAMES[CIVIL],
                               OTHER: NAMES[OTHER]}  # fmt: skip
    top = json.loads(run("stats", "top", "--by", "service", "--json"))
    assert top["names"] == {LOOKUP: NAMES[LOOKUP]}
    series = json.loads(run("stats", "timeseries", "--group-by", "provider", "--json"))
    assert series["names"] == {POPULATION: NAMES[POPULATION]}


def test_cli_tables_show_names_beside_ids(named_db: str) -> None:
    top = run("stats", "top", "--by", "client")
    line = next(x for x in top.splitlines() if CIVIL in x)
    assert NAMES[CIVIL] in line and "3" in line
    # Piped, the name beside its id (one line a row, for grep); in a terminal too narrow for
    # that, below it in the same cell (tests/stats/test_cli_width.py). The id's column says
    # what the ids are.
    head = next(x for x in top.splitlines() if "name" in x)
    assert [c.strip() for c in head.split("┃")[1:3]] == ["client", "name"]
    gone = next(x for x in top.splitlines() if GONE in x)
    assert "Bộ" not in gone
    matrix = run("stats", "matrix", "--since", "1h")
    row = next(x for x in matrix.splitlines() if CIVIL in x)
    assert NAMES[CIVIL] in row
    assert NAMES[POPULATION] in matrix  # the provider's column says whose it is
    series = run("stats", "timeseries", "--group-by", "provider", "--bucket", "minute")
    assert NAMES[POPULATION] in series


def test_cli_csv_adds_names_after_the_columns_it_had(named_db: str) -> None:
    top = list(csv.reader(io.StringIO(run("stats", "top", "--by", "client", "--csv"))))
    assert top[0] == ["key", "count", "failed", "share", "request_bytes", "response_bytes", "name",
                      "succeeded"]  # fmt: skip
    rows = {r[0]: r for r in top[1:]}
    assert rows[CIVIL][-2] == NAMES[CIVIL] and rows[GONE][-2] == "" and rows[""][-2] == ""
    matrix = list(csv.reader(io.StringIO(run("stats", "matrix", "--since", "1h", "--csv"))))
    assert matrix[0] == ["client", "provider", "count", "succeeded", "failed",
                         "client_name", "provider_name"]  # fmt: skip
    cell = next(r for r in matrix[1:] if r[0] == CIVIL)
    assert cell[1:] == [POPULATION, "3", "3", "0", NAMES[CIVIL], NAMES[POPULATION]]
    # The series' columns are its groups: no room for names there; its JSON has them.
    series = run("stats", "timeseries", "--group-by", "provider", "--bucket", "minute", "--csv")
    assert next(csv.reader(io.StringIO(series)))[-2:] == [POPULATION, ""]


def test_a_name_is_shown_as_written_not_read_as_markup() -> None:
    # A registry name heads a table column; rich read "[red]" there as a style.
    console = Console(file=io.StringIO(), width=200, force_terminal=True, color_system=None)
    emit({}, [{"VN/GOV/X/y\n[red]Tên[/]": 1}], ["VN/GOV/X/y\n[red]Tên[/]"], title="t",
         as_json=False, as_csv=False, console=console)  # fmt: skip
    assert "[red]Tên[/]" in console.file.getvalue()  # type: ignore[attr-defined]
