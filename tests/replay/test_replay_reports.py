"""The printed report: titles and the one-line total agree with each other."""

from __future__ import annotations

import io

from rich.console import Console

from hub.replay.reports import render_tables
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
