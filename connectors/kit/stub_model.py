"""A stub as the wire gives it (``PUT``/``POST /__stubs``, ``hub mock --stubs``): what it
may match and answer, checked before it is taken, with WireMock's names pointed to ours.
``connectors.kit.stubs`` keeps the stubs in use and answers with them.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    field_validator,
    model_validator,
)

from connectors.kit.dataset import MAX_SAFE_INTEGER
from connectors.kit.matching import compile_jsonpath, compile_pattern, encoded_path_problem
from connectors.kit.templating import check as check_templates

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "ANY")
Number = Annotated[float, Strict()]
Whole = Annotated[int, Strict()]
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # fullmatch
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # an HTTP header name (RFC 9110)
_VALUE = re.compile(r"[\x20-\x7e\t]*")  # printable ASCII: h11 refuses the rest mid-answer
_LINE = re.compile(r"[^\x00-\x08\x0a-\x1f\x7f]*")  # what a header sent can hold: no line break
STARTED = "Started"  # the state every scenario starts in, as WireMock's
NO_BODY = (204, 304)  # statuses that answer no body
MAX_DEPTH = 100  # levels of a body or request_json: the answer and GET /__stubs serialise it
_WORKED_OUT = ("content-length", "transfer-encoding", "x-mock-stub")
_SINGLE = ("content-type", "location")  # two of these leave a client to guess (RFC 9110)
# WireMock's names of what a stub here gives under another name, for a mapping pasted from it.
_WIREMOCK = {
    "url": "path (and query for its parameters)",
    "urlPath": "path",
    "urlPattern": "path_pattern",
    "urlPathPattern": "path_pattern",
    "queryParameters": "query",
    "bodyPatterns": "request_json (equalToJson) or request_jsonpath (matchesJsonPath)",
    "jsonBody": "body",
    "fixedDelayMilliseconds": "latency_ms",
    "scenarioName": "scenario",
    "requiredScenarioState": "required_state",
    "newScenarioState": "new_state",
    "transformers": "template: true",  # ["response-template"]
}
_FLAT = (
    "method, path or path_pattern, query, request_headers, request_json, request_jsonpath, "
    "status, headers, "
    "body or text, latency_ms, times, priority, id, scenario, required_state, new_state, "
    "template"
)
State = Annotated[str, Field(min_length=1, max_length=64)]


def _jsonpath(value: str) -> str:
    compile_jsonpath(value)  # a ValueError says why it is no JSONPath
    return value


JsonPath = Annotated[str, AfterValidator(_jsonpath)]


def state_name(value: str) -> str:
    """``value``, if it can name a scenario's state."""
    # A state is shown in the 404 of a near miss and set by name: one line of text.
    if not value.strip() or not _LINE.fullmatch(value):
        raise ValueError(
            f"a state is a name on one line, not blank, with no control characters "
            f"(got {value[:40]!r})"
        )
    return value


def _header_names(headers: dict[str, Any], *, values: bool) -> dict[str, Any]:
    for name, given in headers.items():
        if not _TOKEN.fullmatch(name):
            raise ValueError(f"{name[:40]!r} is not a header name: use letters, digits and '-'")
        for value in given if isinstance(given, list) else [given]:
            if values and not _VALUE.fullmatch(value):
                raise ValueError(f"{name!r} must be printable ASCII on one line")
            if not _LINE.fullmatch(value):
                raise ValueError(f"{name!r} must be on one line, with no control characters")
    return headers


def _depth(value: Any) -> int:
    """How many lists and objects deep ``value`` nests (without recursing: it may be deep)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            stack += [(v, level + 1) for v in (item.values() if isinstance(item, dict) else item)]
    return deepest


def _shown(value: Any) -> str:
    kind = {dict: "an object", list: "a list", bool: "true or false", type(None): "null"}
    return kind.get(type(value)) or json.dumps(value)[:40]


def _header_values(headers: Any) -> Any:
    """An answer header's value is a string, or a list of them sent each on its own line (two
    ``Set-Cookie``, say), as WireMock takes; the shape is checked here to say so."""
    if not isinstance(headers, dict):
        return headers  # the field's own check names the type
    for name, given in headers.items():
        if isinstance(given, str):
            continue
        if not isinstance(given, list):
            raise ValueError(
                f"{name[:40]!r} must be a string, or a list of strings to send it on several "
                f"lines (got {_shown(given)})"
            )
        if not given:
            raise ValueError(
                f"{name[:40]!r} is an empty list: give at least one value, or leave it out"
            )
        odd = [v for v in given if not isinstance(v, str)]
        if odd:
            raise ValueError(f"{name[:40]!r} must list strings only (got {_shown(odd[0])})")
    return headers


class Stub(BaseModel):
    """One stub as the wire gives it: what to match and what to answer."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    id: str | None = None
    method: str
    path: str | None = None
    path_pattern: str | None = None
    query: dict[str, str] = Field(default_factory=dict)
    request_headers: dict[str, str] = Field(default_factory=dict)
    status: Whole = Field(default=200, ge=200, le=599)
    headers: dict[str, str | list[str]] = Field(default_factory=dict)
    request_json: Any = None
    request_jsonpath: list[JsonPath] = Field(default_factory=list)
    body: Any = None
    text: str | None = None
    times: Whole | None = Field(default=None, ge=1, le=MAX_SAFE_INTEGER)
    latency_ms: Number = Field(default=0, ge=0, le=600_000)
    priority: Whole | None = Field(default=None, ge=1, le=MAX_SAFE_INTEGER)
    scenario: str | None = None
    required_state: State | None = None
    new_state: State | None = None
    # body, text and headers hold placeholders ({{ request.path.1 }}): connectors.kit.templating
    template: Annotated[bool, Strict()] = False
    # As GET shows them, so its answer can be PUT back; a PUT starts them afresh.
    hits: Whole | None = Field(default=None, exclude=True)
    remaining: Whole | None = Field(default=None, exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _not_wiremock(cls, given: Any) -> Any:
        if not isinstance(given, dict):
            return given
        if "request" in given or "response" in given:
            raise ValueError(
                f"this is WireMock's mapping (request, response): a stub of this mock is "
                f"flat: {_FLAT}"
            )
        theirs = [f"{k} is WireMock's name: give {_WIREMOCK[k]}" for k in given if k in _WIREMOCK]
        if theirs:
            raise ValueError("; ".join(theirs))
        return given

    @field_validator("id", "scenario")
    @classmethod
    def _id_is_a_name(cls, value: str | None) -> str | None:
        if value is not None and not _ID.fullmatch(value):
            raise ValueError(
                "use letters, digits, '.', '_' or '-', at most 64, starting with a letter "
                f"or digit (got {value[:40]!r})"
            )
        return value

    @field_validator("required_state", "new_state")
    @classmethod
    def _a_state(cls, value: str | None) -> str | None:
        return value if value is None else state_name(value)

    @field_validator("method")
    @classmethod
    def _known_method(cls, value: str) -> str:
        if value.upper() not in METHODS:
            raise ValueError(f"must be one of {', '.join(METHODS)} (got {value[:20]!r})")
        return value.upper()

    @field_validator("path")
    @classmethod
    def _a_path(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("/"):
            raise ValueError(f"must start with '/' (got {value[:60]!r})")
        if value is not None and "?" in value:
            # A call's path holds no query, so such a stub could never match.
            raise ValueError(
                f"a path holds no query: give its parameters in query (got {value[:60]!r})"
            )
        encoded = None if value is None else encoded_path_problem(value)
        if encoded is not None:
            raise ValueError(encoded)
        return value

    @field_validator("body", "request_json")
    @classmethod
    def _json(cls, value: Any) -> Any:
        levels = _depth(value)
        if levels > MAX_DEPTH:
            # Deeper, it was taken, then its answer and GET /__stubs failed to serialise.
            raise ValueError(f"nests {levels} levels deep; a stub's JSON takes at most {MAX_DEPTH}")
        # Python's parser takes NaN and Infinity, which no JSON client would read back.
        try:
            json.dumps(value, allow_nan=False)
        except ValueError:
            raise ValueError("NaN and Infinity are not JSON: give numbers, or strings") from None
        return value

    @field_validator("request_jsonpath", mode="before")
    @classmethod
    def _some_paths(cls, value: Any) -> Any:
        if value == []:
            # A stub that reads the body for nothing: leave the field out instead.
            raise ValueError("give at least one JSONPath, or leave request_jsonpath out")
        return value

    @field_validator("path_pattern")
    @classmethod
    def _a_pattern(cls, value: str | None) -> str | None:
        if value is not None:
            compile_pattern(value)
        return value

    @field_validator("request_headers")
    @classmethod
    def _request_header_names(cls, value: dict[str, str]) -> dict[str, str]:
        matched = {k.lower(): v for k, v in _header_names(value, values=False).items()}
        padded = next((k for k, v in value.items() if v != v.strip(" \t")), None)
        if padded is not None:
            # HTTP drops them from every value it carries: no call could match.
            raise ValueError(
                f"{padded!r} has spaces or tabs at its ends, which HTTP drops from a header's "
                "value, so no call could match it: leave them out"
            )
        if len(matched) < len(value):
            # {"X-A": "1", "x-a": "2"} kept only the last, and the stub matched x-a: 2 alone.
            twice = next(k for k in matched if sum(n.lower() == k for n in value) > 1)
            raise ValueError(
                f"{twice} is given twice in another case; a header name matches in any "
                "case: give it once"
            )
        return matched

    @field_validator("headers", mode="before")
    @classmethod
    def _answer_header_shapes(cls, value: Any) -> Any:
        return _header_values(value)

    @field_validator("headers")
    @classmethod
    def _answer_headers(cls, value: dict[str, str | list[str]]) -> dict[str, str | list[str]]:
        _header_names(value, values=True)
        for name in value:
            if name.lower() in _WORKED_OUT:
                raise ValueError(f"{name.lower()} is worked out by the mock; leave it out")
        for single in _SINGLE:
            given = [v for k, v in value.items() if k.lower() == single]
            if sum(len(v) if isinstance(v, list) else 1 for v in given) > 1:
                raise ValueError(
                    f"{single} is sent once: give it one value (no list, and under one name "
                    "whatever its case)"
                )
        return value

    @model_validator(mode="after")
    def _one_path_one_answer(self) -> Stub:
        if (self.path is None) == (self.path_pattern is None):
            raise ValueError(
                "give path (exact) or path_pattern (a regular expression), not both"
                if self.path is not None
                else "a stub needs a path to match: give path (exact) or path_pattern "
                "(a regular expression)"
            )
        if (self.path or self.path_pattern or "").startswith("/__"):
            raise ValueError("the mock's controls (/__...) cannot be stubbed; give another path")
        has_body = "body" in self.model_fields_set or self.text is not None
        if "body" in self.model_fields_set and self.text is not None:
            raise ValueError("give the answer as body (JSON) or text, not both")
        if has_body and self.status in NO_BODY:
            raise ValueError(f"status {self.status} answers no body: leave body and text out")
        states = [n for n in ("required_state", "new_state") if getattr(self, n) is not None]
        if self.scenario is None and states:
            given = states[0]
            raise ValueError(
                f"{given} is the state of a scenario: give scenario too, the name of the "
                "scenario it belongs to"
            )
        if self.template:
            check_templates(self)
        return self

    def wire(self) -> dict[str, Any]:
        """What was given, with the defaults that decide the answer."""
        return {"method": self.method, "status": self.status, **self.model_dump(exclude_unset=True)}


class ScenarioState(BaseModel):
    """The body of ``PUT /__scenarios/{name}``: the state to put the scenario in."""

    model_config = ConfigDict(extra="forbid")

    state: State

    @field_validator("state")
    @classmethod
    def _a_state(cls, value: str) -> str:
        return state_name(value)
