"""Reading scenario files: YAML with line numbers, validation, and errors a person can act on.

Every problem is reported as ``FILE:LINE: step 'ID' (steps[N]), field F: what is wrong``,
all of a file's problems at once, and nothing runs until every file is clean.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from hub.replay.files import SUFFIXES, looks_like_scenario
from hub.replay.plan import Loc, ScenarioPlan, compile_scenario
from hub.replay.schemas import (
    PATTERN_ADVICE,
    Capture,
    ExchangeStep,
    Expect,
    Fault,
    FaultSettings,
    FaultSpec,
    FaultStep,
    JournalFilter,
    MockStub,
    Scenario,
    SleepStep,
    Stubs,
    StubStep,
    Verify,
    VerifyStep,
    step_kind,
)

_STEP_TAGS = {"exchange", "fault", "stub", "verify", "sleep"}


class ScenarioLoadError(Exception):
    """One or more scenario files are malformed; ``messages`` says where and why."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages
        super().__init__("\n".join(messages))


def discover(paths: list[Path], skipped: list[Path] | None = None) -> list[Path]:
    """The scenario files named by ``paths``: files as given, folders searched recursively.

    A YAML file found in a folder without a top-level ``steps:`` is not a scenario (a
    providers file, a registry export): it is left out, and added to ``skipped``.
    """
    found: list[Path] = []
    problems: list[str] = []
    for path in paths:
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix in SUFFIXES and p.is_file())
            scenarios = [p for p in files if looks_like_scenario(p)]
            others = [p for p in files if p not in scenarios]
            if skipped is not None:
                skipped += others
            if not scenarios:
                also = (
                    f" ({len(others)} YAML file(s) without a top-level 'steps:')" if others else ""
                )
                problems.append(f"{path}: no scenario files in this folder{also}")
            found += scenarios
        elif path.is_file():
            found.append(path)
        else:
            problems.append(f"{path}: no such file or folder")
    if problems:
        raise ScenarioLoadError(problems)
    return list(dict.fromkeys(found))


def load_paths(paths: list[Path], skipped: list[Path] | None = None) -> list[ScenarioPlan]:
    """Load every scenario under ``paths``; raise with every file's problems at once.

    YAML files in folders that are not scenarios are left out and added to ``skipped``.
    """
    plans: list[ScenarioPlan] = []
    messages: list[str] = []
    for file in discover(paths, skipped):
        try:
            plans.append(load_file(file))
        except ScenarioLoadError as exc:
            messages += exc.messages
    if messages:
        raise ScenarioLoadError(messages)
    return plans


def load_file(file: Path) -> ScenarioPlan:
    """Parse, validate and compile one scenario file."""
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioLoadError([f"{file}: cannot read: {exc}"]) from None
    return load_text(text, file=str(file), default_name=file.stem)


def load_text(text: str, *, file: str, default_name: str = "scenario") -> ScenarioPlan:
    """Parse, validate and compile one scenario given as text (``file`` names it in errors)."""
    data, lines, duplicates = _parse_yaml(text, file)
    if duplicates:
        raise ScenarioLoadError([_format(file, data, lines, loc, m) for loc, m in duplicates])
    if not isinstance(data, dict):
        got = "an empty file" if data is None else f"a {type(data).__name__}"
        raise ScenarioLoadError(
            [f"{file}:1: a scenario is a mapping with 'name' and 'steps', got {got}"]
        )
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioLoadError(_validation_messages(file, data, lines, exc)) from None
    plan, errors = compile_scenario(scenario, file=file, default_name=default_name)
    if errors:
        raise ScenarioLoadError([_format(file, data, lines, loc, m) for loc, m in errors])
    return plan


# A template in a plain YAML value inside a flow mapping breaks the YAML ("{" opens a
# mapping there): ``headers: {X-Road-Issue: KYC-{{ run.iteration }}}``, as written in the
# product's spec, was "bad YAML". Templates are masked with private-use characters of the
# same length (so errors keep their columns) while the YAML is parsed, and put back after.
TEMPLATE = re.compile(r"\{\{[^{}\n]*\}\}")
MASKED = re.compile("\ue000[^\ue002]*\ue002")
MASK_CHARS = ("\ue000", "\ue001", "\ue002")


def _mask(text: str) -> tuple[str, dict[str, str]]:
    if any(c in text for c in MASK_CHARS):
        return text, {}  # the file uses these characters itself: parsed as it is
    originals: dict[str, str] = {}

    def token(match: re.Match[str]) -> str:
        n = len(originals)
        if n >= 0x1000:
            return match.group()
        masked = "\ue000" + chr(0xE100 + n)
        masked += "\ue001" * (len(match.group()) - len(masked) - 1) + "\ue002"
        originals[masked] = match.group()
        return masked

    return TEMPLATE.sub(token, text), originals


def _unmask(value: Any, originals: dict[str, str]) -> Any:
    if isinstance(value, str):
        if "\ue000" not in value:
            return value
        return MASKED.sub(lambda m: originals.get(m.group(), m.group()), value)
    if isinstance(value, dict):
        return {_unmask(k, originals): _unmask(v, originals) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_unmask(v, originals) for v in value)
    return value


def _parse_yaml(text: str, file: str) -> tuple[Any, dict[Loc, int], list[tuple[Loc, str]]]:
    """The document, the line of every key and item, and any duplicate keys."""
    text, originals = _mask(text)
    data, lines, duplicates = _parse_masked(text, file)
    if not originals:
        return data, lines, duplicates
    return (
        _unmask(data, originals),
        {_unmask(loc, originals): line for loc, line in lines.items()},
        [(_unmask(loc, originals), _unmask(m, originals)) for loc, m in duplicates],
    )


def _parse_masked(text: str, file: str) -> tuple[Any, dict[Loc, int], list[tuple[Loc, str]]]:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{file}:{mark.line + 1}:{mark.column + 1}" if mark else file
        problem = getattr(exc, "problem", None) or str(exc)
        context = getattr(exc, "context", None)
        detail = f"{problem} ({context})" if context else problem
        if mark is not None:
            rows = text.splitlines()
            detail += _quote_hint(rows[mark.line] if mark.line < len(rows) else "")
        raise ScenarioLoadError([f"{where}: bad YAML: {detail}"]) from None
    finally:
        loader.dispose()
    lines: dict[Loc, int] = {}
    duplicates: list[tuple[Loc, str]] = []
    if node is not None:
        try:
            _walk(node, (), lines, duplicates, ())
        except _RecursiveAlias as exc:
            where = ".".join(str(p) for p in exc.loc)
            raise ScenarioLoadError(
                [
                    f"{file}:{exc.line}: recursive YAML alias at {where}: it refers to the "
                    f"anchor at line {exc.anchor_line} that contains it"
                ]
            ) from None
    return data, lines, duplicates


# An unquoted JSONPath as a value: ``cid: $.items[0].id`` inside ``{ }``, where YAML reads
# "[" as the start of a list and "," as the end of the value.
_UNQUOTED_PATH = re.compile(r"(?:^|[{,\s])[\w.-]+:\s+(\$[^\s,{}'\"]*)")


def _quote_hint(line: str) -> str:
    match = _UNQUOTED_PATH.search(line)
    if match is None or any(c in match.group(1) for c in MASK_CHARS):
        return ""
    path = match.group(1)
    # A filter's path goes on past a space or a quote: then no example of it.
    example = f', e.g. "{path}"' if path.count("[") == path.count("]") else ""
    return f"; a JSONPath holding [ ] or other YAML punctuation must be quoted{example}"


_NOT_JSON_TAGS = {f"tag:yaml.org,2002:{kind}" for kind in ("set", "binary", "omap", "pairs")}


class _RecursiveAlias(Exception):
    def __init__(self, loc: Loc, line: int, anchor_line: int) -> None:
        self.loc, self.line, self.anchor_line = loc, line, anchor_line


def _walk(
    node: yaml.Node,
    loc: Loc,
    lines: dict[Loc, int],
    duplicates: list[tuple[Loc, str]],
    parents: tuple[yaml.Node, ...],
) -> None:
    lines.setdefault(loc, node.start_mark.line + 1)
    if node.tag in _NOT_JSON_TAGS:
        # A set or bytes would fail, or go out as something else, only once the run began.
        kind = node.tag.rsplit(":", 1)[-1]
        duplicates.append(
            (loc, f"YAML's !!{kind} is not a JSON-like value; use a list, a mapping or text")
        )
    if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
        # An alias is the very node of its anchor, so a node inside itself is a cycle that
        # nothing (nor this walk, nor JSON) could ever finish.
        if any(node is parent for parent in parents):
            raise _RecursiveAlias(loc, lines[loc], node.start_mark.line + 1)
        parents = (*parents, node)
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node)
            child = (*loc, key)
            if key in seen:
                duplicates.append((child, f"key {key!r} appears twice"))
            seen.add(key)
            lines[child] = key_node.start_mark.line + 1
            _walk(value_node, child, lines, duplicates, parents)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines.setdefault((*loc, index), item.start_mark.line + 1)
            _walk(item, (*loc, index), lines, duplicates, parents)


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
    hint = " (an unquoted date; quote it)" if isinstance(value, dt.date) else ""
    return f"{value!r}{hint}"


def _said(item: Any) -> str:
    """One pydantic error in words: what a pattern asks for, rather than the pattern."""
    if item["type"] == "string_pattern_mismatch":
        advice = PATTERN_ADVICE.get(str(item.get("ctx", {}).get("pattern")))
        if advice:
            return advice
    return str(item["msg"]).removeprefix("Value error, ")


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


def _validation_messages(
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
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                hint += f"; allowed: {', '.join(allowed)}"
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
        elif kind == "too_short" and loc == ("steps",):
            message = "a scenario needs at least one step"
            loc_for_field = loc
        else:
            text = _said(item)
            shown = item.get("input")
            if not isinstance(shown, dict | list):
                text += f" (got {_shown(shown)})"
            message = text
            loc_for_field = loc
        entry = _format(file, data, lines, loc, message, field_loc=loc_for_field)
        if entry not in messages:
            messages.append(entry)
    return messages


def _format(
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
