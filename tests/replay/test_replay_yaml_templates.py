"""Templates may stand unquoted in YAML, even inside a flow mapping, as the spec writes them."""

from __future__ import annotations

from pathlib import Path

import pytest

from hub.replay import yamllines
from hub.replay.loader import load_text
from hub.replay.problems import ScenarioLoadError
from hub.replay.yamllines import parse_yaml

# The spec's own example (SPEC section 8), verbatim: its last headers line is not YAML as
# such ("{" opens a mapping inside a flow mapping).
SPEC_EXAMPLE = """\
name: bank-ekyc
description: A bank verifies a customer's identity.
steps:
  - id: find
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/citizen-search
    method: GET
    path: /citizens
    query: {province: "79", limit: 1}
    headers: {X-Road-UserId: officer-01, X-Road-Issue: HS-0001}
    expect:
      status: 200
    capture:
      cid: $.items[0].id
      name: $.items[0].full_name
  - id: verify
    client: VN/COM/0101234565/ekyc
    service: VN/GOV/BCA/population/citizen-verify
    method: POST
    path: /citizens/verify
    json: {id: "{{ cid }}", full_name: "{{ name }}"}
    headers: {X-Road-UserId: teller-7, X-Road-Issue: KYC-{{ run.iteration }}}
    expect:
      status: 200
      json: {$.match: true}
"""


def test_the_spec_example_loads_as_written() -> None:
    data, lines, _ = parse_yaml(SPEC_EXAMPLE, "spec.yaml")
    verify = data["steps"][1]
    assert verify["headers"] == {
        "X-Road-UserId": "teller-7",
        "X-Road-Issue": "KYC-{{ run.iteration }}",
    }
    assert verify["json"] == {"id": "{{ cid }}", "full_name": "{{ name }}"}
    assert lines[("steps", 1, "headers")] == 22
    plan = load_text(SPEC_EXAMPLE, file="spec.yaml")
    assert [step.id for step in plan.steps] == ["find", "verify"]


def test_a_whole_value_template_is_a_string_and_errors_keep_their_columns() -> None:
    data, _, _ = parse_yaml("a: {{ cid }}\nb: [1, {{ x }}]\n", "t.yaml")
    assert data == {"a": "{{ cid }}", "b": [1, "{{ x }}"]}
    with pytest.raises(ScenarioLoadError) as caught:
        load_text("name: x\nsteps: [{id: {{ a }}, : b]\n", file="t.yaml")
    assert caught.value.messages[0].startswith("t.yaml:2:")
    unmasked = "name: x\nsteps: [{id: xxxxxxx, : b]\n"  # the same length, no template
    with pytest.raises(ScenarioLoadError) as plain:
        load_text(unmasked, file="t.yaml")
    assert (
        caught.value.messages[0].split(": bad YAML")[0]
        == plain.value.messages[0].split(": bad YAML")[0]
    )


@pytest.mark.parametrize("where", ["json", "vars"])
def test_a_file_nested_too_deeply_is_refused_not_a_traceback(where: str) -> None:
    # Lists in lists 5000 deep: the YAML parser's recursion ran out, and `hub replay`
    # printed a RecursionError traceback instead of naming the file.
    deep = "[" * 5000 + "]" * 5000
    text = SPEC_EXAMPLE
    if where == "json":
        text = text.replace('json: {id: "{{ cid }}", full_name: "{{ name }}"}', f"json: {deep}")
        assert deep in text
    else:
        text = f"vars: {{v: {deep}}}\n" + text
    with pytest.raises(ScenarioLoadError) as caught:
        load_text(text, file="deep.yaml")
    [message] = caught.value.messages
    assert message.startswith("deep.yaml: nested too deeply"), message


def test_a_well_formed_file_is_read_by_libyaml_and_a_malformed_one_named_as_before(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # PyYAML's own scanner and parser, in Python, took 3 s of the 3.2 s a scenario of 2000
    # steps took to load (cProfile); libyaml's take a tenth of that. PyYAML's reads again
    # only a file libyaml refused, for its words, which the hints are made of.
    if yamllines.FAST_PARSER is None:
        pytest.skip("PyYAML was built without libyaml")
    read_by_python: list[str] = []

    class Watched(yamllines.SafeValuesLoader):
        def __init__(self, stream: str) -> None:
            read_by_python.append(stream)
            super().__init__(stream)

    monkeypatch.setattr(yamllines, "SafeValuesLoader", Watched)
    data, lines, _ = parse_yaml(SPEC_EXAMPLE, "ok.yaml")
    assert read_by_python == [] and data["steps"][1]["id"] == "verify"
    assert lines[("steps", 1, "id")] == 16
    broken = SPEC_EXAMPLE.replace("    method: GET\n", "   method: GET\n")
    with pytest.raises(ScenarioLoadError) as caught:
        parse_yaml(broken, "bad.yaml")
    assert len(read_by_python) == 1
    assert "check this line's indentation" in caught.value.messages[0]
    # A tab in a plain value, which PyYAML refuses and libyaml takes, is refused as before.
    with pytest.raises(ScenarioLoadError) as caught:
        parse_yaml(SPEC_EXAMPLE.replace("officer-01", "officer-\t01"), "tab.yaml")
    assert caught.value.messages[0].startswith("tab.yaml:10:")


def test_libyaml_and_pyyaml_read_every_shipped_scenario_alike() -> None:
    if yamllines.FAST_PARSER is None:
        pytest.skip("PyYAML was built without libyaml")
    root = Path(__file__).parents[2]
    files = sorted((root / "scenarios").rglob("*.yaml")) + sorted((root / "docs").rglob("*.yaml"))
    assert files
    for file in files:
        text = file.read_text(encoding="utf-8")
        fast, slow = yamllines._parse_fast(text), yamllines._parse_slow(text, str(file))
        assert fast is not None, file
        assert fast[1] == slow[1], file
        lines: list[dict[object, int]] = [{}, {}]
        for node, seen in zip((fast[0], slow[0]), lines, strict=True):
            yamllines._walk(node, (), seen, [], ())
        assert lines[0] == lines[1], file
