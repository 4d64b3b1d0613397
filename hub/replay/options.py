"""What a command line asks of a run beyond the scenarios: durations and k6-like thresholds.

Kept apart from the CLI so that both the CLI and the pytest plugin can use them, and so
that a malformed value is refused before anything runs.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hub.replay.files import looks_like_scenario
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
    if seconds == 0:
        raise ValueError(f"{text!r}: a duration must be above zero")
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
# k6's names, as its users write them: avg, med, p(95), p(99.9).
_K6_NAMES = {"avg": "mean", "med": "p50"}
_PERCENTILE = re.compile(r"p\(?(?P<q>\d+(?:\.\d+)?)\)?")
_THRESHOLD = re.compile(
    r"^\s*(?P<metric>[a-z]+(?:\(\d+(?:\.\d+)?\)|\d+(?:\.\d+)?)?)\s*(?P<op><=|>=|==|<|>)\s*"
    r"(?P<value>-?\d+(?:\.\d+)?)\s*(?P<unit>%|ms|us|µs|s|m|h)?\s*$"
)
# Units k6's users give a latency in, which the thresholds take in ms only.
_IN_MS = {"us": 0.001, "µs": 0.001, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
THRESHOLD_FORMS = (
    "METRIC OP NUMBER with OP one of < <= > >= ==; METRIC one of "
    f"{', '.join(LATENCY_METRICS)} (ms, e.g. p95<200; also any percentile, p99.9, and k6's "
    "p(95), avg and med), failed or dropped (a share of "
    "iterations with %, e.g. failed<1%, or a whole count without, e.g. failed==0), "
    "rps (requests per second, e.g. rps>=100)"
)


def _latency_metric(name: str) -> str | None:
    """``name`` as a latency metric (``p(95)`` is ``p95``, ``avg`` is ``mean``), or None."""
    name = _K6_NAMES.get(name, name)
    if name in LATENCY_METRICS:
        return name
    match = _PERCENTILE.fullmatch(name)
    if match is None or name.startswith("p(") != name.endswith(")"):
        return None
    q = float(match["q"])
    return f"p{q:.10g}" if 0 < q <= 100 else None


def _is_latency(metric: str) -> bool:
    """``metric`` (as parsed) is a latency in ms: min, mean, max or a percentile."""
    return metric in LATENCY_METRICS or _PERCENTILE.fullmatch(metric) is not None


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
        if _is_latency(self.metric):
            return f"{measured:.1f} ms"
        if self.share:
            return f"{measured:.2f}%"
        return f"{measured:.1f}" if self.metric == "rps" else f"{measured:g}"


def parse_threshold(text: str) -> Threshold:
    """A ``--threshold`` expression; ValueError saying the accepted forms if malformed."""
    match = _THRESHOLD.match(text)
    name = match["metric"] if match else ""
    metric = name if name in (*SHARE_METRICS, "rps") else _latency_metric(name)
    if match is None or metric is None:
        raise ValueError(f"threshold {text!r} is malformed: give {THRESHOLD_FORMS}")
    unit, op, value = match["unit"], match["op"], float(match["value"])
    if (unit in ("ms", *_IN_MS) and not _is_latency(metric)) or (
        unit == "%" and metric not in SHARE_METRICS
    ):
        raise ValueError(f"threshold {text!r}: {unit} does not go with {metric}")
    if _is_latency(metric):
        ms = value * _IN_MS.get(unit or "ms", 1.0)
        _check_latency(text, text[: match.start("op")].strip(), op, ms)
        if unit in _IN_MS:
            # "Malformed" and every form the option takes hid that only the unit was wrong.
            written = text[: match.start("value")] + f"{ms:.10g}"
            raise ValueError(f"threshold {text!r}: latencies are in ms: write {written.strip()}")
    elif metric == "rps":
        _check_rate(text, op, value)
    else:
        _check_share_or_count(text, metric, op, value, unit == "%")
    return Threshold(text.strip(), metric, op, value, unit == "%")


def _beyond(op: str, value: float, low: float, high: float, *, above_low: bool) -> str | None:
    """Whether ``OP value`` can be decided for a figure that is at least ``low`` (above it,
    with ``above_low``) and at most ``high``: "never" when no such figure meets it, "always"
    when every one does (so it checks nothing), else None."""
    under = value < low or (value == low and above_low)  # at or below the lowest figure
    if op == "<":
        return "never" if value <= low else "always" if value > high else None
    if op == "<=":
        return "never" if under else "always" if value >= high else None
    if op == ">":
        return "never" if value >= high else "always" if under else None
    if op == ">=":
        return "never" if value > high else "always" if value <= low else None
    return "never" if under or value > high else None  # ==


def _refuse(text: str, verdict: str, why: str, instead: str) -> ValueError:
    """The refusal of a threshold ``_beyond`` decided: what it is, and what to write."""
    if verdict == "never":
        return ValueError(f"threshold {text!r}: {why}, so it could never hold: write {instead}")
    return ValueError(
        f"threshold {text!r}: {why}, so it holds whatever the run and checks nothing: "
        f"write {instead}"
    )


def _check_latency(text: str, name: str, op: str, ms: float) -> None:
    """ValueError for a latency threshold (``name`` as written) no run can meet, or every
    run meets. A request's time is above 0 ms: the clock reads microseconds."""
    verdict = _beyond(op, ms, 0, math.inf, above_low=True)
    if verdict is not None:
        why = "a latency is always above 0 ms"
        raise _refuse(text, verdict, why, f"a bound above 0 ms, e.g. {name}<200")
    if op == "==":
        # 41.2873 ms, not 41: a measured time equals a number only by chance.
        raise ValueError(
            f"threshold {text!r}: a latency is exactly {ms:.10g} ms only by chance, so it "
            f"would almost never hold: write {name}<={ms:.10g} for at most that"
        )


def _check_rate(text: str, op: str, value: float) -> None:
    """ValueError for an rps threshold no run can meet, or every run meets (rps==0, a
    run that sent nothing, is left: it can be meant)."""
    verdict = _beyond(op, value, 0, math.inf, above_low=False)
    if verdict is not None:
        why = "a rate is never below 0"
        raise _refuse(text, verdict, why, "a rate above 0, e.g. rps>=100")
    if op == "==" and value > 0:
        raise ValueError(
            f"threshold {text!r}: a rate is exactly {value:g} per second only by chance, so "
            f"it would almost never hold: write rps>={value:g} for at least that"
        )


def _check_share_or_count(text: str, metric: str, op: str, value: float, share: bool) -> None:
    """ValueError for a failed/dropped threshold no one can mean, saying what to write."""
    what, none = ("a share", "0%") if share else ("a count", "0")
    verdict = _beyond(op, value, 0, 100 if share else math.inf, above_low=False)
    if verdict is not None and value <= 0:
        # Beside the lowest figure: none failed (or was dropped).
        instead = f"{metric}=={none} for none"
        if verdict == "always":
            instead += f", or {metric}>{none} for at least one"
        raise _refuse(text, verdict, f"{what} is never below {none}", instead)
    if verdict is not None:
        # Beside the highest: every iteration failed (or was dropped).
        instead = f"{metric}==100% for all"
        if verdict == "always":
            instead = f"a share below 100%, e.g. {metric}<1%"
        raise _refuse(text, verdict, "a share is never above 100%", instead)
    if not share and value != int(value):
        # Half an iteration never fails: failed==0.5 failed every run, and k6's rate<0.01
        # (1%) held only when none failed.
        percent = value * 100 if value < 1 else value
        k6 = f" (k6's rate{op}{value:g})" if value < 1 else ""
        raise ValueError(
            f"threshold {text!r}: without % {metric} counts iterations, a whole number: "
            f"write {metric}{op}{percent:g}% for a share of them{k6}, or a count, "
            f"e.g. {metric}==0"
        )
    if share and op == "==" and 0 < value < 100:
        # 1 of 100 iterations is 1%, 1 of 101 is not: the run's length decided it.
        raise ValueError(
            f"threshold {text!r}: a share is exactly {value:g}% only by chance of how many "
            f"iterations ran: write {metric}<={value:g}% for at most that share"
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    threshold: Threshold
    measured: float | None
    ok: bool
    timeouts: int = 0  # latency thresholds: attempts that timed out, counted in

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "threshold": self.threshold.text,
            "measured": self.measured,
            "ok": self.ok,
        }
        if _is_latency(self.threshold.metric):
            out["timeouts"] = self.timeouts
        return out

    def message(self) -> str:
        mark = "held" if self.ok else "FAILED"
        shown = self.threshold.shown(self.measured)
        text = f"threshold {self.threshold.text} {mark}: {self.threshold.metric} = {shown}"
        if self.timeouts:
            text += (
                f" ({self.timeouts} request(s) timed out with no answer; "
                "counted at the time they waited)"
            )
        return text


def timeouts(results: list[ScenarioResult]) -> list[float]:
    """How long each exchange that timed out with no answer waited, in ms."""
    return [ms for r in results for s in r.steps if s.kind == "exchange" for ms in s.timeouts_ms]


def measure(metric: str, results: list[ScenarioResult], *, share: bool) -> float | None:
    """The run's figure for ``metric``, over every scenario that ran."""
    if _is_latency(metric):
        # A request that timed out counts at the time it waited (about --timeout), as k6
        # counts it: left out, 47 timeouts in 100 still let "max<=1000" hold.
        latencies = sorted(
            [ms for r in results for s in r.steps if s.kind == "exchange" for ms in s.latencies_ms]
            + timeouts(results)
        )
        if not latencies:
            return None
        if metric == "min":
            return latencies[0]
        if metric == "max":
            return latencies[-1]
        if metric == "mean":
            return sum(latencies) / len(latencies)
        return percentile(latencies, float(metric[1:]))
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
        timed_out = len(timeouts(results)) if _is_latency(threshold.metric) else 0
        outcomes.append(Outcome(threshold, measured, threshold.holds(measured), timed_out))
    return outcomes


def same_report_path(*reports: tuple[str, Path | None]) -> str | None:
    """Why the files of ``--junit``, ``--json`` and ``--out`` (option and path, None when
    not given) cannot be written as given, or None: one would overwrite another."""
    given = [(option, path) for option, path in reports if path is not None]
    for index, (option, path) in enumerate(given):
        for other, other_path in given[index + 1 :]:
            if path.resolve() == other_path.resolve():
                return f"{option} and {other} name the same file ({path}); give each its own"
    return None


def report_over_input(option: str, report: Path, inputs: list[Path | None]) -> str | None:
    """Why a report cannot be written at ``report``, or None: it would overwrite a file the
    run reads (``inputs``: --credentials, --providers) or a scenario.

    ``hub replay --json scenarios/a.yaml scenarios/b.yaml`` (the report's name forgotten)
    took a.yaml for the report's path and wrote the JSON over it, without a word.
    """
    target = report.resolve()
    read = next((f for f in inputs if f is not None and f.resolve() == target), None)
    if read is not None:
        what = f"is a file this run reads ({read})"
    elif report.is_file() and looks_like_scenario(report):
        what = "is a scenario file (it has a top-level 'steps:')"
    else:
        return None
    suffix = "xml" if option == "--junit" else "json"
    return (
        f"{option} {report}: {what}; the report would overwrite it: give the report a file "
        f"of its own, e.g. {option} report.{suffix}"
    )


STAGES_FORMS = (
    "DURATION:TARGET stages separated by commas, e.g. 10s:20,30s:50,10s:0 (the load "
    "moves linearly to each TARGET over its DURATION)"
)


@dataclass(frozen=True, slots=True)
class Ramp:
    """k6's stages: from ``start``, the load moves linearly to each stage's target over its
    duration. Workers in the closed model (``ramping-vus``), iterations started per second
    in the open one (``ramping-arrival-rate``)."""

    start: float
    stages: tuple[tuple[float, float], ...]  # (duration in s, target)

    @property
    def duration_s(self) -> float:
        return sum(d for d, _ in self.stages)

    def value(self, t: float) -> float:
        """The target load ``t`` seconds into the run."""
        begin, level = 0.0, self.start
        for duration, target in self.stages:
            if t < begin + duration:
                return level + (target - level) * (t - begin) / duration
            begin, level = begin + duration, target
        return level

    def count(self, t: float) -> float:
        """The load summed over the first ``t`` seconds: iterations due by then, at rates."""
        total, begin, level = 0.0, 0.0, self.start
        for duration, target in self.stages:
            span = min(max(t - begin, 0.0), duration)
            total += level * span + (target - level) * span * span / (2 * duration)
            begin, level = begin + duration, target
        return total + level * max(t - begin, 0.0)

    def due(self, n: float) -> float | None:
        """When the load has summed to ``n`` (iteration ``n + 1`` of the open model is due);
        None if not within the stages."""
        done, begin, level = 0.0, 0.0, self.start
        for duration, target in self.stages:
            stage = (level + target) * duration / 2
            if done + stage >= n and (stage > 0 or n <= done):
                left = max(n - done, 0.0)
                slope = (target - level) / duration
                if abs(slope) < 1e-12:
                    into = left / level if level else 0.0
                else:  # level * x + slope * x^2 / 2 = left
                    into = (-level + math.sqrt(max(level * level + 2 * slope * left, 0.0))) / slope
                return begin + min(max(into, 0.0), duration)
            done, begin, level = done + stage, begin + duration, target
        return None


# Each worker of the closed model is a task of the one runner process (about 2 KB, more
# with its exchange in flight): ten million of them ended in a MemoryError before the first
# request. A load beyond this wants several runners, or the open model (--rate).
MAX_WORKERS = 100_000


def check_workers(ramp: Ramp | None, concurrency: int | None, rate: float | None) -> None:
    """ValueError if the closed model would make more workers than one runner can hold."""
    if rate is not None:
        return  # the open model: --concurrency caps iterations in flight, makes no workers
    asked = {"--concurrency": float(concurrency or 1)}
    if ramp is not None:
        asked["--stages"] = max(t for _, t in ramp.stages)
    for option, workers in asked.items():
        if workers > MAX_WORKERS:
            raise ValueError(
                f"{option} asks for {workers:g} workers: at most {MAX_WORKERS} workers in one "
                "run (each is a task of this process); split the load over several runners, "
                "or give an arrival rate with --rate"
            )


def parse_stages(text: str) -> tuple[tuple[float, float], ...]:
    """``--stages 10s:20,30s:50``; ValueError saying the accepted form if malformed."""
    malformed = f"--stages {text!r} is malformed: give {STAGES_FORMS}"
    stages: list[tuple[float, float]] = []
    for part in text.split(","):
        duration, sep, target = part.strip().rpartition(":")
        try:
            value = float(target)
        except ValueError:
            raise ValueError(malformed) from None
        if sep and _is_zero(duration):
            raise ValueError(
                f"--stages {text!r}: stage {part.strip()!r} lasts no time; a stage must last "
                "more than zero seconds (to jump to a load, give a short stage, e.g. 1s:TARGET)"
            )
        try:
            seconds = parse_duration(duration) if sep else None
        except ValueError:
            seconds = None
        if seconds is None:
            raise ValueError(malformed)
        if not 0 <= value < float("inf"):
            raise ValueError(f"--stages {text!r}: a target is a number, 0 or more")
        stages.append((seconds, value))
    return tuple(stages)


def _is_zero(duration: str) -> bool:
    """``duration`` reads as zero: ``0``, ``0s``, ``0m0s``."""
    compact = duration.strip().replace(" ", "")
    try:
        return float(compact) == 0
    except ValueError:
        parts = _PART.findall(compact)
        return (
            bool(parts)
            and "".join(n + u for n, u in parts) == compact
            and all(float(n) == 0 for n, _ in parts)
        )
