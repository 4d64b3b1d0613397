"""`hub stats` and `hub tx` read the same figures as the API, as tables, JSON and CSV."""

from __future__ import annotations

import csv
import io
import json
import shlex
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from rich.console import Console
from typer.testing import CliRunner

import connectors
from connectors.demo import demo_registry
from hub.cli.main import app
from hub.stats.output import emit


@pytest.fixture
def cli_db(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("HUB_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("HUB_SIGNING_KEY_FILE", str(tmp_path / "key.pem"))
    result = CliRunner().invoke(app, ["tx", "synth", "--records", "3000", "--days", "5"])
    assert result.exit_code == 0, result.output
    assert "added 3,000 records" in result.output
    return sqlite_url


def run(*args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_summary_json_csv_and_table_agree(cli_db: str) -> None:
    summary = json.loads(run("stats", "summary", "--json"))
    assert summary["total"] == 3000
    rows = {
        r["figure"]: r["value"]
        for r in csv.DictReader(io.StringIO(run("stats", "summary", "--csv")))
    }
    assert int(rows["total"]) == 3000 and int(rows["failed"]) == summary["failed"]
    assert "3,000" in run("stats", "summary", "--since", "30d")
    verify = run("audit", "verify")
    assert "3000 records chained" in verify


def test_series_matrix_top_growth(cli_db: str) -> None:
    ts = json.loads(run("stats", "timeseries", "--bucket", "day", "--since", "7d", "--json"))
    assert sum(p["total"] for p in ts["points"]) == 3000
    args = ("--bucket", "hour", "--since", "7d", "--group-by", "client", "--csv")
    series_csv = list(csv.DictReader(io.StringIO(run("stats", "timeseries", *args))))
    assert sum(int(r["total"]) for r in series_csv) == 3000
    # How much data was shared per bucket, not only how many exchanges.
    summary = json.loads(run("stats", "summary", "--json"))
    for column in ("request_bytes", "response_bytes"):
        assert sum(int(r[column]) for r in series_csv) == summary[column] > 0
    table = run("stats", "timeseries", "--bucket", "day", "--since", "7d")
    assert "request bytes" in table and "response bytes" in table
    matrix = json.loads(run("stats", "matrix", "--json"))
    assert matrix["total"] == 3000
    top = json.loads(run("stats", "top", "--by", "provider", "--json"))
    assert top["rows"][0]["key"] == "VN/GOV/BCA/population"
    growth = json.loads(run("stats", "growth", "--period", "day", "--since", "7d", "--json"))
    assert sum(p["total"] for p in growth["periods"]) == 3000
    assert "Sharing matrix" in run("stats", "matrix")


def test_top_csv_has_every_figure_of_its_json(cli_db: str) -> None:
    """The CSV lacked ``succeeded``: a spreadsheet could not tell failed from succeeded
    without reading the JSON. It comes after the columns scripts read by position."""
    top = json.loads(run("stats", "top", "--by", "client", "--json"))
    rows = list(csv.DictReader(io.StringIO(run("stats", "top", "--by", "client", "--csv"))))
    assert list(rows[0])[-2:] == ["name", "succeeded"]
    assert {r["key"]: int(r["succeeded"]) for r in rows} == {
        r["key"]: r["succeeded"] for r in top["rows"]
    }
    assert all(int(r["succeeded"]) + int(r["failed"]) == int(r["count"]) for r in rows)


def test_tx_list_pages_and_show(cli_db: str) -> None:
    first = json.loads(run("tx", "list", "--limit", "5", "--json"))
    assert len(first["items"]) == 5 and first["next_cursor"]
    second = json.loads(
        run("tx", "list", "--limit", "5", "--cursor", first["next_cursor"], "--json")
    )
    assert second["items"][0]["seq"] == first["items"][-1]["seq"] - 1
    shown = json.loads(run("tx", "show", first["items"][0]["request_id"]))
    assert shown["record_hash"] and shown["seq"] == first["items"][0]["seq"]


def test_tx_show_takes_json_as_tx_list_does(cli_db: str) -> None:
    # `--json`, written as for `tx list`, was refused with "No such option"; the record is
    # JSON either way, and the same JSON.
    item = json.loads(run("tx", "list", "--limit", "1", "--json"))["items"][0]
    plain = json.loads(run("tx", "show", item["request_id"]))
    assert json.loads(run("tx", "show", item["request_id"], "--json")) == plain
    assert plain["request_id"] == item["request_id"]


def test_tx_show_drops_blanks_around_the_id(cli_db: str) -> None:
    # An id copied from a table with a blank at an end answered "no transaction has ...
    # 'req-1 '", the blank to be spotted between the quotes; the stats filters drop them.
    item = json.loads(run("tx", "list", "--limit", "1", "--json"))["items"][0]
    shown = json.loads(run("tx", "show", f" {item['request_id']}\t "))
    assert shown["request_id"] == item["request_id"]
    missing = CliRunner().invoke(app, ["tx", "show", " nope "])
    assert missing.exit_code == 1 and "'nope'" in missing.output, missing.output


def test_an_empty_listing_says_that_nothing_matched(cli_db: str) -> None:
    # A mistyped service showed the table's header alone, as a listing that failed might.
    said = run("tx", "list", "--service", "VN/GOV/BCA/population/citizen-lookp")
    assert "no record matches these filters" in " ".join(said.split()), said
    listed = CliRunner().invoke(app, ["tx", "list", "--service", "VN/GOV/X/y/z", "--json"])
    assert listed.exit_code == 0 and json.loads(listed.stdout)["items"] == []


@pytest.mark.parametrize(
    ("args", "note"),
    [
        (["tx", "list", "--service", "VN/GOV/BCA/population/citizen-lookp"],
         "no service VN/GOV/BCA/population/citizen-lookp is registered or in the log "
         "(did you mean VN/GOV/BCA/population/citizen-lookup?)"),
        (["stats", "summary", "--client", "VN/GOV/BTP/civil-statu", "--json"],
         "no client VN/GOV/BTP/civil-statu is registered or in the log "
         "(did you mean VN/GOV/BTP/civil-status?)"),
        (["stats", "timeseries", "--provider", "VN/GOV/BCA/populatio"],
         "no provider VN/GOV/BCA/populatio is registered or in the log "
         "(did you mean VN/GOV/BCA/population?)"),
    ],
)  # fmt: skip
def test_a_filter_naming_nothing_is_said_so(
    cli_db: str, tmp_path: Path, args: list[str], note: str
) -> None:
    # A mistyped id made every figure zero, and nothing said why.
    demo = tmp_path / "demo.yaml"
    urls = {name: f"http://127.0.0.1:{8001 + i}" for i, name in enumerate(connectors.names())}
    demo.write_text(yaml.safe_dump(demo_registry(urls)), encoding="utf-8")
    registry = CliRunner().invoke(app, ["registry", "apply", str(demo)])
    assert registry.exit_code == 0, registry.output
    said = CliRunner().invoke(app, args)
    assert said.exit_code == 0, said.output
    assert f"note: {note}" in " ".join(said.stderr.split()), said.stderr
    if "--json" in args:  # the JSON stays whole, and carries the note as the API's does
        assert json.loads(said.stdout)["notes"] == [note + f": nothing matches {args[2]} {args[3]}"]


def test_an_id_in_the_log_is_no_typo_registered_or_not(cli_db: str) -> None:
    # The synthetic log's ids are in no registry here: they are in the log, so no note.
    some = json.loads(run("tx", "list", "--limit", "1", "--json"))["items"][0]
    for option, value in (("--client", some["client"]), ("--service", some["service"]),
                          ("--provider", some["provider"])):  # fmt: skip
        said = CliRunner().invoke(app, ["stats", "summary", option, value, "--json"])
        assert said.exit_code == 0 and said.stderr == "", (option, said.stderr)


def test_tables_keep_whole_values_piped_and_in_a_narrow_terminal(cli_db: str) -> None:
    items = json.loads(run("tx", "list", "--limit", "3", "--json"))["items"]
    piped = run("tx", "list", "--limit", "3")  # not a terminal: one line per record
    assert "…" not in piped
    for item in items:
        line = next(x for x in piped.splitlines() if item["id"] in x)
        assert item["service"] in line and item["started_at"] in line
        assert line == line.rstrip()
    narrow = Console(file=io.StringIO(), width=60, force_terminal=True, color_system=None)
    emit(
        {}, [{"id": "7" * 32, "service": "VN/GOV/BCA/population/citizen-lookup"}],
        ("id", "service"), title="t", as_json=False, as_csv=False, console=narrow,
    )  # fmt: skip
    shown = narrow.file.getvalue()  # type: ignore[attr-defined]
    assert "…" not in shown
    assert "".join(ch for ch in shown if ch == "7") == "7" * 32  # wrapped, not cut


@pytest.mark.parametrize(
    "args",
    [
        ["stats", "summary", "--json", "--csv"],
        ["stats", "top", "--csv", "--json"],
        ["tx", "list", "--json", "--csv"],
    ],
)
def test_json_and_csv_together_are_refused(cli_db: str, args: list[str]) -> None:
    # Both printed the JSON alone: the CSV a script asked for was dropped without a word.
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "give --json or --csv, not both" in result.output
    assert "{" not in result.output


def test_bad_input_exits_2_with_a_sentence(cli_db: str) -> None:
    result = CliRunner().invoke(app, ["stats", "summary", "--since", "last tuesday"])
    assert result.exit_code == 2
    assert "ISO date" in result.output
    missing = CliRunner().invoke(app, ["tx", "show", "nope"])
    assert missing.exit_code == 1 and "no transaction" in missing.output
    # A date past what datetime holds in UTC was blamed on the database, exit 1.
    for args in (["stats", "summary", "--since", "0001-01-01"],
                 ["tx", "list", "--until", "9999-12-31T23:00:00-05:00"]):  # fmt: skip
        early = CliRunner().invoke(app, args)
        assert early.exit_code == 2, early.output
        said = " ".join(early.output.split())
        assert "is out of range: send a time between 1900-01-01 and 2999-12-31" in said
        assert "database" not in said and "statistics" not in said
    # A cursor past the database's integers was blamed on the log, exit 1.
    past = "c2VxOjk5OTk5OTk5OTk5OTk5OTk5OTk5OTk5"  # seq:99999999999999999999999
    huge = CliRunner().invoke(app, ["tx", "list", "--cursor", past])
    assert huge.exit_code == 2 and "--cursor is not one this hub gave out" in huge.output
    # As the API: no status outside 100..599 (it listed nothing, exit 0).
    status = CliRunner().invoke(app, ["tx", "list", "--status", "999"])
    assert status.exit_code == 2 and "--status" in status.output


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["stats", "summary", "--since", "abc"], "--since 'abc' is not a time: use an ISO date"),
        (["stats", "matrix", "--until", "x"], "--until 'x' is not a time: use an ISO date"),
        (["stats", "summary", "--since", "1800-01-01"], "--since '1800-01-01' is out of range"),
        (["stats", "top", "--since", "2025-02-01", "--until", "2025-01-01"],
         "--since must be before --until"),
        (["tx", "list", "--since", "1d", "--until", "2d"], "--since must be before --until"),
        (["stats", "summary", "--since", "2026-05-01T00:00:00Z", "--until", "2026-05-01T06:00"],
         "--since must be before --until; --since is 2026-05-01T07:00:00+07:00, --until "
         "2026-05-01T06:00:00+07:00"),
        (["tx", "list", "--since", "2026-05-01", "--until", "2026-04-30T17:00:00Z", "--tz",
          "Asia/Ho_Chi_Minh"],
         "--since must be before --until; both are 2026-05-01T00:00:00+07:00, an empty range"),
        (["stats", "timeseries", "--bucket", "week"], "--bucket must be one of minute, hour,"),
        (["stats", "timeseries", "--group-by", "x"], "--group-by must be one of client, service,"),
        (["stats", "timeseries", "--bucket", "minute", "--since", "2d"],
         "minute buckets are kept for 1 days (HUB_MINUTE_ROLLUP_DAYS); use --bucket hour for"),
        (["stats", "top", "--by", "x"], "--by must be one of client, service, provider; got 'x'"),
        (["stats", "growth", "--period", "week"], "--period must be day, month or year; got"),
        (["stats", "summary", "--client", "VN/GOV"],
         "--client 'VN/GOV' must have the form INSTANCE/CLASS/MEMBER/SUBSYSTEM"),
        (["stats", "top", "--service", "VN/GOV/BCA/population/a b"],
         "--service 'VN/GOV/BCA/population/a b' has an invalid part 'a b': use letters"),
        (["tx", "list", "--provider", "VN/XYZ/BCA/population"],
         "--provider 'VN/XYZ/BCA/population': unknown member class 'XYZ' (use GOV, LOC or COM)"),
        (["tx", "list", "--cursor", "nope"],
         "--cursor is not one this hub gave out; give the one the last page printed"),
    ],
)  # fmt: skip
def test_bad_options_are_named_as_the_command_line_spells_them(
    args: list[str], said: str, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The operator API's words came through: "since='abc' is not a time", "group_by must be",
    # "use bucket=hour", "pass next_cursor": parameters the command line does not have.
    monkeypatch.setenv("HUB_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("HUB_MINUTE_ROLLUP_DAYS", "1")
    result = CliRunner().invoke(app, args)
    message = " ".join(result.output.split())
    assert result.exit_code == 2, message
    assert message.startswith("error: " + said), message
    for api_word in ("since=", "until=", "bucket=", "group_by", "next_cursor", " by must"):
        assert api_word not in message, message


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["stats", "growth", "--period", "day", "--since", "1990-01-01"],
         "day periods; the limit is 10000: use a coarser --period or a shorter range"),
        (["stats", "timeseries", "--bucket", "hour", "--since", "1000d"],
         "hour buckets; the limit is 10000: use a coarser --bucket or a shorter range"),
    ],
)  # fmt: skip
def test_too_many_buckets_name_the_commands_own_option(
    args: list[str], said: str, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `hub stats growth` said "use a coarser bucket": it has --period, no --bucket.
    monkeypatch.setenv("HUB_DATABASE_URL", sqlite_url)
    result = CliRunner().invoke(app, args)
    message = " ".join(result.output.split())
    assert result.exit_code == 2, message
    assert message.startswith("error: that range holds about ") and message.endswith(said)


def test_a_database_older_than_the_hub_says_to_upgrade(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub.core.migrate import upgrade

    url = f"sqlite+aiosqlite:///{tmp_path}/old.db"
    upgrade(url, "0005")  # before the rollup mark
    monkeypatch.setenv("HUB_DATABASE_URL", url)
    result = CliRunner().invoke(app, ["stats", "summary"])
    assert result.exit_code == 2  # as for any database without the tables asked for
    assert "hub db upgrade" in result.output and "Traceback" not in result.output


def test_tx_list_reads_dates_in_the_zone_given(cli_db: str) -> None:
    day = (datetime.now(UTC) - timedelta(days=2)).date()
    args = (
        "tx",
        "list",
        "--since",
        day.isoformat(),
        "--until",
        (day + timedelta(days=1)).isoformat(),
    )
    for tz, start in (("UTC", 0), ("Asia/Ho_Chi_Minh", -7)):
        items = json.loads(run(*args, "--tz", tz, "--limit", "1000", "--json"))["items"]
        assert items, tz
        first = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=start)
        times = [datetime.fromisoformat(i["started_at"].replace("Z", "+00:00")) for i in items]
        assert first <= min(times) and max(times) < first + timedelta(days=1), tz


def test_tx_synth_makes_the_tables_of_a_new_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/new.db")
    monkeypatch.setenv("HUB_SIGNING_KEY_FILE", str(tmp_path / "key.pem"))
    # It answered "no such table: chain_head" where `hub up` and `registry apply` migrate.
    assert "added 100 records" in run("tx", "synth", "--records", "100", "--days", "1")


def test_a_count_of_one_is_said_in_the_singular(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path}/one.db")
    monkeypatch.setenv("HUB_SIGNING_KEY_FILE", str(tmp_path / "key.pem"))
    # "added 1 records over 1 days", then "1 records chained, 1 batches".
    added = run("tx", "synth", "--records", "1", "--days", "1")
    assert "added 1 record over 1 day in " in added, added
    assert "ok: 1 record chained, 1 batch, 1 signature valid" in run("audit", "verify")
    listed = CliRunner().invoke(app, ["tx", "list", "--all", "--csv"])
    assert listed.exit_code == 0 and listed.stderr.strip() == "1 record", listed.output


def test_listed_records_carry_the_body_hashes_the_spec_names(cli_db: str) -> None:
    item = json.loads(run("tx", "list", "--limit", "1", "--json"))["items"][0]
    shown = json.loads(run("tx", "show", item["request_id"]))
    # Synthetic traffic has no bodies, and so no hashes of them: the keys are there all the same.
    assert "request_hash" in item and item["request_hash"] == shown["request_hash"]
    assert "response_hash" in item and item["response_hash"] == shown["response_hash"]
    assert "prev_hash" not in item and "record_hash" not in item


def test_the_current_period_of_growth_is_marked_partial(cli_db: str) -> None:
    growth = json.loads(run("stats", "growth", "--period", "day", "--since", "7d", "--json"))
    flags = [p["partial"] for p in growth["periods"]]
    assert flags[-1] is True and not any(flags[:-1])  # only today has not ended
    # The table and CSV say so too: today's change against yesterday is not a fall.
    args = ("stats", "growth", "--period", "day", "--since", "7d")
    rows = list(csv.DictReader(io.StringIO(run(*args, "--csv"))))
    # As the JSON writes a flag, not Python's "True" and "False".
    assert [r["partial"] for r in rows] == ["false"] * (len(rows) - 1) + ["true"]
    table = run(*args).splitlines()
    assert "partial" in table[2] and table[-2].rstrip("│ ").endswith("yes")


def test_tx_list_csv_has_every_listed_field(cli_db: str) -> None:
    rows = list(csv.DictReader(io.StringIO(run("tx", "list", "--limit", "3", "--csv"))))
    assert len(rows) == 3
    for field in ("provider", "user_id", "issue", "request_bytes", "hub_ms", "request_id"):
        assert field in rows[0], field
    assert all(r["provider"].startswith("VN/") for r in rows)


def test_tx_list_all_streams_every_page(cli_db: str) -> None:
    result = CliRunner().invoke(app, ["tx", "list", "--all", "--csv"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 3000 == len({r["request_id"] for r in rows})  # three pages, none twice
    assert [r["started_at"] for r in rows] == sorted((r["started_at"] for r in rows), reverse=True)
    assert "3,000 records" in result.stderr

    one = CliRunner().invoke(app, ["tx", "list", "--all", "--json", "--since", "2d"])
    lines = [json.loads(line) for line in one.stdout.splitlines()]
    page = json.loads(run("tx", "list", "--since", "2d", "--limit", "1000", "--json"))
    assert 0 < len(lines) < 3000 and lines[: len(page["items"])] == page["items"]
    assert all(line["started_at"] >= lines[-1]["started_at"] for line in lines)

    refused = CliRunner().invoke(app, ["tx", "list", "--all"])
    assert refused.exit_code == 2 and "add --csv or --json" in refused.output


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize("args", [("tx", "list", "--all", "--csv"), ("stats", "summary")])
def test_output_on_a_full_disk_is_one_line(cli_db: str, args: tuple[str, ...]) -> None:
    import subprocess
    import sys

    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "hub", *args], stdout=full, stderr=subprocess.PIPE, text=True
        )
    assert done.returncode == 1
    assert done.stderr == "error: cannot write the output: [Errno 28] No space left on device\n"


def test_tx_says_it_could_not_read_the_log(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:1/none")
    result = CliRunner().invoke(app, ["tx", "list"])
    assert result.exit_code == 1
    assert "cannot read the transaction log from" in " ".join(result.output.split())


async def test_an_unidentified_caller_is_named_so_in_tables_and_blank_in_data(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A caller refused before the hub knew who it was (a bad key) had an empty row and
    # column header in `hub stats matrix`, and an empty key in `top`.
    import asyncio

    from hub.core.migrate import upgrade_async
    from hub.txlog.repository import append
    from hub.txlog.signing import Signer
    from hub.txlog.sqlite import create_writer_engine
    from tests.txlog.test_audit import record

    await upgrade_async(sqlite_url)
    engine = create_writer_engine(sqlite_url)
    signer = Signer.from_file(tmp_path / "key.pem", create=True)
    now = datetime.now(UTC).replace(tzinfo=None)
    refused = record(1) | {"client": "", "status_code": 401, "succeeded": False,
                           "fault_code": "Client.Unauthorized", "started_at": now}  # fmt: skip
    try:
        async with engine.begin() as conn:  # past the rollup mark: the statistics read the log
            await append(conn, [refused, record(2) | {"started_at": now}], signer=signer,
                         lock=False)  # fmt: skip
    finally:
        await engine.dispose()
    monkeypatch.setenv("HUB_DATABASE_URL", sqlite_url)
    matrix = await asyncio.to_thread(run, "stats", "matrix", "--since", "1h")
    top = await asyncio.to_thread(run, "stats", "top", "--by", "client", "--since", "1h")
    assert "(not identified)" in matrix and "(not identified)" in top
    data = json.loads(await asyncio.to_thread(run, "stats", "matrix", "--since", "1h", "--json"))
    assert "" in data["clients"] and "(not identified)" not in json.dumps(data)
    # `timeseries --group-by client` had a blank column header for it.
    series = await asyncio.to_thread(
        run, "stats", "timeseries", "--bucket", "hour", "--since", "1h", "--group-by", "client"
    )
    assert "(not identified)" in series
    rows = await asyncio.to_thread(
        run, "stats", "timeseries", "--since", "1h", "--group-by", "client", "--csv"
    )
    assert sorted(rows.splitlines()[0].split(",")[7:]) == ["", "VN/GOV/BTP/civil-status"]
    # `top` narrows as `summary` does: the refused caller is not this client.
    mine = await asyncio.to_thread(run, "stats", "top", "--by", "client", "--since", "1h",
                                   "--client", "VN/GOV/BTP/civil-status", "--json")  # fmt: skip
    assert [r["key"] for r in json.loads(mine)["rows"]] == ["VN/GOV/BTP/civil-status"]


@pytest.mark.parametrize("command", ["summary", "matrix", "top"])
def test_tables_say_their_range_in_the_zone_of_their_days(
    command: str, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The summary's caption said 2026-04-30T17:00:00.000000Z for --since 2026-05-01 (right
    # in UTC, the day before in Ha Noi); the matrix and top said no range at all.
    monkeypatch.setenv("HUB_DATABASE_URL", sqlite_url)
    args = ["stats", command, "--since", "2026-05-01", "--until", "2026-05-02T06:30"]
    text = " ".join(run(*args).split())
    assert "2026-05-01 00:00 .. 2026-05-02 06:30 (Asia/Ho_Chi_Minh)" in text, text
    assert "T17:00" not in text
    utc = " ".join(run(*args, "--tz", "UTC").split())
    assert "2026-05-01 00:00 .. 2026-05-02 06:30 (UTC)" in utc, utc


def test_a_column_of_numbers_is_right_aligned_when_its_first_value_is_missing() -> None:
    # Judged on the first row alone: growth's change_pct (none for the first period) and
    # timeseries' mean_ms (none for an empty bucket) were left-aligned under their numbers.
    screen = Console(file=io.StringIO(), width=60, force_terminal=True, color_system=None)
    rows = [
        {"period": "2026-12-01", "change_pct": None},
        {"period": "2026-12-02", "change_pct": 12.5},
    ]
    emit({}, rows, ("period", "change_pct"), title="t", as_json=False, as_csv=False,
         console=screen)  # fmt: skip
    lines = screen.file.getvalue().splitlines()  # type: ignore[attr-defined]
    first = next(x for x in lines if "2026-12-01" in x)
    second = next(x for x in lines if "2026-12-02" in x)
    assert first.endswith("    - │") and second.endswith(" 12.5 │"), "\n".join(lines)


@pytest.mark.parametrize(
    ("command", "said"),
    [
        ("summary", "default the first record"),
        ("top", "default the first record"),
        ("timeseries", "default the last 60 minutes, 24 hours, 30 days, 12 months or 5 years, "
                       "by --bucket, before --until"),
        ("growth", "default the last 30 days, 12 months or 5 years, by --period, before --until"),
    ],
)  # fmt: skip
def test_since_says_where_each_command_starts_without_it(command: str, said: str) -> None:
    # `hub stats growth` printed twelve months (eleven of zeros, on a new hub) and its --help
    # said nothing of why: --since read alike for every command, as if all began at the first.
    shown = " ".join(run("stats", command, "--help").replace("│", " ").split())
    assert said in shown, shown


def test_the_next_page_line_is_a_command_that_reads_the_next_page(cli_db: str) -> None:
    """The line under a filtered page said `--cursor C` alone, as the guide's example runs
    it; run so, the cursor was refused as one of another listing (its filters left out)."""
    ekyc = "VN/COM/0101234565/ekyc"
    first = ["tx", "list", "--since", "5d", "--client", ekyc, "--fault", "none", "--limit", "3"]
    table = run(*first)
    said = " ".join(table.split()).split("next page: ", 1)[1]
    assert said.startswith("hub tx list ")
    command = shlex.split(said)[1:]
    second = json.loads(run(*command, "--json"))
    page = json.loads(run(*first, "--json"))
    assert [i["seq"] for i in second["items"]] == [
        i["seq"]
        for i in json.loads(run(*first, "--cursor", page["next_cursor"], "--json"))["items"]
    ]
    assert len(second["items"]) == 3
    assert all(i["client"] == ekyc and i["fault_code"] is None for i in second["items"])
    # Without filters the cursor alone reads on, and the line stays as short.
    plain = " ".join(run("tx", "list").split())
    assert "next page: --cursor " in plain


def test_a_client_copied_with_a_blank_is_counted_without_a_note(cli_db: str) -> None:
    ekyc = "VN/COM/0101234565/ekyc"
    padded = CliRunner().invoke(app, ["stats", "summary", "--client", f"{ekyc} ", "--json"])
    assert padded.exit_code == 0, padded.output
    assert "note:" not in padded.stderr
    exact = json.loads(run("stats", "summary", "--client", ekyc, "--json"))
    assert json.loads(padded.stdout)["total"] == exact["total"] > 0


def test_an_officer_in_vietnamese_is_said_to_match_nothing(cli_db: str) -> None:
    listed = CliRunner().invoke(app, ["tx", "list", "--user-id", "cán-bộ", "--json"])
    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.stdout)["items"] == []
    said = " ".join(listed.stderr.split())
    assert "note: no record can have X-Road-UserId 'cán-bộ'" in said
    assert "nothing matches --user-id cán-bộ" in said


def test_growth_csv_carries_each_start_with_its_offset(cli_db: str) -> None:
    # Its CSV had only the period's local name ("2026-12-07"), with no zone: a script joining
    # it with the log's UTC times had to know HUB_TIMEZONE. The JSON's `start` carries the
    # offset; the CSV has it too, after the columns it always had.
    args = ("growth", "--period", "day", "--since", "7d")
    text = run("stats", *args, "--csv")
    answer = json.loads(run("stats", *args, "--json"))
    assert next(csv.reader(io.StringIO(text))) == [
        "period", "total", "change", "change_pct", "partial", "start",
    ]  # fmt: skip
    table = list(csv.DictReader(io.StringIO(text)))
    assert [r["start"] for r in table] == [p["start"] for p in answer["periods"]]
    assert all(datetime.fromisoformat(r["start"]).utcoffset() is not None for r in table)
