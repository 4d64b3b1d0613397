"""Stub steps with priorities, and verify steps that count by stub or the unmatched calls."""

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
CID = "079000000001"
SCENARIO = """
vars: {cid: "CID", low: 9}
steps:
  - id: fallback
    stub:
      provider: VN/GOV/BCA/population
      url: MOCK
      add:
        - {id: late, method: GET, path: "/citizens/{{ cid }}", status: 500, priority: "{{ low }}"}
  - id: lookup
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/forward
    path: /citizens/{{ cid }}
    expect: {status: 503}
  - id: stray
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/forward
    path: /v2/nothing
    expect: {status: 404}
  - id: by-stub
    verify: {provider: VN/GOV/BCA/population, url: MOCK, request: {stub: down}, count: 1}
  - id: never-late
    verify: {provider: VN/GOV/BCA/population, url: MOCK, request: {stub: late}, count: 0}
  - id: unmatched
    verify:
      provider: VN/GOV/BCA/population
      url: MOCK
      request: {unmatched: true, path: /v2/nothing}
      count: 1
"""


@pytest.fixture(scope="module")
def _mock() -> Iterator[str]:
    with ServerThread(create_app(size=50)) as server:
        yield server.url


async def test_priorities_and_verify_by_stub_and_unmatched(
    _mock: str, fake_hub: FakeHub, write: Callable[..., Path]
) -> None:
    async with httpx.AsyncClient(base_url=_mock) as mock:
        await mock.post("/__reset")
        await _run(mock, fake_hub, write)


async def _run(mock: httpx.AsyncClient, fake_hub: FakeHub, write: Callable[..., Path]) -> None:
    _mock = str(mock.base_url).rstrip("/")
    fake_hub.forward_to = _mock
    down = {
        "id": "down",
        "method": "GET",
        "path_pattern": "/citizens/.*",
        "status": 503,
        "body": {},
    }
    assert (await mock.put("/__stubs", json=[down])).status_code == 200
    text = SCENARIO.replace("MOCK", _mock).replace("CID", CID)
    results, _ = await replay(
        [load_file(write(text))], hub_url=fake_hub.url, options=RunOptions(iterations=2)
    )
    [result] = results
    assert result.ok, [s.first_failure for s in result.steps]
    labels = [s.label for s in result.steps if s.kind == "verify"]
    assert "stub down" in labels[0] and "unmatched" in labels[2], labels
    assert [s["id"] for s in (await mock.get("/__stubs")).json()] == ["down"]


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (
            "  - stub: {provider: VN/GOV/BCA/population, add: [{method: GET, path: /a, "
            "priority: 0}]}",
            "field stub.add.0.priority: must be a whole number, 1 or more, or a template",
        ),
        (
            "  - fault: {provider: VN/GOV/BCA/population, set: {error_rate: 1, error_status: 200}}",
            "field fault.set.error_status: Input should be greater than or equal to 400",
        ),
        (
            "  - stub: {provider: VN/GOV/BCA/population, add: [{method: GET, path: /a, "
            "headers: {Set-Cookie: []}}]}",
            "field stub.add.0.headers: Set-Cookie: an empty list sends nothing; give one or more",
        ),
        (  # YAML's null, not Python's None
            "  - stub: {provider: VN/GOV/BCA/population, add: [{method: GET, path: /a, "
            "headers: {X-A: null}}]}",
            "field stub.add.0.headers.X-A: expected a valid string or a valid integer or a valid "
            "number or a valid boolean or a valid list, got null",
        ),
        (
            "  - verify: {provider: VN/GOV/BCA/population, request: {unmatched: maybe}, count: 0}",
            "field verify.request.unmatched",
        ),
    ],
)
def test_bad_priorities_statuses_and_filters_are_refused_at_load_time(
    write: Callable[..., Path], step: str, message: str
) -> None:
    path = write(f"steps:\n{step}\n")
    with pytest.raises(ScenarioLoadError) as caught:
        load_file(path)
    assert f"{path}:2: step steps[0], {message}" in str(caught.value)


REPEATED = """
vars: {cid: "CID"}
steps:
  - id: login
    stub:
      provider: VN/GOV/BCA/population
      url: MOCK
      add:
        - method: GET
          path: /v2/login
          headers:
            Set-Cookie: ["sid={{ cid }}; Path=/", theme=dark]
            Link: ["</p/2>; rel=next", "</p/9>; rel=last"]
          body: {ok: true}
  - id: call
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/forward
    path: /v2/login
    expect: {status: 200, headers: {Set-Cookie: theme=dark, Link: "</p/9>; rel=last"}}
    capture:
      cookies: {header: Set-Cookie}
      links: {header: link}
      next: {header: Link, match: first}
  - id: echo
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/echo
    headers: {X-Sid: "{{ cookies.0 }}", X-Links: "{{ links }}", X-Next: "{{ next }}"}
    expect:
      json:
        $.headers.x-sid: "sid={{ cid }}; Path=/"
        $.headers.x-links: "</p/2>; rel=next, </p/9>; rel=last"
        $.headers.x-next: "</p/2>; rel=next"
"""


async def test_a_stub_step_sends_a_repeated_header_and_a_capture_keeps_every_value(
    _mock: str, fake_hub: FakeHub, write: Callable[..., Path]
) -> None:
    # A stub step's header took one string only, and a capture kept the first line only.
    async with httpx.AsyncClient() as client:
        await client.post(f"{_mock}/__reset")
    fake_hub.forward_to = _mock
    text = REPEATED.replace("MOCK", _mock).replace("CID", CID)
    results, _ = await replay(
        [load_file(write(text))], hub_url=fake_hub.url, options=RunOptions(iterations=1)
    )
    [result] = results
    assert result.ok, [s.first_failure for s in result.steps]


@pytest.mark.parametrize(
    ("request_filter", "said"),
    [
        ({"method": "GET", "path": "/c/1", "status": 503}, "GET /c/1 answered 503"),
        # It said "any any path by stub s1".
        ({"stub": "s1"}, "any method or path answered by stub s1"),
        ({"method": "POST"}, "POST to any path"),
        ({"path_pattern": "/c/.*"}, "any method to ~/c/.*"),
        ({"status": 404, "stub": "s1"}, "any method or path answered 404 by stub s1"),
        ({"unmatched": True}, "any method or path unmatched"),
    ],
)
def test_the_calls_a_verify_step_counts_read_as_words(
    request_filter: dict[str, Any], said: str
) -> None:
    from hub.replay.mockplan import calls_text

    assert calls_text(request_filter) == said
