"""Reading scenario files: YAML with line numbers, validation, and errors a person can act on.

Every problem is reported as ``FILE:LINE: step 'ID' (steps[N]), field F: what is wrong``,
all of a file's problems at once, and nothing runs until every file is clean. The YAML is
read by ``hub.replay.yamllines``; ``hub.replay.problems`` puts what is wrong in words.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from hub.replay.compiling import compile_scenario
from hub.replay.files import SUFFIXES, looks_like_scenario
from hub.replay.plan import ScenarioPlan
from hub.replay.problems import ScenarioLoadError, format_problem, validation_messages
from hub.replay.schemas import Scenario
from hub.replay.yamllines import parse_yaml

# ScenarioLoadError is raised from here, and caught by the pytest plugin under this name.
__all__ = ["ScenarioLoadError", "discover", "load_file", "load_paths", "load_text"]


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
    try:
        return _load_text(text, file=file, default_name=default_name)
    except RecursionError:
        # Lists or mappings some hundreds deep: the YAML parser, the model and the
        # compiler all recurse, and Python's stack ran out in one or the other.
        raise ScenarioLoadError(
            [f"{file}: nested too deeply: lists or mappings hundreds of levels deep"]
        ) from None


def _load_text(text: str, *, file: str, default_name: str) -> ScenarioPlan:
    data, lines, duplicates = parse_yaml(text, file)
    if duplicates:
        raise ScenarioLoadError(
            [format_problem(file, data, lines, loc, m) for loc, m in duplicates]
        )
    if not isinstance(data, dict):
        got = "an empty file" if data is None else f"a {type(data).__name__}"
        raise ScenarioLoadError(
            [f"{file}:1: a scenario is a mapping with 'name' and 'steps', got {got}"]
        )
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioLoadError(validation_messages(file, data, lines, exc)) from None
    plan, errors = compile_scenario(scenario, file=file, default_name=default_name)
    if errors:
        raise ScenarioLoadError([format_problem(file, data, lines, loc, m) for loc, m in errors])
    return plan
