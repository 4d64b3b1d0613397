"""Identifier and gateway-path parsing on any input: it answers BadRequest or IdError, or a
target that cannot walk out of the provider's base path."""

from __future__ import annotations

import hmac
import re
from typing import Any
from urllib.parse import unquote, unquote_to_bytes

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from hub.core.errors import BadRequest
from hub.core.ids import PART, IdError, parse_member, parse_service, parse_subsystem
from hub.core.security import hmac_sha256
from hub.gateway import paths

ENCODED_SEPARATOR = re.compile(r"%(2e|2f|5c|00)", re.IGNORECASE)
fast = settings(max_examples=500, deadline=None)

# Pieces a hostile path is made of: traversal, encodings, separators, and ordinary text.
tricky = st.sampled_from(
    [".", "..", "%2e", "%2E%2e", "%2f", "%2F", "%5c", "%00", "\\", "/", "//", "%252e%252e",
     "%", "%zz", "~", ";", "..;", "\x00", "\n", "é", "%c0%ae", "VN", "GOV", "BCA", "population",
     "%e0%80%ae", "%C0%AF", "%252f", "%25", "%2", "%65", "%E1%BB%85"]
)  # fmt: skip
segment = st.lists(st.one_of(tricky, st.text(max_size=6)), max_size=4).map("".join)
raw_paths = st.lists(segment, min_size=0, max_size=10).map(lambda s: "/r1/" + "/".join(s))
valid_prefix = st.just("/r1/VN/GOV/BCA/population/citizen-lookup")
near_valid = st.tuples(valid_prefix, st.lists(segment, max_size=6)).map(
    lambda t: t[0] + "".join("/" + s for s in t[1])
)


@fast
@given(st.text(max_size=80))
@example("VN/GOV/BCA/population/..")
@example("VN/GOV/./population/x")
@example("VN/GOV/BCA/pop%2fulation/x")
def test_identifier_parsing_yields_valid_parts_or_an_id_error(raw: str) -> None:
    for parse in (parse_member, parse_subsystem, parse_service):
        try:
            parts = parse(raw)
        except IdError as exc:
            assert str(exc)  # the message says what is wrong
            continue
        assert "/".join(parts) == raw
        for part in parts:
            assert PART.match(part) and part not in (".", "..")
        assert parts[0] == "VN" and parts[1] in ("GOV", "LOC", "COM")


def check_target(raw: str) -> None:
    try:
        target = paths.parse(raw)
    except BadRequest as exc:
        assert exc.status == 400 and exc.message
        return
    assert target.path.startswith("/")
    assert not ENCODED_SEPARATOR.search(target.path)
    assert "\\" not in target.path
    for seg in target.path.split("/")[1:]:
        assert seg not in (".", "..")
        # What the provider sees after its one decoding step has no parent reference either,
        # nor once it drops the segment's parameters (Tomcat reads "..;x" as ".."); nor
        # after a second decoding step, nor read by a decoder that accepts overlong UTF-8.
        for seen in (unquote(seg), unquote(unquote(seg)), overlong_decoded(seg)):
            assert seen.split(";")[0] not in (".", "..") and not {"/", "\\"} & set(seen)
    parse_service(target.service_id) if target.meta is None else parse_subsystem(target.provider)


def overlong_decoded(text: str) -> str:
    """``text`` percent-decoded by a lax decoder that reads overlong UTF-8 ("%c0%ae" is ".")."""
    data = unquote_to_bytes(text)
    out, i = [], 0
    while i < len(data):
        lead = data[i]
        size = 1 if lead < 0xC0 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
        code = lead & (0xFF >> (size + 1)) if size > 1 else lead
        for cont in data[i + 1 : i + size]:
            code = (code << 6) | (cont & 0x3F)
        out.append(chr(code % 0x110000))
        i += size
    return "".join(out)


@fast
@given(st.one_of(raw_paths, near_valid, st.text(max_size=120).map(lambda s: "/r1/" + s)))
@example("/r1/VN/GOV/BCA/population/citizen-lookup/../admin")
@example("/r1/VN/GOV/BCA/population/citizen-lookup/%c0%ae%c0%ae/admin")
@example("/r1/VN/GOV/BCA/population/citizen-lookup/%e0%80%ae./admin")
@example("/r1/VN/GOV/BCA/population/citizen-lookup/..%c0%afadmin")
@example("/r1/VN/GOV/BCA/population/citizen-lookup/..%252fadmin")
@example("/r1/VN/GOV/BCA/population/citizen-lookup/%2%65%2%65/admin")
@example("/r1/VN/GOV/BCA/population/citizen-lookup/%2e%2e/admin")
@example("/r1/VN/GOV/BCA/population/citizen-lookup/a%2Fb")
@example("/r1/VN/GOV/BCA/population/citizen-lookup/.%2e/x")
@example("/r1/VN/GOV/BCA/population/citizen-lookup/%252e%252e/x")
@example("/r1/VN/GOV/BCA/population/citizen-lookup/..;/..;/admin")
@example("/r1/VN/GOV/BCA/population/citizen-lookup/a/.;x/b")
@example("/r1/VN/GOV/BCA/population/listMethods")
def test_gateway_path_parsing_raises_only_bad_request_and_never_traverses(raw: str) -> None:
    check_target(raw)


@fast
@given(st.lists(st.sampled_from(["a", "b1", "x-y", "_", "A.b"]), min_size=0, max_size=4))
def test_ordinary_paths_are_kept_as_sent(segments: list[str]) -> None:
    raw = "/r1/VN/GOV/BCA/population/citizen-lookup" + "".join("/" + s for s in segments)
    target = paths.parse(raw)
    assert target.service_id == "VN/GOV/BCA/population/citizen-lookup"
    assert target.path == "/" + "/".join(segments)


def test_registered_service_ids_skip_only_the_id_checks() -> None:
    known = {"VN/GOV/BCA/population/citizen-lookup"}
    target = paths.parse("/r1/VN/GOV/BCA/population/citizen-lookup/citizens/1", known)
    assert target.service_id == "VN/GOV/BCA/population/citizen-lookup"
    assert target.path == "/citizens/1"
    # An id the registry does not hold is still checked part by part ...
    with pytest.raises(BadRequest, match="service"):
        paths.parse("/r1/VN/GOV/BCA/popu lation/citizen-lookup/citizens/1", known)
    # ... and a registered service's path segments always are.
    for bad in ("/citizens/..", "/citizens/%2e%2e", "/a b"):
        with pytest.raises(BadRequest):
            paths.parse(f"/r1/VN/GOV/BCA/population/citizen-lookup{bad}", known)


@fast
@given(st.text(max_size=150), st.binary(max_size=300))
@example("", b"")
@example("k" * 64, b"pii:079203001234")
@example("k" * 65, b"pii:079203001234")  # longer than a block: the key is hashed first
def test_hmac_sha256_is_the_standard_hmac(secret: str, data: bytes) -> None:
    # Pseudonyms already in logs must stay searchable: the fast HMAC may not differ.
    assert hmac_sha256(secret, data) == hmac.digest(secret.encode(), data, "sha256")


def reference_parse(raw: str, known: frozenset[str]) -> paths.Target:
    """The path rules one segment at a time, as parse first applied them (its definition)."""
    if paths.FORBIDDEN.search(raw):
        raise BadRequest("forbidden")
    parts = raw.split("/")
    ids = parts[2:7]
    if len(ids) < 5 or not all(ids):
        raise BadRequest("shape")
    service_id = "/".join(ids)
    if service_id not in known:
        try:
            parse_service(service_id)
        except IdError:
            raise BadRequest("id") from None
    rest = parts[7:]
    for seg in rest:
        if seg.split(";")[0] in (".", "..") or not paths.SEGMENT.match(seg):
            raise BadRequest(f"path segment {seg!r} is not allowed")
    provider = "/".join(ids[:4])
    if ids[4] in paths.METASERVICES and not rest:
        return paths.Target(provider, provider, ids[4], "/", ids[4])
    return paths.Target(service_id, provider, ids[4], "/" + "/".join(rest), None)


@fast
@given(st.one_of(raw_paths, near_valid, st.text(max_size=120).map(lambda s: "/r1/" + s)))
@example("/r1/VN/GOV/BCA/population/citizen-lookup/")
@example("/r1/VN/GOV/BCA/population/listMethods/")
@example("/r1/VN/GOV/BCA/population/citizen-lookup/a/./b")
@example("/r1/VN/GOV/BCA/population/citizen-lookup/.a/..b/...")
@example("/r1/VN/GOV/BCA/population/citizen-lookup/x/..")
@example("/r1/VN/GOV/BCA/population/citizen-lookup/x/..;y/z")
@example("/r1/VN/GOV/BCA/population/citizen-lookup/x/..y;/z")
def test_gateway_path_parsing_matches_the_segment_by_segment_rules(raw: str) -> None:
    known = frozenset({"VN/GOV/BCA/population/citizen-lookup"})

    def outcome(parse: Any) -> Any:
        try:
            return parse(raw, known)
        except BadRequest as exc:
            # The segment named, when one is; the other messages are the parser's own words.
            return ("refused", exc.message if "is not allowed" in exc.message else None)

    ours, reference = outcome(paths.parse), outcome(reference_parse)
    if isinstance(ours, tuple) and ours[1] is not None:
        assert isinstance(reference, tuple) and reference[1] is not None
        assert reference[1] in ours[1]
    elif isinstance(ours, tuple):
        assert isinstance(reference, tuple) and reference[1] is None
    else:
        assert ours == reference


def test_an_identifier_error_names_the_rule_the_part_breaks() -> None:
    with pytest.raises(IdError, match="has a part of 129 characters .*; the limit is 128"):
        parse_member("VN/GOV/" + "a" * 129)
    with pytest.raises(IdError, match="invalid part 'a b': use letters, digits"):
        parse_member("VN/GOV/a b")
    with pytest.raises(IdError, match="invalid part .*: use letters, digits"):
        parse_member("VN/GOV/" + "a" * 129 + "!")  # both rules: the characters first


@pytest.mark.parametrize("part", [".", ".."])
def test_a_dot_part_is_told_as_such_not_as_bad_characters(part: str) -> None:
    # "invalid part '..': use letters, digits, '-', '_' or '.'" refused dots while naming
    # the dot as allowed.
    with pytest.raises(IdError) as caught:
        parse_service(f"VN/LOC/48/construction/{part}")
    said = str(caught.value)
    assert f"has a part {part!r} alone, which a URL resolves as a path's dot segment" in said
    assert "give a name with a letter or digit" in said
    assert "use letters, digits" not in said
