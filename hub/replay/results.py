"""What a replay records: per-step counts, latencies and the first failure's detail."""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Failure:
    """Why a step failed: which check, what it wanted, what it got."""

    # status | json | headers | max_ms | capture | template | request | transport | config
    kind: str
    what: str  # the JSONPath, header, capture name, ... the check was about
    expected: Any
    got: Any
    iteration: int = 0
    x_road_id: str | None = None
    status: int | None = None
    body: str | None = None  # an excerpt of the response body, for context

    def message(self) -> str:
        where = f" {self.what}" if self.what else ""
        return f"{self.kind}{where}: expected {_show(self.expected)}, got {_show(self.got)}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "what": self.what,
            "expected": self.expected,
            "got": self.got,
            "iteration": self.iteration,
            "x_road_id": self.x_road_id,
            "status": self.status,
            "body": self.body,
        }


def _show(value: Any) -> str:
    text = repr(value) if not isinstance(value, str) or value == "" else value
    return text if len(text) <= 200 else text[:197] + "..."


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
    kind: str  # exchange | fault
    label: str  # what the step calls, for the report
    runs: int = 0
    passed: int = 0
    failed: int = 0
    latencies_ms: array = field(default_factory=lambda: array("d"))
    first_failure: Failure | None = None

    def record(self, elapsed_ms: float | None, failure: Failure | None) -> None:
        self.runs += 1
        if elapsed_ms is not None:
            self.latencies_ms.append(elapsed_ms)
        if failure is None:
            self.passed += 1
        else:
            self.failed += 1
            if self.first_failure is None:
                self.first_failure = failure

    def percentiles(self) -> dict[str, float | None]:
        ordered = sorted(self.latencies_ms)
        return {f"p{q}": percentile(ordered, q) for q in (50, 95, 99)}

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "label": self.label,
            "runs": self.runs,
            "passed": self.passed,
            "failed": self.failed,
            "latency_ms": self.percentiles(),
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
    requests: int = 0  # exchanges sent; a step that failed before sending is not one
    duration_s: float = 0.0
    interrupted: bool = False  # stopped early (Ctrl-C): fewer iterations or less time than asked
    vars_failed: int = 0  # iterations whose vars could not be rendered (no step ran)
    vars_failure: Failure | None = None

    def record_vars_failure(self, failure: Failure) -> None:
        self.vars_failed += 1
        if self.vars_failure is None:
            self.vars_failure = failure

    @property
    def ok(self) -> bool:
        return (
            self.iterations_failed == 0
            and self.vars_failed == 0
            and all(s.failed == 0 for s in self.steps)
        )

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

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
            },
            "vars": {
                "failed": self.vars_failed,
                "first_failure": self.vars_failure.to_dict() if self.vars_failure else None,
            },
            "requests": self.requests,
            "interrupted": self.interrupted,
            "duration_s": round(self.duration_s, 3),
            "requests_per_s": round(self.requests_per_s, 1),
            "steps": [s.to_dict() for s in self.steps],
        }
