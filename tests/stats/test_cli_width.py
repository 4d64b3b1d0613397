"""The tables of `hub stats`, `hub tx list` and `hub keys list` in an 80-column terminal (and a
wider one): no number split across lines, every id whole on a line of its own table row."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

import pytest
from rich.console import Console
from typer.testing import CliRunner

from hub.cli import keys as cli_keys
from hub.cli import stats as cli_stats
from hub.cli import tx as cli_tx
from hub.cli.main import app
from tests.stats.test_cli import cli_db, run  # noqa: F401  (the synthetic history)
from tests.stats.test_names import CIVIL, NAMES, POPULATION, named_db  # noqa: F401
from tests.support import SECRET

Screen = Callable[..., str]
WIDTHS = [80, 120]


@pytest.fixture
def screen(monkeypatch: pytest.MonkeyPatch) -> Callable[[int], Screen]:
    """``screen(width)(*args)``: the output of `hub ARGS` in a terminal ``width`` columns wide
    (COLUMNS=width; the commands' console is made when the CLI is imported, so it is swapped)."""

    def at(width: int) -> Screen:
        term = Console(width=width, force_terminal=True, color_system=None, soft_wrap=True)
        for module in (cli_stats, cli_tx, cli_keys):
            monkeypatch.setattr(module, "console", term)

        def show(*args: str) -> str:
            result = CliRunner().invoke(app, list(args), env={"HUB_SECRET_KEY": SECRET})
            assert result.exit_code == 0, result.output
            text = result.output
            wide = [line for line in text.splitlines() if len(line) > width]
            assert not wide, text  # a line past the edge is wrapped by the terminal itself
            return text

        return show

    return at


def shown(number: int | float) -> str:
    return f"{number:,}" if isinstance(number, int) else f"{number:,.3f}".rstrip("0").rstrip(".")


def assert_whole(text: str, *values: str | int | float) -> None:
    """Each value appears whole on a line, not run on from or into other digits or id."""
    for value in values:
        s = value if isinstance(value, str) else shown(value)
        pattern = r"(?<![\w/.,-])" + re.escape(s) + r"(?![\w/,-]|\.\d)"
        assert re.search(pattern, text), f"{s!r} is not whole in:\n{text}"


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("by", ["service", "client", "provider"])
@pytest.mark.usefixtures("cli_db")
def test_top_keeps_ids_and_numbers_whole(
    screen: Callable[[int], Screen], by: str, width: int
) -> None:
    data = json.loads(run("stats", "top", "--by", by, "--json"))
    table = screen(width)("stats", "top", "--by", by)
    for row in data["rows"]:
        line = next((x for x in table.splitlines() if row["key"] in x), None)
        assert line is not None, table
        assert_whole(line, row["key"], row["count"], row["failed"])


def below(table: str, ident: str, lines: int = 3) -> str:
    """The words under the first ``ident`` in its table cell, the ``lines`` lines after it."""
    rows = table.splitlines()
    at = next(i for i, x in enumerate(rows) if ident in x)
    start = rows[at].index(ident)
    return " ".join(
        " ".join(re.split("[│┃]", x[start:])[0].split()) for x in rows[at + 1 :][:lines]
    )


@pytest.mark.parametrize(
    ("args", "ident"),
    [
        (("stats", "top", "--by", "provider"), POPULATION),
        (("stats", "matrix", "--since", "1h"), CIVIL),  # two providers: the matrix fits
        (("stats", "health"), POPULATION),
    ],
)
@pytest.mark.usefixtures("named_db")
def test_a_name_is_below_its_id_when_narrow(
    screen: Callable[[int], Screen], args: tuple[str, ...], ident: str
) -> None:
    table = screen(80)(*args)
    assert below(table, ident).startswith(NAMES[ident]), table


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.usefixtures("cli_db")
def test_matrix_keeps_ids_and_counts_whole(screen: Callable[[int], Screen], width: int) -> None:
    data = json.loads(run("stats", "matrix", "--json"))
    table = screen(width)("stats", "matrix")
    assert_whole(table, *data["clients"], *data["providers"])
    assert_whole(table, *(c["count"] for c in data["cells"]))
    if width == 80:  # six providers of about 28 characters: no matrix fits, the pairs do
        assert "--json and --csv" in " ".join(table.split())


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("group_by", [None, "service"])
@pytest.mark.usefixtures("cli_db")
def test_timeseries_keeps_groups_and_figures_whole(
    screen: Callable[[int], Screen], width: int, group_by: str | None
) -> None:
    args = ["stats", "timeseries", "--bucket", "day", "--since", "7d"]
    args += ["--group-by", group_by] if group_by else []
    data = json.loads(run(*args, "--json"))
    table = screen(width)(*args)
    for point in data["points"]:
        line = next(x for x in table.splitlines() if point["label"] in x)
        assert_whole(line, point["label"], point["total"])
    assert_whole(table, *data["keys"][:8])


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.usefixtures("cli_db")
def test_summary_and_growth_keep_numbers_whole(screen: Callable[[int], Screen], width: int) -> None:
    summary = json.loads(run("stats", "summary", "--json"))
    assert_whole(screen(width)("stats", "summary"), summary["request_bytes"], summary["total"])
    growth = json.loads(run("stats", "growth", "--period", "day", "--since", "7d", "--json"))
    table = screen(width)("stats", "growth", "--period", "day", "--since", "7d")
    assert_whole(table, *(p["total"] for p in growth["periods"]))


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.usefixtures("cli_db")
def test_tx_list_keeps_ids_whole(screen: Callable[[int], Screen], width: int) -> None:
    items = json.loads(run("tx", "list", "--limit", "10", "--json"))["items"]
    table = screen(width)("tx", "list", "--limit", "10")
    for item in items:
        assert_whole(table, item["id"], item["client"], item["service"])
        assert_whole(table, _started(item["started_at"]), item["total_ms"])


def _started(iso: str) -> str:
    """A record's time as the table shows it: to the second, UTC (its header says so)."""
    return iso[:10] + " " + iso[11:19]


@pytest.mark.usefixtures("cli_db")
def test_tx_list_takes_two_lines_a_record_at_80_columns(screen: Callable[[int], Screen]) -> None:
    # At 80 columns each record took four lines (its id, time, client and service one below
    # the other), a screen of 24 lines held five records.
    # A service of 36 characters, as most are (the longest, 52, cannot be beside an id).
    verify = ["--service", "VN/GOV/BCA/population/citizen-verify", "--limit", "10"]
    items = json.loads(run("tx", "list", *verify, "--json"))["items"]
    table = screen(80)("tx", "list", *verify)
    rows = [line for line in table.splitlines() if line.startswith("│")]
    assert len(rows) == 2 * len(items), table
    for first, second, item in zip(rows[::2], rows[1::2], items, strict=True):
        assert item["id"] in first and _started(item["started_at"]) in first
        assert item["service"] in second and item["client"] in second
        assert str(item["status_code"]) in first and shown(item["total_ms"]) in second
    assert "not shown at this width: fault (--json and --csv have them)" in table
    # Where it fits, the fault is there, and --json keeps the record's own time.
    wide = screen(120)("tx", "list", *verify)
    assert "fault" in wide and "not shown" not in wide
    assert items[0]["started_at"].endswith("Z") and "T" in items[0]["started_at"]


LONGEST = "VN/GOV/BTC/business-registry/enterprise-registration"


@pytest.mark.usefixtures("cli_db")
def test_tx_list_takes_three_lines_a_record_beside_the_longest_services(
    screen: Callable[[int], Screen],
) -> None:
    # A page with a service and a client too long to stand side by side (the business
    # registry's 52-character enterprise-registration, most land-registry services beside the
    # one-stop portal) fell back to four lines a record, as most pages of the demo's do.
    # The page of that service alone: the latest ten of the whole log are the hour's
    # traffic, which moves with the time of day the history is made at (failed at 13:20).
    page = ("tx", "list", "--limit", "10", "--service", LONGEST)
    items = json.loads(run(*page, "--json"))["items"]
    assert len(items) == 10
    assert min(len(i["service"]) + len(i["client"]) for i in items) > 64  # no two lines
    table = screen(80)(*page)
    rows = [line for line in table.splitlines() if line.startswith("│")]
    assert len(rows) == 3 * len(items), table
    for first, second, third, item in zip(rows[::3], rows[1::3], rows[2::3], items, strict=True):
        assert item["id"] in first and _started(item["started_at"]) in first
        assert item["service"] in second and str(item["status_code"]) in second
        assert item["client"] in third and shown(item["total_ms"]) in third
    assert "not shown at this width: fault (--json and --csv have them)" in table
    # The next page's command, cut at its spaces into lines a shell joins again.
    assert " \\\n  " in table
    joined = table.replace(" \\\n  ", " ")
    assert f"next page: hub tx list --service {LONGEST} --limit 10 --cursor " in joined, table


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.usefixtures("named_db")
def test_health_and_keys_keep_ids_whole(screen: Callable[[int], Screen], width: int) -> None:
    health = screen(width)("stats", "health")
    assert_whole(health, POPULATION)
    label = "the one-stop portal's production server in the Ha Noi data centre, second rack"
    issued = CliRunner().invoke(
        app, ["keys", "issue", POPULATION, "--label", label], env={"HUB_SECRET_KEY": SECRET}
    )
    assert issued.exit_code == 0, issued.output
    listed = screen(width)("keys", "list")
    keys = json.loads(run("keys", "list", "--json"))
    for key in keys:
        assert_whole(listed, key["client"], key["prefix"])
    assert all(word in listed for word in label.split()), listed  # wrapped at its spaces
