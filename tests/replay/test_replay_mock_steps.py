"""Stub and verify steps: a real mock agency's ``/__stubs`` and request journal."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.population.app import create_app
from hub.replay.loader import load_file
from hub.replay.problems import ScenarioLoadError
from hub.replay.reports import write_junit
from hub.replay.runner import RunOptions
from hub.replay.service import replay
from hub.replay.sources import SourceError
from tests.replay.conftest import ServerThread

FakeHub = Any  # the fake_hub fixture of conftest.py
CALL = """
  - id: {id}
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/forward
    path: /citizens/{{{{ cid }}}}
    expect: {{status: {status}}}
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


async def stubs_at(mock: str) -> list[str]:
    """The ids of the stubs a mock holds."""
    async with httpx.AsyncClient() as client:
        return [s["id"] for s in (await client.get(f"{mock}/__stubs")).json()]


def scenario(mock: str, *steps: str, vars_: str = 'cid: "079000000001"') -> str:
    body = "".join(steps).replace("MOCK", mock)
    return f"vars: {{{vars_}}}\nsteps:{body}"


STUB = """
  - id: down
    stub:
      provider: VN/GOV/BCA/population
      url: MOCK
      add:
        - {method: GET, path: "/citizens/{{ cid }}", status: 503, body: {id: "{{ cid }}"}}
"""
CLEAR = """
  - id: back
    stub: {provider: VN/GOV/BCA/population, url: MOCK, clear: true}
"""


def verify(count: str, request: str = 'method: GET, path: "/citizens/{{ cid }}"') -> str:
    return f"""
  - id: forwarded
    verify:
      provider: VN/GOV/BCA/population
      url: MOCK
      request: {{{request}}}
      {count}
"""


async def run(write: Callable[..., Path], fake_hub: FakeHub, text: str, **options: Any) -> Any:
    results, _ = await replay(
        [load_file(write(text))], hub_url=fake_hub.url, options=RunOptions(**options)
    )
    return results[0]


async def test_a_stub_answers_with_its_templates_rendered_and_verify_counts_the_calls(
    fake_hub: FakeHub, mock: str, write: Callable[..., Path]
) -> None:
    text = scenario(
        mock,
        STUB,
        CALL.format(id="stubbed", status=503),
        verify("count: 1"),
        CLEAR,
        CALL.format(id="real", status=404),  # the mock's own answer: no such citizen
        verify("count: 2", 'path_pattern: "/citizens/.*"').replace("forwarded", "both"),
    )
    result = await run(write, fake_hub, text, iterations=3)
    assert result.ok, [s.first_failure for s in result.steps]
    assert [s.kind for s in result.steps] == [
        "stub",
        "exchange",
        "verify",
        "stub",
        "exchange",
        "verify",
    ]
    # Every iteration's count is its own: the journal is cleared as an iteration starts.
    assert [s.passed for s in result.steps] == [3] * 6
    assert await stubs_at(mock) == []


async def test_a_count_that_does_not_hold_fails_the_step_in_plain_words(
    fake_hub: FakeHub, mock: str, write: Callable[..., Path], tmp_path: Path
) -> None:
    text = scenario(mock, STUB, CALL.format(id="stubbed", status=503), verify("at_least: 2"))
    result = await run(write, fake_hub, text)
    failure = result.steps[2].first_failure
    assert failure is not None
    assert failure.message() == (
        "verify: expected at least 2 calls of GET /citizens/079000000001, the mock saw 1"
    )
    write_junit(tmp_path / "junit.xml", [result])
    case = ET.parse(tmp_path / "junit.xml").find(".//testcase[@name='forwarded']")
    assert case is not None and "the mock saw 1" in case.find("failure").get("message", "")  # type: ignore[union-attr]


async def test_a_failing_iteration_still_removes_its_stubs_and_others_stay(
    fake_hub: FakeHub, mock: str, write: Callable[..., Path]
) -> None:
    theirs = {"id": "theirs", "method": "GET", "path": "/elsewhere", "status": 204}
    async with httpx.AsyncClient() as client:
        assert (await client.post(f"{mock}/__stubs", json=theirs)).status_code == 201
    # The call expects 200 but gets the stub's 503: the iteration fails before its clear.
    text = scenario(mock, STUB, CALL.format(id="stubbed", status=200), CLEAR)
    result = await run(write, fake_hub, text, iterations=2)
    assert (result.iterations_failed, result.steps[2].passed) == (2, 2)
    assert await stubs_at(mock) == ["theirs"]
    # Without a clear step at all, the iteration's end removes them.
    result = await run(write, fake_hub, scenario(mock, STUB), iterations=2)
    assert result.ok and await stubs_at(mock) == ["theirs"]


async def test_a_stub_the_mock_refuses_fails_the_step_with_its_message(
    fake_hub: FakeHub, mock: str, write: Callable[..., Path]
) -> None:
    bad = STUB.replace("status: 503", 'path_pattern: "("')
    bad = bad.replace('path: "/citizens/{{ cid }}", ', "")
    result = await run(write, fake_hub, scenario(mock, bad))
    failure = result.steps[0].first_failure
    assert failure is not None and "the mock refused the stubs with 422" in failure.message()
    assert "not a regular expression" in failure.message()


async def test_a_count_from_a_journal_that_dropped_calls_says_so(
    fake_hub: FakeHub, write: Callable[..., Path]
) -> None:
    fake_hub.journal = {"count": 0, "dropped": 7}
    text = scenario("", verify("count: 1").replace("      url: MOCK\n", ""))
    result = await run(write, fake_hub, text)
    failure = result.steps[0].first_failure
    assert failure is not None
    assert "the mock saw 0 (its journal dropped 7 older call(s)" in failure.message()
    # The journal was cleared before the count, through the provider URL the hub gave.
    assert [c[0] for c in fake_hub.controls] == ["GET", "DELETE", "GET"]  # preflight first


async def test_a_provider_without_stubs_is_refused_before_anything_runs(
    fake_hub: FakeHub, write: Callable[..., Path]
) -> None:
    # The fake hub's population "mock" has no /__stubs: the run stops before any request.
    text = scenario("", STUB.replace("      url: MOCK\n", ""), CALL.format(id="c", status=503))
    with pytest.raises(SourceError, match=r"step 'down'.*GET .*/__stubs answered 404"):
        await run(write, fake_hub, text)
    assert fake_hub.arrivals == []


P = "provider: VN/GOV/BCA/population"


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (
            "  - stub: {" + P + ", add: [{method: GET, path: /a, stauts: 1}]}",
            "field stub.add.0: unknown key 'stauts' (did you mean 'status'?)",
        ),
        (
            "  - stub: {" + P + ", clear: true, add: [{method: GET, path: /a}]}",
            "field stub: give exactly one of 'add: [{stub}, ...]' or 'clear: true'",
        ),
        (
            "  - stub: {" + P + ", add: [{method: GET, text: hi}]}",
            "field stub.add.0: give exactly one of 'path' (exact) or 'path_pattern' (a regex)",
        ),
        (
            "  - stub: {" + P + ", add: [{method: GET, path: /{{ cdi }}}]}",
            "field stub.add.0.path: variable 'cdi' is not defined",
        ),
        (
            "  - verify: {" + P + ", request: {method: GET}}",
            "field verify: give 'count: N', or 'at_least: N' and/or 'at_most: N'",
        ),
        (
            "  - verify: {" + P + ", count: 1, at_most: 2}",
            "field verify: give 'count', or 'at_least' and/or 'at_most', not both",
        ),
        (
            "  - verify: {" + P + ", request: {methd: GET}, count: 1}",
            "field verify.request: unknown key 'methd' (did you mean 'method'?)",
        ),
    ],
)
def test_malformed_stub_and_verify_steps_are_refused_at_load_time(
    write: Callable[..., Path], step: str, message: str
) -> None:
    path = write(f"steps:\n{step}\n")
    with pytest.raises(ScenarioLoadError) as caught:
        load_file(path)
    assert f"{path}:2: step steps[0], {message}" in str(caught.value)
