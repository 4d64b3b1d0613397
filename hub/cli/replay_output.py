"""What `hub replay` prints: the report on stdout, notes and refusals on stderr, progress
lines for a log, and the reports written to files (hub/cli/replay.py runs the command)."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

if TYPE_CHECKING:
    from hub.replay.options import Outcome
    from hub.replay.plan import ScenarioPlan
    from hub.replay.results import ScenarioResult
    from hub.replay.runner import Runner, RunOptions


def print_report(
    console: Console,
    results: list[ScenarioResult],
    outcomes: list[Outcome],
    *,
    plans: int,
    stopped: bool,
    held: list[str],
) -> None:
    """The report, all of it, on stdout (`> run.log` keeps it whole); stderr is for the
    tool's own errors."""
    from hub.replay.reports import render_tables, render_thresholds

    render_tables(console, results, outcomes)
    if stopped:
        cut = [r.name for r in results if r.interrupted]
        say(
            console,
            f"interrupted: {len(results) - len(cut)} of {plans} scenario(s) ran in full"
            + "".join(f", {name!r} was cut short" for name in cut)
            + "; the figures above are for what ran",
        )
    for text in held:
        say(console, f"fault held for the whole run: {text}")
    render_thresholds(console, outcomes)


class Stdout(Console):
    """The report's console: a reader gone (`| head -1`) is an OSError to handle, where rich's
    own ended the process with status 1, before the run's own status was known."""

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError(32, "the reader of stdout went away")


def say_fault_scenarios(errors: Console, plans: list[ScenarioPlan], options: RunOptions) -> None:
    """Say which scenarios run one iteration at a time: those that switch a mock's faults,
    which every iteration shares (the runner's choice), or warn when --rate overlaps them."""
    from hub.replay.plan import MOCK_STEPS, FaultPlan

    switching = [repr(p.name) for p in plans if p.switches_faults]
    if not switching:
        return
    names = ", ".join(switching)
    verb, own = ("switches", "its") if len(switching) == 1 else ("switch", "their")
    faults_only = all(
        isinstance(s, FaultPlan) for p in plans for s in p.steps if isinstance(s, MOCK_STEPS)
    )
    what, undo = (
        ("a mock's faults", "one iteration's clear may lift another's fault mid-exchange")
        if faults_only
        else (
            "a mock's faults, stubs or request journal",
            "one iteration's clean-up may undo another's stubs or counts mid-exchange",
        )
    )
    if options.rate:
        say(
            errors,
            f"note: {names} {verb} {what}, which overlapping iterations at --rate share: {undo}",
        )
    elif options.concurrency > 1 or options.ramp is not None:
        say(
            errors,
            f"note: {names} {verb} {what}, which every iteration shares: {own} "
            "iterations run one at a time (use --fault to load the hub under a fault)",
        )


def say_fewer_workers(errors: Console, plans: list[ScenarioPlan], options: RunOptions) -> None:
    """Say when the closed model runs fewer workers than asked: never more than the
    iterations, since a worker more would find none left (the runner's choice)."""
    if options.rate or options.iterations is None:
        return
    ramp = options.ramp
    if ramp is None:
        asked, what = options.concurrency, f"--concurrency {options.concurrency}"
    else:
        asked = math.ceil(max(ramp.start, *(t for _, t in ramp.stages)))
        what = f"--stages' peak of {asked} workers"
    count = options.iterations
    if asked <= count or all(p.switches_faults for p in plans):
        return  # those that switch faults run one at a time, as say_fault_scenarios says
    more = "more --iterations" if options.duration_s else "more --iterations, or --duration,"
    say(
        errors,
        f"note: {what} is more than the {count} iteration(s) of each scenario: {count} "
        f"workers run, one iteration each; give {more} to keep {asked} busy",
    )


def say_skipped(errors: Console, skipped: list[Path]) -> None:
    """Name the YAML files of the folders given that are not scenarios.

    A folder may hold a providers file or a registry export: as pytest does, these are left
    out; said, so that a scenario with a typo in ``steps:`` is not lost quietly.
    """
    if skipped:
        say(
            errors,
            f"skipped {len(skipped)} YAML file(s) without a top-level 'steps:' (not "
            f"scenarios): {', '.join(str(p) for p in skipped)}",
        )


def bar_count(done: float, total: float, unit: str) -> str:
    """The bar's ``done/total``, whole and with thousands separators: 1,000,000,000 is read
    at a glance, where 1000000000 has its zeros counted."""
    return f"{done:,.0f}/{total:,.0f}{unit}"


def progress_line(runner: Runner, done: float, total: float | None) -> str:
    """A progress line for a log, where no bar can be drawn."""
    current = runner.current
    share = f" ({100 * done / total:.0f}%)" if total else ""
    if current is None:
        return f"progress: starting{share}"
    # The scenario's own counts beside its name; the run's in all after it.
    return f"progress: {scenario_counts(current)}; {runner.iterations_done:,} in all{share}"


def scenario_counts(current: ScenarioResult) -> str:
    """A scenario's name and iterations so far, for the bar and the log's progress lines."""
    ran = current.iterations_passed + current.iterations_failed
    return f"{current.name}: {ran:,} iteration(s) done, {current.iterations_failed:,} failed"


def unwritable(option: str, path: Path) -> str | None:
    """Why a report cannot be written at ``path``, or None."""
    if path.is_dir():
        name = "requests.csv" if option == "--out" else "report"
        return f"{option} {path}: is a folder; give a file name, e.g. {path / name}"
    folder = path.parent
    if not folder.is_dir():
        return f"{option} {path}: the folder {folder} does not exist"
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return f"{option} {path}: not writable (permission denied)"
    return None


def write_report(option: str, path: Path, write: Callable[[], None], errors: Console) -> bool:
    """Write one report; True (and a one-line message) if it could not be written."""
    try:
        write()
    except OSError as exc:
        say(
            errors,
            f"{option} {path}: the report could not be written: {exc.strerror or exc}",
        )
        return True
    return False


def say(console: Console, text: str) -> None:
    """One line as written: no markup, no highlighting, never wrapped (paths, ids, JSON)."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)
