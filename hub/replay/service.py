"""One replay, start to end: credentials, provider URLs, the run; used by the CLI and pytest."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from hub.replay.plan import ScenarioPlan
from hub.replay.results import ScenarioResult
from hub.replay.runner import Runner, RunOptions
from hub.replay.sources import (
    Providers,
    SourceError,
    fetch_json,
    load_credentials,
    load_providers,
    parse_credentials,
)


async def replay(
    plans: list[ScenarioPlan],
    *,
    hub_url: str,
    options: RunOptions,
    credentials_file: Path | None = None,
    providers_file: Path | None = None,
    on_start: Callable[[Runner], None] | None = None,
    run_id: str | None = None,
) -> tuple[list[ScenarioResult], str]:
    """Run ``plans`` against ``hub_url``; SourceError if keys or provider URLs cannot be had.

    Everything that can be checked before the first request is: a client named by a step
    but missing from the credentials stops the run here, not in every iteration.
    """
    hub_url = hub_url.rstrip("/")
    providers = Providers(hub_url, load_providers(providers_file) if providers_file else None)
    credentials = load_credentials(credentials_file) if credentials_file else {}
    async with Runner(
        hub_url=hub_url,
        credentials=credentials,
        providers=providers,
        options=options,
        run_id=run_id,
    ) as runner:
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
            raise SourceError(f"no API key for client(s) {', '.join(missing)} in {origin}")
        if on_start is not None:
            on_start(runner)
        results = await runner.run(plans)
        return results, runner.run_id
