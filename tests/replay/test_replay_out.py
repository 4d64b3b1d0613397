"""`hub replay --out FILE`: one row per request sent, streamed to CSV or JSON Lines."""

from __future__ import annotations

import asyncio
import csv
import json
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hub.cli.main import app
from hub.replay import requestlog
from hub.replay.loader import load_file
from hub.replay.requestlog import COLUMNS, open_request_log
from hub.replay.runner import Runner, RunOptions
from hub.replay.service import replay
from tests.replay.conftest import RawHub, run_scenario

FakeHub = Any  # the fake_hub fixture of conftest.py

GOOD = """
name: good
steps:
  - id: find
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/echo
    path: /citizens
    query: {province: "79"}
    expect: {status: 200}
"""
# A failure reason with commas, quotes and Vietnamese: the CSV must quote it.
FAILING = """
name: bad
steps:
  - id: find
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/echo
    expect:
      json: {"$.items[0].full_name": 'Trần, Thị "B"'}
  - id: never
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/echo
"""

runner = CliRunner()


def run(*args: str) -> Any:
    return runner.invoke(app, ["replay", *args], catch_exceptions=False)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The rows of a --out file, as dicts; CSV values are text ('' for none)."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".csv":
        return list(csv.DictReader(text.splitlines(keepends=True)))
    assert text == "" or text.endswith("\n"), "the last line is cut short"
    return [json.loads(line) for line in text.splitlines()]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".ndjson"])
def test_each_request_sent_is_a_row_and_the_rows_add_up_to_the_report(
    fake_hub: FakeHub, write: Callable[..., Path], tmp_path: Path, suffix: str
) -> None:
    out, report = tmp_path / f"requests{suffix}", tmp_path / "report.json"
    result = run(
        str(write(GOOD, "good.yaml")), str(write(FAILING, "bad.yaml")), "--hub", fake_hub.url,
        "--iterations", "3", "--out", str(out), "--json", str(report),
    )  # fmt: skip
    assert result.exit_code == 1, result.output
    document = json.loads(report.read_text())
    rows = read_rows(out)
    if suffix == ".csv":
        header = out.read_text(encoding="utf-8").splitlines()[0]
        assert header == ",".join(COLUMNS)
    else:
        assert all(list(row) == list(COLUMNS) for row in rows)
    assert len(rows) == sum(s["requests"] for s in document["scenarios"]) == 6
    # Per scenario, step and outcome, the report's counts; "never" was not sent.
    counts = Counter((row["scenario"], row["step"], row["outcome"]) for row in rows)
    assert counts == {("good", "find", "passed"): 3, ("bad", "find", "failed"): 3}
    assert sorted(int(row["iteration"]) for row in rows) == [1, 1, 2, 2, 3, 3]
    assert {row["method"] for row in rows} == {"GET"}
    good_paths = {row["path"] for row in rows if row["scenario"] == "good"}
    assert good_paths == {"/r1/VN/GOV/BCA/population/echo/citizens?province=79"}
    assert {str(row["status"]) for row in rows} == {"200"}
    assert all(row["x_road_id"] for row in rows)  # the fake hub sends one per answer
    sent = sum(int(row["bytes_sent"]) for row in rows)
    received = sum(int(row["bytes_received"]) for row in rows)
    assert sent == document["data_sent"]["bytes"]
    assert received == document["data_received"]["bytes"]
    assert all(float(row["duration_ms"]) > 0 for row in rows)
    # ISO 8601 UTC, within the run's window (which the report gives to the millisecond).
    started = datetime.fromisoformat(document["started_at"])
    ended = datetime.fromisoformat(document["ended_at"]) + timedelta(milliseconds=1)
    for row in rows:
        assert row["timestamp"].endswith("Z")
        assert started <= datetime.fromisoformat(row["timestamp"]) <= ended
    # The failure reason as the report words it, whole, commas, quotes and accents too.
    failure = document["scenarios"][1]["steps"][0]["first_failure"]["message"]
    assert 'Trần, Thị "B"' in failure
    assert {row["failure"] for row in rows if row["outcome"] == "failed"} == {failure}
    assert {row["failure"] or None for row in rows if row["outcome"] == "passed"} == {None}


def test_the_csv_is_utf_8_and_quotes_what_must_be(
    fake_hub: FakeHub, write: Callable[..., Path], tmp_path: Path
) -> None:
    out = tmp_path / "requests.csv"
    result = run(str(write(FAILING)), "--hub", fake_hub.url, "--out", str(out))
    assert result.exit_code == 1, result.output
    raw = out.read_bytes()
    assert "Trần".encode() in raw and b"\r" not in raw  # one line a row, for wc and grep
    (line,) = raw.decode().splitlines()[1:]
    assert '"json $.items[0].full_name: expected Trần, Thị ""B"", got Nguyễn Văn A"' in line


# A whole answer, as the hub sends it: its ids and latency go into the row.
ANSWER = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-road-id: xr-1\r\n"
    b"x-road-request-id: rq-1\r\nx-hub-latency: 0.812\r\ncontent-length: 13\r\n\r\n"
    b'{"items": []}'
)
ONE_EXCHANGE = """
name: one
steps:
  - id: ask
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/echo
    method: POST
    path: /citizens/search
    json: {name: "Lê Văn C"}
"""


async def test_a_row_holds_the_hubs_ids_latency_and_the_bytes_on_the_wire(
    write: Callable[..., Path], tmp_path: Path
) -> None:
    out = tmp_path / "requests.jsonl"
    async with RawHub(ANSWER) as hub:
        await run_scenario(hub.url, write(ONE_EXCHANGE), iterations=1, out=out)
    (row,) = read_rows(out)
    assert row.pop("timestamp").endswith("Z")
    assert float(row.pop("duration_ms")) > 0
    assert row == {
        "scenario": "one",
        "iteration": 1,
        "step": "ask",
        "method": "POST",
        "path": "/r1/VN/GOV/BCA/population/echo/citizens/search",
        "status": 200,
        "outcome": "passed",
        "failure": None,
        "x_road_id": "xr-1",
        "x_road_request_id": "rq-1",
        "hub_latency_ms": 0.812,
        "bytes_sent": hub.read,
        "bytes_received": len(ANSWER),
    }


async def test_a_request_with_no_answer_is_a_row_without_status_nor_bytes(
    refused_url: str, write: Callable[..., Path], tmp_path: Path
) -> None:
    out = tmp_path / "requests.csv"
    result = await run_scenario(refused_url, write(ONE_EXCHANGE), iterations=2, out=out)
    rows = read_rows(out)
    assert len(rows) == sum(result.transport_errors.values()) == 2
    for row in rows:
        assert row["outcome"] == "transport_error"
        assert (row["status"], row["bytes_sent"], row["bytes_received"]) == ("", "", "")
        assert "refused" in row["failure"] and float(row["duration_ms"]) >= 0


SLEEPS_AFTER_ONE = (
    GOOD
    + """  - id: think
    sleep: 60
"""
)


async def test_rows_reach_the_file_while_the_run_goes_on(
    fake_hub: FakeHub, write: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `tail -f` follows the run, as k6's --out does; a row is not held until the end.
    monkeypatch.setattr(requestlog, "FLUSH_EVERY_S", 0.01)
    out = tmp_path / "requests.csv"
    log = open_request_log(out)
    runners: list[Runner] = []
    run = asyncio.create_task(
        replay(
            [load_file(write(SLEEPS_AFTER_ONE))],
            hub_url=fake_hub.url,
            options=RunOptions(iterations=1),
            on_start=runners.append,
            request_log=log,
        )
    )
    try:
        deadline = time.monotonic() + 20
        while len(read_rows(out)) < 1:  # the first step answered, the second sleeps
            assert not run.done(), run.result()
            assert time.monotonic() < deadline, "no row reached the file during the run"
            await asyncio.sleep(0.01)
        assert not run.done()
        (row,) = read_rows(out)
        assert (row["step"], row["outcome"]) == ("find", "passed")
        runners[0].stop()  # cuts the sleep short
        results, _ = await run
    finally:
        log.close()
    assert results[0].requests == 1 and len(read_rows(out)) == 1


def _popen(cmd: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for_arrivals(proc: subprocess.Popen[bytes], fake_hub: FakeHub, count: int) -> None:
    deadline = time.monotonic() + 30
    while len(fake_hub.arrivals) < count:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the load never started"
        time.sleep(0.05)


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_ctrl_c_leaves_a_whole_file_with_every_request_the_report_counts(
    fake_hub: FakeHub, write: Callable[..., Path], tmp_path: Path, suffix: str
) -> None:
    out, report = tmp_path / f"requests{suffix}", tmp_path / "report.json"
    cmd = [sys.executable, "-m", "hub", "replay", str(write(GOOD)), "--hub", fake_hub.url]
    cmd += ["--duration", "60s", "--concurrency", "2", "--out", str(out), "--json", str(report)]
    proc = _popen(cmd)
    try:
        _wait_for_arrivals(proc, fake_hub, 50)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, err
    (scenario,) = json.loads(report.read_text())["scenarios"]
    rows = read_rows(out)
    assert len(rows) == scenario["requests"] >= 50
    assert all(row["outcome"] == "passed" and row["x_road_id"] for row in rows)


def test_an_aborted_run_still_leaves_the_rows_of_the_requests_that_ended(
    fake_hub: FakeHub, write: Callable[..., Path], tmp_path: Path
) -> None:
    # The second signal quits without a report; the file keeps what was answered.
    text = GOOD + (
        "  - id: hang\n    client: VN/GOV/BTP/civil-status\n"
        "    service: VN/GOV/BCA/population/slow\n    query: {ms: 8000}\n"
    )
    out = tmp_path / "requests.jsonl"
    cmd = [sys.executable, "-m", "hub", "replay", str(write(text)), "--hub", fake_hub.url]
    proc = _popen([*cmd, "--out", str(out)])
    try:
        _wait_for_arrivals(proc, fake_hub, 2)  # "find" answered, "hang" in flight
        proc.send_signal(signal.SIGTERM)
        assert proc.stderr is not None
        assert proc.stderr.readline().startswith(b"stopping (SIGTERM)")
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 143
    (row,) = read_rows(out)
    assert (row["step"], row["status"]) == ("find", 200)


@pytest.mark.parametrize("name", ["requests.json", "requests.txt", "requests", "r.csv.gz"])
def test_an_out_file_of_another_kind_is_refused_before_anything_runs(
    write: Callable[..., Path], tmp_path: Path, name: str
) -> None:
    out = tmp_path / name
    # No hub listens on port 9: a run that started would fail differently.
    result = run(str(write(GOOD)), "--hub", "http://127.0.0.1:9", "--out", str(out))
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    assert f"--out {out}: give a file ending in .csv or .jsonl (or .ndjson)" in said
    assert "nothing was run" in said and not out.exists()


@pytest.mark.parametrize(
    ("target", "said"),
    [("nodir/r.csv", "does not exist"), ("folder.csv", "is a folder")],
    ids=["missing-folder", "a-folder"],
)
def test_an_out_file_that_cannot_be_written_is_refused_before_anything_runs(
    write: Callable[..., Path], tmp_path: Path, target: str, said: str
) -> None:
    (tmp_path / "folder.csv").mkdir()
    path = tmp_path / target
    result = run(str(write(GOOD)), "--hub", "http://127.0.0.1:9", "--out", str(path))
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert f"--out {path}:" in text and said in text and "nothing was run" in text


def test_an_out_file_that_cannot_be_opened_is_refused_before_anything_runs(
    fake_hub: FakeHub, write: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What a read-only file system or a file the user may not write answers; faked, since
    # the tests may run as root, whom no permission stops.
    def refused(path: Path) -> Any:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(requestlog, "open_request_log", refused)
    out = tmp_path / "r.csv"
    result = run(str(write(GOOD)), "--hub", fake_hub.url, "--out", str(out))
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert f"--out {out}: cannot be opened: Permission denied; nothing was run" in text
    assert fake_hub.arrivals == []


def test_out_and_a_report_on_one_path_are_refused(
    write: Callable[..., Path], tmp_path: Path
) -> None:
    same = tmp_path / "r.csv"
    result = run(str(write(GOOD)), "--json", str(same), "--out", str(same))
    assert result.exit_code == 2 and "--json and --out name the same file" in result.output


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
def test_a_full_disk_costs_the_rows_not_the_run_nor_the_report(
    fake_hub: FakeHub, write: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(path: Path) -> requestlog.RequestLog:
        return requestlog.JsonLinesLog(path, Path("/dev/full").open("wb"))

    monkeypatch.setattr(requestlog, "open_request_log", full)
    out, report = tmp_path / "r.jsonl", tmp_path / "report.json"
    result = run(str(write(GOOD)), "--hub", fake_hub.url, "--iterations", "3",
                 "--out", str(out), "--json", str(report))  # fmt: skip
    assert result.exit_code == 1  # CI must not take rows lost for a whole file
    text = " ".join(result.output.split())
    assert f"--out {out}: the rows could not all be written: No space left on device" in text
    assert json.loads(report.read_text())["scenarios"][0]["requests"] == 3


def test_the_docs_name_every_column_in_its_order() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "scenarios.md").read_text()
    section = text.split("### One row per request: `--out`", 1)[1].split("\n## ", 1)[0]
    assert ",".join(COLUMNS) + "\n" in section  # the example's header line
    table = re.findall(r"^\| (`[^|]+`) \|", section, flags=re.MULTILINE)
    named = [name for cell in table for name in re.findall(r"`([a-z_]+)`", cell)]
    assert named == list(COLUMNS)
    example = re.search(r"^\{\"timestamp\".*\}$", section, flags=re.MULTILINE)
    assert example is not None and list(json.loads(example[0])) == list(COLUMNS)
