"""`hub replay`: run scenario files against a hub, for correctness or for load."""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape

from hub.cli.common import stdout_gone
from hub.cli.replay_output import (
    Stdout,
    bar_count,
    print_report,
    progress_line,
    say,
    say_fault_scenarios,
    say_fewer_workers,
    say_skipped,
    scenario_counts,
    unwritable,
    write_report,
)
from hub.core.urls import is_http_url

if TYPE_CHECKING:
    from hub.replay.results import ScenarioResult
    from hub.replay.runner import Runner

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130  # the shell's status for SIGINT


def parse_duration(text: str) -> float:
    """k6's durations (``30s``, ``1m30s``, ``500ms``) or a number of seconds."""
    from hub.replay.options import parse_duration as seconds

    try:
        return seconds(text)
    except ValueError as exc:
        # Called after parsing, where typer no longer knows which option the value was of.
        raise typer.BadParameter(str(exc), param_hint="'--duration'") from None


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
            "--concurrency",
            "--vus",  # k6's name for them: its users tried it first
            min=1,
            help="Closed model: workers, k6's VUs (default 1); open model: cap on in-flight "
            "(default 1000).",
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
        typer.Option(
            help="Provider base URLs (JSON mapping, or `hub registry export` YAML); "
            "default: GET /demo/providers."
        ),
    ] = None,
    junit: Annotated[Path | None, typer.Option(help="Write a JUnit XML report here.")] = None,
    json_report: Annotated[
        Path | None, typer.Option("--json", help="Write a JSON report here.")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Write a row per request sent here, as the run goes (k6's --out): "
            "FILE.csv, or FILE.jsonl / FILE.ndjson for JSON Lines."
        ),
    ] = None,
    timeout: Annotated[float, typer.Option(min=0.001, help="Per-request timeout, seconds.")] = 30.0,
    threshold: Annotated[
        list[str] | None,
        typer.Option(
            help="Pass/fail on the whole run, as k6: p95<200 or p(95)<200 (ms), failed<1%, "
            "dropped==0, rps>=100; repeatable. A threshold not met exits 1."
        ),
    ] = None,
    fault: Annotated[
        list[str] | None,
        typer.Option(
            help="Hold a mock's faults for the whole run, set before the first scenario and "
            "cleared after the last: PROVIDER=SETTINGS, e.g. "
            "'VN/GOV/BCA/population={latency_ms: 200}' (SETTINGS as a fault step's set:); "
            "repeatable. For loads under a fault with --concurrency above 1."
        ),
    ] = None,
    stages: Annotated[
        str | None,
        typer.Option(
            help="Ramp the load as k6's stages: DURATION:TARGET,... e.g. 10s:20,30s:50,10s:0; "
            "workers (from --concurrency, default 1), or with --rate iterations per second "
            "(from --rate). Sets each scenario's duration."
        ),
    ] = None,
    progress_every: Annotated[
        float,
        typer.Option(
            min=0.1, help="Without a terminal, a progress line on stderr every this many seconds."
        ),
    ] = 10.0,
) -> None:
    """Replay exchange scenarios against a hub and report per-step pass/fail and latency.

    Exit status: 0 when every expectation and --threshold held, 1 when any failed;
    2 on bad input; 130, 143 or 129 when stopped by Ctrl-C, SIGTERM or SIGHUP.
    A stopped run reports what ran first.

    Example, 50 workers for 2 minutes, failing unless p95 stays under 200 ms:
    hub replay scenarios/ --concurrency 50 --duration 2m --threshold 'p95<200'
    """
    from hub.replay import requestlog
    from hub.replay.faults import parse_faults
    from hub.replay.loader import load_paths
    from hub.replay.problems import ScenarioLoadError
    from hub.replay.reports import write_json, write_junit
    from hub.replay.runner import RunOptions
    from hub.replay.service import replay
    from hub.replay.sources import SourceError

    console = Stdout()
    errors = Console(stderr=True)
    if not is_http_url(hub):
        # Else every request of the run failed on its own, one failure per step.
        say(
            errors,
            f"--hub {hub!r} is not the hub's base URL: give http:// or https://, a host and "
            "a port, e.g. http://127.0.0.1:8000; nothing was run.",
        )
        raise typer.Exit(EXIT_BAD_INPUT)
    from hub.replay.options import (
        Ramp,
        check_workers,
        evaluate,
        parse_stages,
        parse_threshold,
        report_over_input,
        same_report_path,
    )

    if rate is not None and not math.isfinite(rate):
        # Else its schedule never ended: every iteration due at once, for ever.
        raise typer.BadParameter(f"{rate:g} is not a finite rate", param_hint="'--rate'")
    duration_s = parse_duration(duration) if duration is not None else None
    ramp = None
    try:
        thresholds = [parse_threshold(t) for t in threshold or []]
        run_faults = parse_faults(fault or [])
        if stages is not None:
            if duration_s is not None:
                raise ValueError("--stages sets how long each scenario runs: drop --duration")
            # From --rate in the open model (k6's startRate), else from --concurrency, or one
            # worker (k6's startVUs).
            ramp = Ramp(rate if rate else (concurrency or 1), parse_stages(stages))
            duration_s = ramp.duration_s
        check_workers(ramp, concurrency, rate)
    except ValueError as exc:
        say(errors, f"{exc}; nothing was run.")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    # Not given and 1 differ: the open model's cap defaults to 1000, yet 1 is a valid cap.
    options = RunOptions(
        iterations=iterations if iterations or duration_s else 1,
        duration_s=duration_s,
        concurrency=concurrency or 1,
        rate=rate,
        max_in_flight=concurrency or 1000,
        timeout_s=timeout,
        ramp=ramp,
    )
    report_problems = [
        problem
        for option, path in (("--junit", junit), ("--json", json_report))
        if path is not None
        and (
            problem := unwritable(option, path)
            or report_over_input(option, path, [credentials, providers])
        )
    ]
    if out is not None:
        problem = requestlog.unknown_kind(out) or unwritable("--out", out)
        report_problems += [problem] if problem else []
    clash = same_report_path(("--junit", junit), ("--json", json_report), ("--out", out))
    if clash:
        report_problems.append(clash)
    if report_problems:
        # Found now rather than after a run of many minutes whose figures would be lost.
        for problem in report_problems:
            say(errors, problem)
        errors.print("nothing was run.")
        raise typer.Exit(EXIT_BAD_INPUT)
    skipped: list[Path] = []
    try:
        plans = load_paths(paths, skipped)
    except ScenarioLoadError as exc:
        say_skipped(errors, skipped)
        for message in exc.messages:
            say(errors, message)
        errors.print(f"refused: {len(exc.messages)} problem(s); nothing was run.")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    say_skipped(errors, skipped)
    say_fault_scenarios(errors, plans, options)
    say_fewer_workers(errors, plans, options)
    request_log = None
    if out is not None:
        try:
            request_log = requestlog.open_request_log(out)
        except OSError as exc:  # a read-only file or file system, which os.access may miss
            say(errors, f"--out {out}: cannot be opened: {exc.strerror or exc}; nothing was run.")
            raise typer.Exit(EXIT_BAD_INPUT) from None

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        # A --duration run's bar counts seconds: said so, else "4/8" read as iterations.
        TextColumn("{task.fields[count]}"),
        TimeElapsedColumn(),
        console=errors,
        transient=True,
        disable=not errors.is_terminal,
    )
    per_scenario = options.iterations if duration_s is None else duration_s
    total = (per_scenario or 1) * len(plans)
    unit = " s" if duration_s else ""
    task = progress.add_task("starting", total=total, count=bar_count(0, total, unit))

    signals: list[int] = []  # the signals received, in order

    async def main() -> tuple[list[ScenarioResult], str]:
        runners: list[Runner] = []
        loop = asyncio.get_running_loop()
        main_task = asyncio.current_task()
        assert main_task is not None

        def interrupted(signum: int) -> None:
            # Ctrl-C as k6 takes it: the first stops starting iterations and lets those in
            # flight finish, so the report covers what ran; the second quits at once.
            # SIGTERM (CI timeouts, `timeout`, docker stop) and SIGHUP (a closed terminal)
            # are taken the same way: else they killed the run with no report, and a fault
            # switched on at a mock stayed on.
            signals.append(signum)
            name = _SIGNAL_NAMES[signum]
            if len(signals) == 1 and runners:
                runners[0].stop(name)
                # Any second signal aborts; name the one that came, as a CI log shows it.
                again = "Ctrl-C" if name == "Ctrl-C" else f"{name} or Ctrl-C"
                say(
                    errors,
                    f"stopping ({name}): no new iterations; waiting for those in flight, "
                    f"clearing faults and stubs, then the report ({again} again to abort them "
                    "and quit without a report)",
                )
            else:
                main_task.cancel()

        for signum in _SIGNAL_NAMES:
            loop.add_signal_handler(signum, interrupted, signum)

        async def refresh() -> None:
            last_line = time.monotonic()
            while True:
                current = runners[0].current if runners else None
                if current is not None:
                    runner = runners[0]
                    if duration_s is None:
                        done = float(runner.iterations_done)
                    else:
                        elapsed = min(duration_s, time.monotonic() - runner.scenario_started)
                        done = runner.scenario_index * duration_s + elapsed
                    progress.update(
                        task,
                        completed=done,
                        description=escape(scenario_counts(current)),
                        count=bar_count(done, total, unit),
                    )
                    if not errors.is_terminal and time.monotonic() - last_line >= progress_every:
                        # No bar in a CI log: a line now and then shows the run is alive.
                        last_line = time.monotonic()
                        say(
                            errors,
                            progress_line(runner, done, progress.tasks[0].total),
                        )
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
                faults=run_faults,
                request_log=request_log,
            )
        finally:
            ticker.cancel()
            for signum in _SIGNAL_NAMES:
                loop.remove_signal_handler(signum)

    try:
        with progress, _event_loop_runner() as loop_runner:
            results, run_id = loop_runner.run(main())
    except SourceError as exc:
        if signals:  # stopped while the run was being prepared: nothing ran
            errors.print(f"interrupted ({_SIGNAL_NAMES[signals[0]]}) before the run: no report")
            raise typer.Exit(_exit_status(signals[0])) from None
        say(errors, str(exc))
        raise typer.Exit(EXIT_BAD_INPUT) from None
    except asyncio.CancelledError:
        name = _SIGNAL_NAMES[signals[0]] if signals else "Ctrl-C"
        errors.print(f"interrupted ({name}): no report")
        raise typer.Exit(_exit_status(signals[0] if signals else signal.SIGINT)) from None
    finally:
        if request_log is not None:  # the rows of what ran, however the run ended
            request_log.close()

    # A Ctrl-C after the last iteration finished cut nothing short.
    stopped = len(results) < len(plans) or any(r.interrupted for r in results)
    outcomes = evaluate(thresholds, results)
    faults_held = [{"provider": f.provider, "set": f.settings} for f in run_faults]
    # The files first: a stdout that cannot take the printed report (`| head -1`, `| grep
    # -q`, a full disk) cost the --json and --junit files and turned the exit status into 1.
    # Each report is written on its own: one that cannot be written costs only itself.
    unwritten = False
    if request_log is not None and request_log.error is not None:
        why = request_log.error.strerror or request_log.error
        say(errors, f"--out {out}: the rows could not all be written: {why}")
        unwritten = True
    if junit:
        unwritten |= write_report(
            "--junit", junit, lambda: write_junit(junit, results, outcomes), errors
        )
    if json_report:
        unwritten |= write_report(
            "--json",
            json_report,
            lambda: write_json(
                json_report,
                results,
                hub_url=hub,
                run_id=run_id,
                interrupted=stopped,
                thresholds=outcomes,
                faults=faults_held,
            ),
            errors,
        )
    try:
        print_report(console, results, outcomes, plans=len(plans), stopped=stopped,
                      held=[f.text for f in run_faults])  # fmt: skip
        sys.stdout.flush()  # here, not at exit, where click took EPIPE for a failure
    except BrokenPipeError:  # `| head -1`: the reader has what it wanted, nothing to say
        stdout_gone()
    except OSError as exc:  # a full disk: the report is lost, and the user should know
        stdout_gone()
        with contextlib.suppress(OSError):
            errors.print(f"the report could not be printed ({exc.strerror or exc})")
    if stopped:
        raise typer.Exit(_exit_status(signals[0] if signals else signal.SIGINT))
    if unwritten or not all(r.ok for r in results) or not all(o.ok for o in outcomes):
        raise typer.Exit(EXIT_FAILED)


_SIGNAL_NAMES: dict[int, str] = {
    signal.SIGINT: "Ctrl-C",
    signal.SIGTERM: "SIGTERM",
    signal.SIGHUP: "SIGHUP",
}


def _exit_status(signum: int) -> int:
    """The shell's status for a process ended by ``signum``: 130, 143, 129."""
    return 128 + int(signum)


def register(app: typer.Typer) -> None:
    """Add this feature's commands to the top-level app."""
    app.command("replay")(replay_command)
