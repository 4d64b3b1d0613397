"""`hub replay`: exit codes, refusals of malformed files, reports."""

from __future__ import annotations

import contextlib
import json
import os
import pty
import re
import selectors
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from hub.cli.main import app
from hub.replay.loader import load_text

GOOD = """
name: good
steps:
  - id: find
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/echo
    expect: {status: 200}
"""
FAILING = GOOD.replace("name: good", "name: bad").replace("status: 200", "status: 201")

runner = CliRunner()


def run(*args: str) -> Any:
    return runner.invoke(app, ["replay", *args], catch_exceptions=False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("name: x\nsteps:\n  - id: a\n    client: [\n", [":5:1: bad YAML"]),
        (
            GOOD + "    expekt: {}\n",
            [":8: step 'find' (steps[0]): unknown key 'expekt' (did you mean 'expect'?)"],
        ),
        (
            GOOD.replace("    service: VN/GOV/BCA/population/echo\n", ""),
            [":4: step 'find' (steps[0]): missing required field 'service'"],
        ),
        (
            GOOD + "    capture: {cid: '$.items['}\n",
            [":8: step 'find' (steps[0]), field capture.cid: bad JSONPath '$.items['"],
        ),
        (
            GOOD + "    capture: {cid: 'items[0]'}\n",
            ["field capture.cid: bad JSONPath 'items[0]': it must start with '$'"],
        ),
        (
            GOOD.replace("/echo\n", "/echo\n    path: /c/{{ cid }\n"),
            [":7: step 'find' (steps[0]), field path: bad template '{{ cid }'"],
        ),
        (
            GOOD + "    json: {a: [1, {b: '{{ x y }}'}]}\n",
            [":8: step 'find' (steps[0]), field json.a.1.b: bad template"],
        ),
        (
            GOOD.replace("status: 200", "status: 999"),
            ["field expect.status: must be an HTTP status"],
        ),
        (  # it held for no answer: every run failed
            GOOD.replace("status: 200", "headers: {X-Road-Error: []}"),
            ["field expect.headers: X-Road-Error: an empty list accepts no value"],
        ),
        (GOOD.replace("name: good\n", "nmae: good\n"), [":2: unknown key 'nmae'"]),
        (  # A step's key that lost its indentation: "allowed: name, ..." said no more.
            GOOD.replace("    expect:", "expect:"),
            [
                ":7: unknown key 'expect'; allowed: name, description, vars, steps ('expect' "
                "is a step's key: indent it under its step, as the keys above it)"
            ],
        ),
        ("- just\n- a list\n", [":1: a scenario is a mapping"]),
        (  # As in k6's scripts: "allowed: name, ..." did not say where these go.
            GOOD.replace("name: good", "name: good\niterations: 10\nthresholds: [p95<200]"),
            [
                ":3: unknown key 'iterations'; allowed: name, description, vars, steps "
                "('iterations' is an option of the run: hub replay FILE --iterations ...)",
                ":4: unknown key 'thresholds'; allowed: name, description, vars, steps "
                "('thresholds' is an option of the run: hub replay FILE --threshold ...)",
            ],
        ),
        (
            GOOD.replace("name: good", "name: good\nduration: 30s"),
            [
                ":3: unknown key 'duration'; allowed: name, description, vars, steps "
                "('duration' is an option of the run: hub replay FILE --duration ...)"
            ],
        ),
        (
            GOOD.replace("name: good", "name: good\noptions: {vus: 10}"),
            [
                ":3: unknown key 'options'; allowed: name, description, vars, steps (k6's "
                "options are those of the run: hub replay FILE --iterations, --vus, "
                "--duration, --rate, --stages, --threshold, --timeout)"
            ],
        ),
        (GOOD + "  - fault: {provider: VN/GOV/BCA/population}\n", ["give exactly one of"]),
        (
            GOOD + "  - id: find\n    fault: {provider: A/B/C/D, clear: true}\n",
            [":8: step 'find' (steps[1]), field id: step id 'find' is used twice"],
        ),
        (  # "step steps[1], field id: step id 'step-2' is used twice": an id never written.
            GOOD.replace("id: find", "id: step-2")
            + "  - client: VN/GOV/BTP/civil-status\n    service: VN/GOV/BCA/population/echo\n",
            [
                ":8: step steps[1], field id: this step has no id, and 'step-2', the one it "
                "is given after its place, is the id of steps[0]: give one of them an id of "
                "its own"
            ],
        ),
        (
            GOOD.replace("  - id: find\n    client", "  - client")
            + "  - id: step-1\n    client: VN/GOV/BTP/civil-status\n"
            "    service: VN/GOV/BCA/population/echo\n",
            [
                ":7: step 'step-1' (steps[1]), field id: step id 'step-1' is that of steps[0] "
                "too, which has no id and is named after its place: give one of them an id of "
                "its own"
            ],
        ),
        (
            GOOD.replace("name: good", "name: good\nvars: {a: &x [*x]}"),
            [":3: recursive YAML alias at vars.a.0"],
        ),
        (
            GOOD + "    json: &j\n      a: 1\n      self: *j\n",
            [":10: recursive YAML alias at steps.0.json.self: it refers to the anchor at line 8"],
        ),
        (
            GOOD + "    query: {a: {b: 1}}\n",
            [
                ":8: step 'find' (steps[0]), field query.a: expected a string, number or "
                "boolean, or a list of them, got a mapping\n"
                "refused: 1 problem(s)"
            ],
        ),
        (
            GOOD + "    capture: {x: {path: 5}}\n",
            ["field capture.x.path: Input should be a valid string (got 5)\nrefused: 1 "],
        ),
        (
            GOOD + "    capture: {x: {path: $.a, header: X-Road-Id}}\n",
            [":8: step 'find' (steps[0]), field capture.x: give exactly one of 'path: JSONPath'"],
        ),
        (
            GOOD + "    capture: {x: {header: X-Road-Id, match: every}}\n",
            ["field capture.x.match: Input should be 'one', 'first' or 'all' (got 'every')"],
        ),
        (
            GOOD + "    capture: {x: {header: X Road}}\n",
            ["field capture.x.header: 'X Road' is not a valid header name"],
        ),
        (
            GOOD.replace("{status: 200}", "{status: 200, max_ms: true}")
            + "  - sleep: true\n  - fault: {provider: A/B/C/D, set: {error_rate: true}}\n",
            [
                "field expect.max_ms: Input should be a valid number (got true)",
                ":8: step steps[1], field sleep: Input should be a valid number (got true)",
                "field fault.set.error_rate: Input should be a valid number (got true)",
            ],
        ),
        (
            GOOD + "  - sleep: 0\n",
            [":8: step steps[1], field sleep: Input should be greater than 0"],
        ),
        (
            GOOD + "  - {sleep: 1, client: x}\n",
            [":8: step steps[1]: unknown key 'client'; allowed: id, description, sleep"],
        ),
        (
            GOOD + "    query: {dob: 1949-09-22}\n",
            ["field query.dob: expected", "got datetime.date(1949, 9, 22) (an unquoted date"],
        ),
        (
            GOOD + "    json: {1: a}\n",
            [":8: step 'find' (steps[0]), field json.1: key 1 is not text", "quote it ('1')"],
        ),
        (
            GOOD.replace("name: good", 'name: good\nvars: {dossier: "D-{{ nope }}"}'),
            [":3: field vars.dossier: variable 'nope' is not defined: vars may use run.iteration"],
        ),
        (
            GOOD.replace("name: good", 'name: good\nvars: {q: "$.items["}')
            + '    capture: {cid: "{{ q }}"}\n',
            [":9: step 'find' (steps[0]), field capture.cid: var 'q': bad JSONPath '$.items['"],
        ),
        (GOOD.replace("steps:", "name: again\nsteps:"), [":3:", "'name' appears twice"]),
        (  # It fell back to the file name without a word.
            GOOD.replace("name: good", 'name: " "'),
            [
                ":2: field name: the name is empty; give the scenario a name, or leave out "
                "'name:' to name it after its file"
            ],
        ),
        (  # Named on the command line: five lines on 'steps' and unknown keys.
            "members: []\nsubsystems: []\nservices: []\ngrants: []\n",
            [
                ":1: this is a registry file (members, subsystems, services, grants), not a "
                "scenario: give it to `hub registry apply`\nrefused: 1 problem(s)"
            ],
        ),
        (
            '[{"client": "VN/GOV/BTP/civil-status", "api_key": "k", "services": []}]\n',
            [
                ":1: this is a list of API keys (as `hub demo credentials` prints), not a "
                "scenario: give it as --credentials FILE"
            ],
        ),
        (  # It said the name was not valid, not what one is.
            GOOD.replace("name: good", "name: good\nvars: {tên: 1}"),
            [
                ":3: field vars: variable name 'tên' is not a valid variable name: ASCII "
                "letters, digits, '_' and '-', starting with a letter or '_' (e.g. cid, "
                "mother_id)"
            ],
        ),
        (
            GOOD + "    capture: {run: $.id}\n",
            [
                ":8: step 'find' (steps[0]), field capture: capture name 'run' is taken by "
                "run.iteration and run.id: give it another name"
            ],
        ),
        (  # It broke the report's title in two and went to the terminal raw (an ESC).
            GOOD.replace("name: good", 'name: "bank\\nekyc"'),
            [
                ":2: field name: the name holds a line break (\\n); a name is one line "
                "of text: remove it"
            ],
        ),
        (
            GOOD.replace("name: good", 'name: "bank\\x1b[31mekyc"'),
            [":2: field name: the name holds the control character \\x1b;"],
        ),
        (
            GOOD + "    headers: {X Road-UserId: officer-01}\n",
            [
                ":8: step 'find' (steps[0]), field headers.X Road-UserId: 'X Road-UserId' is not "
                "a valid header name"
            ],
        ),
        (
            GOOD.replace("{status: 200}", "{headers: {'X-Road-Error:': null}}"),
            ["field expect.headers.X-Road-Error:: 'X-Road-Error:' is not a valid header name"],
        ),
        (
            GOOD + "    json: {age: .nan, n: [1, -.inf]}\n",
            [
                ":8: step 'find' (steps[0]), field json.age: .nan is not a JSON number",
                "field json.n.1: -.inf is not a JSON number",
            ],
        ),
        (
            # Each iteration failed unsent on it, its request head (API key too) in the report.
            GOOD + '    headers: {X-Note: "\\ud83d\\ude00"}\n    json: {"\\udc00": 1}\n',
            [
                ":8: step 'find' (steps[0]), field headers.X-Note: the text holds \\ud83d, half "
                "of a UTF-16 surrogate pair, which UTF-8 cannot carry; write the character "
                "itself, or one beyond \\uffff as \\U and 8 hex digits (e.g. \\U0001F600)",
                ":9: step 'find' (steps[0]), field json.",
            ],
        ),
        (
            GOOD + "    json: {tags: !!set {a, b}, raw: !!binary aGVsbG8=}\n",
            [
                "field json.tags: YAML's !!set is not a JSON-like value",
                "field json.raw: YAML's !!binary is not a JSON-like value",
            ],
        ),
        (
            GOOD + "    path: /citizens/{{ cdi }}\n",
            [
                ":8: step 'find' (steps[0]), field path: variable 'cdi' is not defined: no var "
                "declares it and no earlier step captures it (defined here: run.iteration, run.id)"
            ],
        ),
        (
            # It said "field json" at the json: line, for a name deep in a long body.
            GOOD + "    json:\n      a: 1\n      b: {c: [1, '{{ cdi }}']}\n",
            [
                ":10: step 'find' (steps[0]), field json.b.c.1: variable 'cdi' is not defined",
            ],
        ),
        (
            GOOD
            + "    path: /c/{{ cid }}/{{ run.iter }}\n"
            + "  - id: later\n    client: VN/GOV/BTP/civil-status\n"
            + "    service: VN/GOV/BCA/population/echo\n    capture: {cid: $.id}\n",
            [
                "field path: variable 'cid' is not defined: only a later step captures it, "
                "step 'later' (steps[1])",
                "field path: 'run.iter' does not exist: run has only run.iteration, run.id",
            ],
        ),
        (
            # It said "captured only by a later step ('find')" of the step itself.
            GOOD.replace("status: 200", "headers: {X-Road-Id: '{{ rid }}'}")
            + "    capture: {rid: {header: X-Road-Id}}\n",
            [
                ":7: step 'find' (steps[0]), field expect.headers.X-Road-Id: variable 'rid' is "
                "not defined: this step captures it, after its request and checks; capture it "
                "in an earlier step to use it here",
            ],
        ),
        (  # The docs write `json: {$.match: true}`; a path with [ ] there needs quotes too.
            GOOD.replace("{status: 200}", "{json: {$.match: true, $.items[0].id: x}}"),
            [
                ":7:43: bad YAML: expected ',' or '}', but got '['",
                "a JSONPath holding [ ] or other YAML punctuation must be quoted, "
                'e.g. "$.items[0].id"',
            ],
        ),
        (  # PyYAML's token names alone: "expected <block end>, but found '?'"
            GOOD.replace("    expect:", "  expect:"),
            [
                ":7:3: bad YAML: expected <block end>, but found '?' (while parsing a block "
                "collection); check this line's indentation: a key lines up with the other "
                "keys of its mapping, a '- ' with the other items of its list"
            ],
        ),
        (  # PyYAML's words only: "found character '\t' that cannot start any token".
            GOOD.replace("    expect:", "\texpect:"),
            [
                ":7:1: bad YAML: found character '\\t' that cannot start any token (while "
                "scanning for the next token); YAML indents with spaces, not tabs: replace "
                "this line's tabs with spaces"
            ],
        ),
        (
            GOOD.replace("    expect:", "      expect:"),
            [
                ":7:13: bad YAML: mapping values are not allowed here; a key indented deeper "
                "than the key above it, or a value holding ': ' that needs quotes"
            ],
        ),
        (
            GOOD + "    capture: {cid: $.items[0].id}\n",
            [
                ":8:27: bad YAML: expected ',' or '}', but got '['",
                "a JSONPath holding [ ] or other YAML punctuation must be quoted, "
                'e.g. "$.items[0].id"',
            ],
        ),
    ],
)
def test_malformed_files_are_refused_before_anything_runs(
    write: Callable[..., Path], text: str, expected: list[str]
) -> None:
    path = write(text)
    # No hub listens on port 9: a run that started would fail differently (exit 1).
    result = run(str(path), "--hub", "http://127.0.0.1:9")
    assert result.exit_code == 2, result.output
    for fragment in expected:
        assert fragment in result.output
    assert str(path) in result.output
    assert "Traceback" not in result.output
    assert "nothing was run" in result.output


def test_aliases_of_aliases_are_refused_rather_than_expanded(
    write: Callable[..., Path],
) -> None:
    # Six levels of nine aliases: 531,441 values from eight lines, each walked and compiled
    # (seconds); nine levels ("billion laughs") held `hub replay` for hours.
    levels = ['  l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    levels += [f"  l{n}: &l{n} [{', '.join([f'*l{n - 1}'] * 9)}]" for n in range(1, 6)]
    path = write(GOOD.replace("name: good", "name: good\nvars:\n" + "\n".join(levels)))
    result = run(str(path), "--hub", "http://127.0.0.1:9")
    assert result.exit_code == 2, result.output
    assert f"{path}:" in result.output
    assert f"{path}:9: YAML aliases at vars.l5." in result.output
    assert "refer to each anchor fewer times" in result.output
    assert "nothing was run" in result.output


@pytest.mark.parametrize(
    ("replace", "said"),
    [
        (
            ("status: 200", "status: " + "9" * 5000),
            ":7:22: bad YAML: a whole number of 5000 digits",
        ),
        (("name: good", "name: 2024-13-01"), ":2:7: bad YAML: '2024-13-01' is no date"),
        (("name: good", "name: good\nvars: {when: 2024-02-30}"), ":3:14: bad YAML: '2024-02-30'"),
    ],
)
def test_a_value_python_cannot_make_is_a_refusal_with_its_line(
    write: Callable[..., Path], replace: tuple[str, str], said: str
) -> None:
    # A 5000-digit number or a date that does not exist was a ValueError's traceback.
    path = write(GOOD.replace(*replace))
    result = run(str(path), "--hub", "http://127.0.0.1:9")
    assert result.exit_code == 2, result.output
    assert f"{path}{said}" in result.output
    assert "Traceback" not in result.output and "nothing was run" in result.output
    # As a --fault's settings too.
    fault = "VN/GOV/BCA/population={latency_ms: " + "9" * 5000 + "}"
    result = run(str(write(GOOD)), "--hub", "http://127.0.0.1:9", "--fault", fault)
    assert result.exit_code == 2, result.output
    assert "a whole number of 5000 digits" in result.output


def test_a_few_aliases_are_taken(write: Callable[..., Path]) -> None:
    headers = "    headers: *h\n"
    steps = "".join(
        f"  - id: s{n}\n    client: VN/GOV/BTP/civil-status\n"
        f"    service: VN/GOV/BCA/population/echo\n{headers}"
        for n in range(2000)
    )
    text = "name: many\nvars: {h: &h {X-Road-UserId: o, X-Road-Issue: i}}\nsteps:\n" + steps
    plan = load_text(text, file="many.yaml")
    assert len(plan.steps) == 2000


@pytest.mark.parametrize(
    ("old", "new", "said"),
    [
        (
            "client: VN/GOV/BTP/civil-status",
            "client: bad client",
            ":5: step 'find' (steps[0]), field client: must be a subsystem id "
            "INSTANCE/CLASS/MEMBER/SUBSYSTEM such as VN/GOV/BTP/civil-status (got 'bad client')",
        ),
        (
            "service: VN/GOV/BCA/population/echo",
            "service: VN/GOV/BCA/population",
            ":6: step 'find' (steps[0]), field service: must be a service id "
            "INSTANCE/CLASS/MEMBER/SUBSYSTEM/SERVICE such as "
            "VN/GOV/BCA/population/citizen-lookup (got 'VN/GOV/BCA/population')",
        ),
        (
            "    expect:",
            "    method: FETCH\n    expect:",
            ":7: step 'find' (steps[0]), field method: must be one of GET, POST, PUT, PATCH, "
            "DELETE, HEAD, OPTIONS (got 'FETCH')",
        ),
        (
            "id: find",
            "id: find me",
            ":4: step 'find me' (steps[0]), field id: must be letters, digits, '_', '.' and "
            "'-' only, such as find-citizen (got 'find me')",
        ),
        (
            "    expect: {status: 200}",
            "  - fault: {provider: population, clear: true}",
            ":7: step steps[1], field fault.provider: must be a subsystem id "
            "INSTANCE/CLASS/MEMBER/SUBSYSTEM such as VN/GOV/BTP/civil-status (got 'population')",
        ),
    ],
    ids=["client", "service", "method", "step id", "fault provider"],
)
def test_a_malformed_identifier_says_what_a_valid_one_looks_like(
    write: Callable[..., Path], old: str, new: str, said: str
) -> None:
    # It showed pydantic's regex: String should match pattern '^[^/\s]+/[^/\s]+/...$'.
    path = write(GOOD.replace(old, new))
    result = run(str(path), "--hub", "http://127.0.0.1:9")
    assert result.exit_code == 2, result.output
    assert f"{path}{said}\n" in result.output
    assert "pattern" not in result.output


@pytest.mark.parametrize(
    ("text", "said"),
    [
        # Pydantic's words: "List should have at least 1 item after validation, not 0".
        ("name: x\nsteps: []\n", ":2: field steps: a scenario needs at least one step"),
        # "Input should be a valid dictionary": YAML and JSON say mapping.
        (
            GOOD.replace("expect: {status: 200}", "expect: {json: [1]}"),
            ":7: step 'find' (steps[0]), field expect.json: expected a mapping "
            "(key: value), got a list",
        ),
        ("vars: [a]\n" + GOOD, ":1: field vars: expected a mapping (key: value), got a list"),
        # "Input should be a valid list (got null)": `steps:` with nothing under it.
        ("name: x\nsteps:\n", ":2: field steps: a scenario needs at least one step"),
        (
            "name: x\nsteps:\n  id: a\n",
            ":2: field steps: expected a list of steps (each starting with '- '), got a mapping",
        ),
        # "Input should be a valid string", without what it got nor where JSON goes.
        (
            GOOD + "    body: {a: 1}\n",
            ":8: step 'find' (steps[0]), field body: Input should be a valid string (got a "
            "mapping); a JSON body goes under 'json:'",
        ),
        (
            GOOD.replace("name: good", "name: [a]"),
            ":2: field name: Input should be a valid string (got a list)",
        ),
        # "Input should be a valid list", of one stub written without its `- `.
        (
            GOOD + "  - stub: {provider: A/B/C/D, add: {method: GET, path: /x, status: 503}}\n",
            ":8: step steps[1], field stub.add: expected a list (each item starting with "
            "'- '), got a mapping",
        ),
        # A scenario that is not a mapping: "got a str", in Python's words, and 'name'
        # said to be needed where a scenario may leave it out.
        (
            "hello world\n",
            ":1: a scenario is a mapping with a 'steps:' list (and, if wanted, 'name:', "
            "'description:' and 'vars:'), got the text 'hello world'",
        ),
        ("42\n", ":1: a scenario is a mapping with a 'steps:' list (and, if wanted, "),
    ],
    ids=[
        "no steps",
        "json list",
        "vars list",
        "steps null",
        "steps mapping",
        "body mapping",
        "name list",
        "stubs mapping",
        "text",
        "number",
    ],
)
def test_a_wrong_shape_is_said_in_the_words_of_yaml(
    write: Callable[..., Path], text: str, said: str
) -> None:
    path = write(text)
    result = run(str(path), "--hub", "http://127.0.0.1:9")
    assert result.exit_code == 2, result.output
    assert f"{path}{said}" in result.output
    assert "got a str" not in result.output and "got a int" not in result.output


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            GOOD + "  - sleep: 1s\n",
            ":8: step steps[1], field sleep: Input should be a valid "
            "number (got '1s'); give seconds as a number, without a unit: sleep: 1",
        ),
        (
            GOOD + "  - sleep: 500ms\n",
            "field sleep: Input should be a valid number (got "
            "'500ms'); give seconds as a number, without a unit: sleep: 0.5",
        ),
        (
            GOOD.replace("{status: 200}", "{status: 200, max_ms: 2s}"),
            ":7: step 'find' (steps[0]), field expect.max_ms: Input should be a valid number "
            "(got '2s'); give milliseconds as a number, without a unit: max_ms: 2000",
        ),
        (
            GOOD.replace("{status: 200}", "{status: 200, max_ms: 250 ms}"),
            "(got '250 ms'); give milliseconds as a number, without a unit: max_ms: 250",
        ),
        (
            GOOD + "  - fault: {provider: A/B/C/D, set: {latency_ms: 1.5s}}\n",
            ":8: step steps[1], field fault.set.latency_ms: Input should be a valid number "
            "(got '1.5s'); give milliseconds as a number, without a unit: latency_ms: 1500",
        ),
        (
            GOOD + "  - sleep: 1m30s\n",
            "(got '1m30s'); give seconds as a number, without a unit: sleep: 90",
        ),
        (
            GOOD + '  - sleep: "1.5"\n',
            "field sleep: Input should be a valid number (got '1.5'); write the number "
            "without quotes: sleep: 1.5",
        ),
        (  # It said to write 1e3 without quotes: it was, and YAML 1.1 reads it as text.
            GOOD.replace("{status: 200}", "{status: 200, max_ms: 1e3}"),
            "(got '1e3'); YAML reads 1e3 as text, not as a number (its exponent needs a "
            "'.' before it and a sign): write max_ms: 1000",
        ),
        (
            GOOD + "  - sleep: 2.5e1\n",
            "(got '2.5e1'); YAML reads 2.5e1 as text, not as a number (its exponent needs "
            "a '.' before it and a sign): write sleep: 25",
        ),
        (
            GOOD + "  - sleep: 1e-05\n",
            "YAML reads 1e-05 as text, not as a number (its exponent needs a '.' before it "
            "and a sign): write sleep: 1.0e-05",
        ),
        (  # It said to write inf without quotes, as it was.
            GOOD + "  - sleep: inf\n",
            "(got 'inf'); YAML reads inf as text: give a finite number of seconds, e.g. sleep: 1",
        ),
    ],
    ids=[
        "sleep s",
        "sleep ms",
        "max_ms s",
        "max_ms ms",
        "fault latency s",
        "sleep compound",
        "sleep quoted",
        "max_ms exponent",
        "sleep exponent",
        "sleep small exponent",
        "sleep inf",
    ],
)
def test_a_number_given_with_a_unit_says_the_number_to_write(
    write: Callable[..., Path], text: str, said: str
) -> None:
    # k6's users write `sleep: 1s` and `max_ms: 2s`; pydantic said only "a valid number".
    path = write(text)
    result = run(str(path), "--hub", "http://127.0.0.1:9")
    assert result.exit_code == 2, result.output
    assert said in result.output


@pytest.mark.parametrize(
    "url", ["127.0.0.1:8000", "notaurl", "ftp://hub", "http://", "http://hub:99999"]
)
def test_a_hub_url_that_cannot_be_called_is_refused_before_anything_runs(
    write: Callable[..., Path], tmp_path: Path, url: str
) -> None:
    # It used to run, and report every step of every iteration failed ("only http and
    # https URLs"), exit status 1 as if the hub had answered wrong.
    creds = tmp_path / "creds.json"
    creds.write_text('[{"client": "VN/GOV/BTP/civil-status", "api_key": "k", "services": []}]')
    result = run(str(write(GOOD)), "--hub", url, "--credentials", str(creds))
    assert result.exit_code == 2, result.output
    assert f"--hub {url!r} is not the hub's base URL" in result.output
    assert "nothing was run" in result.output


def test_every_problem_of_every_file_is_listed(write: Callable[..., Path], tmp_path: Path) -> None:
    write(GOOD.replace("name: good", "name: a\nfoo: 1"), "a.yaml")
    write(GOOD.replace("service:", "servise:"), "sub/b.yml")
    write("not: a scenario\n", "sub/c.txt")
    z = write("x: 1", "z.yaml")
    result = run(str(tmp_path))
    assert result.exit_code == 2
    assert "a.yaml:3: unknown key 'foo'" in result.output
    assert "b.yml" in result.output and "unknown key 'servise'" in result.output
    assert f"skipped 1 YAML file(s) without a top-level 'steps:' (not scenarios): {z}" in (
        " ".join(result.output.split())
    )
    assert "c.txt" not in result.output
    # Named on its own, a file is a scenario whatever it holds: its problem is said.
    named = run(str(z), "--hub", "http://127.0.0.1:9")
    assert named.exit_code == 2 and f"{z}:1: unknown key 'x'" in named.output


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        # "cannot read: 'utf-8' codec can't decode byte 0xe9 in position 9: ...".
        (
            "name: caf\u00e9\nsteps: []\n".encode("latin-1"),
            ":1:10: not UTF-8 text (byte 0xe9); save the file as UTF-8",
        ),
        (
            "name: x\nsteps: []\n".encode("utf-16"),
            ":1:1: not UTF-8 text: the file is UTF-16; save the file as UTF-8",
        ),
        # A traceback: PyYAML refuses control characters before it parses anything.
        (
            b"name: x\nsteps:\n  - id: a\x00b\n",
            ":3:10: bad YAML: the control character \\x00 is not allowed in YAML files; "
            'remove it, or write it as an escape in double quotes ("\\x00")',
        ),
        (
            b"name: x\x1b[0m\nsteps: []\n",
            ":1:8: bad YAML: the control character \\x1b is not allowed",
        ),
    ],
    ids=["latin-1", "utf-16", "nul", "esc"],
)
def test_a_file_that_is_not_yaml_text_is_refused_with_its_line(
    tmp_path: Path, raw: bytes, said: str
) -> None:
    path = tmp_path / "scenario.yaml"
    path.write_bytes(raw)
    result = run(str(path), "--hub", "http://127.0.0.1:9")
    assert result.exit_code == 2, result.output
    assert f"{path}{said}" in result.output
    assert "nothing was run" in result.output


def test_a_pipe_is_refused_as_what_it_is(tmp_path: Path) -> None:
    # `cat x.yaml | hub replay /dev/stdin` said "no such file or folder" of a path that is.
    fifo = tmp_path / "scenario.yaml"
    os.mkfifo(fifo)
    result = run(str(fifo), "--hub", "http://127.0.0.1:9")
    assert result.exit_code == 2, result.output
    assert (
        f"{fifo}: not a file or folder (a pipe or a device); save the scenario to a file "
        "and name that"
    ) in " ".join(result.output.split())


def test_missing_path_and_empty_folder(tmp_path: Path) -> None:
    assert run(str(tmp_path / "nope.yaml")).exit_code == 2
    result = run(str(tmp_path))
    assert result.exit_code == 2 and "no scenario files in this folder" in result.output


def test_a_missing_scenarios_path_names_the_shipped_library(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `hub replay scenarios/bank-ekyc.yaml`, as docs/scenarios.md writes it, run outside the
    # checkout (a hub installed from its wheel) said only "no such file or folder".
    library = Path(__file__).resolve().parents[2] / "scenarios"
    monkeypatch.chdir(tmp_path)
    result = run("scenarios/bank-ekyc.yaml", "scenarios/nope.yaml", "--hub", "http://127.0.0.1:9")
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    assert (
        f"scenarios/bank-ekyc.yaml: no such file or folder; the hub's own scenarios are in "
        f"{library}: hub replay {library / 'bank-ekyc.yaml'}"
    ) in said
    assert (
        f"scenarios/nope.yaml: no such file or folder; the hub's own scenarios are in {library}"
        in said
    )
    assert "nothing was run" in said
    # In the checkout, where scenarios/ is the library, a typo gets no such pointer.
    monkeypatch.chdir(library.parent)
    result = run("scenarios/nope.yaml", "--hub", "http://127.0.0.1:9")
    assert result.exit_code == 2, result.output
    assert "scenarios/nope.yaml: no such file or folder\n" in result.output


def test_a_scenario_file_given_twice_is_refused(
    write: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # It ran once, without a word, where twice was asked for.
    write(GOOD, "scen/good.yaml")
    write(GOOD.replace("name: good", "name: other"), "scen/sub/other.yaml")
    monkeypatch.chdir(tmp_path)
    cases = {
        ("scen/good.yaml", "scen/../scen/good.yaml"): (
            "scen/../scen/good.yaml: this file is given twice; give each file once"
        ),
        ("scen", "scen/good.yaml"): (
            "scen/good.yaml: this file is inside the folder scen, given before it; "
            "give each file once"
        ),
        ("scen/sub", "scen"): (
            "scen: this folder holds scen/sub, given before it; give each file once"
        ),
        ("scen", str(tmp_path / "scen")): (
            f"{tmp_path / 'scen'}: this folder is given twice; give each folder once"
        ),
    }
    for paths, said in cases.items():
        result = run(*paths, "--hub", "http://127.0.0.1:9")
        assert result.exit_code == 2, result.output
        assert said in " ".join(result.output.split())
        assert "nothing was run" in result.output


def test_two_scenarios_of_one_name_are_refused(
    write: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two files named alike made two JUnit suites of one name and the same test names,
    which Jenkins and GitLab merge into one (or one overwrites the other), and two JSON
    reports' scenarios no script could tell apart."""
    write(GOOD, "scen/good.yaml")
    write(GOOD.replace("status: 200", "status: 201"), "scen/copy.yaml")  # name: good too
    write(GOOD.replace("name: good\n", ""), "a/smoke.yaml")  # named after the file
    write(GOOD.replace("name: good", "name: smoke"), "b/smoke-2.yaml")
    write(GOOD.replace("name: good", "name: other"), "c/other.yaml")
    monkeypatch.chdir(tmp_path)
    result = run("scen", "a", "b", "c", "--hub", "http://127.0.0.1:9")
    said = " ".join(result.output.split())
    assert result.exit_code == 2, result.output
    assert (  # a folder's files in order
        "scen/good.yaml: scenario name 'good' is that of scen/copy.yaml too; give each "
        "scenario a name of its own ('name:')"
    ) in said, said
    assert (
        "b/smoke-2.yaml: scenario name 'smoke' is that of a/smoke.yaml too (named after its "
        "file); give each scenario a name of its own ('name:')"
    ) in said, said
    assert "other" not in said and "refused: 2 problem(s); nothing was run." in said


def test_a_folder_with_other_yaml_runs_its_scenarios_as_pytest_does(
    fake_hub: Any, write: Callable[..., Path], tmp_path: Path
) -> None:
    # A providers file or a registry export beside the scenarios refused the whole run,
    # while `pytest scenarios/` skipped them.
    write(GOOD, "scen/good.yaml")
    providers = write("VN/GOV/BCA/population: http://127.0.0.1:8001\n", "scen/providers.yaml")
    export = write("members: []\nsubsystems: []\n", "scen/registry.yml")
    result = run(str(tmp_path / "scen"), "--hub", fake_hub.url)
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert (
        "skipped 2 YAML file(s) without a top-level 'steps:' (not scenarios): "
        f"{providers}, {export}" in output
    )
    assert "1 of 1 scenarios passed" in output
    only_others = run(str(write("x: 1\n", "none/p.yaml").parent))
    assert only_others.exit_code == 2
    assert "no scenario files in this folder (1 YAML file(s) without a top-level 'steps:')" in (
        only_others.output
    )


def test_a_folder_search_skips_hidden_folders_and_takes_any_case_of_suffix(
    fake_hub: Any, write: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `hub replay .` ran the scenarios of .venv and .git; X.YAML was not found at all.
    write(GOOD, "proj/scen/upper.YAML")
    write(GOOD.replace("name: good", "name: yml"), "proj/scen/deep/x.Yml")
    write(FAILING, "proj/.venv/lib/site/pkg/failing.yaml")
    write(FAILING, "proj/scen/.cache/failing.yaml")
    write(FAILING, "proj/venv/lib/site/pkg/failing.yaml")
    write("home = /usr/bin\n", "proj/venv/pyvenv.cfg")
    write("steps: [", "proj/.git/broken.yaml")
    monkeypatch.chdir(tmp_path / "proj")
    result = run(".", "--hub", fake_hub.url)
    assert result.exit_code == 0, result.output
    assert "2 of 2 scenarios passed" in " ".join(result.output.split())
    # A hidden folder named on the command line is searched, and its hidden folders not.
    named = run(".venv", "--hub", fake_hub.url)
    assert named.exit_code == 1 and "0 of 1 scenarios passed" in " ".join(named.output.split())


def test_exit_codes_and_reports(fake_hub: Any, write: Callable[..., Path], tmp_path: Path) -> None:
    good = write(GOOD, "good.yaml")
    assert run(str(good), "--hub", fake_hub.url).exit_code == 0

    bad = write(FAILING, "bad.yaml")
    junit, report = tmp_path / "junit.xml", tmp_path / "report.json"
    result = run(
        str(good), str(bad), "--hub", fake_hub.url, "--iterations", "3",
        "--junit", str(junit), "--json", str(report),
    )  # fmt: skip
    assert result.exit_code == 1
    assert "bad" in result.output and "status: expected 201, got 200" in result.output

    document = json.loads(report.read_text())
    assert document["ok"] is False
    bad_step = document["scenarios"][1]["steps"][0]
    assert (bad_step["runs"], bad_step["failed"]) == (3, 3)
    assert bad_step["first_failure"]["x_road_id"]
    latency = bad_step["latency_ms"]
    assert list(latency) == ["min", "mean", "p50", "p90", "p95", "p99", "max"]
    assert latency["min"] <= latency["mean"] <= latency["max"]
    assert latency["min"] <= latency["p50"] <= latency["p90"] <= latency["p95"] <= latency["max"]
    assert "mean" in result.output and "p90" in result.output
    # Per step, every answer by status and X-Road-Error code, not only the first failure.
    assert (bad_step["statuses"], bad_step["x_road_errors"]) == ({"200": 3}, {})
    assert "200×3" in result.output
    # ISO UTC timestamps, to line the run up with the hub's operator API.
    started, ended = document["started_at"], document["ended_at"]
    assert started.endswith("Z") and ended.endswith("Z")
    assert datetime.fromisoformat(started) <= datetime.fromisoformat(ended)
    assert document["scenarios"][1]["started_at"] >= document["scenarios"][0]["ended_at"]

    root = ET.parse(junit).getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures")) == ("2", "1")
    suites = root.findall("testsuite")
    assert [s.get("name") for s in suites] == ["good", "bad"]
    for suite in suites:
        for attribute in ("name", "tests", "failures", "errors", "time"):
            assert suite.get(attribute) is not None
        for case in suite.findall("testcase"):
            assert case.get("name") and case.get("classname") and float(case.get("time", "")) >= 0
            assert {child.tag for child in case} <= {"failure", "skipped"}
    failure = suites[1].find("testcase/failure")
    assert failure is not None
    assert failure.get("type") == "status" and "X-Road-Id" in (failure.text or "")


def test_no_credentials_is_a_clear_refusal(fake_hub: Any, write: Callable[..., Path]) -> None:
    fake_hub.demo = False
    result = run(str(write(GOOD)), "--hub", fake_hub.url)
    assert result.exit_code == 2
    assert "--credentials" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize("key", ["key\n", "key\r\nX-Injected: 1", "\x00key"])
@pytest.mark.parametrize("shape", ["list", "mapping"])
def test_a_key_no_header_can_carry_is_refused_when_the_file_is_read(
    fake_hub: Any, write: Callable[..., Path], tmp_path: Path, key: str, shape: str
) -> None:
    # A key with a line break (a file edited by hand) ended the run in a traceback of
    # aiohttp's header check.
    client = "VN/GOV/BTP/civil-status"
    creds = tmp_path / "creds.json"
    data: Any = [{"client": client, "api_key": key}] if shape == "list" else {client: key}
    creds.write_text(json.dumps(data))
    broken = run(str(write(GOOD)), "--hub", fake_hub.url, "--credentials", str(creds))
    assert broken.exit_code == 2 and "Traceback" not in broken.output, broken.output
    assert (
        f"{creds}: the API key of {client} holds a line break or another control character, "
        "which no header can carry" in " ".join(broken.output.split())
    )
    assert fake_hub.arrivals == []
    creds.write_text(json.dumps([{"client": client, "api_key": "key-civil"}]))
    good = run(str(write(GOOD)), "--hub", fake_hub.url, "--credentials", str(creds))
    assert good.exit_code == 0, good.output


@pytest.mark.parametrize("duration", ["soon", "", " "])
def test_bad_duration_is_a_usage_error(write: Callable[..., Path], duration: str) -> None:
    # An empty one (`--duration "$D"` with D unset) ran the scenario once instead.
    result = run(str(write(GOOD)), "--duration", duration)
    assert result.exit_code == 2 and "not a duration" in result.output
    # It said "Invalid value: 'soon' is not a duration", naming no option.
    assert "Invalid value for '--duration'" in result.output


@pytest.mark.parametrize("rate", ["inf", "1e400"])
def test_an_infinite_rate_is_a_usage_error(write: Callable[..., Path], rate: str) -> None:
    # It was taken, and with --duration the schedule never ended (nor heeded Ctrl-C).
    result = run(str(write(GOOD)), "--rate", rate, "--duration", "1")
    assert result.exit_code == 2 and "--rate" in result.output and "finite" in result.output


def _stop_mid_run(cmd: list[str], fake_hub: Any, signum: int) -> tuple[int, str, str]:
    """Start ``cmd``, send ``signum`` once the load is going; its status, stdout, stderr."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while len(fake_hub.arrivals) < 20:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the load never started"
            time.sleep(0.05)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, " ".join(out.decode().split()), " ".join(err.decode().split())


@pytest.mark.parametrize(
    "model", [["--concurrency", "2"], ["--rate", "50"]], ids=["closed", "open"]
)
def test_ctrl_c_stops_the_load_and_still_reports_what_ran(
    fake_hub: Any, write: Callable[..., Path], tmp_path: Path, model: list[str]
) -> None:
    # k6's way: the first Ctrl-C starts no new iteration and reports; before, a 60 s load
    # stopped by Ctrl-C exited 130 with no figures at all and no --json.
    first, second = write(GOOD, "a.yaml"), write(GOOD.replace("good", "later"), "b.yaml")
    report, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    cmd = [sys.executable, "-m", "hub", "replay", str(first), str(second), "--hub", fake_hub.url]
    cmd += ["--duration", "60s", "--json", str(report), "--junit", str(junit), *model]
    status, stdout, stderr = _stop_mid_run(cmd, fake_hub, signal.SIGINT)
    assert status == 130, (stdout, stderr)
    # The whole report is on stdout, the "interrupted" lines too.
    assert "interrupted: 0 of 2 scenario(s) ran in full, 'good' was cut short" in stdout
    assert "find" in stdout  # the table of the step that ran
    # Not "1 of 1 scenarios passed; all expectations held" with 2 given; and the counts
    # add up: a scenario cut short is not passed.
    assert "interrupted: 0 of 2 scenarios passed; 0 failed; 1 cut short; 1 did not run" in stdout
    assert "CUT SHORT good" in stdout
    assert "all expectations held" not in stdout
    assert "interrupted" not in stderr.replace("stopping (Ctrl-C)", "")
    assert "(Ctrl-C again to abort them and quit without a report)" in stderr
    document = json.loads(report.read_text())
    assert document["interrupted"] is True and document["ok"] is False
    assert document["stopped_by"] == "Ctrl-C"
    [ran] = document["scenarios"]  # the second scenario never started
    assert ran["name"] == "good" and ran["interrupted"] is True and ran["ok"] is False
    assert ran["iterations"]["started"] >= 1 and ran["duration_s"] < 50
    assert document["not_run"] == [{"name": "later", "file": str(second)}]
    good, later = ET.parse(junit).getroot().findall("testsuite")
    marker = good.find("testcase[@name='interrupted']/skipped")
    assert marker is not None and "cut short" in marker.get("message", "")
    assert later.get("name") == "later" and later.get("skipped") == "1"
    skipped = later.find("testcase[@name='find']/skipped")
    assert skipped is not None and "not run" in skipped.get("message", "")


FAULT_LEFT_ON = GOOD.replace(
    "steps:\n",
    "steps:\n  - id: slow-down\n    fault: {provider: VN/GOV/BCA/population, "
    "set: {latency_ms: 1}}\n",
)


@pytest.mark.parametrize(
    ("signum", "status", "name"),
    [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGHUP, 129, "SIGHUP")],
    ids=["SIGTERM", "SIGHUP"],
)
def test_sigterm_and_sighup_stop_like_ctrl_c_and_clear_the_faults(
    fake_hub: Any, write: Callable[..., Path], tmp_path: Path, signum: int, status: int, name: str
) -> None:
    # CI timeouts, `timeout` and `docker stop` send SIGTERM: the run died with 143, no
    # report, and the mock kept the fault the scenario had switched on.
    report, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    cmd = [sys.executable, "-m", "hub", "replay", str(write(FAULT_LEFT_ON)), "--hub", fake_hub.url]
    cmd += ["--duration", "60s", "--concurrency", "2", "--json", str(report), "--junit", str(junit)]
    got, stdout, stderr = _stop_mid_run(cmd, fake_hub, signum)
    assert got == status, (stdout, stderr)
    assert fake_hub.faults[0] == ("PUT", {"latency_ms": 1})
    assert fake_hub.faults[-1] == ("DELETE", None)  # cleared before the process ended
    assert "1 cut short; 0 did not run" in stdout and f"(stopped by {name})" in stdout
    # It said "Ctrl-C again to abort" of a run that no Ctrl-C had stopped.
    assert f"({name} or Ctrl-C again to abort them and quit without a report)" in stderr
    document = json.loads(report.read_text())
    assert document["interrupted"] is True and document["stopped_by"] == name
    marker = ET.parse(junit).getroot().find("testsuite/testcase[@name='interrupted']/skipped")
    assert marker is not None and f"interrupted ({name})" in marker.get("message", "")


@pytest.mark.parametrize("target", ["nodir/j.xml", "."], ids=["missing-folder", "a-folder"])
@pytest.mark.parametrize("option", ["--junit", "--json"])
def test_a_report_path_that_cannot_be_written_is_refused_before_anything_runs(
    write: Callable[..., Path], tmp_path: Path, option: str, target: str
) -> None:
    # It used to run everything, then end in a traceback and lose the figures.
    path = tmp_path / target
    # No hub listens on port 9: a run that started would fail differently.
    result = run(str(write(GOOD)), "--hub", "http://127.0.0.1:9", option, str(path))
    assert result.exit_code == 2, result.output
    assert f"{option} {path}:" in result.output
    assert "nothing was run" in result.output


def test_a_report_path_that_would_overwrite_a_scenario_or_an_input_is_refused(
    write: Callable[..., Path], tmp_path: Path
) -> None:
    # `--json a.yaml b.yaml`, the report's name forgotten, wrote the JSON over a.yaml.
    first, second = write(GOOD, "a.yaml"), write(GOOD, "b.yaml")
    result = run("--json", str(first), str(second), "--hub", "http://127.0.0.1:9")
    assert result.exit_code == 2, result.output
    assert (
        f"--json {first}: is a scenario file (it has a top-level 'steps:'); the report would "
        "overwrite it: give the report a file of its own, e.g. --json report.json"
    ) in " ".join(result.output.split())
    assert first.read_text() == GOOD
    keys = tmp_path / "keys.json"
    keys.write_text("[]")
    read = run(str(second), "--hub", "http://127.0.0.1:9", "--credentials", str(keys),
               "--junit", str(keys))  # fmt: skip
    assert read.exit_code == 2, read.output
    assert f"--junit {keys}: is a file this run reads ({keys})" in " ".join(read.output.split())
    assert keys.read_text() == "[]" and "nothing was run" in read.output


def test_a_report_that_fails_to_write_does_not_cost_the_other(
    fake_hub: Any, write: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import hub.replay.reports

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(hub.replay.reports, "write_junit", disk_full)
    junit, report = tmp_path / "j.xml", tmp_path / "r.json"
    result = run(
        str(write(GOOD)), "--hub", fake_hub.url, "--junit", str(junit), "--json", str(report)
    )
    assert f"--junit {junit}: the report could not be written: No space left" in result.output
    assert json.loads(report.read_text())["ok"] is True
    assert result.exit_code == 1  # CI must not take a missing report for a pass


def test_a_registry_export_without_ids_is_refused(
    write: Callable[..., Path], tmp_path: Path
) -> None:
    providers = tmp_path / "providers.json"
    providers.write_text('{"subsystems": [{"base_url": "http://127.0.0.1:18203"}]}')
    scenario = write("steps:\n  - fault: {provider: VN/GOV/BCA/population, clear: true}\n")
    result = run(str(scenario), "--hub", "http://127.0.0.1:9", "--providers", str(providers))
    assert result.exit_code == 2, result.output
    assert f"{providers}: subsystems[0] has no 'id'" in result.output


SLOW = """
steps:
  - client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/slow
    query: {ms: 300}
"""


@pytest.mark.parametrize(("cap", "dropped"), [(["--concurrency", "1"], True), ([], False)])
def test_concurrency_one_caps_the_open_model_at_one_iteration_in_flight(
    fake_hub: Any, write: Callable[..., Path], tmp_path: Path, cap: list[str], dropped: bool
) -> None:
    # 20 starts a second of 300 ms iterations: with one allowed in flight most are dropped;
    # without --concurrency the cap is 1000 and none is.
    report = tmp_path / "r.json"
    args = [str(write(SLOW)), "--hub", fake_hub.url, "--rate", "20", "--iterations", "6"]
    result = run(*args, *cap, "--json", str(report))
    assert result.exit_code == 0, result.output
    iterations = json.loads(report.read_text())["scenarios"][0]["iterations"]
    if dropped:
        assert iterations["dropped"] >= 4 and iterations["started"] <= 2, iterations
    else:
        assert (iterations["dropped"], iterations["started"]) == (0, 6)


def test_thresholds_pass_or_fail_the_run_and_reach_the_json(
    fake_hub: Any, write: Callable[..., Path], tmp_path: Path
) -> None:
    good, report = write(GOOD), tmp_path / "run.json"
    held = run(str(good), "--hub", fake_hub.url, "--threshold", "failed==0",
               "--threshold", "p99<60000", "--json", str(report))  # fmt: skip
    assert held.exit_code == 0, held.output
    assert "threshold failed==0 held" in held.output
    assert [t["ok"] for t in json.loads(report.read_text())["thresholds"]] == [True, True]
    missed = run(str(good), "--hub", fake_hub.url, "--threshold", "rps>=1000000000")
    assert missed.exit_code == 1 and "threshold rps>=1000000000 FAILED" in missed.output
    bad = run(str(good), "--hub", fake_hub.url, "--threshold", "p95 under 200")
    assert bad.exit_code == 2 and "is malformed" in bad.output and "nothing was run" in bad.output


def test_a_failed_threshold_is_named_in_the_summary_not_all_expectations_held(
    fake_hub: Any, write: Callable[..., Path]
) -> None:
    # Every step passed, the run exited 1 on the threshold, and the summary read "1 of 1
    # scenarios passed; 1 requests; all expectations held".
    good = write(GOOD)
    result = run(str(good), "--hub", fake_hub.url, "--threshold", "failed==0",
                 "--threshold", "rps>=1000000000")  # fmt: skip
    assert result.exit_code == 1
    assert "all expectations held" not in result.output
    assert (
        "1 of 1 scenarios passed; 1 requests; 1 of 2 threshold(s) FAILED: rps>=1000000000"
        in result.output
    )
    both = run(str(good), str(write(FAILING, "bad.yaml")), "--hub", fake_hub.url,
               "--threshold", "rps>=1000000000")  # fmt: skip
    assert both.exit_code == 1
    assert (
        "1 of 2 scenarios passed; 2 requests; failures above; 1 of 1 threshold(s) FAILED: "
        "rps>=1000000000" in both.output
    )


def test_compound_durations_and_one_path_for_two_reports(
    write: Callable[..., Path], tmp_path: Path
) -> None:
    from hub.cli.replay import parse_duration

    assert parse_duration("1m30s") == 90.0 and parse_duration("90") == 90.0
    same = tmp_path / "report"
    result = run(str(write(GOOD)), "--junit", str(same), "--json", str(same))
    assert result.exit_code == 2 and "name the same file" in result.output


POPULATION_FAULT = "VN/GOV/BCA/population={latency_ms: 5}"


def test_a_fault_held_for_the_whole_run_loads_under_it_with_concurrency(
    fake_hub: Any, write: Callable[..., Path], tmp_path: Path
) -> None:
    # The docs said to set the faults "in a scenario of their own before the load", but
    # the runner cleared them as soon as that scenario ended: no load ever ran under them.
    report = tmp_path / "r.json"
    result = run(
        str(write(GOOD)), "--hub", fake_hub.url, "--iterations", "8", "--concurrency", "4",
        "--fault", POPULATION_FAULT, "--json", str(report),
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    # Set once before the first iteration, cleared once after the last.
    assert fake_hub.faults == [("PUT", {"latency_ms": 5}), ("DELETE", None)]
    assert fake_hub.latency_at_arrival == [5] * 8
    # As given: it read {"latency_ms": 5.0}.
    assert 'fault held for the whole run: VN/GOV/BCA/population={"latency_ms": 5}' in (
        result.output
    )
    held = json.loads(report.read_text())["faults"]
    assert held == [{"provider": "VN/GOV/BCA/population", "set": {"latency_ms": 5}}]
    assert type(held[0]["set"]["latency_ms"]) is int


def test_k6s_vus_names_the_workers_as_concurrency_does(
    fake_hub: Any, write: Callable[..., Path], tmp_path: Path
) -> None:
    # `--vus 4`, as k6 has it, said "No such option: --vus. Possible options: --hub".
    # As --concurrency 1 above: one iteration in flight, so most of 20 starts a second drop.
    report = tmp_path / "r.json"
    args = [str(write(SLOW)), "--hub", fake_hub.url, "--rate", "20", "--iterations", "6"]
    result = run(*args, "--vus", "1", "--json", str(report))
    assert result.exit_code == 0, result.output
    iterations = json.loads(report.read_text())["scenarios"][0]["iterations"]
    assert iterations["dropped"] >= 4 and iterations["started"] <= 2, iterations
    refused = run(str(write(GOOD)), "--hub", fake_hub.url, "--vus", "0")
    assert refused.exit_code == 2
    assert "Invalid value for '--concurrency' / '--vus'" in " ".join(refused.output.split())


def test_fault_settings_print_as_given_whole_numbers_as_integers(
    write: Callable[..., Path],
) -> None:
    from hub.replay.faults import parse_fault
    from hub.replay.loader import load_file

    given = "{latency_ms: 200, jitter_ms: 12.5, error_rate: 1, services: {echo: {latency_ms: 9}}}"
    held = parse_fault(f"VN/GOV/BCA/population={given}")
    assert held.text == (
        'VN/GOV/BCA/population={"latency_ms": 200, "jitter_ms": 12.5, "error_rate": 1, '
        '"services": {"echo": {"latency_ms": 9}}}'
    )
    step = "  - fault: {provider: VN/GOV/BCA/population, set: {latency_ms: 200, error_rate: 0.5}}"
    plan = load_file(write(f"steps:\n{step}\n"))
    assert plan.steps[0].label == (
        'fault VN/GOV/BCA/population: set {"latency_ms": 200, "error_rate": 0.5}'
    )


def test_a_fault_held_for_the_run_is_cleared_when_a_scenario_fails(
    fake_hub: Any, write: Callable[..., Path]
) -> None:
    result = run(str(write(FAILING)), "--hub", fake_hub.url, "--fault", POPULATION_FAULT)
    assert result.exit_code == 1, result.output
    assert [method for method, _ in fake_hub.faults] == ["PUT", "DELETE"]


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("population={latency_ms: 5}", "--fault 'population={latency_ms: 5}' is malformed"),
        ("VN/GOV/BCA/population", "is malformed: give PROVIDER=SETTINGS"),
        ("VN/GOV/BCA/population={error_rate: 2}", "error_rate: Input should be less than"),
        (
            "VN/GOV/BCA/population={latncy_ms: 5}",
            "latncy_ms: not a fault setting (did you mean latency_ms? the settings: error_rate,",
        ),
        (
            "VN/GOV/BCA/population={services: {citizen-lookup: {sed: 5}}}",
            "citizen-lookup.sed: not a fault setting (the settings: error_rate, error_status,",
        ),
        ("VN/GOV/BCA/population={seed: '{{ run.iteration }}'}", "seed must be an integer"),
        # Not the scenario's hint at a template, nor pydantic's two union branches.
        ("VN/GOV/BCA/population={seed: x}", "seed must be an integer, e.g. 7 (there is"),
        ("VN/GOV/BCA/population={seed: 7.5}", "seed must be an integer, e.g. 7 (there is"),
        # It said "a non-empty mapping", without how one is written.
        (
            "VN/GOV/BCA/population=error_rate=0.5",
            "give the settings as a non-empty mapping in YAML or JSON, e.g. "
            "VN/GOV/BCA/population='{error_rate: 0.5, latency_ms: 200}' (not KEY=VALUE)",
        ),
        ("VN/GOV/BCA/population=", "a non-empty mapping in YAML or JSON, e.g."),
        # PyYAML's own text: five lines, a caret drawing, 'in "<unicode string>"'.
        (
            "VN/GOV/BCA/population={latency_ms: 5",
            "--fault 'VN/GOV/BCA/population={latency_ms: 5': the settings are not JSON or "
            "YAML: expected ',' or '}', but got '<stream end>' (while parsing a flow mapping), "
            "at column 15 of the settings; nothing was run",
        ),
    ],
)
def test_a_malformed_fault_option_is_refused_before_anything_runs(
    write: Callable[..., Path], value: str, said: str
) -> None:
    result = run(str(write(GOOD)), "--hub", "http://127.0.0.1:9", "--fault", value)
    assert result.exit_code == 2, result.output
    assert said in result.output and "nothing was run" in result.output
    assert "<unicode string>" not in result.output


def test_two_faults_for_one_provider_are_refused(fake_hub: Any, write: Callable[..., Path]) -> None:
    # The second PUT replaced the first, and the report said both were held for the run.
    second = "VN/GOV/BCA/population={error_rate: 1}"
    result = run(
        str(write(GOOD)), "--hub", fake_hub.url, "--fault", POPULATION_FAULT, "--fault", second
    )
    assert result.exit_code == 2, result.output
    assert (
        "--fault: VN/GOV/BCA/population is given twice, and its mock holds one setting (the "
        "second would replace the first): give all its settings in one --fault"
    ) in " ".join(result.output.split())
    assert "nothing was run" in result.output
    assert fake_hub.faults == [] and fake_hub.arrivals == []


def test_a_scenario_switching_a_provider_the_run_holds_is_refused(
    fake_hub: Any, write: Callable[..., Path]
) -> None:
    # Its clear (or the clean-up after it) would lift the run's fault mid-load.
    path = write(FAULT_LEFT_ON)
    result = run(str(path), "--hub", fake_hub.url, "--fault", POPULATION_FAULT)
    assert result.exit_code == 2, result.output
    assert f"{path}: step 'slow-down' switches the faults of VN/GOV/BCA/population" in " ".join(
        result.output.split()
    )
    assert fake_hub.faults == [] and fake_hub.arrivals == []


UNKNOWN_SERVICE = GOOD.replace(
    "steps:\n",
    "steps:\n  - id: slow-down\n    fault: {provider: VN/GOV/BCA/population, "
    "set: {services: {citizen-lookupp: {latency_ms: 1}}}}\n",
)


def test_a_fault_for_a_service_the_mock_lacks_is_refused_before_any_step_runs(
    fake_hub: Any, write: Callable[..., Path]
) -> None:
    path = write(UNKNOWN_SERVICE)
    result = run(str(path), "--hub", fake_hub.url)
    assert result.exit_code == 2, result.output
    output = " ".join(result.output.split())
    assert (
        f"{path}: step 'slow-down': VN/GOV/BCA/population: the mock has no service "
        "'citizen-lookupp' (did you mean 'citizen-lookup'?) under set.services" in output
    )
    assert fake_hub.faults == [] and fake_hub.arrivals == []
    typo = "VN/GOV/BCA/population={services: {citizen-lookupp: {latency_ms: 1}}}"
    held = run(str(write(GOOD)), "--hub", fake_hub.url, "--fault", typo)
    assert held.exit_code == 2 and "the mock has no service 'citizen-lookupp'" in held.output


def test_a_fault_the_mock_refuses_says_what_the_mock_said(
    fake_hub: Any, write: Callable[..., Path]
) -> None:
    # When the mock cannot list its services, its refusal is the message: it was only
    # "expected a 2xx answer, got 422".
    fake_hub.openapi = False
    result = run(str(write(UNKNOWN_SERVICE)), "--hub", fake_hub.url)
    assert result.exit_code == 1, result.output
    output = " ".join(result.output.split())
    assert (
        "fault http://" in output
        and "the mock refused it with 422: services: this mock has no service citizen-lookupp"
        in output
    )


def test_thresholds_are_test_cases_of_the_junit_report(
    fake_hub: Any, write: Callable[..., Path], tmp_path: Path
) -> None:
    # A failed threshold exited 1 with a JUnit report of tests="1" failures="0".
    junit = tmp_path / "j.xml"
    result = run(str(write(GOOD)), "--hub", fake_hub.url, "--junit", str(junit),
                 "--threshold", "failed==0", "--threshold", "rps>=1000000000")  # fmt: skip
    assert result.exit_code == 1, result.output
    root = ET.parse(junit).getroot()
    assert (root.get("tests"), root.get("failures")) == ("3", "1")
    suite = root.find("testsuite[@name='thresholds']")
    assert suite is not None and (suite.get("tests"), suite.get("failures")) == ("2", "1")
    held, missed = suite.findall("testcase")
    assert held.get("name") == "failed==0" and list(held) == []
    failure = missed.find("failure")
    assert missed.get("name") == "rps>=1000000000" and failure is not None
    assert failure.get("message", "").startswith("threshold rps>=1000000000 FAILED: rps = ")


def test_the_whole_report_goes_to_stdout_and_at_full_width_when_piped(
    fake_hub: Any, write: Callable[..., Path]
) -> None:
    # With `> run.log` the failed thresholds and "interrupted" went to the terminal and the
    # log claimed all held; and rich cut the table to 80 columns: "fin…", "Clie…".
    long_id = "find-a-citizen-by-province-with-a-rather-long-step-id"
    path = write(GOOD.replace("id: find", f"id: {long_id}"), "a-scenario-with-a-long-name.yaml")
    cmd = [sys.executable, "-m", "hub", "replay", str(path), "--hub", fake_hub.url]
    cmd += ["--threshold", "failed==0", "--threshold", "rps>=1000000000"]
    done = subprocess.run(cmd, capture_output=True, timeout=60)
    out, err = done.stdout.decode(), done.stderr.decode()
    assert done.returncode == 1, (out, err)
    assert "threshold failed==0 held" in out and "threshold rps>=1000000000 FAILED" in out
    assert err == ""
    assert "…" not in out
    assert f"│ {long_id} │" in out  # the whole id, in one cell of one line
    assert f"PASS good ({path}): 1 iteration(s)" in out  # the title not wrapped either


def test_a_single_iteration_has_no_request_rate(fake_hub: Any, write: Callable[..., Path]) -> None:
    one = run(str(write(GOOD)), "--hub", fake_hub.url)
    assert one.exit_code == 0 and "req/s" not in one.output
    three = run(str(write(GOOD)), "--hub", fake_hub.url, "--iterations", "3")
    assert three.exit_code == 0 and "req/s" in three.output


TIMES_OUT = (
    GOOD
    + """
  - id: slow
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/slow
    query: {ms: 2000}
"""
)


def test_latency_thresholds_count_requests_that_timed_out(
    fake_hub: Any, write: Callable[..., Path], tmp_path: Path
) -> None:
    # 47 of 100 requests timed out and "max<=1000 held": timeouts were left out.
    report = tmp_path / "r.json"
    result = run(str(write(TIMES_OUT)), "--hub", fake_hub.url, "--timeout", "0.3",
                 "--threshold", "max<=250", "--json", str(report))  # fmt: skip
    assert result.exit_code == 1, result.output
    output = " ".join(result.output.split())
    assert "threshold max<=250 FAILED: max = " in output
    assert "(1 request(s) timed out with no answer; counted at the time they waited)" in output
    [outcome] = json.loads(report.read_text())["thresholds"]
    assert outcome["ok"] is False and outcome["timeouts"] == 1
    assert outcome["measured"] > 250  # the timed-out request, counted at about --timeout
    # Said as what happened, not a bare "got timeout: TimeoutError".
    assert "slow first failure: #1: transport GET " in output
    assert "expected an HTTP answer, got timeout: no answer within 0.3 s (--timeout)" in output


def test_stages_ramp_the_open_model_rate(
    fake_hub: Any, write: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # From 10 to 30 iterations a second over 1 s: 20 iterations are due, whatever the hub.
    # Whatever the machine too: a 0.1 s stall near the end would drop the last starts as
    # too late (LATE_END_S), which is not what this test is about.
    monkeypatch.setattr("hub.replay.runner.LATE_END_S", 60.0)
    report = tmp_path / "r.json"
    args = ["--rate", "10", "--stages", "1s:30", "--json", str(report)]
    result = run(str(write(GOOD)), "--hub", fake_hub.url, *args)
    assert result.exit_code == 0, result.output
    iterations = json.loads(report.read_text())["scenarios"][0]["iterations"]
    assert (iterations["started"], iterations["dropped"]) == (20, 0)
    both = run(str(write(GOOD)), "--stages", "1s:3", "--duration", "5s")
    assert both.exit_code == 2 and "--stages sets how long each scenario runs" in both.output
    bad = run(str(write(GOOD)), "--stages", "1s")
    assert bad.exit_code == 2 and "--stages '1s' is malformed" in bad.output


def test_without_a_terminal_progress_lines_go_to_stderr(
    fake_hub: Any, write: Callable[..., Path]
) -> None:
    cmd = [sys.executable, "-m", "hub", "replay", str(write(GOOD)), "--hub", fake_hub.url]
    cmd += ["--duration", "600ms", "--progress-every", "0.1"]
    done = subprocess.run(cmd, capture_output=True, timeout=60)
    assert done.returncode == 0, done
    err = done.stderr.decode()
    assert "progress: good: " in err and " iteration(s) done, 0 failed; " in err
    assert " in all (" in err
    assert "progress:" not in done.stdout.decode()  # the report stays clean


def test_a_second_signal_quits_at_once_and_still_clears_the_faults(
    fake_hub: Any, write: Callable[..., Path]
) -> None:
    text = FAULT_LEFT_ON.replace("service: VN/GOV/BCA/population/echo", SLOW_SERVICE)
    cmd = [sys.executable, "-m", "hub", "replay", str(write(text)), "--hub", fake_hub.url]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while not fake_hub.arrivals:  # the 8 s request is in flight
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the run never started"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        # The second signal only once the first is taken: sent together, both can be pending
        # at once, and Python runs pending handlers by signal number, SIGINT's first.
        assert proc.stderr is not None
        readable = selectors.DefaultSelector()
        readable.register(proc.stderr, selectors.EVENT_READ)
        assert readable.select(timeout=20), "SIGTERM was never taken"
        first = proc.stderr.readline()
        assert first.startswith(b"stopping (SIGTERM)"), first
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 143, (out, err)
    assert "interrupted (SIGTERM): no report" in err.decode() and out.decode() == ""
    assert fake_hub.faults == [("PUT", {"latency_ms": 1}), ("DELETE", None)]


# 8 s: on a busy machine the two signals still come while the request is in flight.
SLOW_SERVICE = "service: VN/GOV/BCA/population/slow\n    query: {ms: 8000}"


@pytest.mark.parametrize("reader", ["head", "full"], ids=["| head -1", "> /dev/full"])
def test_reports_are_written_when_stdout_cannot_take_the_printed_one(
    fake_hub: Any, write: Callable[..., Path], tmp_path: Path, reader: str
) -> None:
    # `hub replay ... --json r.json | head -1` lost r.json and exited 1 on a passing run.
    report, junit = tmp_path / "report.json", tmp_path / "junit.xml"
    cmd = [sys.executable, "-m", "hub", "replay", str(write(GOOD)), "--hub", fake_hub.url]
    cmd += ["--iterations", "5", "--json", str(report), "--junit", str(junit)]
    if reader == "full":
        with open("/dev/full", "wb") as full:
            done = subprocess.run(cmd, stdout=full, stderr=subprocess.PIPE, timeout=60)
    else:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None and proc.stderr is not None
        proc.stdout.close()  # the reader is gone before the report (head -1 after one line)
        stderr = proc.stderr.read()
        proc.stderr.close()
        done = subprocess.CompletedProcess(cmd, proc.wait(timeout=60), None, stderr)
    assert done.returncode == 0, done.stderr
    assert json.loads(report.read_text())["ok"] is True
    assert ET.parse(junit).getroot().find("testsuite") is not None
    assert b"Traceback" not in done.stderr
    # A reader gone has what it wanted: "the report could not be printed (the reader of
    # stdout went away)" was noise; a full disk lost the report, and says so.
    assert (b"the report could not be printed" in done.stderr) is (reader == "full")


def test_the_note_on_a_fault_scenario_speaks_of_one_scenario_or_several(
    fake_hub: Any, write: Callable[..., Path]
) -> None:
    # It read "'good' switch a mock's faults, which every iteration shares: their ...".
    one = run(str(write(FAULT_LEFT_ON)), "--hub", fake_hub.url, "--concurrency", "2")
    assert one.exit_code == 0, one.output
    assert "note: 'good' switches a mock's faults, which every iteration shares: its " in (
        " ".join(one.output.split())
    )
    other = write(FAULT_LEFT_ON.replace("name: good", "name: other"), "other.yaml")
    both = run(str(write(FAULT_LEFT_ON)), str(other), "--hub", fake_hub.url, "--rate", "5")
    assert both.exit_code == 0, both.output
    assert "note: 'good', 'other' switch a mock's faults, which overlapping iterations" in (
        " ".join(both.output.split())
    )


def test_more_workers_than_iterations_is_said_not_run_quietly(
    fake_hub: Any, write: Callable[..., Path], tmp_path: Path
) -> None:
    # `--iterations 3 --concurrency 10` ran 3 workers without a word: a load test of ten
    # users that was one of three, read as ten.
    report = tmp_path / "r.json"
    result = run(str(write(GOOD)), "--hub", fake_hub.url, "--iterations", "3",
                 "--concurrency", "10", "--json", str(report))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (
        "note: --concurrency 10 is more than the 3 iteration(s) of each scenario: 3 workers "
        "run, one iteration each; give more --iterations, or --duration, to keep 10 busy"
    ) in " ".join(result.output.split())
    assert json.loads(report.read_text())["scenarios"][0]["iterations"]["started"] == 3
    for quiet in (["--concurrency", "3"], ["--concurrency", "10", "--rate", "50"]):
        other = run(str(write(GOOD)), "--hub", fake_hub.url, "--iterations", "3", *quiet)
        assert other.exit_code == 0 and "note:" not in other.output, other.output


def _strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)


def test_on_a_terminal_the_bar_counts_iterations_and_says_seconds(
    fake_hub: Any, write: Callable[..., Path]
) -> None:
    # The bar of a --duration run counted seconds with no unit ("1/2"), which read as
    # iterations, and never showed the iterations done nor failed (a log's line does).
    primary, secondary = pty.openpty()
    cmd = [sys.executable, "-m", "hub", "replay", str(write(GOOD)), "--hub", fake_hub.url]
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "160"}
    proc = subprocess.Popen(
        [*cmd, "--duration", "1500ms"], stdout=subprocess.PIPE, stderr=secondary, env=env
    )
    os.close(secondary)
    seen = b""
    with contextlib.suppress(OSError):  # EIO once the process has closed the terminal
        while chunk := os.read(primary, 65536):
            seen += chunk
    os.close(primary)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    bar = _strip_ansi(seen.decode("utf-8", "replace"))
    assert " iteration(s) done, 0 failed" in bar, bar
    assert "/2 s" in bar, bar  # 1.5 s shown whole, with its unit


def test_a_ctrl_c_while_the_command_loads_is_no_traceback(write: Callable[..., Path]) -> None:
    # A Ctrl-C while the commands load printed importlib's traceback.
    cmd = [sys.executable, "-X", "importtime", "-m", "hub", "replay", str(write(GOOD))]
    env = {key: value for key, value in os.environ.items() if key != "PYTHONASYNCIODEBUG"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stderr is not None
    lines = []
    for line in proc.stderr:  # -X importtime: a line per module imported
        lines.append(line)
        # The first of the command modules' imports: hub.cli.main imports the others after it.
        if line.rstrip().endswith(b" hub.cli.common"):
            proc.send_signal(signal.SIGINT)
            break
    rest = proc.communicate(timeout=60)[1]
    err = b"".join(lines).decode() + rest.decode()
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-2000:]
    assert proc.returncode == 130


@pytest.mark.parametrize(
    "args",
    [
        ["--concurrency", "10000000"],
        ["--stages", "1s:1e20"],
        ["--concurrency", "200000", "--stages", "1s:0"],
    ],
    ids=["concurrency", "stage-target", "start"],
)
def test_more_workers_than_one_runner_can_hold_are_refused(
    write: Callable[..., Path], args: list[str]
) -> None:
    # Each worker is a task of one process: ten million of them ended in a MemoryError
    # traceback (or the kernel's OOM killer) before the first request.
    result = run(str(write(GOOD)), "--hub", "http://127.0.0.1:9", *args)
    assert result.exit_code == 2, result.output
    output = " ".join(result.output.split())
    assert "at most 100000 workers in one run" in output and "nothing was run" in output


def test_the_open_model_takes_a_large_cap_and_stage_rate(
    fake_hub: Any, write: Callable[..., Path], tmp_path: Path
) -> None:
    # With --rate, --concurrency only caps the iterations in flight and the stages' targets
    # are rates: neither makes workers, so neither has the closed model's limit.
    report = tmp_path / "r.json"
    args = ["--rate", "10", "--concurrency", "10000000", "--stages", "100ms:10"]
    result = run(str(write(GOOD)), "--hub", fake_hub.url, *args, "--json", str(report))
    assert result.exit_code == 0, result.output
    assert json.loads(report.read_text())["scenarios"][0]["iterations"]["started"] == 1


def test_a_scenario_written_as_json_in_a_folder_runs_as_any_yaml(
    fake_hub: Any, write: Callable[..., Path], tmp_path: Path
) -> None:
    # JSON is YAML, and a .yaml file of JSON loaded when named, but a folder skipped it as
    # "without a top-level 'steps:'": only the block form, steps: at a line's start, was seen.
    scenario = {
        "name": "as-json",
        "steps": [
            {
                "id": "find",
                "client": "VN/GOV/BTP/civil-status",
                "service": "VN/GOV/BCA/population/echo",
                "expect": {"status": 200},
            }
        ],
    }
    write(json.dumps(scenario), "scen/one-line.yaml")
    write(json.dumps(scenario, indent=2).replace("as-json", "indented"), "scen/indented.yml")
    flow = "{name: flow, steps: [{id: find, client: VN/GOV/BTP/civil-status, service: x}]}"
    write(flow.replace("service: x", "service: VN/GOV/BCA/population/echo"), "scen/flow.yaml")
    # Not scenarios: "steps" below the top, and JSON without it.
    write('{"nested": {"steps": []}}', "scen/nested.yaml")
    write('{"VN/GOV/BCA/population": "http://127.0.0.1:8001"}', "scen/providers.yaml")
    result = run(str(tmp_path / "scen"), "--hub", fake_hub.url)
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.split())
    assert "3 of 3 scenarios passed" in output, output
    scen = tmp_path / "scen"
    assert (
        "skipped 2 YAML file(s) without a top-level 'steps:' (not scenarios): "
        f"{scen / 'nested.yaml'}, {scen / 'providers.yaml'}" in output
    ), output


def test_the_progress_counts_are_whole_numbers_with_thousands_separators() -> None:
    # --iterations 1000000000 had its zeros counted on the bar; a log's line likewise.
    from hub.cli.replay_output import bar_count, progress_line, scenario_counts
    from hub.replay.results import ScenarioResult

    assert bar_count(1234567.0, 1_000_000_000, "") == "1,234,567/1,000,000,000"
    assert bar_count(1.5, 2.0, " s") == "2/2 s"
    current = ScenarioResult(name="big", file="big.yaml", steps=[])
    current.iterations_passed, current.iterations_failed = 1_234_000, 5_678
    assert scenario_counts(current) == "big: 1,239,678 iteration(s) done, 5,678 failed"

    class _Runner:
        iterations_done = 1_239_678

    runner = _Runner()
    runner.current = current  # type: ignore[attr-defined]
    assert progress_line(runner, 1_239_678.0, 1e9) == (  # type: ignore[arg-type]
        "progress: big: 1,239,678 iteration(s) done, 5,678 failed; 1,239,678 in all (0%)"
    )


@pytest.mark.parametrize(
    ("threshold", "said"),
    [
        ("p95<0", "threshold 'p95<0': a latency is always above 0 ms, so it could never hold"),
        ("failed<=100%", "threshold 'failed<=100%': a share is never above 100%, so it holds"),
    ],
)
def test_a_threshold_that_never_or_always_holds_is_refused_before_anything_runs(
    fake_hub: Any, write: Callable[..., Path], threshold: str, said: str
) -> None:
    # p95<0 failed the run after it had all run; failed<=100% passed it whatever happened.
    result = run(str(write(GOOD)), "--hub", fake_hub.url, "--threshold", threshold)
    assert result.exit_code == 2, result.output
    output = " ".join(result.output.split())
    assert said in output and "nothing was run" in output, output
    assert not fake_hub.arrivals
