"""The scenario format's models of what a step asks of a mock agency: faults, stubs, counts."""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, field_serializer, field_validator, model_validator

from hub.replay.fields import (
    CLIENT_PATTERN,
    HTTP_METHODS,
    METHOD_PATTERN,
    Model,
    Number,
    Scalar,
    Whole,
)


class FaultSpec(Model):
    """Fault settings of a mock agency, for all its services or one (SPEC section 9)."""

    latency_ms: Number | None = Field(default=None, ge=0)
    jitter_ms: Number | None = Field(default=None, ge=0)
    error_rate: Number | None = Field(default=None, ge=0, le=1)
    error_status: Whole | None = Field(default=None, ge=400, le=599)  # as the mock takes it
    timeout_rate: Number | None = Field(default=None, ge=0, le=1)
    reset_rate: Number | None = Field(default=None, ge=0, le=1)
    malformed_rate: Number | None = Field(default=None, ge=0, le=1)

    @field_serializer(
        "latency_ms", "jitter_ms", "error_rate", "timeout_rate", "reset_rate", "malformed_rate"
    )
    def _whole_as_given(self, value: float | None) -> float | int | None:
        # The model takes 200 as 200.0; the reports and labels echo it back as written.
        return int(value) if value is not None and value.is_integer() else value


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


class MockTarget(Model):
    """The provider whose mock a fault, stub or verify step acts on."""

    provider: str = Field(
        pattern=CLIENT_PATTERN, description="Provider subsystem, e.g. VN/GOV/BCA/population."
    )
    url: str | None = Field(
        default=None, description="Provider base URL; default: --providers or GET /demo/providers."
    )


class Fault(MockTarget):
    """Switch a provider's faults on (``set``) or off (``clear``)."""

    set: FaultSettings | None = None
    clear: bool = False

    @model_validator(mode="after")
    def _one_action(self) -> Fault:
        if (self.set is None) == (not self.clear):
            raise ValueError("give exactly one of 'set: {...}' or 'clear: true'")
        return self


STUB_METHODS = (*HTTP_METHODS, "ANY")
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # a header's name (RFC 9110)


def _templated(value: Any) -> bool:
    return isinstance(value, str) and "{{" in value


class MockStub(Model):
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
    request_json: Any = Field(
        default=None,
        description="Answer only a request whose body is JSON holding this value (an object's "
        "other keys may come too; null matches a body that is null).",
    )
    request_jsonpath: list[str] | None = Field(
        default=None,
        description="Answer only a request whose JSON body each of these JSONPath expressions "
        "finds something in (WireMock's matchesJsonPath).",
    )
    headers: dict[str, Scalar | list[Scalar]] | None = Field(
        default=None,
        description="The answer's headers; a list sends one line per value (two Set-Cookie).",
    )
    body: Any = Field(default=None, description="The answer as JSON.")
    text: str | None = Field(default=None, description="The answer as text (instead of body).")
    times: Whole | str | None = Field(default=None, description="Answer that many calls only.")
    latency_ms: Number | str | None = None
    priority: Whole | str | None = Field(
        default=None, description="1 is tried first; without one, 5 (as in WireMock)."
    )
    scenario: str | None = Field(
        default=None, description="A scenario of the mock's; every scenario starts in Started."
    )
    required_state: str | None = Field(
        default=None, description="Answer only while the scenario is in this state."
    )
    new_state: str | None = Field(
        default=None, description="Move the scenario to this state on answering."
    )
    template: bool | None = Field(
        default=None,
        description="The mock renders {{ request.* }}, {{ jsonpath '...' }}, {{ now }} and "
        "{{ uuid }} in body, text and headers from each call it answers.",
    )

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

    @field_validator("times", "priority")
    @classmethod
    def _stub_times(cls, value: int | str | None) -> int | str | None:
        # Else "two" or 0 loaded, and the mock refused the stub in every iteration.
        plain = isinstance(value, str) and not _templated(value)
        if plain or (isinstance(value, int) and value < 1):
            raise ValueError("must be a whole number, 1 or more, or a template that renders to one")
        return value

    @field_validator("latency_ms")
    @classmethod
    def _stub_latency(cls, value: float | str | None) -> float | str | None:
        plain = isinstance(value, str) and not _templated(value)
        if plain or (isinstance(value, float) and not 0 <= value <= 600_000):
            raise ValueError(
                "must be a number of milliseconds 0-600000, or a template that renders to one"
            )
        return value

    @field_validator("headers")
    @classmethod
    def _header_lists(
        cls, value: dict[str, Scalar | list[Scalar]] | None
    ) -> dict[str, Scalar | list[Scalar]] | None:
        # Else it loaded, and the mock refused the stub in every iteration.
        empty = next((k for k, v in (value or {}).items() if v == []), None)
        if empty is not None:
            raise ValueError(f"{empty}: an empty list sends nothing; give one or more values")
        return value

    @model_validator(mode="after")
    def _stub_shape(self) -> MockStub:
        if (self.path is None) == (self.path_pattern is None):
            raise ValueError("give exactly one of 'path' (exact) or 'path_pattern' (a regex)")
        if self.path is not None and not self.path.startswith(("/", "{{")):
            raise ValueError("path must start with '/'")
        if "body" in self.model_fields_set and self.text is not None:
            raise ValueError("give the answer as 'body' (JSON) or 'text', not both")
        if self.scenario is None and (self.required_state or self.new_state):
            # Else it loaded, and the mock refused the stub in every iteration.
            raise ValueError(
                "required_state and new_state are states of a scenario: give scenario too"
            )
        return self


class Stubs(MockTarget):
    """Add stubs to a provider's mock (``add``), or remove those the scenario added."""

    add: list[MockStub] | None = Field(default=None, min_length=1)
    clear: bool = False

    @model_validator(mode="after")
    def _one_action(self) -> Stubs:
        if (self.add is None) == (not self.clear):
            raise ValueError("give exactly one of 'add: [{stub}, ...]' or 'clear: true'")
        return self


class JournalFilter(Model):
    """Which calls of the mock's journal to count (``GET /__requests/count``)."""

    method: str | None = Field(default=None, pattern=METHOD_PATTERN)
    path: str | None = Field(default=None, description="The exact path.")
    path_pattern: str | None = Field(
        default=None, description="A regular expression the whole path must match."
    )
    status: Whole | None = Field(default=None, ge=100, le=599, description="Status answered.")
    stub: str | None = Field(default=None, min_length=1, description="The stub that answered.")
    unmatched: bool | None = Field(
        default=None, description="true: calls neither a service nor a stub answered."
    )
    query: dict[str, Scalar] | None = Field(
        default=None,
        description="Calls that sent each query parameter with that value (one sent several "
        "times, any of them).",
    )
    headers: dict[str, Scalar] | None = Field(
        default=None,
        description="Calls that sent each header (any case) with that value; a secret one "
        "(Authorization...) only as the journal shows it: 'Bearer [redacted]'.",
    )
    body_contains: str | None = Field(
        default=None, min_length=1, description="Calls whose body holds this text, as sent."
    )

    @field_validator("query")
    @classmethod
    def _query_names(cls, value: dict[str, Scalar] | None) -> dict[str, Scalar] | None:
        if value is not None and "" in value:
            raise ValueError("a parameter has a name: give it, as in query: {province: '79'}")
        return value

    @field_validator("headers")
    @classmethod
    def _header_names(cls, value: dict[str, Scalar] | None) -> dict[str, Scalar] | None:
        # Else it loaded, and the mock refused the count in every iteration.
        bad = next((name for name in value or {} if not _TOKEN.fullmatch(name)), None)
        if bad is not None:
            raise ValueError(f"{bad!r} is no header name")
        lower = [name.lower() for name in value or {}]
        twice = next((name for name in lower if lower.count(name) > 1), None)
        if twice is not None:
            raise ValueError(f"header {twice} is given twice: names match in any case")
        return value

    @model_validator(mode="after")
    def _one_path(self) -> JournalFilter:
        if self.path is not None and self.path_pattern is not None:
            raise ValueError("give 'path' (exact) or 'path_pattern' (a regex), not both")
        return self


class Verify(MockTarget):
    """How many calls a provider's mock received that match ``request``, in this iteration."""

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
