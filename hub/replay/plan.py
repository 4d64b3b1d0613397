"""A validated scenario compiled for replay: templates and JSONPaths parsed once.

Compiling is also the second half of validation: a bad template or JSONPath is reported
with its location (``steps[1].capture.cid``) before any request is sent.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from hub.replay.expect import JSONPathError, compile_jsonpath
from hub.replay.mockplan import StubPlan, VerifyPlan, compile_stub, compile_verify
from hub.replay.schemas import (
    Capture,
    ExchangeStep,
    FaultStep,
    Scenario,
    SleepStep,
    StubStep,
    VerifyStep,
)
from hub.replay.templating import Template, TemplateSyntaxError, compile_value, names_at

Loc = tuple[str | int, ...]
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")  # RFC 9110's token: a header name


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


class _Stand(Mapping[str, Any]):
    """Stands for any variable when a templated JSONPath is checked at load time: a mapping
    to walk into, that reads as a name (not as a dict, which text renders as JSON)."""

    def __getitem__(self, key: object) -> Any:
        return self

    def __contains__(self, key: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0

    def __str__(self) -> str:
        return "x"


def _where_bad(loc: Loc, value: Any) -> Loc:
    """The location of the first bad template inside ``value`` (for nested json bodies)."""
    items = value.items() if isinstance(value, dict) else enumerate(value or [])
    if isinstance(value, dict | list):
        for key, item in items:
            try:
                compile_value(item)
            except TemplateSyntaxError:
                return _where_bad((*loc, key), item)
    return loc


class _Compiler:
    def __init__(self) -> None:
        self.errors: list[tuple[Loc, str]] = []
        # JSONPaths that are one whole placeholder: the variable holds the path itself.
        self.whole_paths: list[tuple[Loc, str]] = []

    def value(self, loc: Loc, value: Any) -> Any:
        try:
            return compile_value(value)
        except TemplateSyntaxError as exc:
            self.errors.append((_where_bad(loc, value), str(exc)))
            return value

    def json_value(self, loc: Loc, value: Any) -> Any:
        """``value`` as JSON has it: YAML dates as ISO text, and only text as object keys."""
        if isinstance(value, dt.date):
            # JSON has no date type: an unquoted 1949-09-22 means the text a body holds.
            return value.isoformat()
        if isinstance(value, float) and not math.isfinite(value):
            # JSON has no NaN nor infinity: it went out as null, silently.
            shown = ".nan" if math.isnan(value) else ("-.inf" if value < 0 else ".inf")
            self.errors.append((loc, f"{shown} is not a JSON number (JSON has no NaN or infinity)"))
            return value
        if isinstance(value, list):
            return [self.json_value((*loc, index), item) for index, item in enumerate(value)]
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                if not isinstance(key, str):
                    self.errors.append(
                        (
                            (*loc, str(key)),
                            f"key {key!r} is not text: JSON object keys are strings; "
                            f"quote it ('{_key_text(key)}')",
                        )
                    )
                out[key] = self.json_value((*loc, str(key)), item)
            return out
        return value

    def path(self, loc: Loc, source: str) -> Any:
        try:
            if "{{" not in source:
                return compile_jsonpath(source)
            template = Template(source)
            if template.whole:
                # Nothing to parse until the variable is known: checked below when it is a
                # plain var, else as it is rendered.
                self.whole_paths.append((loc, template.names[0]))
            else:
                # A templated JSONPath is parsed per iteration; check it now with stand-ins.
                compile_jsonpath(
                    template.render({n.split(".")[0]: _Stand() for n in template.names})
                )
            return template
        except (JSONPathError, TemplateSyntaxError) as exc:
            self.errors.append((loc, str(exc)))
            return None

    def pairs(self, loc: Loc, mapping: dict[str, Any] | None) -> list[tuple[str, Any]]:
        return [(str(k), self.value((*loc, k), v)) for k, v in (mapping or {}).items()]

    def header_names(self, loc: Loc, mapping: dict[str, Any] | None) -> None:
        """Refuse header names HTTP does not allow (a space, a colon, a letter with an
        accent): sent, they split or spoil the request; expected, they can never match."""
        for name in mapping or {}:
            self.header_name((*loc, name), str(name))

    def header_name(self, loc: Loc, name: str) -> None:
        if not _TOKEN.match(name):
            self.errors.append(
                (
                    loc,
                    f"{name!r} is not a valid header name: letters, digits and "
                    "!#$%&'*+-.^_`|~ only, no spaces (e.g. X-Road-UserId)",
                )
            )

    def exchange(self, loc: Loc, step: ExchangeStep) -> ExchangePlan:
        expect = step.expect
        status = None
        if expect and expect.status is not None:
            status = tuple(expect.status if isinstance(expect.status, list) else [expect.status])
        header_names = {h.lower() for h in step.headers or {}}
        self.header_names((*loc, "headers"), step.headers)
        self.header_names((*loc, "expect", "headers"), expect.headers if expect else None)
        query: list[tuple[Any, Any]] = []
        for name, value in (step.query or {}).items():
            compiled_name = self.value((*loc, "query", name), name)
            for item in value if isinstance(value, list) else [value]:
                query.append((compiled_name, self.value((*loc, "query", name), item)))
        return ExchangePlan(
            id=step.id or "",
            label=f"{step.method} {step.service}{step.path}",
            client=self.value((*loc, "client"), step.client),
            service=self.value((*loc, "service"), step.service),
            method=step.method,
            path=self.value((*loc, "path"), step.path),
            query=query,
            headers=self.pairs((*loc, "headers"), step.headers),
            json=self.value((*loc, "json"), self.json_value((*loc, "json"), step.json_)),
            body=self.value((*loc, "body"), step.body),
            status=status,
            expect_headers=[
                (k, None if v is None else self.value((*loc, "expect", "headers", k), v))
                for k, v in ((expect and expect.headers) or {}).items()
            ],
            expect_json=[
                (
                    k,
                    self.path((*loc, "expect", "json", k), k),
                    self.value(
                        (*loc, "expect", "json", k),
                        self.json_value((*loc, "expect", "json", k), v),
                    ),
                )
                for k, v in ((expect and expect.json_) or {}).items()
            ],
            max_ms=expect.max_ms if expect else None,
            capture=[
                self.capture((*loc, "capture", name), name, spec)
                for name, spec in (step.capture or {}).items()
            ],
            sends_auth="authorization" in header_names,
            sends_client="x-road-client" in header_names,
        )

    def capture(self, loc: Loc, name: str, spec: str | Capture) -> CapturePlan:
        if isinstance(spec, str):
            return CapturePlan(name, spec, self.path(loc, spec), "one")
        if spec.header is not None:
            self.header_name((*loc, "header"), spec.header)
            return CapturePlan(name, spec.header, None, "one", header=spec.header)
        assert spec.path is not None  # the model holds one of the two
        return CapturePlan(name, spec.path, self.path((*loc, "path"), spec.path), spec.match)

    def fault(self, loc: Loc, step: FaultStep) -> FaultPlan:
        fault = step.fault
        settings = None if fault.set is None else fault.set.model_dump(exclude_none=True)
        action = "clear" if settings is None else f"set {settings}"
        if settings is not None and isinstance(settings.get("seed"), str):
            settings["seed"] = self.value((*loc, "fault", "set", "seed"), settings["seed"])
        return FaultPlan(
            id=step.id or "",
            label=f"fault {fault.provider}: {action}",
            provider=fault.provider,
            url=fault.url.rstrip("/") if fault.url else None,
            settings=settings,
        )


def _key_text(key: Any) -> str:
    return key.isoformat() if isinstance(key, dt.date) else str(key)


def compile_scenario(
    scenario: Scenario, *, file: str, default_name: str
) -> tuple[ScenarioPlan, list[tuple[Loc, str]]]:
    """Compile ``scenario``; the errors come with their location in the file."""
    compiler = _Compiler()
    steps: list[Step] = []
    clients: set[str] = set()
    first_index: dict[str, int] = {}
    captured: set[str] = set()
    captured_by: dict[str, str] = {}  # capture name -> id of the first step that captures it
    for step in scenario.steps:
        if isinstance(step, ExchangeStep):
            for name in step.capture or {}:
                captured_by.setdefault(name, step.id or "")
    names = _Names(compiler, set(scenario.vars), captured_by)
    for index, step in enumerate(scenario.steps):
        step_id = step.id or ""
        if step_id in first_index:
            compiler.errors.append(
                (
                    ("steps", index, "id"),
                    f"step id {step_id!r} is used twice (first by steps[{first_index[step_id]}])",
                )
            )
        first_index.setdefault(step_id, index)
        if isinstance(step, FaultStep):
            fault = compiler.fault(("steps", index), step)
            names.check_fault(("steps", index), fault)
            steps.append(fault)
            continue
        if isinstance(step, SleepStep):
            steps.append(SleepPlan(step_id, f"sleep {step.sleep:g} s", step.sleep))
            continue
        if isinstance(step, StubStep):
            stub = compile_stub(compiler, ("steps", index), step)
            for number, compiled in enumerate(stub.stubs or []):
                names.check(("steps", index, "stub", "add", number), compiled)
            steps.append(stub)
            continue
        if isinstance(step, VerifyStep):
            verify = compile_verify(compiler, ("steps", index), step)
            for name, value in verify.filters:
                names.check(("steps", index, "verify", "request", name), value)
            steps.append(verify)
            continue
        exchange = compiler.exchange(("steps", index), step)
        names.check_exchange(("steps", index), exchange)
        if not isinstance(exchange.client, Template) and not exchange.sends_auth:
            clients.add(exchange.client)
        captured.update(c.name for c in exchange.capture)
        steps.append(exchange)
    variables = _compile_vars(compiler, scenario.vars)
    plain = {
        name: value
        for name, value in scenario.vars.items()
        if name not in captured and not isinstance(dict(variables).get(name), Template)
    }
    for loc, name in compiler.whole_paths:
        if name in plain:
            value = plain[name]
            if not isinstance(value, str):
                compiler.errors.append((loc, f"var {name!r} is {value!r}, not a JSONPath"))
                continue
            try:
                compile_jsonpath(value)
            except JSONPathError as exc:
                compiler.errors.append((loc, f"var {name!r}: {exc}"))
    plan = ScenarioPlan(
        name=scenario.name or default_name,
        file=file,
        vars=variables,
        steps=steps,
        clients=clients,
    )
    return plan, compiler.errors


RUN_NAMES = ("run.iteration", "run.id")


class _Names:
    """Checks that every placeholder of a step names something it can have at that point:
    ``run.*``, a var, or a capture of an earlier step. Anything else would fail the step in
    every iteration; it is a mistake (``{{ cdi }}``) to report before anything runs."""

    def __init__(
        self, compiler: _Compiler, var_names: set[str], captured_by: dict[str, str]
    ) -> None:
        self.compiler = compiler
        self.known = set(var_names)
        self.captured_by = captured_by

    def check(self, loc: Loc, compiled: Any, extra: Iterable[str] = ()) -> None:
        for inner, used in names_at(compiled):
            where = (*loc, *inner)  # down to the key or item in a json body
            head = used.split(".")[0]
            if head == "run":
                if used != "run" and used not in RUN_NAMES:
                    self.compiler.errors.append(
                        (where, f"{used!r} does not exist: run has only {', '.join(RUN_NAMES)}")
                    )
                continue
            if head in self.known or head in extra:
                continue
            later = self.captured_by.get(head)
            why = (
                f"it is captured only by a later step ({later!r})"
                if later is not None
                else "no var declares it and no earlier step captures it"
            )
            known = ", ".join([*RUN_NAMES, *sorted(self.known)])
            self.compiler.errors.append(
                (where, f"variable {head!r} is not defined: {why} (defined here: {known})")
            )

    def check_exchange(self, loc: Loc, step: ExchangePlan) -> None:
        for field_name in ("client", "service", "path", "json", "body"):
            self.check((*loc, field_name), getattr(step, field_name))
        for name, value in step.query:
            shown = name.source if isinstance(name, Template) else name
            self.check((*loc, "query", shown), name)
            self.check((*loc, "query", shown), value)
        for name, value in step.headers:
            self.check((*loc, "headers", name), value)
        for name, value in step.expect_headers:
            self.check((*loc, "expect", "headers", name), value)
        for source, path, value in step.expect_json:
            self.check((*loc, "expect", "json", source), path)
            self.check((*loc, "expect", "json", source), value)
        own: list[str] = []
        for entry in step.capture:
            # A capture may use the captures above it in the same step: they are set in order.
            self.check((*loc, "capture", entry.name), entry.path, extra=own)
            own.append(entry.name)
        self.known.update(own)

    def check_fault(self, loc: Loc, step: FaultPlan) -> None:
        if step.settings is not None:
            self.check((*loc, "fault", "set", "seed"), step.settings.get("seed"))


def _compile_vars(compiler: _Compiler, raw: dict[str, Any]) -> list[tuple[str, Any]]:
    """The vars, compiled; a name they use that no iteration can have is refused here.

    Vars are rendered before the first step, so they can only see run.* and the vars above
    them; anything else would fail every iteration.
    """
    variables: list[tuple[str, Any]] = []
    for name, value in raw.items():
        compiled = compiler.value(("vars", name), compiler.json_value(("vars", name), value))
        defined = [n for n, _ in variables]
        for inner, used in names_at(compiled):
            head = used.split(".")[0]
            if head == "run" and used in RUN_NAMES:
                continue
            if head != "run" and head in defined:
                continue
            known = ", ".join([*RUN_NAMES, *defined])
            compiler.errors.append(
                (
                    ("vars", name, *inner),
                    f"variable {used!r} is not defined: vars may use {known} "
                    "(only the vars above, and no captures)",
                )
            )
        variables.append((name, compiled))
    return variables
