"""What a command line asks of a run beyond the scenarios: durations and k6-like thresholds.

Kept apart from the CLI so that both the CLI and the pytest plugin can use them, and so
that a malformed value is refused before anything runs.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hub.replay.results import ScenarioResult, percentile

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
DURATION_FORMS = "30s, 2m, 1m30s, 1h5m, 500ms or a bare number of seconds (90)"


def parse_duration(text: str) -> float:
    """Seconds in ``text``: k6's compound ``1h2m3s500ms`` (units h, m, s, ms in any mix,
    each once at most), or a bare number, which means seconds. ValueError if malformed."""
    compact = text.strip().replace(" ", "")
    try:
        seconds = float(compact)
    except ValueError:
        parts = _PART.findall(compact)
        units = [unit for _, unit in parts]
        whole = "".join(number + unit for number, unit in parts)
        if not parts or whole != compact or len(set(units)) != len(units):
            raise ValueError(f"{text!r} is not a duration such as {DURATION_FORMS}") from None
        seconds = sum(float(number) * _UNITS[unit] for number, unit in parts)
    if not seconds > 0 or seconds == float("inf"):
        raise ValueError(f"{text!r} is not a duration such as {DURATION_FORMS}")
    return seconds


_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "<": operator.lt,
    ">": operator.gt,
}
LATENCY_METRICS = ("min", "mean", "p50", "p90", "p95", "p99", "max")
SHARE_METRICS = ("failed", "dropped")
_THRESHOLD = re.compile(
    r"^\s*(?P<metric>[a-z0-9]+)\s*(?P<op><=|>=|==|<|>)\s*"
    r"(?P<value>\d+(?:\.\d+)?)\s*(?P<unit>%|ms)?\s*$"
)
THRESHOLD_FORMS = (
    "METRIC OP NUMBER with OP one of < <= > >= ==; METRIC one of "
    f"{', '.join(LATENCY_METRICS)} (ms, e.g. p95<200), failed or dropped (a share of "
    "iterations with %, e.g. failed<1%, or a count without, e.g. failed==0), "
    "rps (requests per second, e.g. rps>=100)"
)


@dataclass(frozen=True, slots=True)
class Threshold:
    """A pass/fail criterion on the whole run's figures, as k6 has (``p95<200``)."""

    text: str
    metric: str
    op: str
    value: float
    share: bool  # failed/dropped given with %: compared as a percentage

    def holds(self, measured: float | None) -> bool:
        # No figure (no request answered, say) cannot show the criterion met.
        return measured is not None and _OPS[self.op](measured, self.value)

    def shown(self, measured: float | None) -> str:
        if measured is None:
            return "none measured"
        if self.metric in LATENCY_METRICS:
            return f"{measured:.1f} ms"
        if self.share:
            return f"{measured:.2f}%"
        return f"{measured:.1f}" if self.metric == "rps" else f"{measured:g}"


def parse_threshold(text: str) -> Threshold:
    """A ``--threshold`` expression; ValueError saying the accepted forms if malformed."""
    match = _THRESHOLD.match(text)
    known = (*LATENCY_METRICS, *SHARE_METRICS, "rps")
    if match is None or match["metric"] not in known:
        raise ValueError(f"threshold {text!r} is malformed: give {THRESHOLD_FORMS}")
    metric, unit = match["metric"], match["unit"]
    if (unit == "ms" and metric not in LATENCY_METRICS) or (
        unit == "%" and metric not in SHARE_METRICS
    ):
        raise ValueError(f"threshold {text!r}: {unit} does not go with {metric}")
    return Threshold(text.strip(), metric, match["op"], float(match["value"]), unit == "%")


@dataclass(frozen=True, slots=True)
class Outcome:
    threshold: Threshold
    measured: float | None
    ok: bool

    def to_dict(self) -> dict[str, object]:
        return {"threshold": self.threshold.text, "measured": self.measured, "ok": self.ok}

    def message(self) -> str:
        mark = "held" if self.ok else "FAILED"
        shown = self.threshold.shown(self.measured)
        return f"threshold {self.threshold.text} {mark}: {self.threshold.metric} = {shown}"


def measure(metric: str, results: list[ScenarioResult], *, share: bool) -> float | None:
    """The run's figure for ``metric``, over every scenario that ran."""
    if metric in LATENCY_METRICS:
        latencies = sorted(
            ms for r in results for s in r.steps if s.kind == "exchange" for ms in s.latencies_ms
        )
        if not latencies:
            return None
        if metric == "min":
            return latencies[0]
        if metric == "max":
            return latencies[-1]
        if metric == "mean":
            return sum(latencies) / len(latencies)
        return percentile(latencies, int(metric[1:]))
    if metric == "rps":
        duration = sum(r.duration_s for r in results)
        return sum(r.requests for r in results) / duration if duration > 0 else None
    started = sum(r.iterations_started for r in results)
    if metric == "failed":
        count, total = sum(r.iterations_failed for r in results), started
    else:  # dropped: a share of the iterations the schedule planned
        count = sum(r.iterations_dropped for r in results)
        total = started + count
    if not share:
        return float(count)
    return 100.0 * count / total if total else None


def evaluate(thresholds: list[Threshold], results: list[ScenarioResult]) -> list[Outcome]:
    outcomes = []
    for threshold in thresholds:
        measured = measure(threshold.metric, results, share=threshold.share)
        outcomes.append(Outcome(threshold, measured, threshold.holds(measured)))
    return outcomes


def same_report_path(junit: Path | None, json_report: Path | None) -> str | None:
    """Why ``--junit`` and ``--json`` cannot be written as given, or None: one would
    overwrite the other."""
    if junit is None or json_report is None:
        return None
    if junit.resolve() == json_report.resolve():
        return f"--junit and --json name the same file ({junit}); give each its own"
    return None
