"""The printed report: titles and the one-line total agree with each other."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from pathlib import Path

from rich.console import Console

from hub.replay.reports import render_tables, to_json, write_junit
from hub.replay.results import Failure, RunResults, ScenarioResult, StepStats


def _interrupted(name: str, *, failed: int) -> ScenarioResult:
    step = StepStats(id="find", kind="exchange", label="GET x")
    for number in range(1, 11):
        step.record(3.0, Failure("status", "", 200, 503) if number <= failed else None)
    result = ScenarioResult(name=name, file=f"{name}.yaml", steps=[step])
    result.iterations_started, result.requests = 10, 10
    result.iterations_failed, result.iterations_passed = failed, 10 - failed
    result.interrupted = True
    return result


def _printed(results: RunResults) -> str:
    out = io.StringIO()
    render_tables(Console(file=out, width=200, no_color=True), results)
    return out.getvalue()


def test_a_scenario_cut_short_after_failures_counts_as_failed_as_its_title_says() -> None:
    # Its title said FAIL while the total said "0 failed; 1 cut short": failures the run
    # did see are failures, stopped early or not.
    results = RunResults([_interrupted("failing", failed=3), _interrupted("clean", failed=0)])
    text = _printed(results)
    assert "FAIL failing (failing.yaml)" in text and "CUT SHORT clean (clean.yaml)" in text
    assert "interrupted: 0 of 2 scenarios passed; 1 failed; 1 cut short; 0 did not run" in text


def test_the_junit_report_is_xml_whatever_bytes_the_answer_held(tmp_path: Path) -> None:
    # A body excerpt with a NUL or an ESC was written as it was: every JUnit reader then
    # refused the whole report, passed steps and all.
    step = StepStats(id="find", kind="exchange", label="GET x")
    step.record(3.0, Failure("status", "", 200, 503, body="\x00\x1b[31mred\ufffe é 😀"))
    result = ScenarioResult(name="n", file="n.yaml", steps=[step])
    write_junit(tmp_path / "r.xml", [result])
    [failure] = ET.parse(tmp_path / "r.xml").getroot().iter("failure")
    assert "body: \\x00\\x1b[31mred\\ufffe é 😀\n" in (failure.text or "")


def test_control_characters_of_an_answer_do_not_reach_the_terminal() -> None:
    # An ESC in a body excerpt or a JSON text was printed as it was: `\x1b[2J` cleared the
    # screen the report was on.
    step = StepStats(id="find", kind="exchange", label="GET x")
    step.record(3.0, Failure("json", "$.a", "x", "\x1b[31mred", body='{"a": "\x1b[2J\x00"}'))
    text = _printed(RunResults([ScenarioResult(name="n", file="n.yaml", steps=[step])]))
    assert "\x1b" not in text and "\x00" not in text
    assert "got \\x1b[31mred" in text and 'body: {"a": "\\x1b[2J\\x00"}' in text


def test_the_title_says_how_many_iterations_started_late_and_by_how_much() -> None:
    # An open-model run whose runner fell behind its schedule printed only the latencies
    # measured from sending, which leave that lag out.
    result = _interrupted("behind", failed=0)
    result.interrupted = False
    result.record_start_lag(0.01, 0.05)  # on time, within the tolerance
    result.record_start_lag(0.8, 0.05)
    result.record_start_lag(1.6, 0.05)
    text = _printed(RunResults([result]))
    assert "2 started late (up to 1600 ms behind schedule, not in the latencies)" in text


def _loaded(name: str, *, iterations: int, sent: int, received: int) -> ScenarioResult:
    step = StepStats(id="find", kind="exchange", label="GET x")
    for _ in range(iterations):
        step.record(3.0, None)
    result = ScenarioResult(name=name, file=f"{name}.yaml", steps=[step])
    result.iterations_started = result.iterations_passed = result.requests = iterations
    result.sent_bytes, result.received_bytes, result.duration_s = sent, received, 2.0
    return result


def test_data_sent_and_received_are_printed_and_in_the_json() -> None:
    # k6 prints data_sent and data_received; the report said requests alone.
    one = _loaded("one", iterations=1, sent=512, received=1_500)
    many = _loaded("many", iterations=100, sent=40_000, received=2_400_000)
    text = _printed(RunResults([one, many]))
    # One iteration's rate says nothing about throughput: left out, as its req/s is.
    assert "1 requests, 512 B sent, 1.5 kB received; latency in ms" in text
    assert (
        "100 requests, 50.0 req/s, 40.0 kB sent (20.0 kB/s), 2.4 MB received (1.2 MB/s); " in text
    )
    assert "data: 40.5 kB sent (10.1 kB/s), 2.4 MB received (600.4 kB/s)\n" in text
    document = to_json(RunResults([one, many]), hub_url="http://hub", run_id="r")
    assert document["data_sent"] == {"bytes": 40_512, "per_s": 10_128.0}
    assert document["data_received"] == {"bytes": 2_401_500, "per_s": 600_375.0}
    assert document["scenarios"][1]["data_sent"] == {"bytes": 40_000, "per_s": 20_000.0}


def test_a_failed_capture_reaches_the_json_and_junit_reports_with_its_parts(
    tmp_path: Path,
) -> None:
    from hub.replay.results import CaptureFailure

    step = StepStats(id="find", kind="exchange", label="GET x")
    failure = Failure("capture", "cid", "a value at $.items[0].id", "<nothing matched>")
    failure.note = "$ has no key 'items'"
    failure.capture = CaptureFailure("cid", "no_match", jsonpath="$.items[0].id", detail="why")
    step.record(3.0, failure)
    result = ScenarioResult(name="n", file="n.yaml", steps=[step])
    entry = to_json([result], hub_url="http://hub", run_id="r")["scenarios"][0]["steps"][0]
    first = entry["first_failure"]
    assert first["step"] == "find"
    assert first["capture"] == {
        "variable": "cid",
        "jsonpath": "$.items[0].id",
        "template": None,
        "header": None,
        "reason": "no_match",
        "detail": "why",
    }
    assert first["message"].startswith("capture cid: expected a value at $.items[0].id")
    write_junit(tmp_path / "r.xml", [result])
    [node] = ET.parse(tmp_path / "r.xml").getroot().iter("failure")
    assert "capture: cid from $.items[0].id: no_match (why)\n" in (node.text or "")


def test_an_open_model_title_says_the_rate_it_started_and_the_rate_asked() -> None:
    # `--rate 2000` that the runner could start at 680 a second printed "2001.4 req/s" (three
    # requests an iteration) and nowhere the iterations' own rate: read against --rate, the
    # run looked as if it had held it.
    result = _loaded("open", iterations=11, sent=0, received=0)
    result.target_rate = 50.0
    for number in range(11):
        result.record_start(100.0 + number * 0.04)  # 25 a second, half the rate asked
    text = _printed(RunResults([result]))
    assert "11 iteration(s) started at 25.0/s of --rate 50, 0 failed" in text
    iterations = result.to_dict()["iterations"]
    assert (iterations["started_per_s"], iterations["target_per_s"]) == (25.0, 50.0)


def test_a_closed_model_or_a_single_start_has_no_start_rate() -> None:
    closed = _loaded("closed", iterations=5, sent=0, received=0)
    assert "started at" not in _printed(RunResults([closed]))
    assert closed.to_dict()["iterations"]["started_per_s"] is None
    assert closed.to_dict()["iterations"]["target_per_s"] is None
    once = _loaded("once", iterations=1, sent=0, received=0)
    once.target_rate = 10.0
    once.record_start(5.0)  # one start has no rate
    assert "1 iteration(s), 0 failed" in _printed(RunResults([once]))
    assert once.to_dict()["iterations"]["started_per_s"] is None
    assert once.to_dict()["iterations"]["target_per_s"] == 10.0
