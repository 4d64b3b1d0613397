from __future__ import annotations

import pytest

from hub.replay.templating import (
    MissingVariable,
    Template,
    TemplateSyntaxError,
    compile_value,
    render_value,
)

VARS = {"cid": "079123456789", "n": 3, "ok": True, "child": {"id": "x1", "tags": ["a", "b"]}}


def test_text_with_placeholders_renders_as_text() -> None:
    assert Template("KYC-{{ n }}-{{cid}}").render(VARS) == "KYC-3-079123456789"
    assert Template("flag={{ ok }}").render(VARS) == "flag=true"


def test_an_object_or_list_inside_text_renders_as_json() -> None:
    # It rendered Python's repr, {'id': 'x1', ...}, which no receiver reads as JSON.
    assert Template("c={{ child }}").render(VARS) == 'c={"id":"x1","tags":["a","b"]}'
    assert Template("{{ child.tags }};").render(VARS) == '["a","b"];'


def test_a_lone_placeholder_keeps_its_type() -> None:
    assert Template("{{ n }}").render(VARS) == 3
    assert Template("{{ child }}").render(VARS) == {"id": "x1", "tags": ["a", "b"]}


def test_dotted_names_walk_dicts_and_lists() -> None:
    assert Template("{{ child.id }}/{{ child.tags.1 }}").render(VARS) == "x1/b"


def test_nested_bodies_render_and_plain_values_are_untouched() -> None:
    body = {"id": "{{ cid }}", "list": [1, "{{ n }}"], "fixed": {"a": 1}}
    compiled = compile_value(body)
    assert render_value(compiled, VARS) == {
        "id": "079123456789",
        "list": [1, 3],
        "fixed": {"a": 1},
    }
    plain = {"a": [1, 2]}
    assert compile_value(plain) is plain


@pytest.mark.parametrize(
    ("name", "said"),
    [
        ("missing", "variable 'missing' is not defined (defined: child, cid, n, ok)"),
        # It said "(defined: child, cid, n, ok)" here too: child is, what lacks is its key.
        (
            "child.idd",
            "variable 'child.idd' is not defined: child has no key 'idd' (did you mean 'id'?); "
            "its keys: id, tags",
        ),
        ("child.tags.5", "variable 'child.tags.5' is not defined: child.tags has 2 items, 0 to 1"),
        (
            "child.tags.x",
            "variable 'child.tags.x' is not defined: child.tags is a list, "
            "whose items are numbered from 0",
        ),
        ("cid.x", "variable 'cid.x' is not defined: cid is text, not a mapping or a list"),
        (
            "child.id.0",
            "variable 'child.id.0' is not defined: child.id is text, not a mapping or a list",
        ),
    ],
)
def test_missing_variable_names_what_is_missing(name: str, said: str) -> None:
    with pytest.raises(MissingVariable) as caught:
        Template(f"x {{{{ {name} }}}}").render(VARS)
    assert caught.value.name == name
    assert str(caught.value) == said


@pytest.mark.parametrize("source", ["{{ cid }", "{{ }}", "{{ a b }}", "x {{ 1a }}", "{{"])
def test_bad_template_syntax_is_refused_at_compile_time(source: str) -> None:
    with pytest.raises(TemplateSyntaxError, match="bad template"):
        compile_value({"k": [source]})
