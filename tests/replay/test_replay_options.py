"""Durations, thresholds and report paths as a command line gives them."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console

from hub.replay.options import (
    Ramp,
    evaluate,
    parse_duration,
    parse_stages,
    parse_threshold,
    same_report_path,
)
from hub.replay.reports import render_thresholds, to_json
from hub.replay.results import ScenarioResult, StepStats


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("1m30s", 90.0),  # was refused
        ("1h5m", 3900.0),
        ("2m", 120.0),
        ("1s500ms", 1.5),
        ("500ms", 0.5),
        ("1.5s", 1.5),
        ("90", 90.0),  # a bare number is seconds
        (" 1m 30s ", 90.0),
    ],
)
def test_durations_compound_as_k6_has_them(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["soon", "1m1m", "30x", "-1", "s", "1m30", "inf"])
def test_malformed_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration such as 30s, 2m, 1m30s"):
        parse_duration(text)


@pytest.mark.parametrize("text", ["0", "0s", "0m0s", "0ms"])
def test_a_zero_duration_is_said_to_need_to_be_above_zero(text: str) -> None:
    # It said "'0' is not a duration such as 30s, ...", though 0 is one.
    with pytest.raises(ValueError, match="a duration must be above zero"):
        parse_duration(text)


def _result(latencies: list[float], *, started: int, failed: int, dropped: int) -> ScenarioResult:
    step = StepStats(id="a", kind="exchange", label="GET x")
    step.latencies_ms.extend(latencies)
    return ScenarioResult(
        name="s",
        file="s.yaml",
        steps=[step],
        iterations_started=started,
        iterations_failed=failed,
        iterations_passed=started - failed,
        iterations_dropped=dropped,
        requests=len(latencies),
        duration_s=2.0,
    )


def test_thresholds_are_measured_on_the_run() -> None:
    # `--rate 3000 --duration 5s` printed PASS with 11,789 dropped and exited 0.
    results = [_result([float(ms) for ms in range(1, 101)], started=100, failed=2, dropped=25)]
    texts = [
        "p95<200", "p99<=99", "max<=100ms", "failed<1%", "failed==2", "dropped<1%", "rps>=50",
    ]  # fmt: skip
    outcomes = evaluate([parse_threshold(t) for t in texts], results)
    measured = {o.threshold.text: (o.measured, o.ok) for o in outcomes}
    assert measured == {
        "p95<200": (95.0, True),
        "p99<=99": (99.0, True),
        "max<=100ms": (100.0, True),
        "failed<1%": (2.0, False),
        "failed==2": (2.0, True),
        "dropped<1%": (20.0, False),  # 25 of the 125 the schedule planned
        "rps>=50": (50.0, True),
    }
    document = to_json(results, hub_url="h", run_id="r", thresholds=outcomes)
    assert document["ok"] is False  # every step passed, yet thresholds failed
    assert {"threshold": "dropped<1%", "measured": 20.0, "ok": False} in document["thresholds"]
    console = Console(record=True, width=200)
    render_thresholds(console, outcomes)
    text = console.export_text()
    assert "threshold dropped<1% FAILED: dropped = 20.00%" in text
    assert "threshold p95<200 held: p95 = 95.0 ms" in text


def test_a_threshold_with_nothing_measured_does_not_hold() -> None:
    results = [_result([], started=3, failed=3, dropped=0)]
    (outcome,) = evaluate([parse_threshold("p95<200")], results)
    assert (outcome.measured, outcome.ok) == (None, False)
    assert outcome.message() == "threshold p95<200 FAILED: p95 = none measured"


@pytest.mark.parametrize("text", ["p95", "p95<", "lat<200", "p95<1%", "rps>=1ms", "p95=200"])
def test_malformed_thresholds_say_the_accepted_forms(text: str) -> None:
    with pytest.raises(ValueError, match="threshold") as caught:
        parse_threshold(text)
    assert text in str(caught.value)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("p95<0.2s", "threshold 'p95<0.2s': latencies are in ms: write p95<200"),
        ("p(99)<=1.5s", "threshold 'p(99)<=1.5s': latencies are in ms: write p(99)<=1500"),
        ("max < 2 m", "threshold 'max < 2 m': latencies are in ms: write max < 120000"),
        ("avg<500us", "threshold 'avg<500us': latencies are in ms: write avg<0.5"),
        ("rps>=5s", "threshold 'rps>=5s': s does not go with rps"),
    ],
)
def test_a_latency_threshold_in_another_unit_says_it_in_ms(text: str, said: str) -> None:
    # It was "malformed", with every form the option takes, for a unit k6's users write.
    with pytest.raises(ValueError) as caught:
        parse_threshold(text)
    assert str(caught.value) == said
    assert parse_threshold("p95<200ms").value == 200


@pytest.mark.parametrize("text", ["failed<150%", "dropped>=100.5%"])
def test_a_share_above_a_hundred_percent_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="a share is never above 100%"):
        parse_threshold(text)
    assert parse_threshold("failed>=100%").value == 100


def test_one_path_for_both_reports_is_refused(tmp_path: Path) -> None:
    report = tmp_path / "r.out"
    junit = ("--junit", report)
    assert same_report_path(junit, ("--json", tmp_path / "." / "r.out")) is not None
    assert same_report_path(junit, ("--json", tmp_path / "r.json")) is None
    assert same_report_path(junit, ("--json", None)) is None
    clash = same_report_path(junit, ("--json", None), ("--out", tmp_path / "r.out"))
    assert clash == f"--junit and --out name the same file ({report}); give each its own"


def test_stages_ramp_linearly_as_k6_has_them() -> None:
    ramp = Ramp(10, parse_stages("1s:30, 500ms:30,1s:0"))
    assert ramp.duration_s == 2.5
    assert [ramp.value(t) for t in (0, 0.5, 1, 1.25, 2, 2.5, 9)] == [10, 20, 30, 30, 15, 0, 0]
    # The load summed over time: iterations due in the open model.
    assert ramp.count(1) == pytest.approx(20) and ramp.count(2.5) == pytest.approx(50)
    assert ramp.due(0) == 0 and ramp.due(20) == pytest.approx(1.0)
    assert ramp.due(35) == pytest.approx(1.5) and ramp.due(50) == pytest.approx(2.5)
    assert ramp.due(51) is None
    due = [ramp.due(n) for n in range(50)]
    assert due == sorted(due)  # a schedule never goes back in time


@pytest.mark.parametrize(
    ("text", "said"),
    [("10s", "is malformed"), ("10s:x", "is malformed"), ("soon:5", "is malformed"),
     ("0s:x", "is malformed"), ("10s:-1", "a target is a number, 0 or more"),
     # A zero stage was "malformed", without a word of why.
     ("0s:5", "stage '0s:5' lasts no time; a stage must last more than zero seconds"),
     ("10s:20, 0m0s:5", "stage '0m0s:5' lasts no time")],
)  # fmt: skip
def test_malformed_stages_are_refused(text: str, said: str) -> None:
    with pytest.raises(ValueError, match=said):
        parse_stages(text)


def test_latency_thresholds_count_timed_out_requests_at_the_time_they_waited() -> None:
    # 47 of 100 timed out and "max<=1000 held": only the 53 answered were measured.
    result = _result([5.0] * 53, started=100, failed=47, dropped=0)
    result.steps[0].timeouts_ms.extend([2000.0] * 47)
    [held_before, p50] = evaluate(
        [parse_threshold("max<=1000"), parse_threshold("p50<10")], [result]
    )
    assert (held_before.ok, held_before.measured, held_before.timeouts) == (False, 2000.0, 47)
    assert p50.ok and p50.measured == 5.0
    assert "47 request(s) timed out with no answer" in held_before.message()
    assert held_before.to_dict()["timeouts"] == 47


@pytest.mark.parametrize(
    ("text", "metric", "measured"),
    [
        ("p(95)<200", "p95", 95.0),  # k6's own spelling of a percentile
        ("p(99.9)<=100", "p99.9", 100.0),
        ("p99.9<=100", "p99.9", 100.0),
        ("p(75)<80", "p75", 75.0),
        ("avg<60", "mean", 50.5),  # k6's name of the mean
        ("med<60", "p50", 50.0),  # and of the median
    ],
)
def test_k6_spellings_of_latency_thresholds_are_measured(
    text: str, metric: str, measured: float
) -> None:
    # `--threshold 'p(95)<200'`, as a k6 user writes it, was refused as malformed.
    results = [_result([float(ms) for ms in range(1, 101)], started=100, failed=0, dropped=0)]
    threshold = parse_threshold(text)
    assert threshold.metric == metric
    (outcome,) = evaluate([threshold], results)
    assert (outcome.measured, outcome.ok) == (measured, True)
    assert outcome.message().startswith(f"threshold {text} held: {metric} = ")
    assert outcome.to_dict()["timeouts"] == 0


@pytest.mark.parametrize("text", ["p(0)<200", "p(101)<200", "p101<200", "p(95<200", "p()<2"])
def test_percentiles_outside_0_to_100_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="threshold") as caught:
        parse_threshold(text)
    assert text in str(caught.value)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            "failed==0.5",
            "threshold 'failed==0.5': without % failed counts iterations, a whole number: "
            "write failed==50% for a share of them (k6's rate==0.5), or a count, e.g. failed==0",
        ),
        (
            "failed<0.01",
            "threshold 'failed<0.01': without % failed counts iterations, a whole number: "
            "write failed<1% for a share of them (k6's rate<0.01), or a count, e.g. failed==0",
        ),
        (
            "dropped <= 2.5",
            "threshold 'dropped <= 2.5': without % dropped counts iterations, a whole number: "
            "write dropped<=2.5% for a share of them, or a count, e.g. dropped==0",
        ),
        (
            "failed==1%",
            "threshold 'failed==1%': a share is exactly 1% only by chance of how many "
            "iterations ran: write failed<=1% for at most that share",
        ),
        (
            "dropped<0",
            "threshold 'dropped<0': a count is never below 0, so it could never hold: "
            "write dropped==0 for none",
        ),
        (
            "failed<0%",
            "threshold 'failed<0%': a share is never below 0%, so it could never hold: "
            "write failed==0% for none",
        ),
    ],
)
def test_a_failed_or_dropped_threshold_that_cannot_be_meant_says_what_to_write(
    text: str, said: str
) -> None:
    # failed==0.5 was taken as a count of half an iteration, and failed that run and every
    # other; failed<0.01 (k6's rate<0.01, meant as 1%) held only when nothing failed.
    with pytest.raises(ValueError) as caught:
        parse_threshold(text)
    assert str(caught.value) == said


@pytest.mark.parametrize(
    "text",
    [
        "failed==0",
        "dropped==0",
        "failed<1%",
        "dropped<1%",
        "failed<=3",
        "failed==0%",
        "failed==100%",
        "failed>=100%",
        "failed<100%",
        "failed<=0",
        "failed>0",
        "dropped>0%",
        "failed<2.0",
        "rps>=0.5",
        "rps>0",
        "rps==0",
        "rps<=0",
        "p95<200",
        "p95<0.5",
        "min>0.001",
        "max>=1",
    ],
)
def test_documented_thresholds_are_taken(text: str) -> None:
    assert parse_threshold(text).text == text


NEVER = "so it could never hold"
ALWAYS = "so it holds whatever the run and checks nothing"


@pytest.mark.parametrize(
    ("text", "said"),
    [
        # Latencies (min, mean, max, every percentile): above 0 ms, never 0 nor below.
        (
            "p95<0",
            f"threshold 'p95<0': a latency is always above 0 ms, {NEVER}: "
            "write a bound above 0 ms, e.g. p95<200",
        ),
        (
            "p99<=0",
            f"threshold 'p99<=0': a latency is always above 0 ms, {NEVER}: "
            "write a bound above 0 ms, e.g. p99<200",
        ),
        (
            "p(95)<-5",
            f"threshold 'p(95)<-5': a latency is always above 0 ms, {NEVER}: "
            "write a bound above 0 ms, e.g. p(95)<200",
        ),
        (
            "avg==0",
            f"threshold 'avg==0': a latency is always above 0 ms, {NEVER}: "
            "write a bound above 0 ms, e.g. avg<200",
        ),
        (
            "max<-1s",
            f"threshold 'max<-1s': a latency is always above 0 ms, {NEVER}: "
            "write a bound above 0 ms, e.g. max<200",
        ),
        (
            "p95>=0",
            f"threshold 'p95>=0': a latency is always above 0 ms, {ALWAYS}: "
            "write a bound above 0 ms, e.g. p95<200",
        ),
        (
            "min>0",
            f"threshold 'min>0': a latency is always above 0 ms, {ALWAYS}: "
            "write a bound above 0 ms, e.g. min<200",
        ),
        (
            "p99.9 > -1",
            f"threshold 'p99.9 > -1': a latency is always above 0 ms, {ALWAYS}: "
            "write a bound above 0 ms, e.g. p99.9<200",
        ),
        (
            "p95==200",
            "threshold 'p95==200': a latency is exactly 200 ms only by chance, so it would "
            "almost never hold: write p95<=200 for at most that",
        ),
        (
            "med==0.2s",
            "threshold 'med==0.2s': a latency is exactly 200 ms only by chance, so it would "
            "almost never hold: write med<=200 for at most that",
        ),
        # failed and dropped: a count from 0, a share from 0% to 100%.
        (
            "failed<=100%",
            f"threshold 'failed<=100%': a share is never above 100%, {ALWAYS}: "
            "write a share below 100%, e.g. failed<1%",
        ),
        (
            "failed<101%",
            f"threshold 'failed<101%': a share is never above 100%, {ALWAYS}: "
            "write a share below 100%, e.g. failed<1%",
        ),
        (
            "dropped>100%",
            f"threshold 'dropped>100%': a share is never above 100%, {NEVER}: "
            "write dropped==100% for all",
        ),
        (
            "failed==150%",
            f"threshold 'failed==150%': a share is never above 100%, {NEVER}: "
            "write failed==100% for all",
        ),
        (
            "dropped>=0",
            f"threshold 'dropped>=0': a count is never below 0, {ALWAYS}: "
            "write dropped==0 for none, or dropped>0 for at least one",
        ),
        (
            "failed>=0%",
            f"threshold 'failed>=0%': a share is never below 0%, {ALWAYS}: "
            "write failed==0% for none, or failed>0% for at least one",
        ),
        (
            "failed>-1",
            f"threshold 'failed>-1': a count is never below 0, {ALWAYS}: "
            "write failed==0 for none, or failed>0 for at least one",
        ),
        (
            "failed<=-1",
            f"threshold 'failed<=-1': a count is never below 0, {NEVER}: write failed==0 for none",
        ),
        (
            "dropped==-2%",
            f"threshold 'dropped==-2%': a share is never below 0%, {NEVER}: "
            "write dropped==0% for none",
        ),
        # rps: requests per second, 0 for a run that sent none.
        (
            "rps<0",
            f"threshold 'rps<0': a rate is never below 0, {NEVER}: "
            "write a rate above 0, e.g. rps>=100",
        ),
        (
            "rps>=0",
            f"threshold 'rps>=0': a rate is never below 0, {ALWAYS}: "
            "write a rate above 0, e.g. rps>=100",
        ),
        (
            "rps>-5",
            f"threshold 'rps>-5': a rate is never below 0, {ALWAYS}: "
            "write a rate above 0, e.g. rps>=100",
        ),
        (
            "rps==50",
            "threshold 'rps==50': a rate is exactly 50 per second only by chance, so it would "
            "almost never hold: write rps>=50 for at least that",
        ),
    ],
)
def test_a_threshold_that_never_holds_or_always_does_says_what_to_write(
    text: str, said: str
) -> None:
    # p95<0 failed every run and p95>=0 or failed<=100% held in every one, each without a
    # word; p95<-5 was "malformed", with every form the option takes.
    with pytest.raises(ValueError) as caught:
        parse_threshold(text)
    assert str(caught.value) == said
