"""Verify steps that count calls by what they sent: query parameters, headers, body text."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.population.app import create_app
from hub.replay.loader import load_file
from hub.replay.mockplan import calls_text
from hub.replay.problems import ScenarioLoadError
from hub.replay.runner import RunOptions
from hub.replay.service import replay
from tests.replay.conftest import ServerThread

FakeHub = Any  # the fake_hub fixture of conftest.py
SCENARIO = """
vars: {cid: "079000000001", province: "79"}
steps:
  - client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/forward
    path: /citizens
    query: {province: "{{ province }}", limit: 2}
  - client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/forward
    method: POST
    path: /citizens/verify
    json: {id: "{{ cid }}", full_name: Nguyễn Văn An}
  - id: by-query
    verify:
      provider: VN/GOV/BCA/population
      url: MOCK
      request: {method: GET, query: {province: "{{ province }}", limit: 2}}
      count: 1
  - id: by-header-and-body
    verify:
      provider: VN/GOV/BCA/population
      url: MOCK
      request:
        headers: {Content-Type: application/json}
        body_contains: '"id":"{{ cid }}"'
      count: 1
  - id: none-other
    verify:
      provider: VN/GOV/BCA/population
      url: MOCK
      request: {query: {province: "01"}}
      count: 0
"""


@pytest.fixture(scope="module")
def _mock() -> Iterator[str]:
    with ServerThread(create_app(size=50)) as server:
        yield server.url


@pytest.fixture
def mock(_mock: str, fake_hub: FakeHub) -> str:
    """A population mock the fake hub forwards its ``forward`` service to; clean."""
    httpx.post(f"{_mock}/__reset")
    fake_hub.forward_to = _mock
    return _mock


async def test_verify_counts_calls_by_what_they_sent(
    mock: str, fake_hub: FakeHub, write: Callable[..., Path]
) -> None:
    text = SCENARIO.replace("MOCK", mock)
    results, _ = await replay(
        [load_file(write(text))], hub_url=fake_hub.url, options=RunOptions(iterations=2)
    )
    [result] = results
    assert result.ok, [s.first_failure for s in result.steps]
    labels = {s.id: s.label for s in result.steps}
    assert labels["by-query"] == (
        "verify VN/GOV/BCA/population: GET to any path sending query province={{ province }}, "
        "query limit=2 ×1"
    )
    assert labels["by-header-and-body"] == (
        "verify VN/GOV/BCA/population: any method or path sending header Content-Type: "
        'application/json, a body holding \'"id":"{{ cid }}"\' ×1'
    )


async def test_a_count_by_what_was_sent_that_fails_says_it(
    mock: str, fake_hub: FakeHub, write: Callable[..., Path]
) -> None:
    text = SCENARIO.replace("MOCK", mock).replace('province: "01"', 'province: "{{ province }}"')
    results, _ = await replay([load_file(write(text))], hub_url=fake_hub.url, options=RunOptions())
    failure = results[0].steps[-1].first_failure
    assert failure is not None
    assert failure.message() == (
        "verify: expected 0 calls of any method or path sending query province=79, the mock saw 1"
    )


async def test_the_mock_refuses_a_filter_on_a_secret_and_the_step_says_why(
    mock: str, fake_hub: FakeHub, write: Callable[..., Path]
) -> None:
    text = f"""
steps:
  - verify:
      provider: VN/GOV/BCA/population
      url: {mock}
      request: {{headers: {{Authorization: Bearer sk-1}}}}
      count: 0
"""
    results, _ = await replay([load_file(write(text))], hub_url=fake_hub.url, options=RunOptions())
    failure = results[0].steps[0].first_failure
    assert failure is not None
    assert "the journal shows this header redacted" in failure.message(), failure.message()


@pytest.mark.parametrize(
    ("request_filter", "message"),
    [
        ("{query: {'': '1'}}", "field verify.request.query: a parameter has a name"),
        ("{headers: {X-A: a, x-a: b}}", "header x-a is given twice: names match in any case"),
        ("{headers: {'X A': a}}", "field verify.request.headers: 'X A' is no header name"),
        ("{body_contains: ''}", "field verify.request.body_contains"),
        ("{header: {X-A: a}}", "unknown key 'header' (did you mean 'headers'?)"),
    ],
)
def test_bad_filters_by_what_was_sent_are_refused_at_load_time(
    write: Callable[..., Path], request_filter: str, message: str
) -> None:
    path = write(
        "steps:\n  - verify: {provider: VN/GOV/BCA/population, request: "
        + request_filter
        + ", count: 1}\n"
    )
    with pytest.raises(ScenarioLoadError) as caught:
        load_file(path)
    assert message in str(caught.value), str(caught.value)


@pytest.mark.parametrize(
    ("request_filter", "said"),
    [
        ({"query.province": "79"}, "any method or path sending query province=79"),
        (
            {"method": "GET", "path": "/c", "header.X-A": "a", "status": 200},
            "GET /c sending header X-A: a answered 200",
        ),
        ({"body_contains": "0792"}, "any method or path sending a body holding '0792'"),
    ],
)
def test_the_calls_counted_by_what_they_sent_read_as_words(
    request_filter: dict[str, Any], said: str
) -> None:
    assert calls_text(request_filter) == said
