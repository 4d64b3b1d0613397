"""Reports of a replay: rich tables for people, JUnit XML for CI, JSON for tools."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from hub.replay.results import Failure, ScenarioResult


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _failure_text(failure: Failure | None) -> str:
    if failure is None:
        return ""
    xid = f" [X-Road-Id {failure.x_road_id}]" if failure.x_road_id else ""
    body = f"\n    body: {failure.body[:300]}" if failure.body else ""
    return f"#{failure.iteration}: {failure.message()}{xid}{body}"


def render_tables(console: Console, results: list[ScenarioResult]) -> None:
    """A table per scenario, a row per step, then a one-line total."""
    for result in results:
        mark = "[green]PASS[/]" if result.ok else "[red]FAIL[/]"
        title = (
            f"{mark} {escape(result.name)} ({escape(result.file)}): "
            f"{result.iterations_started} iteration(s), "
            f"{result.iterations_failed} failed"
            + (f", {result.iterations_dropped} dropped" if result.iterations_dropped else "")
            + f", {result.requests_per_s:.1f} req/s"
        )
        console.print(title, highlight=False)
        table = Table(expand=False)
        for column in ("step", "runs", "passed", "failed", "p50 ms", "p95 ms", "p99 ms"):
            table.add_column(column, justify="left" if column == "step" else "right")
        for stats in result.steps:
            p = stats.percentiles()
            failed = f"[red]{stats.failed}[/]" if stats.failed else "0"
            table.add_row(
                stats.id,
                str(stats.runs),
                str(stats.passed),
                failed,
                _ms(p["p50"]),
                _ms(p["p95"]),
                _ms(p["p99"]),
            )
        console.print(table)
        if result.vars_failure is not None:
            console.print(
                f"  [red]vars[/] failed in {result.vars_failed} iteration(s), first: "
                f"{escape(_failure_text(result.vars_failure))}",
                markup=True,
                highlight=False,
            )
        for stats in result.steps:
            if stats.first_failure is not None:
                text = _failure_text(stats.first_failure)
                console.print(
                    f"  [red]{escape(stats.id)}[/] first failure: {escape(text)}",
                    markup=True,
                    highlight=False,
                )
    ok = sum(r.ok for r in results)
    requests = sum(r.requests for r in results)
    console.print(
        f"{ok} of {len(results)} scenarios passed; {requests} requests; "
        + ("[green]all expectations held[/]" if ok == len(results) else "[red]failures above[/]")
    )


def to_json(
    results: list[ScenarioResult], *, hub_url: str, run_id: str, interrupted: bool = False
) -> dict[str, Any]:
    return {
        "hub": hub_url,
        "run_id": run_id,
        "ok": all(r.ok for r in results),
        "interrupted": interrupted,  # stopped by Ctrl-C: scenarios after the last are missing
        "scenarios": [r.to_dict() for r in results],
    }


def write_json(
    path: Path,
    results: list[ScenarioResult],
    *,
    hub_url: str,
    run_id: str,
    interrupted: bool = False,
) -> None:
    document = to_json(results, hub_url=hub_url, run_id=run_id, interrupted=interrupted)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False, default=str) + "\n")


def junit_tree(results: list[ScenarioResult]) -> ET.Element:
    """``testsuites`` > ``testsuite`` per scenario > ``testcase`` per step, JUnit's usual shape.

    A step that some iteration failed gets one ``failure`` (the first, with the count); a
    step that no iteration reached is ``skipped``.
    """
    now = datetime.now(UTC).replace(microsecond=0).isoformat()
    root = ET.Element("testsuites", name="hub replay")
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    total_time = 0.0
    for result in results:
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
            timestamp=now,
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
                    f"expected: {failure.expected!r}\ngot: {failure.got!r}\n"
                    f"X-Road-Id: {failure.x_road_id}\n"
                )
                if failure.body:
                    text += f"body: {failure.body}\n"
                node = ET.SubElement(case, "failure", message=failure.message(), type=failure.kind)
                node.text = text
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
                f"{failure.iteration}\nexpected: {failure.expected!r}\ngot: {failure.got!r}\n"
            )
            failures += 1
            suite.set("tests", str(len(result.steps) + 1))
            suite.set("failures", str(failures))
        totals["tests"] += len(suite.findall("testcase"))
        totals["failures"] += failures
        totals["skipped"] += skipped
        total_time += result.duration_s
    for key, value in totals.items():
        root.set(key, str(value))
    root.set("time", f"{total_time:.3f}")
    return root


def write_junit(path: Path, results: list[ScenarioResult]) -> None:
    tree = ET.ElementTree(junit_tree(results))
    ET.indent(tree)
    tree.write(path, encoding="utf-8", xml_declaration=True)
