"""The scenario format's step models: an exchange with its checks and captures, and the rest."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from hub.replay.fields import (
    CLIENT_PATTERN,
    METHOD_PATTERN,
    SERVICE_PATTERN,
    STEP_ID_PATTERN,
    Model,
    Number,
    Scalar,
    Whole,
    var_name_problem,
)
from hub.replay.mockschemas import Fault, Stubs, Verify


class Expect(Model):
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

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        # An empty list of acceptable values held for no answer: every run failed.
        for name, wanted in (value or {}).items():
            if wanted == []:
                raise ValueError(
                    f"{name}: an empty list accepts no value; give one or more values, or "
                    "null for a header that must be absent"
                )
        return value

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


class Capture(Model):
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
            "match; all: always the list of matches (may be empty). For a header the answer "
            "repeats, one joins its values with ', ' (a Set-Cookie's: their list), first "
            "keeps the first, all always gives the list of them (may be empty)."
        ),
    )

    @model_validator(mode="after")
    def _one_source(self) -> Capture:
        if (self.path is None) == (self.header is None):
            raise ValueError("give exactly one of 'path: JSONPath' or 'header: NAME'")
        return self


class Retry(Model):
    """Karate's ``retry until``: the request sent again while its answer fails the step."""

    attempts: Whole = Field(
        ge=2, le=100, description="Requests sent in all, the first one included: 2 to 100."
    )
    every_ms: Number = Field(
        ge=1, le=60000, description="Wait between two attempts, in ms: 1 to 60000."
    )


class ExchangeStep(Model):
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
    retry: Retry | None = Field(
        default=None,
        description="Send the request again, every_ms apart, until expect and capture hold, "
        "up to attempts requests in all; each attempt is a request of the report.",
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
            problem = var_name_problem("capture", name)
            if problem:
                raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _one_body(self) -> ExchangeStep:
        if self.json_ is not None and self.body is not None:
            raise ValueError("give either 'json' or 'body', not both")
        if self.retry is not None and self.expect is None and not self.capture:
            # Every answer would pass the first time: the retry was meant to wait for something.
            raise ValueError(
                "retry: the step has no expect or capture that could fail, so it would never "
                "be retried; give the expect: it waits for"
            )
        return self


class FaultStep(Model):
    """A step that changes a mock agency's faults instead of calling the gateway."""

    id: str | None = Field(default=None, pattern=STEP_ID_PATTERN)
    description: str | None = None
    fault: Fault


class SleepStep(Model):
    """A pause inside an iteration (k6's ``sleep``): a user's think time between requests."""

    id: str | None = Field(default=None, pattern=STEP_ID_PATTERN)
    description: str | None = None
    sleep: Number = Field(gt=0, le=3600, description="Seconds to wait, e.g. 0.5.")


class StubStep(Model):
    """A step that adds or removes stubs of a mock agency instead of calling the gateway."""

    id: str | None = Field(default=None, pattern=STEP_ID_PATTERN)
    description: str | None = None
    stub: Stubs


class VerifyStep(Model):
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
