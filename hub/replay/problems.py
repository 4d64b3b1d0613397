"""What is wrong with a scenario file, in words: ScenarioLoadError and its FILE:LINE messages."""

from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from hub.core.hints import did_you_mean
from hub.replay.compiler import Loc
from hub.replay.fields import PATTERN_ADVICE
from hub.replay.mockschemas import (
    Fault,
    FaultSettings,
    FaultSpec,
    JournalFilter,
    MockStub,
    Stubs,
    Verify,
)
from hub.replay.options import parse_duration
from hub.replay.schemas import Scenario
from hub.replay.stepschemas import (
    Capture,
    ExchangeStep,
    Expect,
    FaultStep,
    SleepStep,
    StubStep,
    VerifyStep,
    step_kind,
)

_STEP_TAGS = {"exchange", "fault", "stub", "verify", "sleep"}


class ScenarioLoadError(Exception):
    """One or more scenario files are malformed; ``messages`` says where and why."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages
        super().__init__("\n".join(messages))


def _clean_loc(loc: tuple[Any, ...], data: Any, *, keep_last: bool = False) -> Loc:
    """The YAML location of a pydantic error: its union branch tags dropped.

    A union's errors carry the branch tried (``query.a.str``, ``capture.x.Capture``); a
    part that is not a key or index of the data at that point is such a tag. The last part
    of a ``missing`` error is the absent key itself (``keep_last``).
    """
    out: list[str | int] = []
    node = data
    last = len(loc) - 1
    for index, part in enumerate(loc):
        if isinstance(part, str):
            part = part.rstrip("_")  # the YAML key: ``json``, not ``json_``
        if index == 2 and loc[0] == "steps" and part in _STEP_TAGS:
            continue
        if keep_last and index == last:
            out.append(part)
            break
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if not (in_dict or in_list):
            continue
        node = node[part]
        out.append(part)
    return tuple(out)


# What a union field accepts, said once instead of once per branch pydantic tried.
_ALLOWED: list[tuple[tuple[str | None, ...], str]] = [
    (("query", None), "a string, number or boolean, or a list of them"),
    (("query", None, None), "a string, number or boolean"),
    (("headers", None), "a string, number or boolean"),
    (
        ("capture", None),
        "a JSONPath string, {path: JSONPath, match: one|first|all}, or {header: NAME}",
    ),
    (("expect", "headers", None), "a string, a list of strings, or null (must be absent)"),
    (("expect", "headers", None, None), "a string"),
    (("expect", "status"), "an HTTP status (100-599) or a non-empty list of them"),
]


def _allowed(field: Loc, items: list[Any]) -> str:
    for pattern, text in _ALLOWED:
        if len(pattern) == len(field) and all(
            p is None or p == f for p, f in zip(pattern, field, strict=True)
        ):
            return text
    wanted = dict.fromkeys(i["msg"].removeprefix("Input should be ") for i in items)
    return " or ".join(wanted)


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None or isinstance(value, bool):
        return json.dumps(value)  # as YAML writes them (null, true), not Python's None, True
    hint = " (an unquoted date; quote it)" if isinstance(value, dt.date) else ""
    return f"{value!r}{hint}"


# What k6's scripts and other load tools set in the file, and ``hub replay`` takes on its
# command line, so that one file serves a check once and a load of any size.
_RUN_OPTIONS = {
    "iterations": "--iterations",
    "vus": "--vus",
    "concurrency": "--concurrency",
    "duration": "--duration",
    "rate": "--rate",
    "stages": "--stages",
    "threshold": "--threshold",
    "thresholds": "--threshold",
    "timeout": "--timeout",
    "options": "",
}
_ALL_OPTIONS = "--iterations, --vus, --duration, --rate, --stages, --threshold, --timeout"


def _yaml_number(number: float) -> str | None:
    """``number`` as YAML 1.1 reads a number, or None for one too large for any."""
    if not math.isfinite(number):
        return None
    if number == int(number) and abs(number) < 1e16:
        return str(int(number))
    text = f"{number:.10g}"
    mantissa, e, exponent = text.partition("e")
    if e and "." not in mantissa:
        text = f"{mantissa}.0e{exponent}"
    return text


def _unit_advice(loc: Loc, kind: str, value: Any) -> str:
    """For a number written with a unit, as k6's users write them (``sleep: 1s``,
    ``max_ms: 2s``): the number to write instead, in the unit the field takes."""
    if not kind.startswith(("float_", "int_")) or not isinstance(value, str) or not loc:
        return ""
    field = str(loc[-1])
    if not (field == "sleep" or field.endswith("_ms")):
        return ""
    try:
        number = float(value)
    except ValueError:
        pass
    else:
        if not math.isfinite(number):  # `sleep: inf`: text to YAML, and no time to wait
            unit, example = ("seconds", 1) if field == "sleep" else ("milliseconds", 500)
            return (
                f"; YAML reads {value.strip()} as text: give a finite number of {unit}, "
                f"e.g. {field}: {example}"
            )
        if "e" in value.lower() and isinstance(yaml.safe_load(value.strip()), str):
            # `max_ms: 1e3`, unquoted: YAML 1.1 takes an exponent only after a '.' and
            # with a sign (1.0e+3), so it is text, and "write it without quotes" went round.
            said = (
                f"; YAML reads {value.strip()} as text, not as a number (its exponent needs "
                "a '.' before it and a sign)"
            )
            written = _yaml_number(number)
            return f"{said}: write {field}: {written}" if written else said
        # `sleep: "1.5"`: the number is right, its quotes make it text
        return f"; write the number without quotes: {field}: {value.strip()}"
    try:
        seconds = parse_duration(value)
    except ValueError:
        return ""
    if field == "sleep":
        return f"; give seconds as a number, without a unit: sleep: {seconds:.10g}"
    return f"; give milliseconds as a number, without a unit: {field}: {seconds * 1000:.10g}"


def _said(item: Any) -> str:
    """One pydantic error in words: what a pattern asks for, rather than the pattern."""
    if item["type"] == "string_pattern_mismatch":
        advice = PATTERN_ADVICE.get(str(item.get("ctx", {}).get("pattern")))
        if advice:
            return advice
    return str(item["msg"]).removeprefix("Value error, ")


def _is_step_key(key: Any) -> bool:
    """``key`` belongs to some kind of step: found at the top of a file, it lost its indent."""
    steps = (ExchangeStep, SleepStep, FaultStep, StubStep, VerifyStep)
    return (
        any(key in (f.alias or name for name, f in model.model_fields.items()) for model in steps)
        and key not in Scenario.model_fields
    )


def _model_at(loc: Loc, data: Any) -> type[BaseModel] | None:
    """The model that validates the mapping at ``loc`` (for listing its allowed keys)."""
    if not loc:
        return Scenario
    if loc[0] != "steps" or len(loc) < 2:
        return None
    step = _get(data, loc[:2])
    kinds: dict[str, type[BaseModel]] = {
        "fault": FaultStep,
        "stub": StubStep,
        "verify": VerifyStep,
        "sleep": SleepStep,
        "exchange": ExchangeStep,
    }
    base = kinds[step_kind(step)] if isinstance(step, dict) else ExchangeStep
    rest = loc[2:]
    if rest[:3] == ("fault", "set", "services") and len(rest) == 4:
        return FaultSpec
    if rest[:1] == ("capture",) and len(rest) == 2:
        return Capture
    if rest[:2] == ("stub", "add") and len(rest) == 3:
        return MockStub
    models: dict[tuple[str | int, ...], type[BaseModel]] = {
        (): base,
        ("expect",): Expect,
        ("fault",): Fault,
        ("fault", "set"): FaultSettings,
        ("stub",): Stubs,
        ("verify",): Verify,
        ("verify", "request"): JournalFilter,
    }
    return models.get(rest)


def _get(data: Any, loc: Loc) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def validation_messages(
    file: str, data: Any, lines: dict[Loc, int], error: ValidationError
) -> list[str]:
    groups: dict[Loc, list[Any]] = {}
    for item in error.errors(include_url=False):
        loc = _clean_loc(item["loc"], data, keep_last=item["type"] == "missing")
        groups.setdefault(loc, []).append(item)
    messages: list[str] = []
    for loc, items in groups.items():
        # A mapping that a model branch of a union rejected for a deeper reason: that reason
        # is the mistake, not "it is not a string" from the other branches.
        if any(other[: len(loc)] == loc and len(other) > len(loc) for other in groups):
            continue
        item = items[0]
        kind = item["type"]
        if kind == "extra_forbidden":
            key = loc[-1]
            model = _model_at(loc[:-1], data)
            hint = ""
            if model is not None:
                allowed = [f.alias or name for name, f in model.model_fields.items()]
                # `duration:` is no misspelt `description:`
                run_option = len(loc) == 1 and key in _RUN_OPTIONS
                hint = "" if run_option else did_you_mean(str(key), allowed, quoted=True)
                hint += f"; allowed: {', '.join(allowed)}"
            if len(loc) == 1 and key in _RUN_OPTIONS:
                hint += (
                    f" ({key!r} is an option of the run: hub replay FILE {_RUN_OPTIONS[key]} ...)"
                    if _RUN_OPTIONS[key]
                    else f" (k6's options are those of the run: hub replay FILE {_ALL_OPTIONS})"
                )
            if len(loc) == 1 and _is_step_key(key):
                hint += (
                    f" ({key!r} is a step's key: indent it under its step, as the keys above it)"
                )
            message = f"unknown key {key!r}{hint}"
            loc_for_field = loc[:-1]
        elif kind == "missing":
            message = f"missing required field {loc[-1]!r}"
            loc_for_field = loc[:-1]
        elif len(items) > 1:
            field = loc[2:] if loc[:1] == ("steps",) else loc
            # A mapping that the model branch refused for a reason of its own ("give
            # exactly one of ..."): that reason, not the list of what the field takes.
            reason = next((i for i in items if i["type"] == "value_error"), None)
            if reason is not None and isinstance(item.get("input"), dict):
                message = _said(reason)
            else:
                message = f"expected {_allowed(field, items)}, got {_shown(item.get('input'))}"
            loc_for_field = loc
        elif kind in ("dict_type", "model_type"):
            # Pydantic says "a valid dictionary or instance of ExchangeStep"; YAML has mappings.
            message = f"expected a mapping (key: value), got {_shown(item.get('input'))}"
            loc_for_field = loc
        elif loc == ("steps",) and (
            kind == "too_short" or (kind == "list_type" and item.get("input") is None)
        ):
            # `steps: []`, or `steps:` with nothing (or only comments) under it.
            message = "a scenario needs at least one step"
            loc_for_field = loc
        elif kind == "list_type" and loc == ("steps",):
            # Pydantic says "Input should be a valid list": a step's keys without its `- `.
            message = (
                "expected a list of steps (each starting with '- '), "
                f"got {_shown(item.get('input'))}"
            )
            loc_for_field = loc
        elif kind == "list_type" and isinstance(item.get("input"), dict):
            # Pydantic says "Input should be a valid list": one item without its `- `.
            message = "expected a list (each item starting with '- '), got a mapping"
            loc_for_field = loc
        else:
            text = _said(item)
            shown = item.get("input")
            if not isinstance(shown, dict | list):
                text += f" (got {_shown(shown)})" + _unit_advice(loc, kind, shown)
            elif kind == "string_type":
                # "Input should be a valid string" alone hid that a mapping or list came.
                text += f" (got {_shown(shown)})"
                if len(loc) == 3 and loc[0] == "steps" and loc[2] == "body":
                    text += "; a JSON body goes under 'json:'"
            message = text
            loc_for_field = loc
        entry = format_problem(file, data, lines, loc, message, field_loc=loc_for_field)
        if entry not in messages:
            messages.append(entry)
    return messages


def format_problem(
    file: str,
    data: Any,
    lines: dict[Loc, int],
    loc: Loc,
    message: str,
    *,
    field_loc: Loc | None = None,
) -> str:
    line = None
    for cut in range(len(loc), -1, -1):
        if loc[:cut] in lines:
            line = lines[loc[:cut]]
            break
    where = f"{file}:{line}" if line else file
    parts: list[str] = []
    field_loc = loc if field_loc is None else field_loc
    if len(field_loc) >= 2 and field_loc[0] == "steps" and isinstance(field_loc[1], int):
        step = _get(data, field_loc[:2])
        step_id = step.get("id") if isinstance(step, dict) else None
        index = field_loc[1]
        parts.append(f"step {step_id!r} (steps[{index}])" if step_id else f"step steps[{index}]")
        field_loc = field_loc[2:]
    if field_loc:
        parts.append("field " + ".".join(str(p) for p in field_loc))
    prefix = ", ".join(parts)
    return f"{where}: {prefix}: {message}" if prefix else f"{where}: {message}"
