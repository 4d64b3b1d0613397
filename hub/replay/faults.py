"""Switching mock agencies' faults (their ``/__faults`` control): steps, run-wide faults, checks.

A fault step switches a provider's faults within an iteration; ``--fault PROVIDER=SETTINGS``
holds one for the whole run, set once before the first scenario and cleared after the last
(also when the run is stopped), so that a load with ``--concurrency`` above 1 runs under it.
The mock holds one setting per provider, so a scenario may not switch the faults of a
provider that a ``--fault`` holds: its clear would undo the run's.
"""

from __future__ import annotations

import difflib
import json
import re
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import yaml
from pydantic import ValidationError

from hub.core.hints import did_you_mean
from hub.core.yamlsafe import SafeValuesLoader
from hub.replay.fields import CLIENT_PATTERN
from hub.replay.mockschemas import FaultSettings, FaultSpec
from hub.replay.plan import FaultPlan, ScenarioPlan
from hub.replay.results import Failure, missing_variable
from hub.replay.sources import Providers, SourceError, failure_text, yaml_problem
from hub.replay.templating import MissingVariable, Template, render_value


@dataclass(frozen=True, slots=True)
class RunFault:
    """A fault held for the whole run: ``--fault VN/GOV/BCA/population={latency_ms: 200}``."""

    provider: str
    settings: dict[str, Any]

    @property
    def text(self) -> str:
        return f"{self.provider}={json.dumps(self.settings, separators=(', ', ': '))}"


FAULT_FORMS = (
    "PROVIDER=SETTINGS, SETTINGS being what a fault step's set: takes, as JSON or YAML, "
    "e.g. VN/GOV/BCA/population={latency_ms: 200} or "
    'VN/GOV/BCA/population=\'{"services": {"citizen-lookup": {"error_rate": 0.1}}}\''
)


def _yaml_problem(exc: yaml.YAMLError, raw: str) -> str:
    """PyYAML's complaint on one line, placed in the settings."""
    said, line, column = yaml_problem(exc, raw)
    if line is None:
        return said
    where = f"line {line}, column {column}" if "\n" in raw.strip() else f"column {column}"
    return f"{said}, at {where} of the settings"


def parse_fault(text: str) -> RunFault:
    """A ``--fault`` option; ValueError saying what is wrong and the accepted form."""
    provider, sep, raw = text.partition("=")
    provider = provider.strip()
    if not sep or not re.match(CLIENT_PATTERN, provider):
        raise ValueError(f"--fault {text!r} is malformed: give {FAULT_FORMS}")
    try:
        data = yaml.load(raw, Loader=SafeValuesLoader)
    except yaml.YAMLError as exc:
        raise ValueError(
            f"--fault {text!r}: the settings are not JSON or YAML: {_yaml_problem(exc, raw)}"
        ) from None
    except RecursionError:
        raise ValueError(
            f"--fault {provider}=...: the settings are nested too deeply (mappings or lists "
            "hundreds of levels deep)"
        ) from None
    if not isinstance(data, dict) or not data:
        # error_rate=0.5 read as the text "error_rate=0.5": say how a mapping is written.
        raise ValueError(
            f"--fault {text!r}: give the settings as a non-empty mapping in YAML or JSON, "
            f"e.g. {provider}='{{error_rate: 0.5, latency_ms: 200}}'"
            + (" (not KEY=VALUE)" if isinstance(data, str) and "=" in data else "")
        )
    seed = data.get("seed")
    if seed is not None and not _whole(seed):
        # Checked here: the model's own message offers a template, which --fault cannot take.
        raise ValueError(
            f"--fault {text!r}: seed must be an integer, e.g. 7 (there is no iteration to "
            "render a template for)"
        )
    try:
        settings = FaultSettings.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {_problem(e)}" for e in exc.errors()
        )
        raise ValueError(f"--fault {text!r}: {problems}") from None
    return RunFault(provider, settings.model_dump(exclude_none=True))


def _problem(error: Any) -> str:
    """pydantic's complaint, said as a setting's: "Extra inputs are not permitted" named no
    setting a fault takes."""
    if error["type"] != "extra_forbidden":
        return str(error["msg"])
    known = (
        sorted(FaultSpec.model_fields)
        if len(error["loc"]) > 1
        else sorted(FaultSettings.model_fields)
    )
    close = difflib.get_close_matches(str(error["loc"][-1]), known, n=1)
    hint = f"did you mean {close[0]}? " if close else ""
    return f"not a fault setting ({hint}the settings: {', '.join(known)})"


def _whole(value: object) -> bool:
    """An integer, or text of one (JSON's "7"), as the fault model takes it."""
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, str):
        try:
            int(value)
        except ValueError:
            return False
        return True
    return False


def parse_faults(texts: list[str]) -> list[RunFault]:
    """The ``--fault`` options; ValueError on a malformed one, or on two for one provider:
    the mock holds one setting, so the second replaced the first, which the report still
    said was held for the whole run."""
    faults = [parse_fault(text) for text in texts]
    seen: set[str] = set()
    for fault in faults:
        if fault.provider in seen:
            raise ValueError(
                f"--fault: {fault.provider} is given twice, and its mock holds one setting "
                "(the second would replace the first): give all its settings in one --fault, "
                f"e.g. {fault.provider}={{latency_ms: 200, error_rate: 0.1}}"
            )
        seen.add(fault.provider)
    return faults


def conflicts(faults: list[RunFault], plans: list[ScenarioPlan]) -> list[str]:
    """Scenario fault steps on a provider a ``--fault`` holds: each would undo the run's."""
    held = {f.provider for f in faults}
    return [
        f"{plan.file}: step {step.id!r} switches the faults of {step.provider}, which "
        "--fault holds for the whole run (the mock keeps one setting, so its clear would "
        "undo the run's); drop one of them"
        for plan in plans
        for step in plan.steps
        if isinstance(step, FaultPlan) and step.provider in held
    ]


async def run_fault(
    session: aiohttp.ClientSession,
    providers: Providers,
    step: FaultPlan,
    variables: dict[str, Any],
    faulted: dict[str, str],
) -> tuple[float | None, Failure | None]:
    """Render the step's seed and switch the mock's faults; ``faulted`` keeps the URLs of
    those switched on, for the clean-up of a run cut short."""
    settings = step.settings
    if settings is not None and isinstance(settings.get("seed"), Template):
        try:
            seed = render_value(settings["seed"], variables)
        except MissingVariable as exc:
            return None, missing_variable("seed", exc)
        try:
            settings = {**settings, "seed": int(seed)}
        except (TypeError, ValueError):
            return None, Failure("template", "seed", "an integer", seed)
    started = time.perf_counter()
    try:
        base = step.url or await providers.resolve(session, step.provider)
    except SourceError as exc:
        return None, Failure("config", "provider", "a provider base URL", str(exc))
    url = f"{base}/__faults"
    try:
        if step.clears:
            status, answer = await send(session, url, None)
            faulted.pop(step.provider, None)
        else:
            faulted[step.provider] = url
            status, answer = await send(session, url, settings)
    except (TimeoutError, aiohttp.ClientError) as exc:
        why = failure_text(exc, session.timeout.total or 0)
        return None, Failure("fault", url, "a 2xx answer", why)
    elapsed = (time.perf_counter() - started) * 1000
    if not 200 <= status < 300:
        got: str | int = f"{status}: {answer}" if answer else status
        text = f"the mock refused it with {status}: {answer or '(no message)'}"
        return elapsed, Failure("fault", url, "a 2xx answer", got, status=status, text=text)
    return elapsed, None


async def send(
    session: aiohttp.ClientSession, url: str, settings: dict[str, Any] | None
) -> tuple[int, str]:
    """PUT (or, for None, DELETE) ``url``: the status and the mock's message."""
    method = "DELETE" if settings is None else "PUT"
    async with session.request(method, url, json=settings) as response:
        return response.status, said(await response.read())


def said(body: bytes) -> str:
    """What a mock's answer says: its ``message``, FastAPI's ``detail``, else an excerpt."""
    try:
        data = json.loads(body)
    except ValueError:
        return body[:300].decode("utf-8", "replace")
    if isinstance(data, dict):
        if isinstance(data.get("message"), str):
            return data["message"]
        detail = data.get("detail")
        if isinstance(detail, list):  # a request validation error
            return "; ".join(
                f"{'.'.join(str(p) for p in d.get('loc', [])[1:])}: {d.get('msg')}"
                for d in detail
                if isinstance(d, dict)
            )
        if isinstance(detail, str):
            return detail
    return json.dumps(data, ensure_ascii=False)[:300]


async def mock_services(session: aiohttp.ClientSession, base_url: str) -> set[str] | None:
    """The service codes a mock serves (its OpenAPI operation ids), or None if it cannot say.

    A mock agency built on the connector kit names each route after its service code.
    """
    try:
        async with session.get(
            f"{base_url}/openapi.json", timeout=aiohttp.ClientTimeout(total=10)
        ) as response:
            if response.status != 200:
                return None
            document = json.loads(await response.read())
    except (TimeoutError, aiohttp.ClientError, ValueError):
        return None
    codes = {
        operation["operationId"]
        for item in (document.get("paths") or {}).values()
        if isinstance(item, dict)
        for operation in item.values()
        if isinstance(operation, dict) and isinstance(operation.get("operationId"), str)
    }
    return codes or None


def unknown_services(settings: dict[str, Any] | None, known: set[str]) -> str | None:
    """A sentence naming the ``services`` of ``settings`` that the mock lacks, or None."""
    unknown = sorted(set((settings or {}).get("services") or {}) - known)
    if not unknown:
        return None
    hints = []
    for code in unknown:
        hints.append(f"{code!r}{did_you_mean(code, known, quoted=True)}")
    return (
        f"the mock has no service {', '.join(hints)} under set.services; "
        f"its services are {', '.join(sorted(known))}"
    )
