"""`hub replay`: run scenario files against a hub, for correctness or for load."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from hub.core.urls import is_http_url

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # the shell's status for SIGINT


def parse_duration(text: str) -> float:
    """k6's durations (``30s``, ``1m30s``, ``500ms``) or a number of seconds."""
    from hub.replay.options import parse_duration as seconds

    try:
        return seconds(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


def _event_loop_runner() -> asyncio.Runner:
    try:
        import uvloop
    except ImportError:  # uvloop is optional; the plain loop is only slower
        return asyncio.Runner()
    return asyncio.Runner(loop_factory=uvloop.new_event_loop)


def replay_command(
    paths: Annotated[list[Path], typer.Argument(help="Scenario files or folders (*.yaml, *.yml).")],
    hub: Annotated[str, typer.Option(help="Base URL of the hub.")] = "http://127.0.0.1:8000",
    iterations: Annotated[
        int | None, typer.Option(min=1, help="Iterations per scenario (default 1).")
    ] = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Closed model: workers (default 1); open model: cap on in-flight (default 1000).",
        ),
    ] = None,
    rate: Annotated[
        float | None, typer.Option(min=0.001, help="Open model: iterations started per second.")
    ] = None,
    duration: Annotated[
        str | None,
        typer.Option(help="Run each scenario this long: 30s, 2m, 1m30s, 500ms or seconds."),
    ] = None,
    credentials: Annotated[
        Path | None,
        typer.Option(help="JSON of `hub demo credentials`; default: GET /demo/credentials."),
    ] = None,
    providers: Annotated[
        Path | None,
        typer.Option(help="Provider base URLs (JSON mapping); default: GET /demo/providers."),
    ] = None,
    junit: Annotated[Path | None, typer.Option(help="Write a JUnit XML report here.")] = None,
    json_report: Annotated[
        Path | None, typer.Option("--json", help="Write a JSON report here.")
    ] = None,
    timeout: Annotated[float, typer.Option(min=0.001, help="Per-request timeout, seconds.")] = 30.0,
    threshold: Annotated[
        list[str] | None,
        typer.Option(
            help="Pass/fail on the whole run, as k6: p95<200 (ms), failed<1%, dropped==0, "
            "rps>=100; repeatable. A threshold not met exits 1."
        ),
    ] = None,
) -> None:
    """Replay exchange scenarios against a hub and report per-step pass/fail and latency.

    Exit status: 0 when every expectation held, 1 when any failed, 2 on bad input.
    """
    from hub.replay.loader import ScenarioLoadError, load_paths
    from hub.replay.reports import render_tables, write_json, write_junit
    from hub.replay.results import ScenarioResult
    from hub.replay.runner import Runner, RunOptions
    from hub.replay.service import replay
    from hub.replay.sources import SourceError

    console = Console()
    errors = Console(stderr=True)
    if not is_http_url(hub):
        # Else every request of the run failed on its own, one failure per step.
        errors.print(
            f"--hub {hub!r} is not the hub's base URL: give http:// or https://, a host and "
            "a port, e.g. http://127.0.0.1:8000; nothing was run.",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(EXIT_BAD_INPUT)
    from hub.replay.options import evaluate, parse_threshold, same_report_path

    duration_s = parse_duration(duration) if duration else None
    try:
        thresholds = [parse_threshold(t) for t in threshold or []]
    except ValueError as exc:
        errors.print(f"{exc}; nothing was run.", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    # Not given and 1 differ: the open model's cap defaults to 1000, yet 1 is a valid cap.
    options = RunOptions(
        iterations=iterations if iterations or duration_s else 1,
        duration_s=duration_s,
        concurrency=concurrency or 1,
        rate=rate,
        max_in_flight=concurrency or 1000,
        timeout_s=timeout,
    )
    report_problems = [
        problem
        for option, path in (("--junit", junit), ("--json", json_report))
        if path is not None and (problem := _unwritable(option, path))
    ]
    clash = same_report_path(junit, json_report)
    if clash:
        report_problems.append(clash)
    if report_problems:
        # Found now rather than after a run of many minutes whose figures would be lost.
        for problem in report_problems:
            errors.print(problem, markup=False, highlight=False, soft_wrap=True)
        errors.print("nothing was run.")
        raise typer.Exit(EXIT_BAD_INPUT)
    try:
        plans = load_paths(paths)
    except ScenarioLoadError as exc:
        for message in exc.messages:
            errors.print(message, markup=False, highlight=False, soft_wrap=True)
        errors.print(f"refused: {len(exc.messages)} problem(s); nothing was run.")
        raise typer.Exit(EXIT_BAD_INPUT) from None

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:.0f}/{task.total:.0f}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
    per_scenario = options.iterations if duration_s is None else duration_s
    task = progress.add_task("starting", total=(per_scenario or 1) * len(plans))

    interrupts = 0

    async def main() -> tuple[list[ScenarioResult], str]:
        runners: list[Runner] = []
        loop = asyncio.get_running_loop()
        main_task = asyncio.current_task()
        assert main_task is not None

        def interrupted() -> None:
            # Ctrl-C as k6 takes it: the first stops starting iterations and lets those in
            # flight finish, so the report covers what ran; the second quits at once.
            nonlocal interrupts
            interrupts += 1
            if interrupts == 1 and runners:
                runners[0].stop()
                errors.print(
                    "stopping: no new iterations; waiting for those in flight, then the "
                    "report (Ctrl-C again to quit at once)"
                )
            else:
                main_task.cancel()

        loop.add_signal_handler(signal.SIGINT, interrupted)

        async def refresh() -> None:
            while True:
                current = runners[0].current if runners else None
                if current is not None:
                    runner = runners[0]
                    if duration_s is None:
                        done = float(runner.iterations_done)
                    else:
                        elapsed = min(duration_s, time.monotonic() - runner.scenario_started)
                        done = runner.scenario_index * duration_s + elapsed
                    progress.update(task, completed=done, description=current.name)
                await asyncio.sleep(0.1)

        ticker = asyncio.create_task(refresh())
        try:
            return await replay(
                plans,
                hub_url=hub,
                options=options,
                credentials_file=credentials,
                providers_file=providers,
                on_start=runners.append,
            )
        finally:
            ticker.cancel()
            loop.remove_signal_handler(signal.SIGINT)

    try:
        with progress, _event_loop_runner() as loop_runner:
            results, run_id = loop_runner.run(main())
    except SourceError as exc:
        errors.print(str(exc), markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except asyncio.CancelledError:
        errors.print("interrupted: no report")
        raise typer.Exit(EXIT_INTERRUPTED) from None

    render_tables(console, results)
    # A Ctrl-C after the last iteration finished cut nothing short.
    stopped = len(results) < len(plans) or any(r.interrupted for r in results)
    if stopped:
        cut = [r.name for r in results if r.interrupted]
        errors.print(
            f"interrupted: {len(results) - len(cut)} of {len(plans)} scenario(s) ran in full"
            + "".join(f", {name!r} was cut short" for name in cut)
            + "; the figures above are for what ran",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    outcomes = evaluate(thresholds, results)
    for outcome in outcomes:
        (console if outcome.ok else errors).print(
            outcome.message(), markup=False, highlight=False, soft_wrap=True
        )
    # Each report is written on its own: one that cannot be written costs only itself.
    unwritten = False
    if junit:
        unwritten |= _write_report("--junit", junit, lambda: write_junit(junit, results), errors)
    if json_report:
        unwritten |= _write_report(
            "--json",
            json_report,
            lambda: write_json(
                json_report,
                results,
                hub_url=hub,
                run_id=run_id,
                interrupted=stopped,
                thresholds=outcomes,
            ),
            errors,
        )
    if stopped:
        raise typer.Exit(EXIT_INTERRUPTED)
    if unwritten or not all(r.ok for r in results) or not all(o.ok for o in outcomes):
        raise typer.Exit(EXIT_FAILED)


def _unwritable(option: str, path: Path) -> str | None:
    """Why a report cannot be written at ``path``, or None."""
    if path.is_dir():
        return f"{option} {path}: is a folder; give a file name, e.g. {path / 'report'}"
    folder = path.parent
    if not folder.is_dir():
        return f"{option} {path}: the folder {folder} does not exist"
    if not os.access(folder, os.W_OK | os.X_OK) or (path.exists() and not os.access(path, os.W_OK)):
        return f"{option} {path}: not writable (permission denied)"
    return None


def _write_report(option: str, path: Path, write: Callable[[], None], errors: Console) -> bool:
    """Write one report; True (and a one-line message) if it could not be written."""
    try:
        write()
    except OSError as exc:
        errors.print(
            f"{option} {path}: the report could not be written: {exc.strerror or exc}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        return True
    return False


def register(app: typer.Typer) -> None:
    """Add this feature's commands to the top-level app."""
    app.command("replay")(replay_command)
