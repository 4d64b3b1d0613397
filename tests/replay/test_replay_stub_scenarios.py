"""Stub steps with a mock's stateful stubs: a scenario's state moves as the calls come."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.land import create_app
from hub.replay.loader import load_file
from hub.replay.problems import ScenarioLoadError
from hub.replay.runner import RunOptions
from hub.replay.service import replay
from tests.replay.conftest import ServerThread

FakeHub = Any  # the fake_hub fixture of conftest.py
SCENARIO = """
steps:
  - id: flow
    stub:
      provider: VN/GOV/BTNMT/land
      url: MOCK
      add:
        - method: GET
          path: /parcels/P1
          body: {state: pending}
          scenario: "{{ flow }}"
          required_state: Started
        - method: POST
          path: /land-transfers
          status: 201
          body: {state: submitted}
          scenario: "{{ flow }}"
          new_state: submitted
        - method: GET
          path: /parcels/P1
          body: {state: approved}
          scenario: "{{ flow }}"
          required_state: submitted
  - id: before
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/forward
    path: /parcels/P1
    expect: {status: 200, json: {$.state: pending}}
  - id: submit
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/forward
    method: POST
    path: /land-transfers
    json: {parcel: P1}
    expect: {status: 201}
  - id: after
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/forward
    path: /parcels/P1
    expect: {status: 200, json: {$.state: approved}}
  - id: done
    stub: {provider: VN/GOV/BTNMT/land, url: MOCK, clear: true}
"""


@pytest.fixture(scope="module")
def _mock() -> Iterator[str]:
    with ServerThread(create_app(size=50)) as server:
        yield server.url


async def test_a_scenario_moves_within_each_iteration_and_starts_afresh_in_the_next(
    _mock: str, fake_hub: FakeHub, write: Callable[..., Path]
) -> None:
    async with httpx.AsyncClient(base_url=_mock) as mock:
        await mock.post("/__reset")
        fake_hub.forward_to = _mock
        text = SCENARIO.replace("MOCK", _mock).replace("{{ flow }}", "transfer")
        results, _ = await replay(
            [load_file(write(text))], hub_url=fake_hub.url, options=RunOptions(iterations=2)
        )
        [result] = results
        assert result.ok, [s.first_failure for s in result.steps]
        # The stubs were cleared, and the scenario with them.
        assert (await mock.get("/__scenarios")).json() == []


def test_a_state_without_its_scenario_is_refused_at_load_time(write: Callable[..., Path]) -> None:
    path = write(
        "steps:\n  - stub: {provider: VN/GOV/BTNMT/land, add: [{method: GET, path: /a, "
        "new_state: done}]}\n"
    )
    with pytest.raises(ScenarioLoadError) as caught:
        load_file(path)
    assert "required_state and new_state are states of a scenario: give scenario too" in str(
        caught.value
    )
