"""X-Road style identifiers: ``INSTANCE/CLASS/MEMBER[/SUBSYSTEM[/SERVICE]]``."""

from __future__ import annotations

import random
import re
import time
import unicodedata
from dataclasses import dataclass
from typing import Any, NamedTuple

PART_CHARS = "[A-Za-z0-9._-]"
PART_MAX = 128
PART = re.compile(rf"^{PART_CHARS}{{1,{PART_MAX}}}$")
CHARS = re.compile(rf"^{PART_CHARS}+$")  # ... at any length, to tell which rule a part breaks
INSTANCES = frozenset({"VN"})
CLASSES = frozenset({"GOV", "LOC", "COM"})
# An X-Road-Id a client sends (the gateway refuses any other) and so what the log holds of
# it; a request id the hub makes (``request_id``) is of this form too.
XROAD_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,200}$")
EXAMPLES = {
    3: "VN/GOV/BCA",
    4: "VN/GOV/BTP/civil-status",
    5: "VN/GOV/BCA/population/citizen-lookup",
}
SHAPES = {3: "member", 4: "subsystem", 5: "service"}


def pattern(parts: int, *also: str) -> str:
    """The regular expression (ECMA-262, as OpenAPI's ``pattern``; Python reads it alike
    with ``re.fullmatch``) of exactly the ids of ``parts`` parts that ``parse_member`` (3),
    ``parse_subsystem`` (4) and ``parse_service`` (5) take, or one of the words ``also``:
    built from the rules they check, so the API's description cannot say other than the hub
    does."""
    return "^(?:" + "|".join([id_regex(parts), *(re.escape(word) for word in also)]) + ")$"


def id_regex(parts: int) -> str:
    """``pattern(parts)`` without its anchors, to build others of."""

    def one_of(codes: frozenset[str]) -> str:
        return "(?:" + "|".join(re.escape(c) for c in sorted(codes)) + ")"

    # A part of PART but "." or ".." (check_parts refuses those alone): one that starts
    # with another character, or with one dot and another, or with two dots and more. No
    # lookahead, which the regular expressions of Go and Rust clients lack.
    other, n = PART_CHARS.replace(".", ""), PART_MAX
    part = (
        f"(?:{other}{PART_CHARS}{{0,{n - 1}}}|\\.{other}{PART_CHARS}{{0,{n - 2}}}"
        f"|\\.\\.{PART_CHARS}{{1,{n - 2}}})"
    )
    return f"{one_of(INSTANCES)}/{one_of(CLASSES)}" + f"/{part}" * (parts - 2)


@dataclass(frozen=True)
class Described:
    """In ``Annotated[str, Described(...)]``: the ``pattern`` and ``examples`` that pydantic,
    and so /openapi.json, gives of the value. It describes; the hub's own checks refuse."""

    pattern: str
    examples: tuple[Any, ...]
    description: str | None = None

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> dict[str, Any]:
        schema: dict[str, Any] = handler(core_schema)
        schema["pattern"] = self.pattern
        schema["examples"] = list(self.examples)
        if self.description:
            schema.setdefault("description", self.description)
        return schema


def described(parts: int, *also: str) -> Described:
    """How an id of ``parts`` parts (or one of the words ``also``) is described."""
    shape = "/".join(["INSTANCE", "CLASS", "MEMBER", "SUBSYSTEM", "SERVICE"][:parts])
    said = (
        f"A {SHAPES[parts]} id, {shape}: instance {', '.join(sorted(INSTANCES))}, class "
        f"{', '.join(sorted(CLASSES))}, then parts of 1-{PART_MAX} letters, digits, '-', '_' "
        "or '.' (not '.' or '..' alone)"
    )
    return Described(pattern(parts, *also), (EXAMPLES[parts], *also), said)


class IdError(ValueError):
    """An identifier that breaks the rules; the message says which part and why."""


def check_parts(parts: list[str], kind: str, raw: str) -> None:
    for part in parts:
        # "." and ".." are legal characters but would let a path walk upwards.
        if part in (".", ".."):
            raise IdError(
                f"{kind} identifier {_short(raw)!r} has a part {part!r} alone, which a URL "
                "resolves as a path's dot segment (the call would reach another path): give a "
                "name with a letter or digit"
            )
        # fullmatch: "$" of match also matches before a final line break, and "BCA\n" was
        # taken as a member code.
        if not PART.fullmatch(part):
            if len(part) > PART_MAX and CHARS.fullmatch(part):
                raise IdError(
                    f"{kind} identifier {_short(raw)!r} has a part of {len(part)} characters "
                    f"({_short(part, 20)!r}); the limit is {PART_MAX}"
                )
            raise IdError(
                f"{kind} identifier {_short(raw)!r} has an invalid part {_short(part)!r}: "
                f"use letters, digits, '-', '_' or '.'{_ascii_hint(part)}"
            )
    if parts[0] not in INSTANCES:
        raise IdError(f"{kind} identifier {raw!r}: unknown instance {parts[0]!r} (use VN)")
    if parts[1] not in CLASSES:
        raise IdError(
            f"{kind} identifier {raw!r}: unknown member class {parts[1]!r} (use GOV, LOC or COM)"
        )


def _ascii_hint(part: str) -> str:
    """For a part written in Vietnamese ("một-cửa"), the ASCII one it most likely means."""
    if part.isascii():
        return ""
    folded = unicodedata.normalize("NFD", part.replace("đ", "d").replace("Đ", "D"))
    folded = "".join(c for c in folded if not unicodedata.combining(c)).replace(" ", "-")
    if not PART.match(folded):
        return " (ASCII only)"
    return f" (ASCII only; without diacritics: {folded!r})"


def _short(text: str, limit: int = 100) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


class MemberId(NamedTuple):
    instance: str
    member_class: str
    member_code: str

    def __str__(self) -> str:
        return "/".join(self)


class SubsystemId(NamedTuple):
    instance: str
    member_class: str
    member_code: str
    subsystem_code: str

    def __str__(self) -> str:
        return "/".join(self)

    @property
    def member(self) -> MemberId:
        return MemberId(self.instance, self.member_class, self.member_code)


class ServiceId(NamedTuple):
    instance: str
    member_class: str
    member_code: str
    subsystem_code: str
    service_code: str

    def __str__(self) -> str:
        return "/".join(self)

    @property
    def subsystem(self) -> SubsystemId:
        return SubsystemId(*self[:4])


def _split(raw: str, n: int, kind: str) -> list[str]:
    if not isinstance(raw, str):
        raise IdError(f"{kind} identifier must be a string, got {type(raw).__name__}")
    parts = raw.split("/")
    if len(parts) != n:
        shape = "/".join(["INSTANCE", "CLASS", "MEMBER", "SUBSYSTEM", "SERVICE"][:n])
        raise IdError(f"{kind} identifier {raw!r} must have the form {shape}")
    check_parts(parts, kind, raw)
    return parts


def parse_member(raw: str) -> MemberId:
    return MemberId(*_split(raw, 3, "member"))


def parse_subsystem(raw: str, kind: str = "subsystem") -> SubsystemId:
    """``raw`` as a subsystem id; ``kind`` is what its refusal calls it ("client")."""
    return SubsystemId(*_split(raw, 4, kind))


def parse_service(raw: str, kind: str = "service") -> ServiceId:
    return ServiceId(*_split(raw, 5, kind))


def request_id() -> str:
    """A new exchange's X-Road-Request-Id: a UUIDv7 (RFC 9562) as 32 hex digits.

    Time-ordered, so the log's indexes on request ids grow at their right edge instead of
    at random pages. With random (v4) ids, a commit of 12 records rewrote a page per record
    in each of those indexes: 530 us per commit against 181 us with these, and 78 against
    45 us of the writer's time per record (bench/logwriter.py records on SQLite, 50,000
    already logged). 48 bits of milliseconds, then 74 random bits.

    The random bits come from ``random`` (seeded from the OS at start, and again in a
    forked child): an id must be unique, not secret, and os.urandom's system call was
    1.1 us against 0.08 (timeit), 1.7 % of the hub worker's samples (py-spy).
    """
    ms = time.time_ns() // 1_000_000
    rand = random.getrandbits(74)
    value = (
        (ms & 0xFFFF_FFFF_FFFF) << 80
        | 0x7 << 76
        | (rand >> 68) << 64  # rand_a: 12 bits
        | 0b10 << 62
        | (rand & 0x3FFF_FFFF_FFFF_FFFF)  # rand_b: 62 bits
    )
    return f"{value:032x}"
