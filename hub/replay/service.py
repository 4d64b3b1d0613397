"""One replay, start to end: credentials, provider URLs, the run; used by the CLI and pytest."""

from __future__ import annotations

import asyncio
import contextlib
import difflib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from hub.replay import faults as fault_control
from hub.replay.faults import RunFault
from hub.replay.mocks import lacks_control
from hub.replay.plan import MOCK_STEPS, FaultPlan, ScenarioPlan, StubPlan
from hub.replay.requestlog import RequestLog
from hub.replay.results import ScenarioResult
from hub.replay.runner import Runner, RunOptions
from hub.replay.sources import (
    Providers,
    SourceError,
    failure_text,
    fetch_json,
    load_credentials,
    load_providers,
    parse_credentials,
)

PREFLIGHT_TIMEOUT_S = 10.0  # the hub's GET /healthz, before anything runs


async def replay(
    plans: list[ScenarioPlan],
    *,
    hub_url: str,
    options: RunOptions,
    credentials_file: Path | None = None,
    providers_file: Path | None = None,
    on_start: Callable[[Runner], None] | None = None,
    run_id: str | None = None,
    faults: list[RunFault] | None = None,
    request_log: RequestLog | None = None,
) -> tuple[list[ScenarioResult], str]:
    """Run ``plans`` against ``hub_url``; SourceError if keys or provider URLs cannot be had.

    Everything that can be checked before the first request is: that ``hub_url`` is a hub,
    and a client or fault provider named by a step but missing from the credentials or the
    provider URLs stops the run here, not in every iteration; so does a fault setting for a
    service the mock does not have. ``faults`` are held for the whole run: set before the
    first scenario, cleared after the last, however the run ends. ``request_log`` (--out)
    gets a row per request sent, flushed every second and when the run ends; the caller
    opens and closes it.
    """
    faults = faults or []
    clashes = fault_control.conflicts(faults, plans)
    if clashes:
        raise SourceError("\n".join(clashes))
    hub_url = hub_url.rstrip("/")
    providers = Providers(hub_url, load_providers(providers_file) if providers_file else None)
    credentials = load_credentials(credentials_file) if credentials_file else {}
    async with Runner(
        hub_url=hub_url,
        credentials=credentials,
        providers=providers,
        options=options,
        run_id=run_id,
        request_log=request_log,
    ) as runner:
        await check_hub(runner.session, hub_url)
        needed = set().union(*(p.clients for p in plans))
        if needed and credentials_file is None:
            url = f"{hub_url}/demo/credentials"
            try:
                data = await fetch_json(runner.session, url, "demo credentials")
            except SourceError as exc:
                raise SourceError(
                    f"no API keys: --credentials FILE was not given and {exc}. "
                    "Pass --credentials with the JSON of `hub demo credentials`."
                ) from None
            runner.credentials.update(parse_credentials(data, url))
        missing = sorted(needed - runner.credentials.keys())
        if missing:
            origin = str(credentials_file) if credentials_file else f"{hub_url}/demo/credentials"
            # Which files: in a folder of scenarios, a typo in one client is else a grep away.
            files = [p.file for p in plans if p.clients.intersection(missing)]
            known = sorted(runner.credentials)
            named = []
            for client in missing:
                close = difflib.get_close_matches(client, known, n=1, cutoff=0.8)
                named.append(f"{client} (did you mean {close[0]}?)" if close else client)
            raise SourceError(
                f"no API key for client(s) {', '.join(named)} (named in "
                f"{', '.join(dict.fromkeys(files))}) in {origin}: check the client id, or "
                "give --credentials FILE with a key for it (`hub keys issue CLIENT` makes one)"
            )
        checks = _MockServices(runner.session)
        controls: dict[str, str | None] = {}
        for plan in plans:
            for step in plan.steps:
                if not isinstance(step, MOCK_STEPS):
                    continue
                where = f"{plan.file}: step {step.id!r}" if step.id else f"{plan.file}: a mock step"
                try:
                    base = step.url or await providers.resolve(runner.session, step.provider)
                except SourceError as exc:
                    raise SourceError(f"{where}: {exc}") from None
                if isinstance(step, FaultPlan):
                    problem = await checks.unknown(base, step.settings)
                else:
                    control = "/__stubs" if isinstance(step, StubPlan) else "/__requests/count"
                    url = base + control
                    if url not in controls:
                        controls[url] = await lacks_control(runner.session, url)
                    problem = controls[url]
                if problem:
                    raise SourceError(f"{where}: {step.provider}: {problem}")
        held: list[str] = []
        try:
            for fault in faults:
                try:
                    base = await providers.resolve(runner.session, fault.provider)
                except SourceError as exc:
                    raise SourceError(f"--fault {fault.text}: {exc}") from None
                problem = await checks.unknown(base, fault.settings)
                if problem:
                    raise SourceError(f"--fault {fault.text}: {problem}")
                url = f"{base}/__faults"
                held.append(url)
                try:
                    status, said = await fault_control.send(runner.session, url, fault.settings)
                except (TimeoutError, aiohttp.ClientError) as exc:
                    why = failure_text(exc, options.timeout_s)
                    raise SourceError(f"--fault {fault.text}: PUT {url} failed: {why}") from None
                if not 200 <= status < 300:
                    raise SourceError(
                        f"--fault {fault.text}: the mock refused it with {status}: {said}"
                    )
            if on_start is not None:
                on_start(runner)
            flusher = asyncio.create_task(request_log.keep_flushed()) if request_log else None
            try:
                results = await runner.run(plans)
            finally:
                if flusher is not None and request_log is not None:
                    flusher.cancel()
                    request_log.flush()
        finally:
            # However the run ends (a refusal above, Ctrl-C, SIGTERM): no fault outlives it.
            for url in held:
                with contextlib.suppress(TimeoutError, aiohttp.ClientError):
                    await fault_control.send(runner.session, url, None)
        return results, runner.run_id


class _MockServices:
    """The service codes of each mock, asked once (None: the mock cannot say)."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session
        self.known: dict[str, set[str] | None] = {}

    async def unknown(self, base: str, settings: dict[str, Any] | None) -> str | None:
        if not (settings or {}).get("services"):
            return None
        if base not in self.known:
            self.known[base] = await fault_control.mock_services(self.session, base)
        codes = self.known[base]
        return None if codes is None else fault_control.unknown_services(settings, codes)


async def check_hub(session: aiohttp.ClientSession, hub_url: str) -> None:
    """SourceError unless ``hub_url`` answers ``GET /healthz`` as the hub does.

    A URL ending in /r1, or a mock agency's, failed later and misleadingly ("the hub does
    not serve demo credentials"), or in every request of the run.
    """
    url = f"{hub_url}/healthz"
    seconds = PREFLIGHT_TIMEOUT_S
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=seconds)) as response:
            status, body = response.status, await response.read()
    except (TimeoutError, aiohttp.ClientError) as exc:
        raise SourceError(
            f"cannot reach the hub at {hub_url}: GET {url} failed: {failure_text(exc, seconds)}"
        ) from None
    try:
        answer = json.loads(body)
    except ValueError:
        answer = None
    if status != 200 or not (isinstance(answer, dict) and answer.get("status") == "ok"):
        excerpt = body[:100].decode("utf-8", "replace")
        raise SourceError(
            f"{hub_url} does not look like the hub's base URL (GET /healthz answered {status} "
            f'{excerpt!r}, where the hub answers 200 {{"status": "ok"}}); give the hub\'s '
            "base URL, e.g. http://127.0.0.1:8000, without /r1 and not a mock agency's"
        )
