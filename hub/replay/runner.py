"""Replaying compiled scenarios against a hub: the closed and the open load model.

Closed model (``concurrency``): that many workers each run one iteration after another,
so the offered load follows the hub's speed. Open model (``rate``): iterations start on
a fixed schedule, ``rate`` per second, whatever the response times (k6's
constant-arrival-rate); if ``max_in_flight`` iterations are still running when the next
one is due, it is dropped and counted, as k6 does. Scenarios run one after another, so a
scenario's fault steps never slow down another scenario's exchanges.

Exchanges are sent by ``hub.replay.exchange``, through the hub's own pooled HTTP client;
aiohttp serves the rare fault, stub, verify and provider-list calls.

Only exchanges that got an HTTP answer are requests and feed the latencies; an attempt
that got none (connection refused or reset, a timeout before any answer) is a transport
error, counted by kind, and fails its step. A closed-model worker whose iteration met one
pauses ``TRANSPORT_PAUSE_S`` before its next: with the hub down, connection refusals come
back in microseconds and the loop would otherwise spin at full CPU.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import aiohttp

from hub.gateway.client import HttpClient
from hub.replay.exchange import run_exchange
from hub.replay.faults import run_fault, send
from hub.replay.mocks import Stubbed, clear_journals, remove_stubs, run_stub, run_verify
from hub.replay.options import Ramp
from hub.replay.plan import (
    ExchangePlan,
    FaultPlan,
    ScenarioPlan,
    SleepPlan,
    StubPlan,
    VerifyPlan,
)
from hub.replay.requestlog import RequestLog
from hub.replay.results import (
    Failure,
    RunResults,
    ScenarioResult,
    StepStats,
    missing_variable,
    utc_now,
)
from hub.replay.sources import Providers
from hub.replay.templating import MissingVariable, render_value

TRANSPORT_PAUSE_S = 0.1  # a closed-model worker's pause after a transport error
RAMP_TICK_S = 0.05  # how often a worker a ramp holds back looks again
# Open model: how far past the end of --duration the schedule may still start iterations it
# is late for; after that, those left are dropped (the runner cannot start that rate).
LATE_END_S = 0.1
# Open model: an iteration started this long after its due time counts as started late. Its
# latency counts from when it was sent, so the lag (the runner's own coordinated omission,
# when it cannot start the rate) is reported beside it rather than hidden.
LATE_START_S = 0.05


@dataclass(slots=True)
class RunOptions:
    """How many iterations, how fast, for how long."""

    iterations: int | None = 1  # None: until the duration ends
    duration_s: float | None = None
    concurrency: int = 1
    rate: float | None = None  # iterations started per second (open model)
    max_in_flight: int = 1000  # open model only
    timeout_s: float = 30.0
    # k6's stages: workers (closed model) or rate (open model) ramped over time; the run
    # lasts as long as the stages do.
    ramp: Ramp | None = None

    def __post_init__(self) -> None:
        if self.iterations is None and self.duration_s is None:
            raise ValueError("give a number of iterations, a duration, or both")


class Runner:
    """Runs scenario plans against ``hub_url`` with one HTTP session."""

    def __init__(
        self,
        *,
        hub_url: str,
        credentials: dict[str, str],
        providers: Providers,
        options: RunOptions,
        run_id: str | None = None,
        request_log: RequestLog | None = None,
    ) -> None:
        self.hub_url = hub_url.rstrip("/")
        self.credentials = credentials
        self.providers = providers
        self.options = options
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.iterations_done = 0  # across the run, for progress bars
        self.current: ScenarioResult | None = None
        self.scenario_index = 0
        self.scenario_started = 0.0  # time.monotonic() when the current scenario started
        self._session: aiohttp.ClientSession | None = None
        self._http: HttpClient | None = None
        self._stop = asyncio.Event()
        self.stopped_by: str | None = None
        self._faulted: dict[str, str] = {}
        self._stubbed: set[Stubbed] = set()  # stubs of iterations in flight (or cut short)
        self.clock: Callable[[], float] | None = None  # the open model's; None: the loop's
        self.request_log = request_log  # --out: a row per request sent

    async def __aenter__(self) -> Runner:
        connector = aiohttp.TCPConnector(limit=0, ttl_dns_cache=300)
        self._session = aiohttp.ClientSession(
            connector=connector,
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=self.options.timeout_s),
        )
        self._http = HttpClient()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def http(self) -> HttpClient:
        if self._http is None:
            raise RuntimeError("use the Runner as 'async with Runner(...) as runner'")
        return self._http

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("use the Runner as 'async with Runner(...) as runner'")
        return self._session

    def stop(self, reason: str = "Ctrl-C") -> None:
        """Start no more iterations (nor scenarios); those in flight finish. For Ctrl-C,
        SIGTERM and SIGHUP (``reason`` names it in the reports)."""
        if not self._stop.is_set():
            self.stopped_by = reason
        self._stop.set()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    async def run(self, plans: list[ScenarioPlan]) -> RunResults:
        """The scenarios' results, one after another; after ``stop`` only those begun, and
        the others in ``not_run``."""
        results = RunResults()
        for index, plan in enumerate(plans):
            if self.stopped:
                results.not_run = [_empty_result(p) for p in plans[index:]]
                break
            result = _empty_result(plan)
            if self.options.rate and self.options.ramp is None:
                result.target_rate = self.options.rate
            self.current = result
            self.scenario_index = index
            self.scenario_started = time.monotonic()
            result.started_at = utc_now()
            started = time.perf_counter()
            try:
                if self.options.rate:
                    await self._open(plan, result)
                else:
                    await self._closed(plan, result)
            finally:
                await self._clear_leftover_faults()
                await self._remove_leftover_stubs()
            result.duration_s = time.perf_counter() - started
            result.ended_at = utc_now()
            result.interrupted = self.stopped
            results.append(result)
        results.stopped_by = self.stopped_by
        return results

    async def _closed(self, plan: ScenarioPlan, result: ScenarioResult) -> None:
        options = self.options
        counter = itertools.count(1)
        deadline = None if options.duration_s is None else time.monotonic() + options.duration_s

        ramp = options.ramp
        begun = time.monotonic()

        async def worker(number: int) -> None:
            while not self.stopped and (deadline is None or time.monotonic() < deadline):
                if ramp is not None and number >= ramp.value(time.monotonic() - begun):
                    # Not this worker's turn yet (ramping up), or no longer (ramping down):
                    # it waits, an iteration in flight having finished, as k6's VUs do.
                    await self._pause(RAMP_TICK_S)
                    continue
                index = next(counter)
                if options.iterations is not None and index > options.iterations:
                    return
                if await self._iteration(plan, result, index):
                    await self._pause(TRANSPORT_PAUSE_S)

        workers = max(1, options.concurrency)
        if ramp is not None:
            workers = max(1, math.ceil(max(ramp.start, *(t for _, t in ramp.stages))))
        if options.iterations is not None:
            workers = min(workers, options.iterations)  # a worker more would find none left
        if plan.switches_faults:
            # A mock's faults are global: one iteration's clear lifted another's set mid-
            # exchange, and the shipped scenarios failed one run in three at --concurrency 2.
            workers = 1
        await asyncio.gather(*(worker(number) for number in range(workers)))

    async def _open(self, plan: ScenarioPlan, result: ScenarioResult) -> None:
        options = self.options
        assert options.rate
        loop = asyncio.get_running_loop()
        clock = self.clock or loop.time
        interval = 1.0 / options.rate
        start = clock()
        late_end = None if options.duration_s is None else start + options.duration_s + LATE_END_S
        in_flight: set[asyncio.Task[bool]] = set()
        for index in itertools.count(1):
            if options.iterations is not None and index > options.iterations:
                break
            # Due times come from the start, not from the previous wake-up, so they never drift.
            due = (index - 1) * interval if options.ramp is None else options.ramp.due(index - 1)
            if due is None or (options.duration_s is not None and due >= options.duration_s):
                break
            offset = due
            delay = start + offset - clock()
            if delay > 0:
                await self._pause(delay)
            elif late_end is not None and clock() > late_end:
                # Far behind a rate the runner cannot start, past the end: the schedule would
                # go on, one loop turn per iteration due, for as long as the rate is high.
                result.iterations_dropped += _due_within(options) - (index - 1)
                break
            else:
                # Behind schedule: still let the iterations in flight (and a Ctrl-C) run,
                # or none would finish and every later one would be dropped.
                await asyncio.sleep(0)
            if self.stopped:
                break
            if len(in_flight) >= options.max_in_flight:
                result.iterations_dropped += 1
                continue
            now = clock()
            result.record_start(now)
            result.record_start_lag(now - (start + offset), LATE_START_S)
            task = loop.create_task(self._iteration(plan, result, index))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        if in_flight:
            await asyncio.gather(*in_flight)

    async def _pause(self, seconds: float) -> None:
        """Sleep until an iteration is due, or until ``stop``."""
        if seconds < 0.05:  # short waits stay plain sleeps: a stop shows at the next due time
            await asyncio.sleep(seconds)
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    async def _iteration(self, plan: ScenarioPlan, result: ScenarioResult, index: int) -> bool:
        """Run one iteration; True if an exchange of it got no answer (a transport error)."""
        result.iterations_started += 1
        unanswered = False
        variables: dict[str, Any] = {"run": {"iteration": index, "id": self.run_id}}
        failed = False
        failure: Failure | None
        try:
            for name, value in plan.vars:
                variables[name] = render_value(value, variables)
        except MissingVariable as exc:
            # Charged to the vars, not to a step: no step ran for it.
            failure = missing_variable("vars", exc)
            failure.iteration = index
            result.record_vars_failure(failure)
            failed = True
        stubbed = Stubbed()
        self._stubbed.add(stubbed)
        try:
            journals = (
                await clear_journals(self.session, self.providers, plan.verified)
                if plan.verified
                else {}
            )
            for step, stats in zip(plan.steps, result.steps, strict=True):
                # After a failure only the clean-ups still run, so no fault nor stub outlives it.
                if failed and not (isinstance(step, FaultPlan | StubPlan) and step.clears):
                    continue
                try:
                    if isinstance(step, ExchangePlan):  # the common case, called directly
                        once = partial(
                            run_exchange,
                            self.http,
                            step,
                            variables,
                            result,
                            stats,
                            hub_url=self.hub_url,
                            credentials=self.credentials,
                            timeout_s=self.options.timeout_s,
                            log=self.request_log,
                            iteration=index,
                        )
                        elapsed, failure = await once()
                        if failure is not None and step.attempts > 1:
                            elapsed, failure = await self._retry(
                                step, stats, once, elapsed, failure
                            )
                    else:
                        elapsed, failure = await self._other(step, variables, stubbed, journals)
                except Exception as exc:  # a bug must not end the run; report it on the step
                    elapsed, failure = None, Failure("error", "", "no error", repr(exc))
                if failure is not None:
                    failure.iteration = index
                    failed = True
                    unanswered = unanswered or failure.kind == "transport"
                stats.record(elapsed, failure)
        finally:
            # Stubs the iteration added and did not clear: the next iteration adds its own.
            if stubbed.ids:
                await remove_stubs(self.session, stubbed.pop(), quiet=True)
            self._stubbed.discard(stubbed)
        if failed:
            result.iterations_failed += 1
        else:
            result.iterations_passed += 1
        self.iterations_done += 1
        return unanswered

    async def _retry(
        self,
        step: ExchangePlan,
        stats: StepStats,
        once: Callable[..., Awaitable[tuple[float | None, Failure | None]]],
        elapsed: float | None,
        failure: Failure | None,
    ) -> tuple[float | None, Failure | None]:
        """A step's ``retry``: its request sent again (``once``) while its answer fails the
        step, up to ``step.attempts`` requests in all. Each attempt is a request of the report
        (and a row of ``--out``), as the hub logs it; the step's own run and latency are its last
        attempt's, the failed attempts' latencies are counted beside them. An attempt that
        got no answer (a transport error), or failed before it was sent, ends the retries:
        waiting would not change a hub that is down, nor a template that does not render."""
        attempt = 1
        while (
            failure is not None
            and elapsed is not None
            and attempt < step.attempts
            and not self.stopped
        ):
            await self._pause(step.every_ms / 1000)
            if self.stopped:  # Ctrl-C during the wait: no more attempts, the step fails
                break
            stats.latencies_ms.append(elapsed)
            attempt += 1
            elapsed, failure = await once(attempt=attempt)
        if failure is not None and attempt > 1:
            # Said by run_exchange (and its --out row) when the attempts ran out or no
            # answer came; here too when a stop cut the wait short.
            failure.attempts = attempt
        return elapsed, failure

    async def _other(
        self,
        step: FaultPlan | StubPlan | VerifyPlan | SleepPlan,
        variables: dict[str, Any],
        stubbed: Stubbed,
        journals: dict[str, str | None],
    ) -> tuple[float | None, Failure | None]:
        """A step that is no exchange: a sleep, or one that talks to a mock directly."""
        if isinstance(step, SleepPlan):
            # Its own time, shown in its row; latency thresholds count exchanges only.
            started = time.perf_counter()
            await self._pause(step.seconds)
            return (time.perf_counter() - started) * 1000, None
        if isinstance(step, StubPlan):
            return await run_stub(self.session, self.providers, step, variables, stubbed)
        if isinstance(step, VerifyPlan):
            return await run_verify(self.session, self.providers, step, variables, journals)
        return await run_fault(self.session, self.providers, step, variables, self._faulted)

    async def _clear_leftover_faults(self) -> None:
        """Clear faults a scenario switched on and never off (its run was cut short)."""
        faulted, self._faulted = self._faulted, {}
        for url in faulted.values():
            with contextlib.suppress(TimeoutError, aiohttp.ClientError):
                await send(self.session, url, None)

    async def _remove_leftover_stubs(self) -> None:
        """Remove stubs of iterations that were cut short before their own clean-up."""
        for stubbed in list(self._stubbed):
            await remove_stubs(self.session, stubbed.pop(), quiet=True)
        self._stubbed.clear()


def _due_within(options: RunOptions) -> int:
    """How many iterations the open model's schedule has due within its duration."""
    assert options.rate and options.duration_s is not None
    if options.ramp is None:
        due = math.ceil(options.duration_s * options.rate)
    else:
        due = math.ceil(options.ramp.count(options.duration_s))
    return due if options.iterations is None else min(due, options.iterations)


def _empty_result(plan: ScenarioPlan) -> ScenarioResult:
    kinds = {
        ExchangePlan: "exchange",
        FaultPlan: "fault",
        StubPlan: "stub",
        VerifyPlan: "verify",
        SleepPlan: "sleep",
    }
    steps = [StepStats(id=s.id, kind=kinds[type(s)], label=s.label) for s in plan.steps]
    return ScenarioResult(name=plan.name, file=plan.file, steps=steps)
