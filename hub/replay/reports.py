"""Reports of a replay: rich tables for people, JUnit XML for CI, JSON for tools."""

from __future__ import annotations

import io
import json
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table

from hub.replay.options import Outcome
from hub.replay.results import (
    CaptureFailure,
    Failure,
    ScenarioResult,
    StepStats,
    iso,
    not_run,
    run_data,
    show_json,
    stopped_by,
)

LATENCIES = ("min", "mean", "p50", "p90", "p95", "p99", "max")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _size(n: float) -> str:
    """Bytes as k6 prints them: decimal units, ``512 B``, ``1.5 kB``, ``2.4 MB``."""
    if n < 1000:
        return f"{n:.0f} B"
    for unit in ("kB", "MB"):
        n /= 1000
        if n < 1000:
            return f"{n:.1f} {unit}"
    return f"{n / 1000:.1f} GB"


def _data(data: dict[str, dict[str, float]], *, rates: bool) -> str:
    """``40.0 kB sent (20.0 kB/s), 2.4 MB received (1.2 MB/s)``; without the rates when
    they say nothing (one iteration)."""
    parts = []
    for key, word in (("data_sent", "sent"), ("data_received", "received")):
        rate = f" ({_size(data[key]['per_s'])}/s)" if rates else ""
        parts.append(f"{_size(data[key]['bytes'])} {word}{rate}")
    return ", ".join(parts)


def _failure_text(failure: Failure | None) -> str:
    if failure is None:
        return ""
    xid = f" [X-Road-Id {failure.x_road_id}]" if failure.x_road_id else ""
    body = f"\n    body: {failure.body[:300]}" if failure.body else ""
    return _CONTROL.sub(_escaped, f"#{failure.iteration}: {failure.message()}{xid}{body}")


# What an answer holds reaches the terminal as text: an ESC in a body excerpt or a JSON
# value had cleared the screen or recoloured the report; a NUL cut some terminals' line.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _escaped(match: re.Match[str]) -> str:
    return repr(match.group())[1:-1]


def _counts(counts: dict[Any, int]) -> str:
    return " ".join(f"{key}×{n}" for key, n in sorted(counts.items(), key=lambda kv: str(kv[0])))


def answers_text(stats: StepStats) -> str:
    """The step's answers in one cell: ``200×98 503×2; Server.X×2; no answer: refused×3``."""
    parts = [_counts(stats.statuses), _counts(stats.x_road_errors)]
    if stats.transport_errors:
        parts.append("no answer: " + _counts(stats.transport_errors))
    return "; ".join(part for part in parts if part)


def print_table(console: Console, table: Table) -> None:
    """``table`` on ``console``; piped into a file, grep or less, at its full width.

    Without a terminal rich keeps to 80 columns and cuts cells short ("fin…"), losing the
    step ids and answers a log is read for; as ``hub stats`` does (hub/stats/output.py),
    the table is measured and printed as wide as its widest row.
    """
    if console.is_terminal:
        console.print(table)
        return
    wide = Console(file=io.StringIO(), width=100_000, color_system=None)
    width = Measurement.get(wide, wide.options, table).maximum
    out = Console(file=io.StringIO(), width=width, color_system=None)
    with out.capture() as text:
        out.print(table)
    console.file.write("".join(line.rstrip() + "\n" for line in text.get().splitlines()))


def _say(console: Console, text: str) -> None:
    """One line of the report, never wrapped (a log line stays one line for grep)."""
    console.print(text, highlight=False, soft_wrap=True)


def _title(result: ScenarioResult) -> str:
    if result.cut_short:
        mark = "[yellow]CUT SHORT[/]"
    else:
        mark = "[green]PASS[/]" if result.ok else "[red]FAIL[/]"
    transport = sum(result.transport_errors.values())
    # One iteration's req/s says nothing about throughput: it is left out then.
    rate = f", {result.requests_per_s:.1f} req/s" if result.iterations_started > 1 else ""
    return (
        f"{mark} {escape(result.name)} ({escape(result.file)}): "
        f"{result.iterations_started} iteration(s){_start_rate(result)}, "
        f"{result.iterations_failed} failed"
        + (f", {result.iterations_dropped} dropped" if result.iterations_dropped else "")
        + (
            f", [yellow]{result.iterations_late} started late[/] (up to "
            f"{result.start_lag_ms_max:.0f} ms behind schedule, not in the latencies)"
            if result.iterations_late
            else ""
        )
        + f", {result.requests} requests{rate}, {_data(result.data(), rates=bool(rate))}"
        + (f", [red]{transport} transport error(s)[/]" if transport else "")
        + (", [yellow]interrupted[/]" if result.interrupted else "")
        + "; latency in ms"
    )


def _start_rate(result: ScenarioResult) -> str:
    """`` started at 679.9/s of --rate 2000``: the open model's pace, beside the one asked
    (req/s counts every step's requests, and can match --rate by chance)."""
    rate = result.started_per_s
    if rate is None:
        return ""
    asked = f" of --rate {result.target_rate:g}" if result.target_rate else " (--stages)"
    return f" started at {rate:.1f}/s{asked}"


def render_tables(
    console: Console, results: list[ScenarioResult], outcomes: list[Outcome] | None = None
) -> None:
    """A table per scenario, a row per step, then a one-line total (which names the
    ``--threshold``s not met: their own lines come after it)."""
    for result in results:
        _say(console, _title(result))
        table = Table(expand=False)
        for column in ("step", "runs", "passed", "failed", *LATENCIES, "answers"):
            words = column in ("step", "answers")
            # On a narrow terminal a cell wraps rather than lose its end to "…".
            table.add_column(column, justify="left" if words else "right", overflow="fold")
        for stats in result.steps:
            p = stats.percentiles()
            failed = f"[red]{stats.failed}[/]" if stats.failed else "0"
            table.add_row(
                escape(stats.id),
                str(stats.runs),
                str(stats.passed),
                failed,
                *(_ms(p[name]) for name in LATENCIES),
                escape(answers_text(stats)),
            )
        print_table(console, table)
        if result.vars_failure is not None:
            _say(
                console,
                f"  [red]vars[/] failed in {result.vars_failed} iteration(s), first: "
                f"{escape(_failure_text(result.vars_failure))}",
            )
        for stats in result.steps:
            if stats.first_failure is not None:
                text = _failure_text(stats.first_failure)
                _say(console, f"  [red]{escape(stats.id)}[/] first failure: {escape(text)}")
    passed = sum(r.ok for r in results)
    requests = sum(r.requests for r in results)
    if len(results) > 1:  # one scenario's title said it already
        rates = any(r.iterations_started > 1 for r in results)
        _say(console, f"data: {_data(run_data(results), rates=rates)}")
    unrun = not_run(results)
    given = len(results) + len(unrun)
    if unrun or any(r.interrupted for r in results):
        # Never "all expectations held" then: what did not run was not checked. The counts
        # add up to the scenarios given; a scenario cut short is neither passed nor failed,
        # unless it had failures, as its title says.
        cut = sum(r.cut_short for r in results)
        failing = len(results) - passed - cut
        by = stopped_by(results)
        _say(
            console,
            f"[yellow]interrupted[/]: {passed} of {given} scenarios passed; {failing} failed; "
            f"{cut} cut short; {len(unrun)} did not run; {requests} requests"
            + ("" if by == "Ctrl-C" else f" (stopped by {by})"),
        )
        return
    # A threshold not met fails the run (exit 1) as a failed expectation does: never "all
    # expectations held" then, which a CI log is read (or grepped) for.
    missed = [o.threshold.text for o in outcomes or [] if not o.ok]
    verdict = [] if passed == given else ["[red]failures above[/]"]
    if missed:
        verdict.append(
            f"[red]{len(missed)} of {len(outcomes or [])} threshold(s) FAILED: "
            f"{escape(', '.join(missed))}[/]"
        )
    _say(
        console,
        f"{passed} of {given} scenarios passed; {requests} requests; "
        + ("; ".join(verdict) or "[green]all expectations held[/]"),
    )


def render_thresholds(console: Console, outcomes: list[Outcome]) -> None:
    """A line per ``--threshold``: held or failed, with the figure measured."""
    for outcome in outcomes:
        colour = "green" if outcome.ok else "red"
        _say(console, f"[{colour}]{escape(outcome.message())}[/]")


def run_interrupted(results: list[ScenarioResult]) -> bool:
    """A Ctrl-C cut a scenario short or left some unrun."""
    return bool(not_run(results)) or any(r.interrupted for r in results)


def to_json(
    results: list[ScenarioResult],
    *,
    hub_url: str,
    run_id: str,
    interrupted: bool = False,
    thresholds: list[Outcome] | None = None,
    faults: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    interrupted = interrupted or run_interrupted(results)
    unrun = not_run(results)
    started = [r.started_at for r in results if r.started_at is not None]
    ended = [r.ended_at for r in results if r.ended_at is not None]
    return {
        "hub": hub_url,
        "run_id": run_id,
        # An interrupted run is not a passed one, whatever the part that ran did.
        "ok": all(r.ok for r in results)
        and not interrupted
        and all(o.ok for o in thresholds or []),
        "interrupted": interrupted,  # stopped early: see not_run, and each "interrupted"
        "stopped_by": stopped_by(results) if interrupted else None,  # Ctrl-C, SIGTERM, ...
        "started_at": iso(min(started)) if started else None,
        "ended_at": iso(max(ended)) if ended else None,
        **run_data(results),  # k6's data_sent and data_received, the run's
        "scenarios": [r.to_dict() for r in results],
        "not_run": [{"name": r.name, "file": r.file} for r in unrun],
        "thresholds": [o.to_dict() for o in thresholds or []],
        "faults": faults or [],  # held for the whole run (--fault)
    }


def write_json(
    path: Path,
    results: list[ScenarioResult],
    *,
    hub_url: str,
    run_id: str,
    interrupted: bool = False,
    thresholds: list[Outcome] | None = None,
    faults: list[dict[str, Any]] | None = None,
) -> None:
    document = to_json(
        results,
        hub_url=hub_url,
        run_id=run_id,
        interrupted=interrupted,
        thresholds=thresholds,
        faults=faults,
    )
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")


def junit_tree(
    results: list[ScenarioResult], thresholds: list[Outcome] | None = None
) -> ET.Element:
    """``testsuites`` > ``testsuite`` per scenario > ``testcase`` per step, JUnit's usual shape.

    A step that some iteration failed gets one ``failure`` (the first, with the count); a
    step that no iteration reached is ``skipped``, as is every step of a scenario a Ctrl-C
    left unrun; a scenario it cut short gets an extra ``interrupted`` case, skipped. The
    ``--threshold``s come last, in a ``thresholds`` suite, a case each (k6 does the same).
    """
    now = datetime.now(UTC)
    root = ET.Element("testsuites", name="hub replay")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total_time = 0.0
    runs = [(r, True) for r in results] + [(r, False) for r in not_run(results)]
    by = stopped_by(results)
    for result, ran in runs:
        failures = sum(1 for s in result.steps if s.failed)
        skipped = sum(1 for s in result.steps if s.runs == 0)
        suite = ET.SubElement(
            root,
            "testsuite",
            name=result.name,
            tests=str(len(result.steps)),
            failures=str(failures),
            errors="0",
            skipped=str(skipped),
            time=f"{result.duration_s:.3f}",
            timestamp=(result.started_at or now).replace(microsecond=0, tzinfo=None).isoformat(),
            file=result.file,
        )
        for stats in result.steps:
            total = sum(stats.latencies_ms) / 1000
            case = ET.SubElement(
                suite,
                "testcase",
                name=stats.id,
                classname=result.name,
                time=f"{total:.3f}",
                file=result.file,
            )
            if stats.first_failure is not None:
                failure = stats.first_failure
                text = (
                    f"{stats.label}\n{stats.failed} of {stats.runs} runs failed; "
                    f"first in iteration {failure.iteration}\n"
                    f"expected: {failure.expected_text or show_json(failure.expected)}\n"
                    f"got: {failure.got_text or show_json(failure.got)}\n"
                )
                if failure.capture is not None:
                    text += _capture_line(failure.capture)
                if failure.x_road_id:  # none when no answer came (a transport failure)
                    text += f"X-Road-Id: {failure.x_road_id}\n"
                if failure.body:
                    text += f"body: {failure.body}\n"
                node = ET.SubElement(case, "failure", message=failure.message(), type=failure.kind)
                node.text = text
            elif not ran:
                ET.SubElement(case, "skipped", message=NOT_RUN.format(by=by))
            elif stats.runs == 0:
                ET.SubElement(case, "skipped", message="no iteration reached this step")
        if result.vars_failure is not None:
            # Only when they failed: a row per scenario for vars would be noise otherwise.
            failure = result.vars_failure
            case = ET.SubElement(
                suite, "testcase", name="vars", classname=result.name, time="0", file=result.file
            )
            node = ET.SubElement(case, "failure", message=failure.message(), type=failure.kind)
            node.text = (
                f"{result.vars_failed} iteration(s) failed; first in iteration "
                f"{failure.iteration}\nexpected: {show_json(failure.expected)}\n"
                f"got: {show_json(failure.got)}\n"
            )
            failures += 1
        if result.interrupted:
            # A marker CI shows: this scenario ran fewer iterations (or less time) than asked.
            case = ET.SubElement(
                suite,
                "testcase",
                name="interrupted",
                classname=result.name,
                time="0",
                file=result.file,
            )
            ET.SubElement(case, "skipped", message=CUT_SHORT.format(by=by))
            skipped += 1
        if not ran:
            skipped = len(result.steps)
        suite.set("tests", str(len(suite.findall("testcase"))))
        suite.set("failures", str(failures))
        suite.set("skipped", str(skipped))
        totals["tests"] += len(suite.findall("testcase"))
        totals["failures"] += failures
        totals["skipped"] += skipped
        total_time += result.duration_s
    if thresholds:
        suite = ET.SubElement(
            root,
            "testsuite",
            name="thresholds",
            tests=str(len(thresholds)),
            failures=str(sum(not o.ok for o in thresholds)),
            errors="0",
            skipped="0",
            time="0.000",
            timestamp=now.replace(microsecond=0, tzinfo=None).isoformat(),
        )
        for outcome in thresholds:
            case = ET.SubElement(
                suite, "testcase", name=outcome.threshold.text, classname="thresholds", time="0"
            )
            if not outcome.ok:
                node = ET.SubElement(case, "failure", message=outcome.message(), type="threshold")
                node.text = outcome.message() + "\n"
        totals["tests"] += len(thresholds)
        totals["failures"] += sum(not o.ok for o in thresholds)
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{total_time:.3f}")
    for node in root.iter():
        node.text = node.text and _xml_text(node.text)
        node.attrib = {name: _xml_text(text) for name, text in node.attrib.items()}
    return root


def _capture_line(capture: CaptureFailure) -> str:
    """``capture: cid from $.items[0].id: no_match ($ has no key 'items')``, for CI."""
    source = f"header {capture.header}" if capture.header else capture.jsonpath
    source = source or capture.template
    detail = f" ({capture.detail})" if capture.detail else ""
    return f"capture: {capture.variable} from {source}: {capture.reason}{detail}\n"


# Characters XML 1.0 cannot hold, escaped or not: a body excerpt with a NUL or an ESC made
# a report that every JUnit reader refused, the passed steps with it.
_NOT_XML = re.compile(r"[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_text(text: str) -> str:
    """``text`` with each character XML cannot hold written as ``\\xNN`` / ``\\uNNNN``."""
    return _NOT_XML.sub(_escaped, text)


NOT_RUN = "not run: the run was interrupted ({by}) before this scenario"
CUT_SHORT = "the run was interrupted ({by}) during this scenario: it was cut short"


def write_junit(
    path: Path, results: list[ScenarioResult], thresholds: list[Outcome] | None = None
) -> None:
    tree = ET.ElementTree(junit_tree(results, thresholds))
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
