"""The shipped stateful scenarios replay again and again against the same hub and mocks.

A tester's load loop (`hub replay scenarios/` many times against one `hub up`) failed from
about the 12th to the 17th run: each run's death and land transfer used up one record of a
fixed window (the 100 citizens, the 29 parcels an iteration reads), and a parcel's holder
could be an elder that the death scenario had registered as deceased.
"""

from __future__ import annotations

import json
from pathlib import Path

from connectors.demo import demo_registry
from hub.core.security import demo_api_key
from hub.replay.loader import load_file
from hub.replay.runner import RunOptions
from hub.replay.service import replay
from tests.e2e.conftest import Stack
from tests.support import SECRET

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
LOOPED = ("death-linked-procedure.yaml", "land-transfer.yaml")
RUNS = 25


async def test_death_and_land_transfer_replay_run_after_run(stack: Stack, tmp_path: Path) -> None:
    plans = [load_file(SCENARIOS / name) for name in LOOPED]
    subsystems = demo_registry(stack.providers)["subsystems"]
    keys = {s["id"]: demo_api_key(SECRET, s["id"]) for s in subsystems}
    credentials = tmp_path / "credentials.json"
    credentials.write_text(json.dumps(keys))
    # Two iterations at once per run: concurrent ones must not pick the same elder or parcel.
    options = RunOptions(iterations=2, concurrency=2)
    for run in range(1, RUNS + 1):
        results, _ = await replay(
            plans, hub_url=stack.hub_url, options=options, credentials_file=credentials
        )
        for result in results:
            failures = [
                f"{s.id}: {s.first_failure.message()}" for s in result.steps if s.first_failure
            ]
            assert result.ok, f"run {run}, {result.name}: {failures}"
            assert result.iterations_passed == 2
