"""The pattern /openapi.json gives of an id takes exactly the ids the hub takes."""

from __future__ import annotations

import re

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hub.core.ids import IdError, parse_member, parse_service, parse_subsystem, pattern

PARSERS = {3: parse_member, 4: parse_subsystem, 5: parse_service}


def takes(parts: int, raw: str) -> bool:
    try:
        PARSERS[parts](raw)
    except IdError:
        return False
    return True


def matches(parts: int, raw: str) -> bool:
    # fullmatch reads "^...$" as ECMA-262 does (a JSON Schema pattern): Python's search
    # would let "$" match before a final line break.
    return re.fullmatch(pattern(parts), raw) is not None


# Parts an id is made of, the rules' edges among them.
pieces = st.sampled_from(
    ["VN", "GOV", "LOC", "COM", "vn", "XX", "BCA", "population", "a", ".", "..", "...", ".a",
     "a.", "a b", "\n", "một", "", "-", "_", "a" * 127, "a" * 128, "a" * 129, ".." + "a" * 126]
)  # fmt: skip
ids = st.lists(st.one_of(pieces, st.text(max_size=4)), min_size=1, max_size=6).map("/".join)


@settings(max_examples=1000, deadline=None)
@given(ids)
@example("VN/GOV/BCA\n")
@example("VN/GOV/BCA\n/population")
@example("VN/GOV/BCA/population/citizen-lookup\n")
def test_the_documented_pattern_takes_what_the_parser_takes(raw: str) -> None:
    for parts in (3, 4, 5):
        assert matches(parts, raw) == takes(parts, raw), (parts, raw)


@pytest.mark.parametrize(
    "raw",
    ["VN/GOV/BCA", "VN/LOC/...", "VN/COM/.a", "VN/GOV/a.b_c-D9", "VN/GOV/" + "a" * 128],
)
def test_members_the_hub_takes_match(raw: str) -> None:
    assert takes(3, raw) and matches(3, raw)


@pytest.mark.parametrize(
    "raw",
    [
        "VN/GOV/BCA\n",  # was taken: PART.match let "$" match before the line break
        "VN/GOV/..",
        "VN/GOV/.",
        "VN/GOV/a b",
        "VN/GOV/một",
        "VN/GOV/" + "a" * 129,
        "vn/GOV/BCA",
        "VN/XX/BCA",
        "VN/GOV",
        "VN/GOV/BCA/x",
    ],
)
def test_members_the_hub_refuses_do_not_match(raw: str) -> None:
    assert not takes(3, raw) and not matches(3, raw)
