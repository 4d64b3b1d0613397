"""Stub and verify steps: a real mock agency's ``/__stubs`` and request journal."""

from __future__ import annotations

import json
import selectors
import signal
import subprocess
import sys
import time
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


MATCH_BODY = """
  - id: matching
    stub:
      provider: VN/GOV/BCA/population
      url: MOCK
      add:
        - method: POST
          path: /citizens/verify
          request_json: {id: "{{ cid }}", born: 1949-09-22, tags: ["{{ cid }}"]}
          status: 299
          body: {matched: true}
"""


def post(step_id: str, json: str, status: int) -> str:
    return f"""
  - id: {step_id}
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/forward
    method: POST
    path: /citizens/verify
    json: {json}
    expect: {{status: {status}}}
"""


async def test_a_stub_matches_the_request_body_with_request_json_templated(
    fake_hub: FakeHub, mock: str, write: Callable[..., Path]
) -> None:
    # The mock's stubs take request_json (connectors/kit/stub_model.py); a stub step refused it
    # as an unknown key, so a scenario could not answer one POST and not another.
    text = scenario(
        mock,
        MATCH_BODY,
        # Other keys may come too; the date is the text the body holds.
        post("same", '{id: "{{ cid }}", born: "1949-09-22", tags: ["{{ cid }}"], x: 1}', 299),
        post("other", '{id: "079000000002", born: "1949-09-22", tags: ["{{ cid }}"]}', 422),
        verify("count: 2", "method: POST, path: /citizens/verify"),
    )
    result = await run(write, fake_hub, text, iterations=2)
    assert result.ok, [s.first_failure for s in result.steps]
    assert await stubs_at(mock) == []


MATCH_JSONPATH = """
  - id: matching
    stub:
      provider: VN/GOV/BCA/population
      url: MOCK
      add:
        - method: POST
          path: /citizens/verify
          request_jsonpath: ["$[?$.id == '{{ cid }}']", "$.tags[0]"]
          status: 299
          body: {matched: true}
"""


async def test_a_stub_matches_the_request_body_with_request_jsonpath_templated(
    fake_hub: FakeHub, mock: str, write: Callable[..., Path]
) -> None:
    # The mock's stubs take request_jsonpath (WireMock's matchesJsonPath); a stub step must too.
    text = scenario(
        mock,
        MATCH_JSONPATH,
        post("same", '{id: "{{ cid }}", tags: ["a"]}', 299),
        post("other", '{id: "{{ cid }}", tags: []}', 422),
        verify("count: 2", "method: POST, path: /citizens/verify"),
    )
    result = await run(write, fake_hub, text, iterations=2)
    assert result.ok, [s.first_failure for s in result.steps]
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
            "  - stub: {"
            + P
            + ", add: [{method: POST, path: /a, request_json: {id: '{{ cdi }}'}}]}",
            "field stub.add.0.request_json.id: variable 'cdi' is not defined",
        ),
        (
            # Quoted by mistake: loaded, then refused by the mock in every iteration.
            "  - stub: {" + P + ", add: [{method: GET, path: /a, latency_ms: '200'}]}",
            "field stub.add.0.latency_ms: must be a number of milliseconds 0-600000, or a "
            "template that renders to one",
        ),
        (
            "  - stub: {" + P + ", add: [{method: GET, path: /a, times: two}]}",
            "field stub.add.0.times: must be a whole number, 1 or more, or a template",
        ),
        (
            "  - stub: {" + P + ", add: [{method: GET, path: /a, times: 0}]}",
            "field stub.add.0.times: must be a whole number, 1 or more, or a template",
        ),
        (
            "  - stub: {" + P + ", add: [{method: POST, path: /a, request_json: [1, '{{ x }']}]}",
            "field stub.add.0.request_json.1: bad template '{{ x }' in '{{ x }'",
        ),
        (
            "  - stub: {" + P + ", add: [{method: POST, path: /a, request_json: {a: .nan}}]}",
            "field stub.add.0.request_json.a: .nan is not a JSON number",
        ),
        (
            "  - stub: {" + P + ", add: [{method: POST, path: /a, request_json: {1: x}}]}",
            "field stub.add.0.request_json.1: key 1 is not text",
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


def test_a_request_json_problem_is_told_at_its_own_line(write: Callable[..., Path]) -> None:
    path = write(
        "vars: {cid: '079000000001'}\n"
        "steps:\n"
        "  - stub:\n"
        "      provider: VN/GOV/BCA/population\n"
        "      add:\n"
        "        - method: POST\n"
        "          path: /citizens/verify\n"
        "          request_json:\n"
        "            id: '{{ cid }}'\n"
        "            deep:\n"
        "              when: '{{ wen }}'\n"
    )
    with pytest.raises(ScenarioLoadError) as caught:
        load_file(path)
    assert (
        f"{path}:11: step steps[0], field stub.add.0.request_json.deep.when: "
        "variable 'wen' is not defined"
    ) in str(caught.value)


HUNG = """
  - id: hang
    stub:
      provider: VN/GOV/BCA/population
      url: MOCK
      add:
        - {method: GET, path: "/citizens/{{ cid }}", latency_ms: 8000, body: {late: true}}
"""


def test_a_second_ctrl_c_aborts_requests_to_a_hung_provider_and_still_cleans_up(
    fake_hub: FakeHub, mock: str, write: Callable[..., Path], tmp_path: Path
) -> None:
    # docs/scenarios.md: the first Ctrl-C waits for the iterations in flight, the second
    # aborts them at once (not after the provider's 8 s), without a report, yet the
    # stubs are removed and the faults cleared, those of --fault too. (8 s leaves a busy
    # machine time for the clean-up, and ends before the mock's stop gives up on it.)
    providers, report = tmp_path / "providers.json", tmp_path / "report.json"
    providers.write_text(json.dumps({"VN/GOV/BCA/population": mock}))
    path = write(scenario(mock, HUNG, CALL.format(id="slow", status=200)))
    cmd = [sys.executable, "-m", "hub", "replay", str(path), "--hub", fake_hub.url]
    cmd += ["--providers", str(providers), "--fault", "VN/GOV/BCA/population={jitter_ms: 1}"]
    cmd += ["--json", str(report)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while not fake_hub.arrivals:  # the exchange is in flight, its stub holding it
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the run never started"
            time.sleep(0.05)
        assert httpx.get(f"{mock}/__faults").json()["jitter_ms"] == 1
        proc.send_signal(signal.SIGINT)
        assert proc.stderr is not None
        readable = selectors.DefaultSelector()
        readable.register(proc.stderr, selectors.EVENT_READ)
        assert readable.select(timeout=20), "Ctrl-C was never taken"
        first = proc.stderr.readline()
        assert first.startswith(b"stopping (Ctrl-C)"), first
        time.sleep(0.3)
        assert proc.poll() is None  # the first waits for the request in flight
        second = time.monotonic()
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
        took = time.monotonic() - second
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, (out, err)
    assert took < 5, f"the second Ctrl-C took {took:.1f} s"  # the stub answers after 8 s
    assert "interrupted (Ctrl-C): no report" in err.decode() and out.decode() == ""
    assert not report.exists()
    assert httpx.get(f"{mock}/__stubs").json() == []
    assert httpx.get(f"{mock}/__faults").json()["jitter_ms"] == 0
