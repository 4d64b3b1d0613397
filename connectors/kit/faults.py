"""Fault injection for resilience tests: the ``/__faults`` control of SPEC section 9.

``PUT /__faults`` with a ``FaultConfig`` body replaces the faults; ``{}`` or ``DELETE`` clears
them; ``GET`` shows them. Global fields apply to every service call; ``services`` overrides
fields per service code: ``{"error_rate": 0.1, "services": {"citizen-lookup": {"latency_ms":
500}}}``. Control routes (``/__*``) and the OpenAPI document are never faulted; a path no
service has is faulted (with the global fields) only when a stub answers it, and a stubbed call
of a service gets that service's faults: faults come before stubs (``FaultMiddleware``).

Per call, after the latency (``latency_ms`` plus up to ``jitter_ms``), one uniform draw picks at
most one fault, with these bands in this order: ``reset_rate`` (the connection is aborted with
no answer), ``timeout_rate`` (no answer until the client gives up), ``error_rate`` (a JSON
error with ``error_status``), ``malformed_rate`` (the real answer, cut short so it is invalid
JSON, still labelled ``application/json``). The draws come from ``random.Random(seed)``, so the
same seed and the same request sequence give the same faults. How each fault is played on the
connection is ``fault_acts.py``'s.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    field_serializer,
    field_validator,
    model_validator,
)
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from connectors.kit import fault_acts
from connectors.kit.dataset import seed_problem
from connectors.kit.fault_acts import ConnectionResetByFault as ConnectionResetByFault
from connectors.kit.journal import Entry, Journal
from connectors.kit.stubs import Stubs

KINDS = ("reset", "timeout", "error", "malformed")
# Numbers only: pydantic took true for 1 (every call failed) and "0.5" for 0.5.
Number = Annotated[float, Strict()]
Whole = Annotated[int, Strict()]


class FaultSpec(BaseModel):
    """Fault settings for one service, or for all of them."""

    # NaN and the infinities would pass no range check, and could not be shown back as JSON.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    latency_ms: Number = Field(default=0, ge=0, le=600_000)
    jitter_ms: Number = Field(default=0, ge=0, le=600_000)
    error_rate: Number = Field(default=0, ge=0, le=1)
    error_status: Whole = Field(default=500, ge=400, le=599)
    timeout_rate: Number = Field(default=0, ge=0, le=1)
    reset_rate: Number = Field(default=0, ge=0, le=1)
    malformed_rate: Number = Field(default=0, ge=0, le=1)

    @model_validator(mode="after")
    def _rates_fit_one_draw(self) -> FaultSpec:
        if self.reset_rate + self.timeout_rate + self.error_rate + self.malformed_rate > 1:
            raise ValueError("reset_rate + timeout_rate + error_rate + malformed_rate must be <= 1")
        return self


class FaultConfig(FaultSpec):
    """The whole fault setting of a mock: global fields, per-service overrides and a seed."""

    seed: Whole | None = None
    services: dict[str, FaultSpec] = Field(default_factory=dict)

    @field_validator("seed")
    @classmethod
    def _seed_reads_back(cls, value: int | None) -> int | None:
        problem = None if value is None else seed_problem(value)
        if problem is not None:
            raise ValueError(problem)
        return value

    @model_validator(mode="after")
    def _merged_rates_fit_one_draw(self) -> FaultConfig:
        # Each half may be fine alone and still add up to more than one draw together.
        for code, override in self.services.items():
            rates = {f"{kind}_rate": getattr(self, f"{kind}_rate") for kind in KINDS}
            rates.update({k: getattr(override, k) for k in override.model_fields_set & set(rates)})
            total = sum(rates.values())
            if total > 1:
                raise ValueError(
                    f"services.{code}: with the global rates, its reset_rate + timeout_rate + "
                    f"error_rate + malformed_rate come to {total:g}; they must be <= 1"
                )
        return self

    @field_serializer("services")
    def _overrides_only(self, services: dict[str, FaultSpec]) -> dict[str, dict[str, Any]]:
        # Show what each service overrides, not defaults that would override the global
        # settings if the answer of GET were PUT back.
        return {code: spec.model_dump(exclude_unset=True) for code, spec in services.items()}

    def unknown_services(self, codes: Iterable[str]) -> str | None:
        """A sentence naming the service codes of ``services`` not in ``codes``, or None."""
        known = set(codes)
        unknown = sorted(set(self.services) - known)
        if not unknown:
            return None
        return (
            f"services: this mock has no service {', '.join(unknown)}; "
            f"its services are {', '.join(sorted(known))}"
        )

    def for_service(self, code: str | None) -> FaultSpec:
        """The effective settings for a call of ``code``: the global ones, overridden."""
        merged = {name: getattr(self, name) for name in FaultSpec.model_fields}
        override = self.services.get(code) if code else None
        if override is not None:
            merged.update({name: getattr(override, name) for name in override.model_fields_set})
        return FaultSpec.model_validate(merged)


class Faults:
    """The live fault state of one app: its config and the seeded random source."""

    def __init__(self, config: FaultConfig | None = None, *, default_seed: int = 0) -> None:
        self.default_seed = default_seed
        self.initial = config or FaultConfig()
        self.set(self.initial)

    def set(self, config: FaultConfig) -> None:
        """Replace the config and restart the random sequence from its seed."""
        self.config = config
        seed = config.seed if config.seed is not None else self.default_seed
        self.rng = random.Random(seed)

    def reset(self) -> None:
        """Back to the faults the app started with, with a fresh random sequence."""
        self.set(self.initial)

    def decide(self, code: str | None) -> tuple[float, str | None, FaultSpec]:
        """Delay in seconds and the fault kind (or None) for one call."""
        spec = self.config.for_service(code)
        delay = spec.latency_ms + (self.rng.uniform(0, spec.jitter_ms) if spec.jitter_ms else 0)
        draw = self.rng.random()
        edge = 0.0
        for kind in KINDS:
            edge += getattr(spec, f"{kind}_rate")
            if draw < edge:
                return delay / 1000, kind, spec
        return delay / 1000, None, spec


class FaultMiddleware:
    """ASGI layer in front of the manifest's services: the journal, then faults, then stubs.

    Each call but the controls (``/__*``) is recorded in ``journal``. A call of a service (the
    route it matches), or of a path only a stub answers, then gets its latency and fault draw;
    a call the fault leaves to be answered goes to the first live stub matching it, else to
    the app. A stub's hits count the calls it answered, so a faulted call does not use it up,
    nor move its scenario. It must sit outermost (the kit puts it there) so that a reset can
    reach the server's transport through the server's own ``send``.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        faults: Faults,
        routes: Iterable[Any],
        codes: Iterable[str],
        stubs: Stubs | None = None,
        journal: Journal | None = None,
    ) -> None:
        self.app = app
        self.faults = faults
        self.routes = routes
        self.codes = frozenset(codes)
        self.stubs = stubs or Stubs()
        self.journal = journal

    def _route(self, scope: Scope) -> tuple[bool, str | None]:
        """Whether a route of the app takes the call, and the service code if a service's."""
        # Match the way the router will, so per-service faults hit the route that answers.
        for route in self.routes:
            if route.matches(scope)[0] == Match.FULL:
                name = getattr(route, "name", None)
                return True, name if name in self.codes else None
        return False, None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/__"):
            await self.app(scope, receive, send)
            return
        if self.journal is None:
            await self._serve(scope, receive, send, send, None)
            return
        entry = self.journal.open(scope)

        async def noted_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                entry.took(message.get("body", b""))
            return message

        async def noted_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                entry.status = message["status"]
            elif not message.get("more_body", False):
                entry.done()  # before the client can see the end of the answer
            await send(message)

        try:
            await self._serve(scope, noted_receive, noted_send, send, entry)
        finally:
            entry.done()

    async def _serve(
        self, scope: Scope, receive: Receive, send: Send, raw_send: Send, entry: Entry | None
    ) -> None:
        body = None
        if self.stubs.stubs and self.stubs.needs_body(scope):
            body, receive = await fault_acts.read_body(receive)
            if body is None:
                return  # the client left mid-body
        routed, code = self._route(scope)
        if code is None and not (self.stubs.stubs and self.stubs.find(scope, body)):
            if entry is not None:
                entry.unmatched = not routed  # the app answers 404, or 405 for another method
            if entry is not None and not routed and body is None:
                # Its 404 reads no body, and what was sent where nothing answers is what the
                # journal is looked at for: read it, so the entry shows it.
                body, receive = await fault_acts.read_body(receive)
                if body is None:
                    return
            await self.app(scope, receive, send)
            return
        delay, kind, spec = self.faults.decide(code)
        if entry is not None:
            entry.delay, entry.fault = delay, kind
        if delay:
            replay = await fault_acts.delay(delay, receive)
            if replay is None:
                return  # the client gave up waiting: nobody is left to answer
            receive = replay
        if kind in ("reset", "error") and entry is not None and body is None:
            # Nothing reads it after these: read it for the journal, where a test counting a
            # client's retries by body_contains would else miss the faulted tries.
            body, receive = await fault_acts.read_body(receive)
            if body is None:
                return
        if kind == "reset":
            await fault_acts.reset(raw_send)
            return
        if kind == "timeout":
            await fault_acts.hang(receive)
            return
        if kind == "error":
            await fault_acts.error(send, spec.error_status, code or scope["path"])
            return
        if kind == "malformed":
            send = fault_acts.Truncating(send)
        # Found again: another call may have used the stub up, or moved its scenario on,
        # during the delay. Chosen here, after the fault: a faulted call takes no stub.
        chosen = self.stubs.choose(scope, body) if self.stubs.stubs else None
        if chosen is None:
            if entry is not None:
                entry.unmatched = not routed
            await self.app(scope, receive, send)
            return
        stub, move = chosen
        if entry is not None:
            entry.stub, entry.scenario = stub.id, move
        if stub.stub.latency_ms:
            replay = await fault_acts.delay(stub.stub.latency_ms / 1000, receive)
            if replay is None:
                return
            receive = replay
        await stub.answer(receive, send, scope)
