"""Each expectation kind and capture, passing and failing, on a response built in memory."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from multidict import CIMultiDict

from hub.replay import expect as expect_module
from hub.replay.expect import Reply, capture, check
from hub.replay.loader import load_text
from hub.replay.plan import ExchangePlan

BODY: dict[str, Any] = {
    "items": [{"id": "079123456789", "sex": "female"}, {"id": "2", "sex": "male"}],
    "n": 2,
}


def plan(step_yaml: str) -> ExchangePlan:
    text = (
        "vars: {cid: x}\n"
        "steps:\n  - client: VN/GOV/BTP/civil-status\n"
        "    service: VN/GOV/BCA/population/citizen-search\n" + step_yaml
    )
    step = load_text(text, file="t.yaml").steps[0]
    assert isinstance(step, ExchangePlan)
    return step


def reply(status: int = 200, body: Any = BODY, ms: float = 5.0, **headers: str) -> Reply:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    hdrs = CIMultiDict(
        {"X-Road-Id": "xid-1", **{k.replace("_", "-"): v for k, v in headers.items()}}
    )
    return Reply(status, hdrs, raw, ms)


CASES = [
    ("    expect: {status: 200}\n", reply(), None),
    ("    expect: {status: 200}\n", reply(status=404), ("status", 200, 404)),
    ("    expect: {status: [200, 201]}\n", reply(status=201), None),
    ("    expect: {status: [200, 201]}\n", reply(status=500), ("status", [200, 201], 500)),
    ("    expect: {json: {$.n: 2}}\n", reply(), None),
    ("    expect: {json: {$.n: 3}}\n", reply(), ("json", 3, 2)),
    ('    expect: {json: {"$.items[0].id": "{{ cid }}"}}\n', reply(), None),
    ("    expect: {json: {$.missing: 1}}\n", reply(), ("json", 1, "<nothing matched>")),
    ("    expect: {json: {$.n: true}}\n", reply(body={"n": 1}), ("json", True, 1)),
    # Nor inside a list or a mapping: [1, true] is no [1, 1], and {b: true} no {b: 1}.
    (
        "    expect: {json: {$.a: {b: true, c: [1, 0]}}}\n",
        reply(body={"a": {"b": 1, "c": [True, False]}}),
        ("json", {"b": True, "c": [1, 0]}, {"b": 1, "c": [True, False]}),
    ),
    (
        "    expect: {json: {$.c: [1, 1]}}\n",
        reply(body={"c": [1, True]}),
        ("json", [1, 1], [1, True]),
    ),
    (
        "    expect: {json: {$.a: {b: 1.0, c: [2]}}}\n",
        reply(body={"a": {"b": 1, "c": [2.0]}}),
        None,
    ),
    (
        "    expect: {json: {$.n: 1}}\n",
        reply(body=b"not json"),
        ("json", "a JSON body", "not json"),
    ),
    # JSON has no dates: an unquoted YAML date means the ISO text (it could never match).
    ("    expect: {json: {$.dob: 1949-09-22}}\n", reply(body={"dob": "1949-09-22"}), None),
    (
        "    expect: {json: {$.dob: 1949-09-22}}\n",
        reply(body={"dob": "1949-09-23"}),
        ("json", "1949-09-22", "1949-09-23"),
    ),
    ("    expect: {headers: {X-Road-Id: xid-1}}\n", reply(), None),
    ("    expect: {headers: {x-road-id: other}}\n", reply(), ("headers", "other", "xid-1")),
    ("    expect: {headers: {X-Road-Error: null}}\n", reply(), None),
    (
        "    expect: {headers: {X-Road-Error: null}}\n",
        reply(X_Road_Error="Client.AccessDenied"),
        ("headers", None, "Client.AccessDenied"),
    ),
    ("    expect: {headers: {X-Road-Id: [a, xid-1]}}\n", reply(), None),
    # An absent header read "got null", as if it held the text null.
    ("    expect: {headers: {X-Missing: a}}\n", reply(), ("headers", "a", None)),
    (
        "    expect: {headers: {X-Road-Id: [a, b]}}\n",
        reply(),
        ("headers", ["a", "b"], "xid-1"),
    ),
    ("    expect: {max_ms: 10}\n", reply(ms=9.5), None),
    ("    expect: {max_ms: 10}\n", reply(ms=12.0), ("max_ms", 10.0, 12.0)),
]


@pytest.mark.parametrize(("step", "response", "failure"), CASES)
def test_expectations(step: str, response: Reply, failure: tuple | None) -> None:
    got = check(plan(step), response, {"cid": "079123456789"})
    if failure is None:
        assert got is None
    else:
        assert got is not None
        assert (got.kind, got.expected, got.got) == failure
        assert got.x_road_id == "xid-1"


def test_an_expected_header_from_a_variable_is_compared_as_its_text() -> None:
    # A boolean var was compared as Python's "True" with the header's "true".
    step = plan("    expect: {headers: {X-Flag: '{{ cid.ok }}', X-N: ['{{ cid.n }}', x]}}\n")
    variables = {"cid": {"ok": True, "n": 2}}
    assert check(step, reply(X_Flag="true", X_N="2"), variables) is None
    got = check(step, reply(X_Flag="True", X_N="2"), variables)
    assert got is not None and (got.what, got.expected, got.got) == ("X-Flag", "true", "True")


def test_a_repeated_header_holds_if_one_value_or_their_combined_field_value_is_expected() -> None:
    # Only the first of the values was compared, and the failure showed only that one.
    answer = reply()
    answer.headers.add("Vary", "Accept")
    answer.headers.add("vary", "Origin")
    for wanted in ("Accept", "Origin", "Accept, Origin", "[x, Origin]"):
        assert check(plan(f"    expect: {{headers: {{Vary: {wanted}}}}}\n"), answer, {}) is None
    got = check(plan("    expect: {headers: {Vary: Cookie}}\n"), answer, {})
    assert got is not None and (got.expected, got.got) == ("Cookie", ["Accept", "Origin"])
    got = check(plan("    expect: {headers: {Vary: [a, b]}}\n"), answer, {})
    assert got is not None and got.got == ["Accept", "Origin"]
    got = check(plan("    expect: {headers: {Vary: null}}\n"), answer, {})
    assert got is not None and (got.expected, got.got) == (None, ["Accept", "Origin"])
    assert 'got ["Accept", "Origin"]' in got.message()


def test_a_header_s_expectation_is_as_the_scenario_writes_it_and_its_words_say_so() -> None:
    """The JSON report had "absent" and 'one of ["a", "b"]' for expected: text that a header
    expected to hold "absent" (or that text) had too. As in the scenario file, null is
    absent and a list is any one of them; an absent answer header is null too."""
    cases = [
        ("X-State: null", {"X_State": "absent"}, None, "absent", 'expected absent, got "absent"'),
        ("X-State: absent", {}, "absent", None, 'expected "absent", got <absent>'),
        ("X-State: [absent, x]", {"X_State": "y"}, ["absent", "x"], "y",
         'expected one of ["absent", "x"], got y'),
        ("X-State: 'one of [\"a\"]'", {}, 'one of ["a"]', None,
         'expected "one of [\\"a\\"]", got <absent>'),
    ]  # fmt: skip
    seen = []
    for expected_yaml, headers, expected, got, said in cases:
        step = plan(f"    expect: {{headers: {{{expected_yaml}}}}}\n")
        failure = check(step, reply(**headers), {})
        assert failure is not None
        document = orjson.loads(orjson.dumps(failure.to_dict()))
        assert (document["expected"], document["got"]) == (expected, got), expected_yaml
        assert said in failure.message(), failure.message()
        seen.append((document["expected"], document["got"]))
    assert len({orjson.dumps(pair) for pair in seen}) == len(cases)  # each told apart


BIG = 123456789012345678901234567890  # beyond 64 bits: orjson reads it as a float


def test_integers_beyond_64_bits_are_compared_and_captured_exactly() -> None:
    # orjson read them as floats: an expectation of the very integer sent failed, and a
    # capture went on as 1.2345678901234568e+29.
    body = f'{{"n": {BIG}, "ids": [{BIG}, 2], "small": 7, "f": 1e30}}'.encode()
    variables: dict[str, Any] = {}
    for expect in (f"$.n: {BIG}", f"$.ids: [{BIG}, 2]", f'"$.ids[?(@ == {BIG})]": {BIG}'):
        assert check(plan(f"    expect: {{json: {{{expect}}}}}\n"), reply(body=body), {}) is None
    got = check(plan(f"    expect: {{json: {{$.n: {BIG + 1}}}}}\n"), reply(body=body), {})
    assert got is not None and (got.expected, got.got) == (BIG + 1, BIG)
    assert (
        check(plan("    expect: {json: {$.f: 1.0e+30, $.small: 7}}\n"), reply(body=body), {})
        is None
    )
    step = plan("    capture: {n: $.n, ids: {path: '$.ids[*]', match: all}}\n")
    assert capture(step, reply(body=body), variables) is None
    assert variables == {"n": BIG, "ids": [BIG, 2]}
    assert type(variables["n"]) is int


def test_checks_that_hold_never_read_the_body_a_second_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def read_again(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the body was read a second time")

    monkeypatch.setattr(expect_module.json, "loads", read_again)
    answer = reply(body=f'{{"n": {BIG}, "m": 1, "f": 1e30}}'.encode())
    step = plan("    expect: {json: {$.m: 1, $.f: 1.0e+30}}\n    capture: {m: $.m}\n")
    assert check(step, answer, {}) is None and capture(step, answer, {}) is None


def test_expectation_with_undefined_variable_is_a_template_failure() -> None:
    got = check(plan("    expect: {json: {$.n: '{{ cid.nope }}'}}\n"), reply(), {"cid": "x"})
    assert got is not None and got.kind == "template" and "cid.nope" in got.got


def test_capture_one_first_all() -> None:
    step = plan(
        "    capture:\n"
        "      first_id: $.items[0].id\n"
        "      ids: $.items[*].id\n"
        "      woman: {path: \"$.items[?(@.sex == 'female')]\", match: first}\n"
        "      none: {path: \"$.items[?(@.sex == 'other')]\", match: all}\n"
    )
    variables: dict[str, Any] = {}
    assert capture(step, reply(), variables) is None
    assert variables == {
        "first_id": "079123456789",
        "ids": ["079123456789", "2"],
        "woman": BODY["items"][0],
        "none": [],
    }


def test_missing_capture_fails_the_step() -> None:
    variables: dict[str, Any] = {}
    got = capture(plan("    capture: {cid: '$.items[5].id'}\n"), reply(), variables)
    assert got is not None
    assert (got.kind, got.what, got.got) == ("capture", "cid", "<nothing matched>")
    assert "cid" not in variables
    got = capture(plan("    capture: {cid: $.id}\n"), reply(body=b"<html>"), {})
    assert got is not None and got.got == "a body that is not JSON"


def test_a_failed_capture_says_its_variable_path_and_reason_apart() -> None:
    # The JSON report had them in two sentences only: expected "a value at $.items[5].id",
    # got "<nothing matched>"; a tool had to parse words for the path and the reason.
    step = plan("    capture: {cid: '$.items[5].id', rid: {header: X-Request-Id}}\n")
    got = capture(step, reply(), {})
    assert got is not None and got.capture is not None
    assert got.capture.to_dict() == {
        "variable": "cid",
        "jsonpath": "$.items[5].id",
        "template": None,
        "header": None,
        "reason": "no_match",
        "detail": got.note,
    }
    assert got.note and got.note in got.message()  # the words, kept
    got = capture(plan("    capture: {cid: $.id}\n"), reply(body=b"<html>"), {})
    assert got is not None and got.capture is not None and got.capture.reason == "not_json"
    got = capture(plan("    capture: {rid: {header: X-Request-Id}}\n"), reply(), {})
    assert got is not None and got.capture is not None
    assert (got.capture.variable, got.capture.header, got.capture.jsonpath) == (
        "rid",
        "X-Request-Id",
        None,
    )
    assert got.capture.reason == "no_header"
    templated = plan("    capture: {c: \"$.items[?(@.id == '{{ cid }}')]\"}\n")
    got = capture(templated, reply(), {"cid": "0790"})
    assert got is not None and got.capture is not None
    assert got.capture.jsonpath == "$.items[?(@.id == '0790')]"
    assert got.capture.template == "$.items[?(@.id == '{{ cid }}')]"
    got = capture(templated, reply(), {})
    assert got is not None and got.capture is not None
    assert (got.kind, got.capture.variable, got.capture.reason) == (
        "template",
        "c",
        "undefined_variable",
    )
    assert got.to_dict()["capture"]["detail"] == got.text


def test_every_failed_check_of_a_step_is_reported_not_only_the_first() -> None:
    step = plan(
        "    expect:\n"
        "      status: 201\n"
        "      json: {$.n: 3, '$.items[0].sex': female}\n"
        "      headers: {X-Road-Id: other}\n"
    )
    got = check(step, reply(), {})
    assert got is not None and (got.kind, got.expected, got.got) == ("status", 201, 200)
    assert [(f.kind, f.what) for f in got.also] == [("headers", "X-Road-Id"), ("json", "$.n")]
    assert got.message() == (
        "status: expected 201, got 200; headers X-Road-Id: expected other, got xid-1; "
        "json $.n: expected 3, got 2"
    )
    assert [a["what"] for a in got.to_dict()["also"]] == ["X-Road-Id", "$.n"]


def test_a_failed_templated_jsonpath_is_shown_rendered() -> None:
    # It printed "a value at $.items[?(@.id == '{{ cid }}')]": which id was looked for?
    step = plan("    capture: {c: \"$.items[?(@.id == '{{ cid }}')]\"}\n")
    got = capture(step, reply(), {"cid": "0790"})
    assert got is not None and got.expected == (
        "a value at $.items[?(@.id == '0790')] (from $.items[?(@.id == '{{ cid }}')])"
    )
    step = plan("    expect: {json: {\"$.items[?(@.id == '{{ cid }}')].sex\": male}}\n")
    got = check(step, reply(), {"cid": "079123456789"})
    assert got is not None
    assert (
        got.what
        == "$.items[?(@.id == '079123456789')].sex (from $.items[?(@.id == '{{ cid }}')].sex)"
    )


def test_a_header_capture_keeps_every_value_of_a_repeated_header() -> None:
    # Only the first value was kept: a Link header repeated for next and last lost "last".
    answer = reply()
    for name, value in [("Link", "<b>; rel=next"), ("link", "<z>; rel=last")]:
        answer.headers.add(name, value)
    for name, value in [("Set-Cookie", "a=1; Path=/"), ("Set-Cookie", "b=2")]:
        answer.headers.add(name, value)
    step = plan(
        "    capture:\n"
        "      links: {header: Link}\n"  # RFC 9110's field value: the lines joined with ", "
        "      cookies: {header: set-cookie}\n"  # never joined (RFC 6265): the list
        "      rid: {header: X-Road-Id}\n"  # once: the value
        "      next: {header: Link, match: first}\n"
        "      all_links: {header: Link, match: all}\n"
        "      all_ids: {header: X-Road-Id, match: all}\n"
        "      none: {header: X-Not-There, match: all}\n"  # all never fails, as a JSONPath's
        "      one_cookie: {header: Set-Cookie, match: first}\n"
    )
    variables: dict[str, Any] = {}
    assert capture(step, answer, variables) is None
    assert variables == {
        "links": "<b>; rel=next, <z>; rel=last",
        "cookies": ["a=1; Path=/", "b=2"],
        "rid": "xid-1",
        "next": "<b>; rel=next",
        "all_links": ["<b>; rel=next", "<z>; rel=last"],
        "all_ids": ["xid-1"],
        "none": [],
        "one_cookie": "a=1; Path=/",
    }
    # What is captured by default is a value that expect: headers: holds.
    holds = plan('    expect: {headers: {Link: "<b>; rel=next, <z>; rel=last"}}\n')
    assert check(holds, answer, {}) is None
    missing = capture(plan("    capture: {x: {header: X-Gone, match: first}}\n"), answer, {})
    assert missing is not None and (missing.what, missing.got) == ("x", "<absent>")


@pytest.mark.parametrize(
    ("path", "body", "said"),
    [
        # A typo in a capture path said only "got <nothing matched>", and the body excerpt
        # (its first 300 characters) may not reach the key that was meant.
        (
            "$.itmes[0].id",
            BODY,
            "capture cid: expected a value at $.itmes[0].id, got <nothing matched> "
            "($ has no key 'itmes' (did you mean 'items'?); its keys: items, n)",
        ),
        (
            "$.items[5].id",
            BODY,
            "capture cid: expected a value at $.items[5].id, got <nothing matched> "
            "($.items has 2 items, 0 to 1)",
        ),
        (
            "$.items[0].idd",
            BODY,
            "capture cid: expected a value at $.items[0].idd, got <nothing matched> "
            "($.items[0] has no key 'idd' (did you mean 'id'?); its keys: id, sex)",
        ),
        (
            "$.n.id",
            BODY,
            "capture cid: expected a value at $.n.id, got <nothing matched> "
            "($.n is a number, not a mapping)",
        ),
        (
            "$.items[*].id",
            {"items": []},
            "capture cid: expected a value at $.items[*].id, got <nothing matched> "
            "($.items is an empty list)",
        ),
        # A filter that matched none: the path itself is not wrong, so nothing more is said.
        (
            "$.items[?(@.sex == 'x')].id",
            BODY,
            "capture cid: expected a value at $.items[?(@.sex == 'x')].id, got <nothing matched>",
        ),
    ],
)
def test_a_jsonpath_that_matches_nothing_says_where_the_body_differs(
    path: str, body: Any, said: str
) -> None:
    got = capture(plan(f'    capture: {{cid: "{path}"}}\n'), reply(body=body), {})
    assert got is not None and got.got == "<nothing matched>"
    assert got.message() == said
    step = plan(f'    expect: {{json: {{"{path}": 1}}}}\n')
    failed = check(step, reply(body=body), {})
    assert failed is not None
    assert failed.message() == said.replace("capture cid: expected a value at ", "json ").replace(
        ", got", ": expected 1, got"
    )
