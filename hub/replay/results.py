"""What a replay records: per-step counts, latencies, answers and the first failure's detail."""

from __future__ import annotations

import json
import math
from array import array
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hub.replay.templating import MissingVariable


@dataclass(slots=True)
class CaptureFailure:
    """A capture that kept nothing, in parts for tools reading the JSON report."""

    variable: str
    # no_match | not_json | no_header | bad_jsonpath | undefined_variable
    reason: str
    jsonpath: str | None = None  # as used: rendered, when it was a template
    template: str | None = None  # the JSONPath as written, when it held {{ }}
    header: str | None = None  # a header capture's header
    detail: str | None = None  # why, in words: "$ has no key 'items'; its keys: ..."

    def to_dict(self) -> dict[str, Any]:
        return {
            "variable": self.variable,
            "jsonpath": self.jsonpath,
            "template": self.template,
            "header": self.header,
            "reason": self.reason,
            "detail": self.detail,
        }


@dataclass(slots=True)
class Failure:
    """Why a step failed: which check, what it wanted, what it got."""

    # status | json | headers | max_ms | capture | template | request | transport | config
    # | fault | error; "transport" means no HTTP answer came back (refused, reset, timeout)
    kind: str
    what: str  # the JSONPath, header, capture name, ... the check was about
    expected: Any
    got: Any
    iteration: int = 0
    x_road_id: str | None = None
    status: int | None = None
    body: str | None = None  # an excerpt of the response body, for context
    # The whole sentence, where "expected X, got Y" would read badly ("variable 'x' is not
    # defined"); expected and got still say it for tools reading the JSON.
    text: str | None = None
    also: list[Failure] = field(default_factory=list)  # the step's other failed checks
    note: str | None = None  # why, after "expected X, got Y": "$ has no key 'itmes'"
    # The words for expected and got where the values (in the JSON report) would read
    # otherwise: a header expected absent is null there, "absent" here.
    expected_text: str | None = None
    got_text: str | None = None
    step: str | None = None  # the step's id, once recorded on it
    capture: CaptureFailure | None = None  # a capture that kept nothing: what and why
    attempts: int | None = None  # a step's `retry`: the requests it sent, all failed

    def message(self) -> str:
        """Every failed check of the step, not only the first (of its last attempt)."""
        return self.checks_message() + self.attempts_note()

    def checks_message(self) -> str:
        """Every failed check, without the attempts note."""
        return "; ".join([self.check_message(), *(f.check_message() for f in self.also)])

    def attempts_note(self) -> str:
        """`` (after N attempts)`` for a step whose ``retry`` sent N requests, all failed."""
        return "" if self.attempts is None else f" (after {self.attempts} attempts)"

    def check_message(self) -> str:
        """This check alone, in words."""
        where = f" {self.what}" if self.what else ""
        if self.text is not None:
            return f"{self.kind}{where}: {self.text}"
        expected, got = _show(self.expected), _show(self.got)
        if expected == got:
            # Alike as text, so unlike in type: the number 96 and the text "96".
            expected, got = _show(self.expected, typed=True), _show(self.got, typed=True)
        expected = self.expected_text or expected
        got = self.got_text or got
        note = f" ({self.note})" if self.note else ""
        return f"{self.kind}{where}: expected {expected}, got {got}{note}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "kind": self.kind,
            "what": self.what,
            "expected": self.expected,
            "got": self.got,
            "message": self.message(),
            "iteration": self.iteration,
            "x_road_id": self.x_road_id,
            "status": self.status,
            "body": self.body,
            "also": [
                {"kind": f.kind, "what": f.what, "expected": f.expected, "got": f.got}
                for f in self.also
            ],
            "capture": self.capture.to_dict() if self.capture else None,
            "attempts": self.attempts,
        }


def missing_variable(what: str, exc: MissingVariable) -> Failure:
    """A template that names a variable the iteration does not have, in plain words."""
    return Failure("template", what, f"a value for {exc.name!r}", str(exc), text=str(exc))


def _show(value: Any, *, typed: bool = False) -> str:
    """A value as the scenario would write it: text as it is (``typed``: quoted, as JSON),
    anything else as JSON."""
    plain = isinstance(value, str) and value != "" and not typed
    text = value if plain else show_json(value)
    return text if len(text) <= 200 else text[:197] + "..."


def show_json(value: Any) -> str:
    """``value`` as JSON (``null``, ``false``, ``"x"``), the language of the scenario files."""
    return json.dumps(value, ensure_ascii=False, default=str)


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime | None) -> str | None:
    """An ISO 8601 UTC timestamp to the millisecond, e.g. ``2025-01-31T08:00:00.123Z``."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def percentile(ordered: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an already sorted list."""
    if not ordered:
        return None
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(slots=True)
class StepStats:
    """Counts and latencies of one step over every iteration that reached it."""

    id: str
    kind: str  # exchange | fault | sleep
    label: str  # what the step calls, for the report
    runs: int = 0
    passed: int = 0
    failed: int = 0
    latencies_ms: array = field(default_factory=lambda: array("d"))
    first_failure: Failure | None = None
    statuses: Counter[int] = field(default_factory=Counter)  # HTTP answers by status
    x_road_errors: Counter[str] = field(default_factory=Counter)  # by X-Road-Error header
    transport_errors: Counter[str] = field(default_factory=Counter)  # no answer, by kind
    # How long each attempt that timed out waited (about --timeout): no latency of the
    # table, but latency thresholds count them at that duration, as k6 does.
    timeouts_ms: array = field(default_factory=lambda: array("d"))

    def answered(self, status: int, x_road_error: str | None) -> None:
        """Count an HTTP answer (whatever its status) by status and X-Road-Error code."""
        self.statuses[status] += 1
        if x_road_error:
            self.x_road_errors[x_road_error] += 1

    def record(self, elapsed_ms: float | None, failure: Failure | None) -> None:
        self.runs += 1
        if elapsed_ms is not None:
            self.latencies_ms.append(elapsed_ms)
        if failure is None:
            self.passed += 1
        else:
            self.failed += 1
            if self.first_failure is None:
                failure.step = self.id
                self.first_failure = failure

    def percentiles(self) -> dict[str, float | None]:
        """min, mean, p50, p90, p95, p99 and max of the latencies, in ms (None: none)."""
        ordered = sorted(self.latencies_ms)
        stats: dict[str, float | None] = {
            "min": ordered[0] if ordered else None,
            "mean": sum(ordered) / len(ordered) if ordered else None,
        }
        stats.update({f"p{q}": percentile(ordered, q) for q in (50, 90, 95, 99)})
        stats["max"] = ordered[-1] if ordered else None
        return stats

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "label": self.label,
            "runs": self.runs,
            "passed": self.passed,
            "failed": self.failed,
            "latency_ms": {
                k: None if v is None else round(v, 3) for k, v in self.percentiles().items()
            },
            # JSON keys are text: statuses as "200"
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "x_road_errors": dict(sorted(self.x_road_errors.items())),
            "transport_errors": dict(sorted(self.transport_errors.items())),
            "first_failure": self.first_failure.to_dict() if self.first_failure else None,
        }


@dataclass(slots=True)
class ScenarioResult:
    """One scenario's run: iterations and its steps' stats, in file order."""

    name: str
    file: str
    steps: list[StepStats]
    iterations_started: int = 0
    iterations_passed: int = 0
    iterations_failed: int = 0
    iterations_dropped: int = 0  # open model: not started because too many were in flight
    # Open model: started past their due time by the runner itself (it could not keep up),
    # and the worst such lag; latencies count from sending, so this lag is not in them.
    iterations_late: int = 0
    start_lag_ms_max: float = 0.0
    # Open model: the rate asked (--rate; None in the closed model, or ramped by --stages),
    # and when the first and the last iteration started (the schedule's clock, in seconds),
    # to say the rate the iterations did start at: req/s alone read like it, and is not.
    target_rate: float | None = None
    starts: int = 0
    first_start_s: float = 0.0
    last_start_s: float = 0.0
    # exchanges that got an HTTP answer; one that failed before sending, or got no answer
    # (refused, reset, timed out: see transport_errors), is not one
    requests: int = 0
    # What those requests and their answers took on the wire (k6's data_sent and
    # data_received): hub/replay/wire.py says what is counted.
    sent_bytes: int = 0
    received_bytes: int = 0
    duration_s: float = 0.0
    started_at: datetime | None = None
    ended_at: datetime | None = None
    interrupted: bool = False  # stopped early (Ctrl-C): fewer iterations or less time than asked
    vars_failed: int = 0  # iterations whose vars could not be rendered (no step ran)
    vars_failure: Failure | None = None

    def record_start_lag(self, lag_s: float, late_s: float) -> None:
        """Note how far past its due time an open-model iteration started."""
        if lag_s > late_s:
            self.iterations_late += 1
            self.start_lag_ms_max = max(self.start_lag_ms_max, lag_s * 1000)

    def record_start(self, at_s: float) -> None:
        """Note when an open-model iteration started, on the schedule's clock."""
        if not self.starts:
            self.first_start_s = at_s
        self.starts += 1
        self.last_start_s = at_s

    @property
    def started_per_s(self) -> float | None:
        """Open model: iterations started per second, first start to last; None without two
        starts apart. On schedule it is --rate; below it, the runner or its cap (dropped
        iterations) did not keep up."""
        span = self.last_start_s - self.first_start_s
        return (self.starts - 1) / span if self.starts > 1 and span > 0 else None

    def record_vars_failure(self, failure: Failure) -> None:
        self.vars_failed += 1
        if self.vars_failure is None:
            self.vars_failure = failure

    @property
    def saw_failures(self) -> bool:
        """Some iteration failed (a step or its vars)."""
        return (
            self.iterations_failed > 0
            or self.vars_failed > 0
            or any(s.failed > 0 for s in self.steps)
        )

    @property
    def ok(self) -> bool:
        # A scenario cut short was not checked in full: it did not pass.
        return not self.interrupted and not self.saw_failures

    @property
    def cut_short(self) -> bool:
        """Stopped early (Ctrl-C) with no failure seen: neither passed nor failed. One that
        had failures failed, stopped early or not."""
        return self.interrupted and not self.saw_failures

    @property
    def transport_errors(self) -> Counter[str]:
        total: Counter[str] = Counter()
        for step in self.steps:
            total.update(step.transport_errors)
        return total

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    def data(self) -> dict[str, dict[str, float]]:
        """data_sent and data_received: bytes, and bytes per second over the scenario."""
        return data_figures(self.sent_bytes, self.received_bytes, self.duration_s)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "file": self.file,
            "ok": self.ok,
            "iterations": {
                "started": self.iterations_started,
                "passed": self.iterations_passed,
                "failed": self.iterations_failed,
                "dropped": self.iterations_dropped,
                "late": self.iterations_late,
                "start_lag_ms_max": round(self.start_lag_ms_max, 1),
                "started_per_s": _rounded(self.started_per_s),
                "target_per_s": self.target_rate,
            },
            "vars": {
                "failed": self.vars_failed,
                "first_failure": self.vars_failure.to_dict() if self.vars_failure else None,
            },
            "requests": self.requests,
            "transport_errors": dict(sorted(self.transport_errors.items())),
            "interrupted": self.interrupted,
            "started_at": iso(self.started_at),
            "ended_at": iso(self.ended_at),
            "duration_s": round(self.duration_s, 3),
            "requests_per_s": round(self.requests_per_s, 1),
            **self.data(),
            "steps": [s.to_dict() for s in self.steps],
        }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def data_figures(sent: int, received: int, seconds: float) -> dict[str, dict[str, float]]:
    """k6's data_sent and data_received: bytes, and their rate (0 over no time)."""

    def rate(n: int) -> float:
        return round(n / seconds, 1) if seconds > 0 else 0.0

    return {
        "data_sent": {"bytes": sent, "per_s": rate(sent)},
        "data_received": {"bytes": received, "per_s": rate(received)},
    }


def run_data(results: list[ScenarioResult]) -> dict[str, dict[str, float]]:
    """The run's data_sent and data_received: the scenarios run one after another."""
    return data_figures(
        sum(r.sent_bytes for r in results),
        sum(r.received_bytes for r in results),
        sum(r.duration_s for r in results),
    )


class RunResults(list[ScenarioResult]):
    """The results of the scenarios that ran, in order, and those a Ctrl-C left unrun.

    A list, so that code which only wants what ran needs nothing else; ``not_run`` holds an
    empty result per scenario that never started (for the reports to list and count).
    """

    def __init__(self, ran: list[ScenarioResult] | None = None) -> None:
        super().__init__(ran or [])
        self.not_run: list[ScenarioResult] = []
        self.stopped_by: str | None = None  # what stopped the run early: Ctrl-C, SIGTERM, ...


def not_run(results: list[ScenarioResult]) -> list[ScenarioResult]:
    """The scenarios of the run that never started (Ctrl-C), if ``results`` knows them."""
    return results.not_run if isinstance(results, RunResults) else []


def stopped_by(results: list[ScenarioResult]) -> str:
    """What stopped the run early, for the reports: ``Ctrl-C`` unless known otherwise."""
    by = results.stopped_by if isinstance(results, RunResults) else None
    return by or "Ctrl-C"
