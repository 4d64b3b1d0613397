"""The scenario file format (SPEC section 8), as pydantic models.

``schemas/scenario.schema.json`` is generated from :class:`Scenario` (``python -m
hub.replay.schemas``), so editors and the loader agree on one definition. Every model
forbids unknown keys: a typo in a scenario is an error before anything runs, not an
expectation silently skipped.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Strict,
    Tag,
    field_validator,
    model_validator,
)

Scalar = str | int | float | bool
# A number as written: YAML's true is no 1 (a `sleep: true` slept a second, an `error_rate:
# true` failed every call), nor is "0.5"; an int is a number.
Number = Annotated[float, Strict()]
Whole = Annotated[int, Strict()]
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
# Either case; JSON Schema regexes have no portable case-insensitive flag.
METHOD_PATTERN = "^(" + "|".join(HTTP_METHODS + tuple(m.lower() for m in HTTP_METHODS)) + ")$"

# Identifiers may carry templates, so only the number of parts is checked here.
CLIENT_PATTERN = r"^[^/\s]+/[^/\s]+/[^/\s]+/[^/\s]+$"
SERVICE_PATTERN = r"^[^/\s]+/[^/\s]+/[^/\s]+/[^/\s]+/[^/\s]+$"
STEP_ID_PATTERN = r"^[A-Za-z0-9_.-]+$"
VAR_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]*$"

# What each pattern asks for, in words: a file that breaks one is told this, not the regex.
PATTERN_ADVICE = {
    CLIENT_PATTERN: "must be a subsystem id INSTANCE/CLASS/MEMBER/SUBSYSTEM "
    "such as VN/GOV/BTP/civil-status",
    SERVICE_PATTERN: "must be a service id INSTANCE/CLASS/MEMBER/SUBSYSTEM/SERVICE "
    "such as VN/GOV/BCA/population/citizen-lookup",
    METHOD_PATTERN: f"must be one of {', '.join(HTTP_METHODS)}",
    STEP_ID_PATTERN: "must be letters, digits, '_', '.' and '-' only, such as find-citizen",
}


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class Expect(_Model):
    """What a step's response must satisfy; every given check must hold."""

    status: int | list[int] | None = Field(
        default=None, description="Expected HTTP status, or a list of acceptable ones."
    )
    json_: dict[str, Any] | None = Field(
        default=None,
        alias="json",
        description="JSONPath into the response body -> expected value (templates allowed).",
    )
    headers: dict[str, str | list[str] | None] | None = Field(
        default=None,
        description=(
            "Response header -> exact value, or a list of acceptable values; "
            "null: the header must be absent."
        ),
    )
    max_ms: Number | None = Field(default=None, gt=0, description="Latency ceiling in ms.")

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, value: Any) -> Any:
        if value is None:
            return value
        values = value if isinstance(value, list) else [value]
        if not values or not all(
            isinstance(v, int) and not isinstance(v, bool) and 100 <= v <= 599 for v in values
        ):
            raise ValueError("must be an HTTP status (100-599) or a non-empty list of them")
        return value


class FaultSpec(_Model):
    """Fault settings of a mock agency, for all its services or one (SPEC section 9)."""

    latency_ms: Number | None = Field(default=None, ge=0)
    jitter_ms: Number | None = Field(default=None, ge=0)
    error_rate: Number | None = Field(default=None, ge=0, le=1)
    error_status: Whole | None = Field(default=None, ge=100, le=599)
    timeout_rate: Number | None = Field(default=None, ge=0, le=1)
    reset_rate: Number | None = Field(default=None, ge=0, le=1)
    malformed_rate: Number | None = Field(default=None, ge=0, le=1)


class FaultSettings(FaultSpec):
    """The body of ``PUT {base_url}/__faults``: global settings, a seed, per-service ones."""

    # A template ("{{ run.iteration }}") gives each iteration its own draws: the mock
    # restarts its random sequence from the seed at every PUT.
    seed: int | str | None = None
    services: dict[str, FaultSpec] | None = Field(
        default=None, description="Service code -> settings overriding the global ones."
    )

    @field_validator("seed")
    @classmethod
    def _seed(cls, value: int | str | None) -> int | str | None:
        if isinstance(value, str) and "{{" not in value:
            try:
                return int(value)
            except ValueError:
                raise ValueError(
                    "a seed is an integer, or a template that renders to one, "
                    'e.g. "{{ run.iteration }}"'
                ) from None
        return value


class Fault(_Model):
    """Switch a provider's faults on (``set``) or off (``clear``)."""

    provider: str = Field(
        pattern=CLIENT_PATTERN, description="Provider subsystem, e.g. VN/GOV/BCA/population."
    )
    url: str | None = Field(
        default=None, description="Provider base URL; default: --providers or GET /demo/providers."
    )
    set: FaultSettings | None = None
    clear: bool = False

    @model_validator(mode="after")
    def _one_action(self) -> Fault:
        if (self.set is None) == (not self.clear):
            raise ValueError("give exactly one of 'set: {...}' or 'clear: true'")
        return self


class Capture(_Model):
    """A capture from the response body (a JSONPath, with a choice of what to keep when
    it matches several values) or from a response header."""

    path: str | None = Field(default=None, description="JSONPath into the response body.")
    header: str | None = Field(
        default=None,
        description="Response header whose value to keep (e.g. X-Road-Id, Location).",
    )
    match: Literal["one", "first", "all"] = Field(
        default="one",
        description=(
            "For a path: one: the value, or the list when several match; first: the first "
            "match; all: always the list of matches (may be empty)."
        ),
    )

    @model_validator(mode="after")
    def _one_source(self) -> Capture:
        if (self.path is None) == (self.header is None):
            raise ValueError("give exactly one of 'path: JSONPath' or 'header: NAME'")
        if self.header is not None and "match" in self.model_fields_set:
            raise ValueError("'match' applies to a JSONPath; a header has one value")
        return self


class ExchangeStep(_Model):
    """One request through the hub's gateway."""

    id: str | None = Field(default=None, pattern=STEP_ID_PATTERN)
    description: str | None = None
    client: str = Field(pattern=CLIENT_PATTERN, description="Calling subsystem (X-Road-Client).")
    service: str = Field(pattern=SERVICE_PATTERN, description="Service id, provider + /CODE.")
    method: str = Field(default="GET", pattern=METHOD_PATTERN, description="HTTP method.")
    path: str = Field(
        default="", description="Path after the service id, e.g. /citizens/{{ cid }}."
    )
    query: dict[str, Scalar | list[Scalar]] | None = None
    headers: dict[str, Scalar] | None = None
    json_: Any = Field(default=None, alias="json", description="JSON request body.")
    body: str | None = Field(default=None, description="Raw request body (instead of json).")
    expect: Expect | None = None
    capture: dict[str, str | Capture] | None = Field(
        default=None,
        description="Variable name -> JSONPath into the response body, or "
        "{path: JSONPath, match: ...} or {header: NAME}.",
    )

    @field_validator("method")
    @classmethod
    def _upper(cls, value: str) -> str:
        return value.upper()

    @field_validator("path")
    @classmethod
    def _slash(cls, value: str) -> str:
        if value and not value.startswith(("/", "{{")):
            raise ValueError("must start with '/' (it is appended to the service id)")
        return value

    @field_validator("capture")
    @classmethod
    def _capture_names(
        cls, value: dict[str, str | Capture] | None
    ) -> dict[str, str | Capture] | None:
        for name in value or {}:
            if not re.match(VAR_NAME_PATTERN, name) or name == "run":
                raise ValueError(f"capture name {name!r} is not a valid variable name")
        return value

    @model_validator(mode="after")
    def _one_body(self) -> ExchangeStep:
        if self.json_ is not None and self.body is not None:
            raise ValueError("give either 'json' or 'body', not both")
        return self


class FaultStep(_Model):
    """A step that changes a mock agency's faults instead of calling the gateway."""

    id: str | None = Field(default=None, pattern=STEP_ID_PATTERN)
    description: str | None = None
    fault: Fault


class SleepStep(_Model):
    """A pause inside an iteration (k6's ``sleep``): a user's think time between requests."""

    id: str | None = Field(default=None, pattern=STEP_ID_PATTERN)
    description: str | None = None
    sleep: Number = Field(gt=0, le=3600, description="Seconds to wait, e.g. 0.5.")


STUB_METHODS = (*HTTP_METHODS, "ANY")


def _templated(value: Any) -> bool:
    return isinstance(value, str) and "{{" in value


class MockStub(_Model):
    """One stub of a mock's ``/__stubs`` (docs/connectors.md, "Stubs"); every string may hold
    templates. The mock checks the rest when it is added (a refusal fails the step)."""

    id: str | None = Field(default=None, description="A name of your own; else the mock's s1...")
    method: str = Field(description="GET, POST, ... or ANY.")
    path: str | None = Field(default=None, description="The exact path to answer.")
    path_pattern: str | None = Field(
        default=None, description="A regular expression the whole path must match."
    )
    query: dict[str, Scalar] | None = None
    request_headers: dict[str, Scalar] | None = None
    status: Whole | str = Field(default=200, description="The answer's status, 200-599.")
    headers: dict[str, Scalar] | None = Field(default=None, description="The answer's headers.")
    body: Any = Field(default=None, description="The answer as JSON.")
    text: str | None = Field(default=None, description="The answer as text (instead of body).")
    times: Whole | str | None = Field(default=None, description="Answer that many calls only.")
    latency_ms: Number | str | None = None

    @field_validator("method")
    @classmethod
    def _method(cls, value: str) -> str:
        if not _templated(value) and value.upper() not in STUB_METHODS:
            raise ValueError(f"must be one of {', '.join(STUB_METHODS)}")
        return value if _templated(value) else value.upper()

    @field_validator("status")
    @classmethod
    def _stub_status(cls, value: int | str) -> int | str:
        if isinstance(value, str) and not _templated(value):
            raise ValueError("must be an HTTP status 200-599, or a template that renders to one")
        if isinstance(value, int) and not 200 <= value <= 599:
            raise ValueError("must be an HTTP status 200-599")
        return value

    @model_validator(mode="after")
    def _stub_shape(self) -> MockStub:
        if (self.path is None) == (self.path_pattern is None):
            raise ValueError("give exactly one of 'path' (exact) or 'path_pattern' (a regex)")
        if self.path is not None and not self.path.startswith(("/", "{{")):
            raise ValueError("path must start with '/'")
        if "body" in self.model_fields_set and self.text is not None:
            raise ValueError("give the answer as 'body' (JSON) or 'text', not both")
        return self


class Stubs(_Model):
    """Add stubs to a provider's mock (``add``), or remove those the scenario added."""

    provider: str = Field(
        pattern=CLIENT_PATTERN, description="Provider subsystem, e.g. VN/GOV/BCA/population."
    )
    url: str | None = Field(
        default=None, description="Provider base URL; default: --providers or GET /demo/providers."
    )
    add: list[MockStub] | None = Field(default=None, min_length=1)
    clear: bool = False

    @model_validator(mode="after")
    def _one_action(self) -> Stubs:
        if (self.add is None) == (not self.clear):
            raise ValueError("give exactly one of 'add: [{stub}, ...]' or 'clear: true'")
        return self


class JournalFilter(_Model):
    """Which calls of the mock's journal to count (``GET /__requests/count``)."""

    method: str | None = Field(default=None, pattern=METHOD_PATTERN)
    path: str | None = Field(default=None, description="The exact path.")
    path_pattern: str | None = Field(
        default=None, description="A regular expression the whole path must match."
    )
    status: Whole | None = Field(default=None, ge=100, le=599, description="Status answered.")

    @model_validator(mode="after")
    def _one_path(self) -> JournalFilter:
        if self.path is not None and self.path_pattern is not None:
            raise ValueError("give 'path' (exact) or 'path_pattern' (a regex), not both")
        return self


class Verify(_Model):
    """How many calls a provider's mock received that match ``request``, in this iteration."""

    provider: str = Field(
        pattern=CLIENT_PATTERN, description="Provider subsystem, e.g. VN/GOV/BCA/population."
    )
    url: str | None = Field(
        default=None, description="Provider base URL; default: --providers or GET /demo/providers."
    )
    request: JournalFilter = Field(default_factory=JournalFilter)
    count: Whole | None = Field(default=None, ge=0, description="Exactly this many calls.")
    at_least: Whole | None = Field(default=None, ge=0)
    at_most: Whole | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _bounds(self) -> Verify:
        if self.count is not None and (self.at_least is not None or self.at_most is not None):
            raise ValueError("give 'count', or 'at_least' and/or 'at_most', not both")
        if self.count is None and self.at_least is None and self.at_most is None:
            raise ValueError("give 'count: N', or 'at_least: N' and/or 'at_most: N'")
        low, high = self.at_least, self.at_most
        if low is not None and high is not None and low > high:
            raise ValueError(f"at_least ({low}) is more than at_most ({high})")
        return self


class StubStep(_Model):
    """A step that adds or removes stubs of a mock agency instead of calling the gateway."""

    id: str | None = Field(default=None, pattern=STEP_ID_PATTERN)
    description: str | None = None
    stub: Stubs


class VerifyStep(_Model):
    """A step that checks a mock agency's request journal instead of calling the gateway."""

    id: str | None = Field(default=None, pattern=STEP_ID_PATTERN)
    description: str | None = None
    verify: Verify


def step_kind(value: Any) -> str:
    """``fault``, ``stub``, ``verify``, ``sleep`` or ``exchange``: which model a step (a
    mapping or a model) is."""
    for kind in ("fault", "stub", "verify", "sleep"):
        if (kind in value) if isinstance(value, dict) else hasattr(value, kind):
            return kind
    return "exchange"


Step = Annotated[
    Annotated[ExchangeStep, Tag("exchange")]
    | Annotated[FaultStep, Tag("fault")]
    | Annotated[StubStep, Tag("stub")]
    | Annotated[VerifyStep, Tag("verify")]
    | Annotated[SleepStep, Tag("sleep")],
    Discriminator(step_kind),
]


class Scenario(_Model):
    """A scenario file: named, ordered steps replayed once per iteration."""

    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$id": "https://hub.local/schemas/scenario.schema.json",
        },
    )

    name: str | None = Field(default=None, description="Defaults to the file name.")
    description: str | None = None
    vars: dict[str, Any] = Field(
        default_factory=dict, description="Variables for {{ templates }}; may use run.*."
    )
    steps: list[Step] = Field(min_length=1)

    @field_validator("vars")
    @classmethod
    def _var_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        for name in value:
            if not re.match(VAR_NAME_PATTERN, str(name)) or name == "run":
                raise ValueError(f"variable name {name!r} is not a valid variable name")
        return value

    @model_validator(mode="after")
    def _ids(self) -> Scenario:
        # Duplicates are refused when compiling (hub/replay/plan.py), at the step's own line.
        for index, step in enumerate(self.steps):
            if step.id is None:
                kinds = {
                    FaultStep: "fault",
                    StubStep: "stub",
                    VerifyStep: "verify",
                    SleepStep: "sleep",
                }
                kind = kinds.get(type(step), "step")
                step.id = f"{kind}-{index + 1}"
        return self


def json_schema() -> dict[str, Any]:
    """The JSON Schema shipped as ``schemas/scenario.schema.json``."""
    return Scenario.model_json_schema(by_alias=True)


SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "scenario.schema.json"


if __name__ == "__main__":  # python -m hub.replay.schemas > schemas/scenario.schema.json
    json.dump(json_schema(), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
