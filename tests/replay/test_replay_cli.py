"""`hub replay`: exit codes, refusals of malformed files, reports."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hub.cli.main import app

GOOD = """
name: good
steps:
  - id: find
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/echo
    expect: {status: 200}
"""
FAILING = GOOD.replace("name: good", "name: bad").replace("status: 200", "status: 201")

runner = CliRunner()


def run(*args: str) -> Any:
    return runner.invoke(app, ["replay", *args], catch_exceptions=False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: x\nsteps:\n  - id: a\n    client: [\n", [":5:1: bad YAML"]),
        (
            GOOD + "    expekt: {}\n",
            [":8: step 'find' (steps[0]): unknown key 'expekt' (did you mean 'expect'?)"],
        ),
        (
            GOOD.replace("    service: VN/GOV/BCA/population/echo\n", ""),
            [":4: step 'find' (steps[0]): missing required field 'service'"],
        ),
        (
            GOOD + "    capture: {cid: '$.items['}\n",
            [":8: step 'find' (steps[0]), field capture.cid: bad JSONPath '$.items['"],
        ),
        (
            GOOD + "    capture: {cid: 'items[0]'}\n",
            ["field capture.cid: bad JSONPath 'items[0]': it must start with '$'"],
        ),
        (
            GOOD.replace("/echo\n", "/echo\n    path: /c/{{ cid }\n"),
            [":7: step 'find' (steps[0]), field path: bad template '{{ cid }'"],
        ),
        (
            GOOD + "    json: {a: [1, {b: '{{ x y }}'}]}\n",
            [":8: step 'find' (steps[0]), field json.a.1.b: bad template"],
        ),
        (
            GOOD.replace("status: 200", "status: 999"),
            ["field expect.status: must be an HTTP status"],
        ),
        (GOOD.replace("name: good\n", "nmae: good\n"), [":2: unknown key 'nmae'"]),
        ("- just\n- a list\n", [":1: a scenario is a mapping"]),
        (GOOD + "  - fault: {provider: VN/GOV/BCA/population}\n", ["give exactly one of"]),
        (
            GOOD + "  - id: find\n    fault: {provider: A/B/C/D, clear: true}\n",
            [":8: step 'find' (steps[1]), field id: step id 'find' is used twice"],
        ),
        (
            GOOD.replace("name: good", "name: good\nvars: {a: &x [*x]}"),
            [":3: recursive YAML alias at vars.a.0"],
        ),
        (
            GOOD + "    json: &j\n      a: 1\n      self: *j\n",
            [":10: recursive YAML alias at steps.0.json.self: it refers to the anchor at line 8"],
        ),
        (
            GOOD + "    query: {a: {b: 1}}\n",
            [
                ":8: step 'find' (steps[0]), field query.a: expected a string, number or "
                "boolean, or a list of them, got a mapping\n"
                "refused: 1 problem(s)"
            ],
        ),
        (
            GOOD + "    capture: {x: {path: 5}}\n",
            ["field capture.x.path: Input should be a valid string (got 5)\nrefused: 1 "],
        ),
        (
            GOOD + "    query: {dob: 1949-09-22}\n",
            ["field query.dob: expected", "got datetime.date(1949, 9, 22) (an unquoted date"],
        ),
        (
            GOOD + "    json: {1: a}\n",
            [":8: step 'find' (steps[0]), field json.1: key 1 is not text", "quote it ('1')"],
        ),
        (
            GOOD.replace("name: good", 'name: good\nvars: {dossier: "D-{{ nope }}"}'),
            [":3: field vars.dossier: variable 'nope' is not defined: vars may use run.iteration"],
        ),
        (
            GOOD.replace("name: good", 'name: good\nvars: {q: "$.items["}')
            + '    capture: {cid: "{{ q }}"}\n',
            [":9: step 'find' (steps[0]), field capture.cid: var 'q': bad JSONPath '$.items['"],
        ),
        (GOOD.replace("steps:", "name: again\nsteps:"), [":3:", "'name' appears twice"]),
    ],
)
def test_malformed_files_are_refused_before_anything_runs(
    write: Callable[..., Path], text: str, expected: list[str]
) -> None:
    path = write(text)
    # No hub listens on port 9: a run that started would fail differently (exit 1).
    result = run(str(path), "--hub", "http://127.0.0.1:9")
    assert result.exit_code == 2, result.output
    for fragment in expected:
        assert fragment in result.output
    assert str(path) in result.output
    assert "Traceback" not in result.output
    assert "nothing was run" in result.output


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        (
            "client: VN/GOV/BTP/civil-status",
            "client: bad client",
            ":5: step 'find' (steps[0]), field client: must be a subsystem id "
            "INSTANCE/CLASS/MEMBER/SUBSYSTEM such as VN/GOV/BTP/civil-status (got 'bad client')",
        ),
        (
            "service: VN/GOV/BCA/population/echo",
            "service: VN/GOV/BCA/population",
            ":6: step 'find' (steps[0]), field service: must be a service id "
            "INSTANCE/CLASS/MEMBER/SUBSYSTEM/SERVICE such as "
            "VN/GOV/BCA/population/citizen-lookup (got 'VN/GOV/BCA/population')",
        ),
        (
            "    expect:",
            "    method: FETCH\n    expect:",
            ":7: step 'find' (steps[0]), field method: must be one of GET, POST, PUT, PATCH, "
            "DELETE, HEAD, OPTIONS (got 'FETCH')",
        ),
        (
            "id: find",
            "id: find me",
            ":4: step 'find me' (steps[0]), field id: must be letters, digits, '_', '.' and "
            "'-' only, such as find-citizen (got 'find me')",
        ),
        (
            "    expect: {status: 200}",
            "  - fault: {provider: population, clear: true}",
            ":7: step steps[1], field fault.provider: must be a subsystem id "
            "INSTANCE/CLASS/MEMBER/SUBSYSTEM such as VN/GOV/BTP/civil-status (got 'population')",
        ),
    ],
    ids=["client", "service", "method", "step id", "fault provider"],
)
def test_a_malformed_identifier_says_what_a_valid_one_looks_like(
    write: Callable[..., Path], old: str, new: str, said: str
) -> None:
    # It showed pydantic's regex: String should match pattern '^[^/\s]+/[^/\s]+/...$'.
    path = write(GOOD.replace(old, new))
    result = run(str(path), "--hub", "http://127.0.0.1:9")
    assert result.exit_code == 2, result.output
    assert f"{path}{said}\n" in result.output
    assert "pattern" not in result.output


@pytest.mark.parametrize(
    "url", ["127.0.0.1:8000", "notaurl", "ftp://hub", "http://", "http://hub:99999"]
)
def test_a_hub_url_that_cannot_be_called_is_refused_before_anything_runs(
    write: Callable[..., Path], tmp_path: Path, url: str
) -> None:
    # It used to run, and report every step of every iteration failed ("only http and
    # https URLs"), exit status 1 as if the hub had answered wrong.
    creds = tmp_path / "creds.json"
    creds.write_text('[{"client": "VN/GOV/BTP/civil-status", "api_key": "k", "services": []}]')
    result = run(str(write(GOOD)), "--hub", url, "--credentials", str(creds))
    assert result.exit_code == 2, result.output
    assert f"--hub {url!r} is not the hub's base URL" in result.output
    assert "nothing was run" in result.output


def test_every_problem_of_every_file_is_listed(write: Callable[..., Path], tmp_path: Path) -> None:
    write(GOOD.replace("name: good", "name: a\nfoo: 1"), "a.yaml")
    write(GOOD.replace("service:", "servise:"), "sub/b.yml")
    write("not: a scenario\n", "sub/c.txt")
    write("x: 1", "z.yaml")
    result = run(str(tmp_path))
    assert result.exit_code == 2
    assert "a.yaml:3: unknown key 'foo'" in result.output
    assert "b.yml" in result.output and "unknown key 'servise'" in result.output
    assert "z.yaml" in result.output and "c.txt" not in result.output


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    assert run(str(tmp_path / "nope.yaml")).exit_code == 2
    result = run(str(tmp_path))
    assert result.exit_code == 2 and "no *.yaml" in result.output


def test_exit_codes_and_reports(fake_hub: Any, write: Callable[..., Path], tmp_path: Path) -> None:
    good = write(GOOD, "good.yaml")
    assert run(str(good), "--hub", fake_hub.url).exit_code == 0

    bad = write(FAILING, "bad.yaml")
    junit, report = tmp_path / "junit.xml", tmp_path / "report.json"
    result = run(
        str(good), str(bad), "--hub", fake_hub.url, "--iterations", "3",
        "--junit", str(junit), "--json", str(report),
    )  # fmt: skip
    assert result.exit_code == 1
    assert "bad" in result.output and "status: expected 201, got 200" in result.output

    document = json.loads(report.read_text())
    assert document["ok"] is False
    bad_step = document["scenarios"][1]["steps"][0]
    assert (bad_step["runs"], bad_step["failed"]) == (3, 3)
    assert bad_step["first_failure"]["x_road_id"]
    latency = bad_step["latency_ms"]
    assert list(latency) == ["min", "mean", "p50", "p90", "p95", "p99", "max"]
    assert latency["min"] <= latency["mean"] <= latency["max"]
    assert latency["min"] <= latency["p50"] <= latency["p90"] <= latency["p95"] <= latency["max"]
    assert "mean" in result.output and "p90" in result.output
    # Per step, every answer by status and X-Road-Error code, not only the first failure.
    assert (bad_step["statuses"], bad_step["x_road_errors"]) == ({"200": 3}, {})
    assert "200×3" in result.output
    # ISO UTC timestamps, to line the run up with the hub's operator API.
    started, ended = document["started_at"], document["ended_at"]
    assert started.endswith("Z") and ended.endswith("Z")
    assert datetime.fromisoformat(started) <= datetime.fromisoformat(ended)
    assert document["scenarios"][1]["started_at"] >= document["scenarios"][0]["ended_at"]

    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures")) == ("2", "1")
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["good", "bad"]
    for suite in suites:
        for attribute in ("name", "tests", "failures", "errors", "time"):
            assert suite.get(attribute) is not None
        for case in suite.findall("testcase"):
            assert case.get("name") and case.get("classname") and float(case.get("time", "")) >= 0
            assert {child.tag for child in case} <= {"failure", "skipped"}
    failure = suites[1].find("testcase/failure")
    assert failure is not None
    assert failure.get("type") == "status" and "X-Road-Id" in (failure.text or "")


def test_no_credentials_is_a_clear_refusal(fake_hub: Any, write: Callable[..., Path]) -> None:
    fake_hub.demo = False
    result = run(str(write(GOOD)), "--hub", fake_hub.url)
    assert result.exit_code == 2
    assert "--credentials" in result.output and "Traceback" not in result.output


def test_bad_duration_is_a_usage_error(write: Callable[..., Path]) -> None:
    result = run(str(write(GOOD)), "--duration", "soon")
    assert result.exit_code == 2 and "not a duration" in result.output


@pytest.mark.parametrize(
    "model", [["--concurrency", "2"], ["--rate", "50"]], ids=["closed", "open"]
)
def test_ctrl_c_stops_the_load_and_still_reports_what_ran(
    fake_hub: Any, write: Callable[..., Path], tmp_path: Path, model: list[str]
) -> None:
    # k6's way: the first Ctrl-C starts no new iteration and reports; before, a 60 s load
    # stopped by Ctrl-C exited 130 with no figures at all and no --json.
    first, second = write(GOOD, "a.yaml"), write(GOOD.replace("good", "later"), "b.yaml")
    report, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    cmd = [sys.executable, "-m", "hub", "replay", str(first), str(second), "--hub", fake_hub.url]
    cmd += ["--duration", "60s", "--json", str(report), "--junit", str(junit), *model]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while len(fake_hub.arrivals) < 20:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the load never started"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, (out, err)
    assert "interrupted: 0 of 2 scenario(s) ran in full, 'good' was cut short" in " ".join(
        err.decode().split()
    )
    stdout = " ".join(out.decode().split())
    assert "find" in stdout  # the table of the step that ran
    # Not "1 of 1 scenarios passed; all expectations held" with 2 given.
    assert "interrupted: 1 of 2 scenarios passed" in stdout and "1 did not run" in stdout
    assert "all expectations held" not in stdout
    document = json.loads(report.read_text())
    assert document["interrupted"] is True and document["ok"] is False
    [ran] = document["scenarios"]  # the second scenario never started
    assert ran["name"] == "good" and ran["interrupted"] is True
    assert ran["iterations"]["started"] >= 1 and ran["duration_s"] < 50
    assert document["not_run"] == [{"name": "later", "file": str(second)}]
    good, later = ET.parse(junit).getroot().findall("testsuite")
    marker = good.find("testcase[@name='interrupted']/skipped")
    assert marker is not None and "cut short" in marker.get("message", "")
    assert later.get("name") == "later" and later.get("skipped") == "1"
    skipped = later.find("testcase[@name='find']/skipped")
    assert skipped is not None and "not run" in skipped.get("message", "")


@pytest.mark.parametrize("target", ["nodir/j.xml", "."], ids=["missing-folder", "a-folder"])
@pytest.mark.parametrize("option", ["--junit", "--json"])
def test_a_report_path_that_cannot_be_written_is_refused_before_anything_runs(
    write: Callable[..., Path], tmp_path: Path, option: str, target: str
) -> None:
    # It used to run everything, then end in a traceback and lose the figures.
    path = tmp_path / target
    # No hub listens on port 9: a run that started would fail differently.
    result = run(str(write(GOOD)), "--hub", "http://127.0.0.1:9", option, str(path))
    assert result.exit_code == 2, result.output
    assert f"{option} {path}:" in result.output
    assert "nothing was run" in result.output


def test_a_report_that_fails_to_write_does_not_cost_the_other(
    fake_hub: Any, write: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hub.replay.reports

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(hub.replay.reports, "write_junit", disk_full)
    junit, report = tmp_path / "j.xml", tmp_path / "r.json"
    result = run(
        str(write(GOOD)), "--hub", fake_hub.url, "--junit", str(junit), "--json", str(report)
    )
    assert f"--junit {junit}: the report could not be written: No space left" in result.output
    assert json.loads(report.read_text())["ok"] is True
    assert result.exit_code == 1  # CI must not take a missing report for a pass


def test_a_registry_export_without_ids_is_refused(
    write: Callable[..., Path], tmp_path: Path
) -> None:
    providers = tmp_path / "providers.json"
    providers.write_text('{"subsystems": [{"base_url": "http://127.0.0.1:18203"}]}')
    scenario = write("steps:\n  - fault: {provider: VN/GOV/BCA/population, clear: true}\n")
    result = run(str(scenario), "--hub", "http://127.0.0.1:9", "--providers", str(providers))
    assert result.exit_code == 2, result.output
    assert f"{providers}: subsystems[0] has no 'id'" in result.output


SLOW = """
steps:
  - client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/slow
    query: {ms: 300}
"""


@pytest.mark.parametrize(("cap", "dropped"), [(["--concurrency", "1"], True), ([], False)])
def test_concurrency_one_caps_the_open_model_at_one_iteration_in_flight(
    fake_hub: Any, write: Callable[..., Path], tmp_path: Path, cap: list[str], dropped: bool
) -> None:
    # 20 starts a second of 300 ms iterations: with one allowed in flight most are dropped;
    # without --concurrency the cap is 1000 and none is.
    report = tmp_path / "r.json"
    args = [str(write(SLOW)), "--hub", fake_hub.url, "--rate", "20", "--iterations", "6"]
    result = run(*args, *cap, "--json", str(report))
    assert result.exit_code == 0, result.output
    iterations = json.loads(report.read_text())["scenarios"][0]["iterations"]
    if dropped:
        assert iterations["dropped"] >= 4 and iterations["started"] <= 2, iterations
    else:
        assert (iterations["dropped"], iterations["started"]) == (0, 6)


def test_thresholds_pass_or_fail_the_run_and_reach_the_json(
    fake_hub: Any, write: Callable[..., Path], tmp_path: Path
) -> None:
    good, report = write(GOOD), tmp_path / "run.json"
    held = run(str(good), "--hub", fake_hub.url, "--threshold", "failed==0",
               "--threshold", "p99<60000", "--json", str(report))  # fmt: skip
    assert held.exit_code == 0, held.output
    assert "threshold failed==0 held" in held.output
    assert [t["ok"] for t in json.loads(report.read_text())["thresholds"]] == [True, True]
    missed = run(str(good), "--hub", fake_hub.url, "--threshold", "rps>=1000000000")
    assert missed.exit_code == 1 and "threshold rps>=1000000000 FAILED" in missed.output
    bad = run(str(good), "--hub", fake_hub.url, "--threshold", "p95 under 200")
    assert bad.exit_code == 2 and "is malformed" in bad.output and "nothing was run" in bad.output


def test_compound_durations_and_one_path_for_two_reports(
    write: Callable[..., Path], tmp_path: Path
) -> None:
    from hub.cli.replay import parse_duration

    assert parse_duration("1m30s") == 90.0 and parse_duration("90") == 90.0
    same = tmp_path / "report"
    result = run(str(write(GOOD)), "--junit", str(same), "--json", str(same))
    assert result.exit_code == 2 and "name the same file" in result.output
