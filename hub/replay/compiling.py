"""A validated scenario compiled into the plan the runner runs, each problem with its location."""

from __future__ import annotations

import json
from typing import Any

from hub.replay.compiler import Compiler, Loc
from hub.replay.expect import JSONPathError, compile_jsonpath
from hub.replay.mockplan import compile_stub, compile_verify
from hub.replay.names import Names, compile_vars
from hub.replay.plan import CapturePlan, ExchangePlan, FaultPlan, ScenarioPlan, SleepPlan, Step
from hub.replay.schemas import Scenario
from hub.replay.stepschemas import Capture, ExchangeStep, FaultStep, SleepStep, StubStep, VerifyStep
from hub.replay.templating import Template


def compile_scenario(
    scenario: Scenario, *, file: str, default_name: str
) -> tuple[ScenarioPlan, list[tuple[Loc, str]]]:
    """Compile ``scenario``; the errors come with their location in the file."""
    compiler = Compiler()
    steps: list[Step] = []
    clients: set[str] = set()
    first_index: dict[str, int] = {}
    captured: set[str] = set()
    captured_by: dict[str, tuple[int, str | None]] = {}  # name -> first step capturing it
    for index, step in enumerate(scenario.steps):
        if isinstance(step, ExchangeStep):
            for name in step.capture or {}:
                captured_by.setdefault(name, (index, step.id))
    names = Names(compiler, set(scenario.vars), captured_by)
    for index, step in enumerate(scenario.steps):
        step_id = step.id or ""
        if step_id in first_index:
            first = first_index[step_id]
            if index in scenario.named_by_place:
                said = (
                    f"this step has no id, and {step_id!r}, the one it is given after its "
                    f"place, is the id of steps[{first}]: give one of them an id of its own"
                )
            elif first in scenario.named_by_place:
                said = (
                    f"step id {step_id!r} is that of steps[{first}] too, which has no id and "
                    "is named after its place: give one of them an id of its own"
                )
            else:
                said = f"step id {step_id!r} is used twice (first by steps[{first}])"
            compiler.errors.append((("steps", index, "id"), said))
        first_index.setdefault(step_id, index)
        if isinstance(step, FaultStep):
            fault = _fault(compiler, ("steps", index), step)
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
        exchange = _exchange(compiler, ("steps", index), step)
        names.check_exchange(("steps", index), exchange)
        if not isinstance(exchange.client, Template) and not exchange.sends_auth:
            clients.add(exchange.client)
        captured.update(c.name for c in exchange.capture)
        steps.append(exchange)
    variables = compile_vars(compiler, scenario.vars)
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
        named_after_file=scenario.name is None,
    )
    return plan, compiler.errors


def _exchange(compiler: Compiler, loc: Loc, step: ExchangeStep) -> ExchangePlan:
    expect = step.expect
    status = None
    if expect and expect.status is not None:
        status = tuple(expect.status if isinstance(expect.status, list) else [expect.status])
    header_names = {h.lower() for h in step.headers or {}}
    compiler.header_names((*loc, "headers"), step.headers)
    compiler.header_names((*loc, "expect", "headers"), expect.headers if expect else None)
    query: list[tuple[Any, Any]] = []
    for name, value in (step.query or {}).items():
        compiled_name = compiler.value((*loc, "query", name), name)
        for item in value if isinstance(value, list) else [value]:
            query.append((compiled_name, compiler.value((*loc, "query", name), item)))
    return ExchangePlan(
        id=step.id or "",
        label=f"{step.method} {step.service}{step.path}",
        client=compiler.value((*loc, "client"), step.client),
        service=compiler.value((*loc, "service"), step.service),
        method=step.method,
        path=compiler.value((*loc, "path"), step.path),
        query=query,
        headers=compiler.pairs((*loc, "headers"), step.headers),
        json=compiler.value((*loc, "json"), compiler.json_value((*loc, "json"), step.json_)),
        body=compiler.value((*loc, "body"), step.body),
        status=status,
        expect_headers=[
            (k, None if v is None else compiler.value((*loc, "expect", "headers", k), v))
            for k, v in ((expect and expect.headers) or {}).items()
        ],
        expect_json=[
            (
                k,
                compiler.path((*loc, "expect", "json", k), k),
                compiler.value(
                    (*loc, "expect", "json", k),
                    compiler.json_value((*loc, "expect", "json", k), v),
                ),
            )
            for k, v in ((expect and expect.json_) or {}).items()
        ],
        max_ms=expect.max_ms if expect else None,
        capture=[
            _capture(compiler, (*loc, "capture", name), name, spec)
            for name, spec in (step.capture or {}).items()
        ],
        sends_auth="authorization" in header_names,
        sends_client="x-road-client" in header_names,
        attempts=step.retry.attempts if step.retry else 1,
        every_ms=step.retry.every_ms if step.retry else 0.0,
    )


def _capture(compiler: Compiler, loc: Loc, name: str, spec: str | Capture) -> CapturePlan:
    if isinstance(spec, str):
        return CapturePlan(name, spec, compiler.path(loc, spec), "one")
    if spec.header is not None:
        compiler.header_name((*loc, "header"), spec.header)
        return CapturePlan(name, spec.header, None, spec.match, header=spec.header)
    assert spec.path is not None  # the model holds one of the two
    return CapturePlan(name, spec.path, compiler.path((*loc, "path"), spec.path), spec.match)


def _fault(compiler: Compiler, loc: Loc, step: FaultStep) -> FaultPlan:
    fault = step.fault
    settings = None if fault.set is None else fault.set.model_dump(exclude_none=True)
    # As --fault's echo has it (JSON), not Python's {'latency_ms': 200}.
    action = "clear" if settings is None else f"set {json.dumps(settings, separators=(', ', ': '))}"
    if settings is not None and isinstance(settings.get("seed"), str):
        settings["seed"] = compiler.value((*loc, "fault", "set", "seed"), settings["seed"])
    return FaultPlan(
        id=step.id or "",
        label=f"fault {fault.provider}: {action}",
        provider=fault.provider,
        url=fault.url.rstrip("/") if fault.url else None,
        settings=settings,
    )
