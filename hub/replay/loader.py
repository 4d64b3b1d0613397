"""Reading scenario files: YAML with line numbers, validation, and errors a person can act on.

Every problem is reported as ``FILE:LINE: step 'ID' (steps[N]), field F: what is wrong``,
all of a file's problems at once, and nothing runs until every file is clean. The YAML is
read by ``hub.replay.yamllines``; ``hub.replay.problems`` puts what is wrong in words.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import ValidationError

from hub.replay.compiling import compile_scenario
from hub.replay.files import library_hint, looks_like_scenario, yaml_files
from hub.replay.plan import ScenarioPlan
from hub.replay.problems import ScenarioLoadError, format_problem, validation_messages
from hub.replay.schemas import Scenario
from hub.replay.yamllines import parse_yaml

# ScenarioLoadError is raised from here, and caught by the pytest plugin under this name.
__all__ = ["ScenarioLoadError", "discover", "load_file", "load_paths", "load_text"]


def discover(paths: list[Path], skipped: list[Path] | None = None) -> list[Path]:
    """The scenario files named by ``paths``: files as given, folders searched recursively
    (hidden folders below them left out, as pytest leaves them).

    A YAML file found in a folder without a top-level ``steps:`` is not a scenario (a
    providers file, a registry export): it is left out, and added to ``skipped``. A file
    reached twice (named twice, or named and in a folder given too) is refused: run once,
    a second copy asked for was lost without a word; as ``hub registry apply`` does.
    """
    found: list[Path] = []
    problems: list[str] = []
    given: dict[Path, Path] = {}  # each file reached, resolved -> the argument that gave it
    for path in paths:
        if path.is_dir():
            files = yaml_files(path)
            scenarios = [p for p in files if looks_like_scenario(p)]
            others = [p for p in files if p not in scenarios]
            if skipped is not None:  # named once, even in a folder given twice
                skipped += [p for p in others if p not in skipped]
            if not scenarios:
                also = (
                    f" ({len(others)} YAML file(s) without a top-level 'steps:')" if others else ""
                )
                problems.append(f"{path}: no scenario files in this folder{also}")
        elif path.is_file():
            scenarios = [path]
        elif path.exists():  # /dev/stdin under a pipe: "no such file" of a path that is
            problems.append(
                f"{path}: not a file or folder (a pipe or a device); save the scenario to a "
                "file and name that"
            )
            continue
        else:
            problems.append(f"{path}: no such file or folder{library_hint(path)}")
            continue
        earlier = _given_before(path, scenarios, given)
        if earlier is not None:
            problems.append(_twice(path, earlier))
            continue
        found += scenarios
    if problems:
        raise ScenarioLoadError(problems)
    return found


def _given_before(path: Path, files: list[Path], given: dict[Path, Path]) -> Path | None:
    """The earlier argument that gave one of ``files`` already, if any; else they are noted
    in ``given`` as given by ``path``."""
    resolved = [f.resolve() for f in files]
    for file in resolved:
        if file in given:
            return given[file]
    given.update(dict.fromkeys(resolved, path))
    return None


def _twice(path: Path, earlier: Path) -> str:
    """Why ``path`` gives a file that ``earlier`` gave already, in a sentence."""
    here, there = path.resolve(), earlier.resolve()
    kind = "folder" if path.is_dir() else "file"
    if here == there:
        return f"{path}: this {kind} is given twice; give each {kind} once"
    if here.is_relative_to(there):
        what = f"this {kind} is inside the folder {earlier}"
    elif there.is_relative_to(here):
        what = f"this folder holds {earlier}"
    else:  # a link: the folders overlap with neither inside the other
        what = f"this folder's scenario files are reached through {earlier} too"
    return f"{path}: {what}, given before it; give each file once"


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
    messages += _same_names(plans)
    if messages:
        raise ScenarioLoadError(messages)
    return plans


def _same_names(plans: list[ScenarioPlan]) -> list[str]:
    """A sentence for each scenario named as an earlier one.

    The name is the scenario's in every report: two of one name made two JUnit suites of
    one name with the same test names, which CI (Jenkins, GitLab) merges into one or lets
    one overwrite, and JSON entries no script could tell apart. Refused, as a file given
    twice is, rather than renamed: a name the tester did not write in no report.
    """
    first: dict[str, ScenarioPlan] = {}
    problems = []
    for plan in plans:
        earlier = first.setdefault(plan.name, plan)
        if earlier is plan:
            continue
        # Where a name came from the file's, said so: neither file has it written in.
        this = ", named after its file," if plan.named_after_file else ""
        that = " (named after its file)" if earlier.named_after_file else ""
        problems.append(
            f"{plan.file}: scenario name {plan.name!r}{this} is that of {earlier.file} "
            f"too{that}; give each scenario a name of its own ('name:')"
        )
    return problems


def load_file(file: Path) -> ScenarioPlan:
    """Parse, validate and compile one scenario file."""
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ScenarioLoadError([f"{file}: cannot read: {exc.strerror or exc}"]) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScenarioLoadError([_not_utf8(file, raw, exc.start)]) from None
    return load_text(text, file=str(file), default_name=file.stem)


def _not_utf8(file: Path, raw: bytes, start: int) -> str:
    """Where a file stops being UTF-8, as a line and column, and what to do about it.

    Python's own words ("'utf-8' codec can't decode byte 0xe9 in position 9") gave a byte
    offset into the file, which no editor shows.
    """
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):  # the byte order mark of UTF-16
        return f"{file}:1:1: not UTF-8 text: the file is UTF-16; save the file as UTF-8"
    line_start = raw.rfind(b"\n", 0, start) + 1
    line = raw.count(b"\n", 0, start) + 1
    column = len(raw[line_start:start].decode("utf-8")) + 1  # all UTF-8 before ``start``
    return (
        f"{file}:{line}:{column}: not UTF-8 text (byte 0x{raw[start]:02x}); save the file as UTF-8"
    )


def load_text(text: str, *, file: str, default_name: str = "scenario") -> ScenarioPlan:
    """Parse, validate and compile one scenario given as text (``file`` names it in errors)."""
    try:
        return _load_text(text, file=file, default_name=default_name)
    except RecursionError:
        # Lists or mappings some hundreds deep: the YAML parser, the model and the
        # compiler all recurse, and Python's stack ran out in one or the other.
        raise ScenarioLoadError(
            [
                f"{file}: nested too deeply: lists or mappings hundreds of levels deep (a "
                "request body that deep can still be sent as text: 'body:' with a header "
                "Content-Type: application/json)"
            ]
        ) from None


def _load_text(text: str, *, file: str, default_name: str) -> ScenarioPlan:
    data, lines, duplicates = parse_yaml(text, file)
    if duplicates:
        raise ScenarioLoadError(
            [format_problem(file, data, lines, loc, m) for loc, m in duplicates]
        )
    other = _other_file(data)
    if other:
        raise ScenarioLoadError([f"{file}:1: {other}"])
    if not isinstance(data, dict):
        raise ScenarioLoadError(
            [
                f"{file}:1: a scenario is a mapping with a 'steps:' list (and, if wanted, "
                f"'name:', 'description:' and 'vars:'), got {_whole(data)}"
            ]
        )
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioLoadError(validation_messages(file, data, lines, exc)) from None
    plan, errors = compile_scenario(scenario, file=file, default_name=default_name)
    if errors:
        raise ScenarioLoadError([format_problem(file, data, lines, loc, m) for loc, m in errors])
    return plan


_REGISTRY_SECTIONS = ("members", "subsystems", "services", "grants")


def _other_file(data: Any) -> str | None:
    """What a file that `hub replay` was given by name holds instead of a scenario, when it
    is one of the project's other files: a key per section of it was refused else."""
    if isinstance(data, dict) and data and set(data) <= set(_REGISTRY_SECTIONS):
        return (
            f"this is a registry file ({', '.join(_REGISTRY_SECTIONS)}), not a scenario: "
            "give it to `hub registry apply`"
        )
    if (
        isinstance(data, list)
        and data
        and all(isinstance(item, dict) and {"client", "api_key"} <= set(item) for item in data)
    ):
        return (
            "this is a list of API keys (as `hub demo credentials` prints), not a scenario: "
            "give it as --credentials FILE"
        )
    return None


def _whole(data: Any) -> str:
    """What a file that is no mapping holds, in YAML's words rather than Python's type names
    ("a str"): most often a line of text, or a file that is not a scenario at all."""
    if data is None:
        return "an empty file"
    if isinstance(data, list):
        return "a list"
    if isinstance(data, str):
        shown = data if len(data) <= 60 else data[:57] + "..."
        return f"the text {shown!r}"
    if isinstance(data, bool):
        return "true" if data else "false"
    if isinstance(data, int | float):
        return f"the number {data}"
    return f"a single value ({data})"
