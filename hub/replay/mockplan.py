"""Stub and verify steps compiled for replay (their running is in ``hub.replay.mocks``).

``compiler`` is the scenario's ``compiler.Compiler``: it compiles templates and records
problems with their location, as for every other step.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from hub.replay.compiler import Loc
from hub.replay.stepschemas import StubStep, VerifyStep

# What a templated stub's answer asks of the mock (connectors.kit.templating): in its body,
# text and headers these are the mock's, and a scenario variable of those names is not seen.
MOCK_PLACEHOLDER = re.compile(
    r"\{\{\s*(?:request(?:\.[^\s{}]+)?|now|uuid|jsonpath\s*(?:'[^']*'|\"[^\"]*\"))\s*\}\}"
)


@dataclass(slots=True)
class StubPlan:
    """A POST of stubs to a mock agency's ``/__stubs``, or the removal of those it added."""

    id: str
    label: str
    provider: str
    url: str | None
    stubs: list[Any] | None  # compiled stub bodies; None: clear

    @property
    def clears(self) -> bool:
        return self.stubs is None


@dataclass(slots=True)
class VerifyPlan:
    """A count of a mock agency's journal (``/__requests/count``) held against bounds."""

    id: str
    label: str
    provider: str
    url: str | None
    filters: list[tuple[str, Any]]  # (query parameter, compiled value)
    at_least: int | None
    at_most: int | None  # equal to at_least for count: N


def compile_stub(compiler: Any, loc: Loc, step: StubStep) -> StubPlan:
    spec = step.stub
    stubs = None
    if spec.add is not None:
        stubs = []
        for index, item in enumerate(spec.add):
            where = (*loc, "stub", "add", index)
            raw = item.model_dump(exclude_unset=True)
            for name in ("query", "request_headers", "headers"):
                if name in raw:
                    raw[name] = {k: _texts(v) for k, v in raw[name].items()}
            for name in ("request_json", "body"):
                if name in raw:  # a null given is kept: request_json: null matches a null body
                    raw[name] = compiler.json_value((*where, name), raw[name])
            if raw.get("template"):
                # The mock's own placeholders in what it answers are left for it to render.
                for name in ("body", "text", "headers"):
                    if name in raw:
                        raw[name] = compiler.value((*where, name), raw[name], MOCK_PLACEHOLDER)
            stubs.append(compiler.value(where, raw))
    action = "clear its stubs" if stubs is None else f"add {len(stubs)} stub(s)"
    return StubPlan(
        id=step.id or "",
        label=f"stub {spec.provider}: {action}",
        provider=spec.provider,
        url=spec.url.rstrip("/") if spec.url else None,
        stubs=stubs,
    )


# The journal's filters of what a call sent: the step's query: and headers: as the mock's
# query.NAME and header.NAME parameters.
_SENT = {"query": "query.", "headers": "header."}


def compile_verify(compiler: Any, loc: Loc, step: VerifyStep) -> VerifyPlan:
    spec = step.verify
    request: dict[str, Any] = {}
    for name, value in spec.request.model_dump(exclude_none=True).items():
        if name in _SENT:
            request.update({f"{_SENT[name]}{k}": _text(v) for k, v in value.items()})
        else:
            request[name] = _text(value)
    where = (*loc, "verify", "request")
    filters = [(name, compiler.value((*where, name), value)) for name, value in request.items()]
    low, high = spec.at_least, spec.at_most
    if spec.count is not None:
        low, high = spec.count, spec.count
    return VerifyPlan(
        id=step.id or "",
        label=f"verify {spec.provider}: {calls_text(request)} {_bounds(low, high)}",
        provider=spec.provider,
        url=spec.url.rstrip("/") if spec.url else None,
        filters=filters,
        at_least=low,
        at_most=high,
    )


def _text(value: Any) -> Any:
    """A scalar as the mock takes it (text): YAML's 79 and true as "79" and "true"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else str(value)


def _texts(value: Any) -> Any:
    # An answer header's list (two Set-Cookie) stays a list, each value as text.
    return [_text(v) for v in value] if isinstance(value, list) else _text(value)


def calls_text(request: dict[str, Any]) -> str:
    """The calls a verify step counts, in words: ``GET /citizens/079... answered 503``, or
    ``any method or path answered by stub s1`` (it said "any any path"); ``request`` holds the
    journal's parameters (``query.province``), as rendered or not."""
    method = request.get("method")
    where = request.get("path") or (
        f"~{request['path_pattern']}" if "path_pattern" in request else None
    )
    if method and where:
        text = f"{method} {where}"
    elif method:
        text = f"{method} to any path"
    elif where:
        text = f"any method to {where}"
    else:
        text = "any method or path"
    sent = [
        f"query {name.removeprefix('query.')}={value}"
        if name.startswith("query.")
        else f"header {name.removeprefix('header.')}: {value}"
        for name, value in request.items()
        if name.startswith(("query.", "header."))
    ]
    if "body_contains" in request:
        sent.append(f"a body holding {str(request['body_contains'])!r}")
    if sent:
        text += f" sending {', '.join(sent)}"
    if "status" in request:
        text += f" answered {request['status']}"
    if "stub" in request:
        text += " by" if "status" in request else " answered by"
        text += f" stub {request['stub']}"
    if "unmatched" in request:
        text += " unmatched" if request["unmatched"] in (True, "true") else " matched"
    return text


def _bounds(low: int | None, high: int | None) -> str:
    if low is not None and low == high:
        return f"×{low}"
    if high is None:
        return f"×≥{low}"
    return f"×≤{high}" if low is None else f"×{low}..{high}"
