"""The shipped scenarios replay together, as docs/scenarios.md shows, against one real stack.

`hub replay scenarios/ --iterations 10` failed 4 of 13 scenarios: provider-slow's timeouts
(one per iteration, 5 s each) filled the population register's circuit-breaker window
without opening it, the stubbed 503 of record-unavailable that came next opened it, and
that scenario, unknown-citizen and both land scenarios got 503 Server.ServiceUnavailable.

The run is scaled down, in the same proportions: the lookup's timeout is 1 s instead of
5 s (a lookup that works takes a few milliseconds, well inside it on a busy machine), and
the breaker's window 6 s instead of 30 s (six timeouts either way), so that
provider-slow still outlasts the window, which is what let its failures outweigh the
exchanges of the scenarios before it. The breaker opens from 10 exchanges in the window
instead of 20, a stricter one, so that the old scenarios failed here every time, not only
when the machine was fast enough to fit 20 exchanges in the shorter window.
"""

from __future__ import annotations

import json
from pathlib import Path

import connectors
from connectors.demo import demo_registry
from hub.core.security import demo_api_key
from hub.replay.loader import load_paths
from hub.replay.runner import RunOptions
from hub.replay.service import replay
from tests.e2e.conftest import demo_stack
from tests.support import SECRET

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
LOOKUP = "VN/GOV/BCA/population/citizen-lookup"


async def test_shipped_scenarios_replay_together_with_iterations(
    sqlite_url: str, tmp_path: Path
) -> None:
    plans = load_paths([SCENARIOS])
    assert any(p.name == "provider-slow" for p in plans)
    async with demo_stack(
        sqlite_url,
        tmp_path,
        timeouts_ms={LOOKUP: 1000},
        breaker_window_s=6.0,
        breaker_min_requests=10,
    ) as stack:
        subsystems = demo_registry(stack.providers)["subsystems"]
        credentials = tmp_path / "credentials.json"
        credentials.write_text(
            json.dumps({s["id"]: demo_api_key(SECRET, s["id"]) for s in subsystems})
        )
        providers = tmp_path / "providers.json"
        providers.write_text(
            json.dumps(
                {
                    connectors.get(name).manifest.subsystem_id: url
                    for name, url in stack.providers.items()
                }
            )
        )
        results, _ = await replay(
            plans,
            hub_url=stack.hub_url,
            options=RunOptions(iterations=10, concurrency=4),
            credentials_file=credentials,
            providers_file=providers,
        )
    failures = [
        f"{r.name} {s.id}: {s.first_failure.message()}"
        for r in results
        for s in r.steps
        if s.first_failure
    ]
    assert failures == []
    assert [r.iterations_passed for r in results] == [10] * len(plans)
