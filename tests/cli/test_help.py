"""What `hub ... --help` shows of each command's options."""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from hub.cli.main import app


def _commands(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The path of every command under ``command`` (typer's groups have ``commands``)."""
    subs = getattr(command, "commands", None)
    if not subs:
        return [path]
    return [leaf for name, sub in subs.items() for leaf in _commands(sub, (*path, name))]


COMMANDS = _commands(typer.main.get_command(app))


def test_every_command_is_walked() -> None:
    assert ("audit", "verify") in COMMANDS and ("serve",) in COMMANDS and len(COMMANDS) > 15


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) for p in COMMANDS])
def test_no_option_has_a_doubled_negative(path: tuple[str, ...]) -> None:
    # A bool parameter named no_x became "--no-x/--no-no-x" in typer.
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "--no-no-" not in result.output, result.output


def test_audit_verify_has_one_no_signatures_flag() -> None:
    result = CliRunner().invoke(app, ["audit", "verify", "--help"], env={"COLUMNS": "200"})
    options = [line.split()[1] for line in result.output.splitlines() if "--no-sig" in line]
    assert options == ["--no-signatures"], result.output
    refused = CliRunner().invoke(app, ["audit", "verify", "--no-no-signatures"])
    assert refused.exit_code == 2 and "No such option" in refused.output, refused.output


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) for p in COMMANDS])
def test_each_summary_is_one_line_in_a_wide_terminal(path: tuple[str, ...]) -> None:
    # A docstring's first paragraph wrapped in the source kept its break in the group's list
    # ("...; exit 1" then "naming the first bad record." under `hub audit --help`).
    result = CliRunner().invoke(app, [*path[:-1], "--help"], env={"COLUMNS": "200"})
    line = next(x for x in result.output.splitlines() if f" {path[-1]} " in x)
    summary = line.split(path[-1], 1)[1].strip(" │")
    assert summary.endswith((".", ")")), (path, line)


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) for p in COMMANDS])
def test_every_option_says_what_it_is_for(path: tuple[str, ...]) -> None:
    # `hub db upgrade --help` listed "--revision <str> [default: head]" and nothing else.
    command: Any = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]
    bare = [p.opts[0] for p in command.params if p.param_type_name == "option" and not p.help]
    assert bare == [], (path, bare)


GROUPS = sorted({p[:i] for p in COMMANDS for i in range(len(p) + 1)})


@pytest.mark.parametrize("path", GROUPS, ids=[" ".join(p) or "hub" for p in GROUPS])
def test_a_description_breaks_its_lines_only_where_a_sentence_or_clause_ends(
    path: tuple[str, ...],
) -> None:
    # Typer keeps a docstring's line breaks: one made mid-sentence in the source showed as
    # "...be at this hub's revision: an" with "older one is left..." under it, in any terminal.
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "1000"})
    lines = result.output.splitlines()[3:]  # past the blank line and the usage
    text = [x.strip() for x in lines[: next(i for i, x in enumerate(lines) if x[:1] in "╭")]]
    for line, after in zip(text, text[1:], strict=False):
        if line and after:
            assert line.endswith((".", ":", ";", ")")), (line, after)
