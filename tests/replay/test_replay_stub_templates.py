"""Stub steps with a mock's templated answers: the mock's placeholders reach the mock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.population.app import create_app
from hub.replay.loader import load_file
from hub.replay.problems import ScenarioLoadError
from hub.replay.runner import RunOptions
from hub.replay.service import replay
from tests.replay.conftest import ServerThread

FakeHub = Any  # the fake_hub fixture of conftest.py
SCENARIO = """
vars: {cid: "079000000001"}
steps:
  - id: echo
    stub:
      provider: VN/GOV/BCA/population
      url: MOCK
      add:
        - method: GET
          path_pattern: /v9/citizens/.*
          template: true
          headers: {X-Asked-For: "{{ cid }}", X-Path: "{{ request.path }}"}
          body:
            id: "{{ request.path.2 }}"
            asked: "{{ cid }}"
            n: "{{ request.query.n }}"
            first: "{{ jsonpath '$.x' }}"
            at: "{{ now }}"
  - id: call
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/forward
    path: /v9/citizens/{{ cid }}
    query: {n: 3}
    expect:
      status: 200
      headers: {X-Asked-For: "079000000001", X-Path: /v9/citizens/079000000001}
      json: {$.id: "079000000001", $.asked: "079000000001", $.n: "3", $.first: ""}
  - id: done
    stub: {provider: VN/GOV/BCA/population, url: MOCK, clear: true}
"""


@pytest.fixture(scope="module")
def _mock() -> Iterator[str]:
    with ServerThread(create_app(size=50)) as server:
        yield server.url


async def test_the_mocks_placeholders_are_left_for_it_and_the_scenarios_rendered(
    _mock: str, fake_hub: FakeHub, write: Callable[..., Path]
) -> None:
    async with httpx.AsyncClient(base_url=_mock) as mock:
        await mock.post("/__reset")
        fake_hub.forward_to = _mock
        text = SCENARIO.replace("MOCK", _mock)
        results, _ = await replay(
            [load_file(write(text))], hub_url=fake_hub.url, options=RunOptions(iterations=1)
        )
        [result] = results
        assert result.ok, [s.first_failure for s in result.steps]


def test_without_template_a_mock_placeholder_is_the_scenarios_own(
    write: Callable[..., Path],
) -> None:
    # Not templated, {{ request.path }} names a scenario variable, which it does not have.
    path = write(
        "steps:\n  - stub: {provider: VN/GOV/BCA/population, add: [{method: GET, path: /a, "
        "body: {p: \"{{ jsonpath '$.x' }}\"}}]}\n"
    )
    with pytest.raises(ScenarioLoadError) as caught:
        load_file(path)
    assert "bad template" in str(caught.value)
