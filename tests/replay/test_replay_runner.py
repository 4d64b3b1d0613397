"""The runner end to end against a fake hub on real HTTP."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from hub.replay.loader import load_file
from hub.replay.runner import RunOptions
from hub.replay.service import replay

FakeHub = Any  # the fake_hub fixture of conftest.py

SCENARIO = """
name: flow
vars: {issue: "HS-{{ run.iteration }}"}
steps:
  - id: find
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/echo
    path: /citizens
    query: {province: "79", tags: [a, b]}
    headers: {X-Road-Issue: "{{ issue }}"}
    expect:
      status: 200
      json: {$.query.province: "79", $.headers.x-road-issue: "{{ issue }}"}
    capture: {cid: "$.items[0].id"}
  - id: verify
    client: VN/COM/0101234565/ekyc
    service: VN/GOV/BCA/population/echo
    method: POST
    path: /citizens/{{ cid }}/verify
    json: {id: "{{ cid }}", n: "{{ run.iteration }}"}
    expect:
      json: {$.json.id: "079123456789", $.path: /citizens/079123456789/verify}
"""


async def test_steps_run_in_order_with_captures_and_keys(
    fake_hub: FakeHub, write: Callable[..., Path]
) -> None:
    plan = load_file(write(SCENARIO))
    results, run_id = await replay(
        [plan], hub_url=fake_hub.url, options=RunOptions(iterations=3, concurrency=2)
    )
    (result,) = results
    assert result.ok, result.to_dict()
    assert [s.runs for s in result.steps] == [3, 3]
    assert result.iterations_passed == 3
    assert result.requests == 6
    assert len(run_id) == 12


async def test_a_failing_step_ends_its_iteration_only(
    fake_hub: FakeHub, write: Callable[..., Path]
) -> None:
    text = SCENARIO.replace('$.query.province: "79"', '$.query.province: "{{ want }}"')
    text = text.replace("vars: {", 'vars: {want: "{{ run.iteration }}", ')
    # Only iteration 79 would pass; the others fail at "find" and skip "verify".
    plan = load_file(write(text))
    results, _ = await replay([plan], hub_url=fake_hub.url, options=RunOptions(iterations=4))
    find, verify = results[0].steps
    assert (find.runs, find.failed, verify.runs) == (4, 4, 0)
    failure = find.first_failure
    assert failure is not None
    assert (failure.kind, failure.what, failure.expected, failure.got) == (
        "json",
        "$.query.province",
        1,
        "79",
    )
    assert failure.x_road_id and failure.iteration in range(1, 5)
    assert results[0].iterations_failed == 4 and not results[0].ok


async def test_missing_variable_is_a_step_failure(
    fake_hub: FakeHub, write: Callable[..., Path]
) -> None:
    text = SCENARIO.replace("path: /citizens/{{ cid }}/verify", "path: /x/{{ nope }}")
    results, _ = await replay(
        [load_file(write(text))], hub_url=fake_hub.url, options=RunOptions(iterations=1)
    )
    failure = results[0].steps[1].first_failure
    assert failure is not None and failure.kind == "template"
    assert "'nope' is not defined" in failure.got


async def test_fault_steps_set_and_clear_and_a_failure_still_clears(
    fake_hub: FakeHub, write: Callable[..., Path]
) -> None:
    text = """
steps:
  - fault: {provider: VN/GOV/BCA/population, set: {latency_ms: 50}}
  - id: slow
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/echo
    expect: {max_ms: 20}
  - id: never
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/echo
  - fault: {provider: VN/GOV/BCA/population, clear: true}
"""
    results, _ = await replay(
        [load_file(write(text))], hub_url=fake_hub.url, options=RunOptions(iterations=1)
    )
    set_, slow, never, clear = results[0].steps
    assert (set_.passed, slow.failed, never.runs, clear.passed) == (1, 1, 0, 1)
    assert slow.first_failure is not None and slow.first_failure.kind == "max_ms"
    assert fake_hub.faults == [("PUT", {"latency_ms": 50}), ("DELETE", None)]


async def test_a_fault_left_on_is_cleared_after_the_scenario(
    fake_hub: FakeHub, write: Callable[..., Path]
) -> None:
    text = "steps:\n  - fault: {provider: VN/GOV/BCA/population, set: {error_rate: 1}}\n"
    await replay([load_file(write(text))], hub_url=fake_hub.url, options=RunOptions())
    assert [m for m, _ in fake_hub.faults] == ["PUT", "DELETE"]


async def test_credentials_file_and_refusals(
    fake_hub: FakeHub, write: Callable[..., Path], tmp_path: Path
) -> None:
    plan = load_file(write(SCENARIO))
    creds = tmp_path / "creds.json"
    creds.write_text('[{"client": "VN/GOV/BTP/civil-status", "api_key": "key-civil"}]')
    try:
        await replay([plan], hub_url=fake_hub.url, options=RunOptions(), credentials_file=creds)
    except Exception as exc:
        assert "no API key for client(s) VN/COM/0101234565/ekyc" in str(exc)
    else:
        raise AssertionError("a client without a key must stop the run")
    fake_hub.demo = False
    try:
        await replay([plan], hub_url=fake_hub.url, options=RunOptions())
    except Exception as exc:
        assert "--credentials" in str(exc) and "404" in str(exc)
    else:
        raise AssertionError("no credentials must stop the run")


async def test_open_model_starts_iterations_at_the_rate_whatever_the_latency(
    fake_hub: FakeHub, write: Callable[..., Path]
) -> None:
    # Each iteration takes ~200 ms; at 25/s about 5 are in flight at once, so a closed
    # model with one worker could only reach 5/s. Count starts, not the machine's speed.
    text = """
steps:
  - client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/slow
    query: {ms: 200}
"""
    rate, duration = 25.0, 2.0
    options = RunOptions(iterations=None, duration_s=duration, rate=rate)
    results, _ = await replay([load_file(write(text))], hub_url=fake_hub.url, options=options)
    assert results[0].iterations_started == 50 and results[0].ok
    arrivals = sorted(fake_hub.arrivals)
    assert len(arrivals) == 50
    observed = (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])
    assert abs(observed - rate) / rate < 0.10, observed
    # Every one-second window holds about `rate` starts: no burst, no stall.
    first_second = sum(1 for t in arrivals if t - arrivals[0] < 1.0)
    assert abs(first_second - rate) <= rate * 0.10 + 1, first_second


async def test_closed_model_with_duration_stops_starting_at_the_deadline(
    fake_hub: FakeHub, write: Callable[..., Path]
) -> None:
    text = """
steps:
  - client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/slow
    query: {ms: 100}
"""
    options = RunOptions(iterations=None, duration_s=0.5, concurrency=2)
    results, _ = await replay([load_file(write(text))], hub_url=fake_hub.url, options=options)
    # Two workers, 100 ms per iteration, 0.5 s: about 10 iterations, never 2x more.
    assert 2 <= results[0].iterations_started <= 12
    assert results[0].iterations_dropped == 0


async def test_paths_queries_and_headers_go_out_encoded_as_the_scenario_wrote_them(
    fake_hub: FakeHub, write: Callable[..., Path]
) -> None:
    text = """
steps:
  - id: odd
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/echo
    path: "/citizens/Nguyễn Văn An?kind=full"
    query: {note: "a b&c"}
    headers: {X-Road-Issue: "Hồ sơ 7"}
    expect:
      status: 200
      json:
        $.path: "/citizens/Nguyễn Văn An"
        $.query.kind: full
        $.query.note: "a b&c"
        $.headers.x-road-issue: "Hồ sơ 7"
        $.headers.user-agent: hub-replay
"""
    results, _ = await replay(
        [load_file(write(text))], hub_url=fake_hub.url, options=RunOptions(iterations=1)
    )
    assert results[0].ok, results[0].to_dict()


async def test_a_header_with_a_line_break_fails_its_step_and_the_run_goes_on(
    fake_hub: FakeHub, write: Callable[..., Path]
) -> None:
    text = """
vars: {issue: "HS-{{ run.iteration }}\\r\\nX-Evil: 1"}
steps:
  - id: split
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/echo
    headers: {X-Road-Issue: "{{ issue }}"}
"""
    results, _ = await replay(
        [load_file(write(text))], hub_url=fake_hub.url, options=RunOptions(iterations=2)
    )
    (step,) = results[0].steps
    assert (step.runs, step.failed) == (2, 2)
    failure = step.first_failure
    assert failure is not None and failure.kind == "transport"
    assert "line break" in failure.got
    assert fake_hub.arrivals == []  # nothing was sent
    assert results[0].requests == 0 and len(step.latencies_ms) == 0


def test_request_targets_and_bodies_as_the_runner_sends_and_reads_them() -> None:
    import gzip
    import zlib

    from hub.replay.runner import decoded, request_target

    assert request_target("/r1/a/b c/%41", []) == "/r1/a/b%20c/%41"
    assert request_target("/r1/x?k=1", [("q", "a b")]) == "/r1/x?k=1&q=a+b"
    assert request_target("/r1/x", [("t", "a"), ("t", "b")]) == "/r1/x?t=a&t=b"
    body = b'{"ok": true}'
    assert decoded(gzip.compress(body), "gzip") == body
    assert decoded(zlib.compress(body), "deflate") == body
    assert decoded(body, None) == body and decoded(body, "br") == body


async def test_a_jsonpath_that_is_one_placeholder_takes_the_variables_path(
    fake_hub: FakeHub, write: Callable[..., Path]
) -> None:
    # It was a load-time traceback (TypeError: unhashable type: '_Stand').
    text = """
vars: {p: "$.items[0].id", n: "{{ run.iteration }}"}
steps:
  - id: find
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/echo
    expect: {json: {"{{ p }}": "079123456789"}}
    capture: {cid: "{{ p }}"}
  - id: use
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/echo
    path: /c/{{ cid }}
    expect: {json: {$.path: /c/079123456789}}
  - id: not-a-path
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/echo
    capture: {x: "{{ n }}"}
"""
    results, _ = await replay(
        [load_file(write(text))], hub_url=fake_hub.url, options=RunOptions(iterations=1)
    )
    find, use, not_a_path = results[0].steps
    assert (find.passed, use.passed, not_a_path.failed) == (1, 1, 1), results[0].to_dict()
    failure = not_a_path.first_failure
    assert failure is not None and failure.kind == "capture"
    assert failure.got == "{{ n }} is 1, not a JSONPath"


async def test_a_step_that_fails_before_sending_is_no_request(
    fake_hub: FakeHub, write: Callable[..., Path]
) -> None:
    # Such steps were counted as requests of 0 ms: 39,000 req/s and percentiles of nothing.
    text = """
steps:
  - id: unsent
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/echo
    path: /x/{{ nope }}
"""
    results, _ = await replay(
        [load_file(write(text))], hub_url=fake_hub.url, options=RunOptions(iterations=3)
    )
    (step,) = results[0].steps
    assert (step.runs, step.failed, len(step.latencies_ms)) == (3, 3, 0)
    assert results[0].requests == 0 and results[0].requests_per_s == 0
    assert fake_hub.arrivals == []


async def test_a_vars_failure_is_charged_to_the_vars_not_to_a_step(
    fake_hub: FakeHub, write: Callable[..., Path]
) -> None:
    # 'a' has no 'c': only known when rendered. It was charged to the first step, which
    # then showed two runs per iteration.
    text = """
vars: {a: x, b: "{{ a.c }}"}
steps:
  - fault: {provider: VN/GOV/BCA/population, clear: true}
  - id: find
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/echo
"""
    results, _ = await replay(
        [load_file(write(text))], hub_url=fake_hub.url, options=RunOptions(iterations=3)
    )
    (result,) = results
    clear, find = result.steps
    assert (clear.runs, clear.passed, clear.failed, find.runs) == (3, 3, 0, 0)
    assert result.vars_failed == 3 and result.iterations_failed == 3 and not result.ok
    document = result.to_dict()["vars"]
    assert document["failed"] == 3
    assert "'a.c' is not defined" in document["first_failure"]["got"]
