"""A validated scenario compiled for replay: what the runner runs.

Compiling it (``hub.replay.compiling``) is also the second half of validation: a bad
template or JSONPath is reported with its location (``steps[1].capture.cid``) before any
request is sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

from hub.replay.mockplan import StubPlan, VerifyPlan


class CapturePlan(NamedTuple):
    """One ``capture`` entry: a JSONPath into the body, or a response header."""

    name: str
    source: str  # the JSONPath as written, or the header's name
    path: Any  # the compiled JSONPath (None for a header)
    match: str  # one | first | all
    header: str | None = None


@dataclass(slots=True)
class ExchangePlan:
    """One gateway request, ready to render and send."""

    id: str
    label: str
    client: Any
    service: Any
    method: str
    path: Any
    query: list[tuple[Any, Any]]  # (compiled name, compiled value): a name may be templated
    headers: list[tuple[str, Any]]
    json: Any
    body: Any
    status: tuple[int, ...] | None
    expect_headers: list[tuple[str, Any]]
    expect_json: list[tuple[str, Any, Any]]  # (source, compiled path, compiled expected)
    max_ms: float | None
    capture: list[CapturePlan]
    sends_auth: bool  # the step sets Authorization itself (e.g. to test a bad key)
    sends_client: bool
    attempts: int = 1  # `retry`: requests sent in all while the answer fails the step
    every_ms: float = 0.0  # `retry`: the wait between two of them


@dataclass(slots=True)
class FaultPlan:
    """A PUT or DELETE of a mock agency's ``/__faults``."""

    id: str
    label: str
    provider: str
    url: str | None
    settings: dict[str, Any] | None  # None: clear

    @property
    def clears(self) -> bool:
        return self.settings is None


@dataclass(slots=True)
class SleepPlan:
    """A pause of ``seconds`` inside an iteration."""

    id: str
    label: str
    seconds: float


Step = ExchangePlan | FaultPlan | StubPlan | VerifyPlan | SleepPlan
MOCK_STEPS = (FaultPlan, StubPlan, VerifyPlan)  # steps that talk to a mock agency directly


@dataclass(slots=True)
class ScenarioPlan:
    """A scenario ready to run."""

    name: str
    file: str
    vars: list[tuple[str, Any]]
    steps: list[Step]
    clients: set[str] = field(default_factory=set)  # static clients, to check keys up front
    named_after_file: bool = False  # no `name:`: said so when another has the same name

    @property
    def needs_gateway(self) -> bool:
        return any(isinstance(s, ExchangePlan) for s in self.steps)

    @property
    def switches_faults(self) -> bool:
        """Its iterations switch a mock's faults or stubs, or count its journal: state of the
        mock that every iteration shares."""
        return any(isinstance(s, MOCK_STEPS) for s in self.steps)

    @property
    def needs_providers(self) -> bool:
        return any(isinstance(s, MOCK_STEPS) and s.url is None for s in self.steps)

    @property
    def verified(self) -> list[tuple[str, str | None]]:
        """The providers whose journal a verify step counts, with the step's ``url:``."""
        return list(
            dict.fromkeys((s.provider, s.url) for s in self.steps if isinstance(s, VerifyPlan))
        )
