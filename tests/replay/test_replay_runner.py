"""The runner end to end against a fake hub on real HTTP."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hub.replay import runner as runner_mod
from hub.replay.loader import load_file
from hub.replay.problems import ScenarioLoadError
from hub.replay.reports import answers_text
from hub.replay.results import Failure
from hub.replay.runner import TRANSPORT_PAUSE_S, Runner, RunOptions
from hub.replay.service import replay
from hub.replay.sources import Providers, SourceError
from tests.replay.conftest import RawHub, run_scenario

FakeHub = Any  # the fake_hub fixture of conftest.py
POPULATION = "VN/GOV/BCA/population"
KEYS = {"VN/GOV/BTP/civil-status": "key-civil", "VN/COM/0101234565/ekyc": "key-bank"}

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
    # A name no var or capture has is refused at load time; one inside a captured value is
    # only known missing when rendered.
    text = SCENARIO.replace("path: /citizens/{{ cid }}/verify", "path: /x/{{ cid.nope }}")
    results, _ = await replay(
        [load_file(write(text))], hub_url=fake_hub.url, options=RunOptions(iterations=1)
    )
    failure = results[0].steps[1].first_failure
    assert failure is not None and failure.kind == "template"
    assert "'cid.nope' is not defined" in failure.got
    # Said once, plainly: not "expected variable 'x', got variable 'x' is not defined".
    assert failure.message().startswith("template request: variable 'cid.nope' is not defined")
    assert "expected" not in failure.message()


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
    assert "ms, over the 20 ms allowed" in slow.first_failure.message()  # not "expected 20.0"
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
    fake_hub: FakeHub, write: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # Each iteration takes ~200 ms; at 25/s about 5 are in flight at once, so a closed
    # model with one worker could only reach 5/s. Count starts, not the machine's speed.
    # A busy machine that stalls this process for 0.1 s near the end would make the runner
    # drop the last starts as too late (LATE_END_S; that is tested below): all 50 start.
    monkeypatch.setattr(runner_mod, "LATE_END_S", 60.0)
    text = """
steps:
  - client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/slow
    query: {ms: 200}
"""
    rate, duration = 25.0, 2.0
    options = RunOptions(iterations=None, duration_s=duration, rate=rate)
    before = time.monotonic()  # the arrivals' clock, and the event loop's
    results, _ = await replay([load_file(write(text))], hub_url=fake_hub.url, options=options)
    assert results[0].iterations_started == 50 and results[0].ok
    arrivals = sorted(fake_hub.arrivals)
    assert len(arrivals) == 50
    # No burst: the k-th start waits for its due time, k / rate after the run began. (A busy
    # machine can only make starts later, so no bound on how late: that is its timing.)
    early = [k for k, t in enumerate(arrivals) if t - before < k / rate - 0.005]
    assert not early, early
    # Not one after another: iterations waited for would span 50 x 200 ms = 10 s; on the
    # schedule they span 1.96 s (the margin is for a busy machine's late starts).
    assert arrivals[-1] - arrivals[0] < 5.0, arrivals[-1] - arrivals[0]


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


async def test_a_query_parameter_name_may_hold_a_template(
    fake_hub: FakeHub, write: Callable[..., Path]
) -> None:
    # The name went out as written, "%7B%7B+field+%7D%7D=x", while JSON keys were rendered.
    text = """
vars: {field: province}
steps:
  - id: by-name
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/echo
    query: {"{{ field }}": "79", "{{ field }}-{{ run.iteration }}": [a, b]}
    expect:
      json: {$.query.province: "79", $.query.province-1: b}
"""
    results, _ = await replay(
        [load_file(write(text))], hub_url=fake_hub.url, options=RunOptions(iterations=1)
    )
    assert results[0].ok, results[0].to_dict()


def test_a_query_parameter_name_with_an_undefined_variable_is_refused(
    write: Callable[..., Path],
) -> None:
    text = """
steps:
  - id: by-name
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/echo
    query: {"{{ fieldd }}": "79"}
"""
    with pytest.raises(ScenarioLoadError) as caught:
        load_file(write(text))
    assert "step 'by-name' (steps[0]), field query.{{ fieldd }}: variable 'fieldd' is not " in str(
        caught.value
    )


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
    assert failure is not None and failure.kind == "request"  # never sent
    # Not "expected a request, got a request header holds a line break".
    assert failure.message() == (
        "request headers: the value of header X-Road-Issue holds a line break; it was not sent"
    )
    assert fake_hub.arrivals == []  # nothing was sent
    assert results[0].requests == 0 and len(step.latencies_ms) == 0


def test_request_targets_and_bodies_as_the_runner_sends_and_reads_them() -> None:
    import gzip
    import zlib

    from hub.replay.wire import decoded, request_target

    assert request_target("/r1/a/b c/%41", []) == "/r1/a/b%20c/%41"
    assert request_target("/r1/x?k=1", [("q", "a b")]) == "/r1/x?k=1&q=a+b"
    assert request_target("/r1/x", [("t", "a"), ("t", "b")]) == "/r1/x?t=a&t=b"
    body = b'{"ok": true}'
    assert decoded(gzip.compress(body), "gzip") == body
    assert decoded(zlib.compress(body), "deflate") == body
    assert decoded(body, None) == body and decoded(body, "br") == body


def test_a_jsonpath_with_a_placeholder_inside_a_filter_loads(write: Callable[..., Path]) -> None:
    # Checked at load time with a stand-in for each variable, which must read as a name.
    text = """
steps:
  - id: find
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/echo
    expect: {json: {"$.items[?(@.n > {{ run.iteration }})]": 1}}
"""
    load_file(write(text))


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
vars: {a: x}
steps:
  - id: unsent
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/echo
    path: /x/{{ a.nope }}
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


async def test_attempts_that_got_no_answer_are_transport_errors_not_requests(
    refused_url: str, write: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A hub stopped mid-run made 197,146 "requests" at 13,143 req/s with p50 0.2 ms out of
    # its 8,317 real ones: each refused connection counted as a request with a latency.
    pauses: list[float] = []

    async def pause(self: Runner, seconds: float) -> None:
        pauses.append(seconds)

    monkeypatch.setattr(Runner, "_pause", pause)
    result = await run_scenario(refused_url, write(SCENARIO), iterations=3)
    find, verify = result.steps
    assert result.requests == 0 and result.requests_per_s == 0
    assert len(find.latencies_ms) == 0 and find.percentiles()["p50"] is None
    assert dict(find.transport_errors) == {"refused": 3} and not find.statuses
    assert (find.failed, verify.runs, result.iterations_failed) == (3, 0, 3) and not result.ok
    assert find.first_failure is not None and find.first_failure.kind == "transport"
    # It said "refused: ConnectionRefusedError: [Errno 111] Connect call failed (...)".
    port = refused_url.rpartition(":")[2]
    assert find.first_failure.got == (
        f"refused: nothing listens on 127.0.0.1:{port}, the hub's address (it stopped?)"
    )
    assert result.to_dict()["transport_errors"] == {"refused": 3}
    # The closed-model worker pauses after each such iteration instead of spinning.
    assert pauses == [TRANSPORT_PAUSE_S] * 3


async def test_answers_are_counted_by_status_and_x_road_error(
    fake_hub: FakeHub, write: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    pauses: list[float] = []

    async def pause(self: Runner, seconds: float) -> None:
        pauses.append(seconds)

    monkeypatch.setattr(Runner, "_pause", pause)
    text = """
steps:
  - id: ok
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/echo
  - id: denied
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/denied
  - id: down
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/status
    path: /503
"""
    results, _ = await replay(
        [load_file(write(text))], hub_url=fake_hub.url, options=RunOptions(iterations=2)
    )
    ok, denied, down = results[0].steps
    assert [dict(s.statuses) for s in (ok, denied, down)] == [{200: 2}, {403: 2}, {503: 2}]
    assert dict(denied.x_road_errors) == {"Client.AccessDenied": 2} and not ok.x_road_errors
    step = results[0].to_dict()["steps"][1]
    assert (step["statuses"], step["x_road_errors"]) == ({"403": 2}, {"Client.AccessDenied": 2})
    assert step["transport_errors"] == {} and pauses == []  # answered: no pause
    assert answers_text(denied) == "403×2; Client.AccessDenied×2"


@pytest.mark.parametrize("suffix", ["/r1", "/mock/population"], ids=["r1", "a-mock"])
async def test_a_url_that_is_not_the_hub_is_refused_before_anything_runs(
    fake_hub: FakeHub, write: Callable[..., Path], suffix: str
) -> None:
    # It said "the hub does not serve demo credentials", sending people the wrong way.
    url = fake_hub.url + suffix
    with pytest.raises(SourceError) as caught:
        await replay([load_file(write(SCENARIO))], hub_url=url, options=RunOptions())
    message = str(caught.value)
    assert message.startswith(f"{url} does not look like the hub's base URL (GET /healthz")
    assert "demo credentials" not in message


async def test_an_unknown_fault_provider_is_refused_before_anything_runs(
    fake_hub: FakeHub, write: Callable[..., Path]
) -> None:
    text = SCENARIO.replace(
        "steps:\n", "steps:\n  - id: slow\n    fault: {provider: VN/GOV/XX/nope, set: {}}\n"
    )
    path = write(text)
    with pytest.raises(SourceError) as caught:
        await replay([load_file(path)], hub_url=fake_hub.url, options=RunOptions(iterations=3))
    message = str(caught.value)
    assert message.startswith(f"{path}: step 'slow': no base URL for provider 'VN/GOV/XX/nope'")
    assert POPULATION in message  # the known ones
    assert fake_hub.arrivals == [] and fake_hub.faults == []


def test_failure_messages_show_values_as_json() -> None:
    # "expected None, got False" was Python speaking; scenarios are written in YAML/JSON.
    failure = Failure("json", "$.match", None, False)
    assert failure.message() == "json $.match: expected null, got false"
    assert Failure("json", "$.a", {"k": True}, [1, None]).message() == (
        'json $.a: expected {"k": true}, got [1, null]'
    )
    assert Failure("headers", "X-A", "text", "").message() == 'headers X-A: expected text, got ""'


def test_a_failure_between_values_that_read_alike_shows_their_types() -> None:
    # "expected 96, got 96": the number 96 against the text "96" read as no failure at all.
    assert Failure("json", "$.s", 96, "96").message() == 'json $.s: expected 96, got "96"'
    assert Failure("json", "$.t", "true", True).message() == 'json $.t: expected "true", got true'
    assert Failure("json", "$.s", "a", "b").message() == "json $.s: expected a, got b"


async def test_a_fault_seed_can_be_a_template_for_draws_that_differ_per_iteration(
    fake_hub: FakeHub, write: Callable[..., Path]
) -> None:
    # A fixed seed is sent again each iteration and the mock restarts its draws from it,
    # so error_rate 0.5 failed every iteration or none.
    text = """
steps:
  - fault: {provider: VN/GOV/BCA/population, set: {error_rate: 0.5, seed: "{{ run.iteration }}"}}
  - fault: {provider: VN/GOV/BCA/population, set: {seed: "1{{ run.iteration }}"}}
  - fault: {provider: VN/GOV/BCA/population, clear: true}
"""
    results, _ = await replay(
        [load_file(write(text))], hub_url=fake_hub.url, options=RunOptions(iterations=2)
    )
    assert results[0].ok, results[0].to_dict()
    seeds = [settings["seed"] for method, settings in fake_hub.faults if method == "PUT"]
    assert seeds == [1, 11, 2, 12]


@pytest.mark.parametrize(
    ("seed", "message"),
    [
        ('"soon"', "a seed is an integer, or a template that renders to one"),
        ('"{{ run.id }}"', None),  # loads; fails at run time: the id is not an integer
    ],
)
async def test_a_seed_that_is_no_integer_is_refused(
    fake_hub: FakeHub, write: Callable[..., Path], seed: str, message: str | None
) -> None:
    text = f"steps:\n  - fault: {{provider: VN/GOV/BCA/population, set: {{seed: {seed}}}}}\n"
    if message is not None:
        with pytest.raises(ScenarioLoadError, match=message):
            load_file(write(text))
        return
    results, _ = await replay(
        [load_file(write(text))], hub_url=fake_hub.url, options=RunOptions(), run_id="run-x"
    )
    failure = results[0].steps[0].first_failure
    assert failure is not None and (failure.kind, failure.what) == ("template", "seed")
    assert failure.message() == "template seed: expected an integer, got run-x"
    assert [m for m, _ in fake_hub.faults] == []  # nothing was set


async def test_a_hub_that_closes_the_connection_is_called_the_hub(
    write: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The runner shares the gateway's client, whose words are about providers: the report
    # said "the provider closed the connection" when the hub had.
    import asyncio

    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.close()

    async def no_pause(self: Runner, seconds: float) -> None:
        return None

    monkeypatch.setattr(Runner, "_pause", no_pause)
    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        async with Runner(
            hub_url=url, credentials=KEYS, providers=Providers(url), options=RunOptions()
        ) as runner:
            results = await runner.run([load_file(write(SCENARIO))])
    finally:
        server.close()
    failure = results[0].steps[0].first_failure
    assert failure is not None and failure.kind == "transport"
    assert "the hub closed the connection before its answer was complete" in failure.message()
    assert "provider" not in failure.message()


async def test_a_raw_body_is_sent_as_text_unless_the_step_says_otherwise(
    fake_hub: FakeHub, write: Callable[..., Path]
) -> None:
    # It went out with no Content-Type at all: guesswork for the provider.
    text = """
steps:
  - id: text
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/echo
    method: POST
    body: "hello"
    expect:
      json: {$.headers.content-type: "text/plain; charset=utf-8"}
  - id: xml
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/echo
    method: POST
    headers: {Content-Type: application/xml}
    body: "<a/>"
    expect:
      json: {$.headers.content-type: application/xml}
"""
    results, _ = await replay(
        [load_file(write(text))], hub_url=fake_hub.url, options=RunOptions(iterations=1)
    )
    assert results[0].ok, results[0].to_dict()


async def test_a_body_deeper_or_larger_than_orjson_writes_is_sent_as_json_has_it(
    fake_hub: FakeHub, write: Callable[..., Path]
) -> None:
    # 300 levels (past orjson's 254) loaded, then failed every iteration unsent ("Recursion
    # limit reached"): a body a tester sends to see the hub refuse it, as it does past 64.
    deep = "{a: " * 300 + "'{{ run.iteration }}'" + "}" * 300
    sent = '{"n":123456789012345678901234567890,"deep":' + '{"a":' * 300 + "1" + "}" * 301
    text = f"""
steps:
  - id: deep
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/echo
    method: POST
    json: {{n: 123456789012345678901234567890, deep: {deep}}}
    expect: {{status: 200, json: {{$.body: '{sent}'}}}}
"""
    results, _ = await replay(
        [load_file(write(text))], hub_url=fake_hub.url, options=RunOptions(iterations=1)
    )
    assert results[0].ok, results[0].steps[0].first_failure
    assert results[0].requests == 1


@pytest.mark.parametrize(("workers", "started"), [(0, False), (2, True)])
async def test_a_ramp_holds_back_the_workers_it_does_not_want(
    fake_hub: FakeHub, write: Callable[..., Path], workers: int, started: bool
) -> None:
    from hub.replay.options import Ramp

    ramp = Ramp(workers, ((0.3, workers),))  # held at `workers` for 0.3 s
    options = RunOptions(iterations=None, duration_s=ramp.duration_s, ramp=ramp)
    results, _ = await replay([load_file(write(SCENARIO))], hub_url=fake_hub.url, options=options)
    assert (results[0].iterations_started > 0) is started
    assert bool(fake_hub.arrivals) is started


async def test_a_capture_takes_a_response_header(
    fake_hub: FakeHub, write: Callable[..., Path]
) -> None:
    # The exchange's own X-Road-Id, kept to quote it in the next request (a dossier's
    # reference, a Location to follow); a header that is not there fails the step.
    text = """
steps:
  - id: first
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/echo
    capture: {rid: {header: x-road-id}}
  - id: second
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/echo
    headers: {X-Road-Issue: "after {{ rid }}"}
    expect: {json: {$.headers.x-road-issue: "after {{ rid }}"}}
    capture: {nope: {header: X-Not-There}}
"""
    results, _ = await replay(
        [load_file(write(text))], hub_url=fake_hub.url, options=RunOptions(iterations=2)
    )
    first, second = results[0].steps
    assert (first.passed, second.runs, second.failed) == (2, 2, 2)
    failure = second.first_failure
    assert failure is not None
    assert (failure.kind, failure.what, failure.expected, failure.got) == (
        "capture",
        "nope",
        "a header X-Not-There",
        "<absent>",
    )  # the expectation before it held: the header captured in "first" was sent


async def test_a_sleep_step_pauses_the_iteration_and_is_no_request(
    fake_hub: FakeHub, write: Callable[..., Path]
) -> None:
    text = """
steps:
  - client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/echo
  - sleep: 0.3
  - client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/echo
"""
    plan = load_file(write(text))
    results, _ = await replay([plan], hub_url=fake_hub.url, options=RunOptions(iterations=2))
    (result,) = results
    assert result.ok and result.requests == 4
    _, pause, _ = result.steps
    assert (pause.id, pause.kind, pause.label, pause.passed) == (
        "sleep-2",
        "sleep",
        "sleep 0.3 s",
        2,
    )
    assert all(ms >= 300 for ms in pause.latencies_ms)
    first, second, third, fourth = fake_hub.arrivals
    assert second - first >= 0.3 and fourth - third >= 0.3


async def test_a_scenario_that_switches_faults_runs_one_iteration_at_a_time(
    fake_hub: FakeHub, write: Callable[..., Path]
) -> None:
    # The mock's faults are shared: at --concurrency 2 one iteration's clear lifted the
    # other's set mid-exchange, and the shipped provider-down scenario failed at random.
    text = """
steps:
  - fault: {provider: VN/GOV/BCA/population, set: {latency_ms: 30}}
  - client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/echo
  - fault: {provider: VN/GOV/BCA/population, clear: true}
"""
    results, _ = await replay(
        [load_file(write(text))],
        hub_url=fake_hub.url,
        options=RunOptions(iterations=4, concurrency=4),
    )
    assert results[0].ok and results[0].iterations_passed == 4
    # Each set is followed by its own clear before the next set: never two sets in a row.
    methods = [method for method, _ in fake_hub.faults]
    assert methods == ["PUT", "DELETE"] * 4
    assert fake_hub.latency_at_arrival == [30] * 4


async def test_open_model_behind_its_schedule_still_lets_iterations_run(
    fake_hub: FakeHub, write: Callable[..., Path]
) -> None:
    # A rate the scheduling loop itself cannot keep up with: it never waited, so the
    # iterations it started never ran until the end, every later one was dropped, and
    # Ctrl-C was not seen before the schedule was through.
    text = """
steps:
  - client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/echo
"""
    options = RunOptions(iterations=None, duration_s=0.005, rate=1e7, max_in_flight=2)
    results, _ = await replay([load_file(write(text))], hub_url=fake_hub.url, options=options)
    assert results[0].iterations_started > 2
    planned = results[0].iterations_started + results[0].iterations_dropped
    assert abs(planned - 50_000) <= 1  # due times in floating point


async def test_a_client_without_a_key_is_refused_with_the_files_that_name_it(
    fake_hub: FakeHub, write: Callable[..., Path], tmp_path: Path
) -> None:
    # "no API key for client(s) X" left the user to grep a folder of scenarios for X.
    civil_only = (
        "steps:\n  - {client: VN/GOV/BTP/civil-status, service: VN/GOV/BCA/population/echo}\n"
    )
    plans = [load_file(write(SCENARIO, "uses-ekyc.yaml")), load_file(write(civil_only, "ok.yaml"))]
    creds = tmp_path / "creds.json"
    creds.write_text('[{"client": "VN/GOV/BTP/civil-status", "api_key": "key-civil"}]')
    with pytest.raises(SourceError) as refused:
        await replay(plans, hub_url=fake_hub.url, options=RunOptions(), credentials_file=creds)
    message = str(refused.value)
    assert "no API key for client(s) VN/COM/0101234565/ekyc (named in " in message
    assert "uses-ekyc.yaml" in message and "ok.yaml" not in message


async def test_a_client_without_a_key_says_the_client_meant_and_how_to_give_a_key(
    fake_hub: FakeHub, write: Callable[..., Path], tmp_path: Path
) -> None:
    # A typo in a client id only said that it had no key, as if a key were to be found.
    typo = "steps:\n  - {client: VN/GOV/BTP/civil-statu, service: VN/GOV/BCA/population/echo}\n"
    creds = tmp_path / "creds.json"
    creds.write_text('[{"client": "VN/GOV/BTP/civil-status", "api_key": "key-civil"}]')
    with pytest.raises(SourceError) as refused:
        await replay(
            [load_file(write(typo, "typo.yaml"))],
            hub_url=fake_hub.url,
            options=RunOptions(),
            credentials_file=creds,
        )
    message = str(refused.value)
    assert "VN/GOV/BTP/civil-statu (did you mean VN/GOV/BTP/civil-status?)" in message
    assert "typo.yaml" in message
    assert "check the client id, or give --credentials FILE with a key for it" in message


async def test_closed_model_makes_no_more_workers_than_iterations(
    fake_hub: FakeHub, write: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # --concurrency 1000000 --iterations 1 made a million workers for one exchange.
    import asyncio

    gathered: list[int] = []
    gather = asyncio.gather

    def counting(*aws: Any, **kwargs: Any) -> Any:
        gathered.append(len(aws))
        return gather(*aws, **kwargs)

    monkeypatch.setattr("hub.replay.runner.asyncio.gather", counting)
    options = RunOptions(iterations=3, concurrency=500)
    results, _ = await replay([load_file(write(SCENARIO))], hub_url=fake_hub.url, options=options)
    assert results[0].iterations_passed == 3
    assert 3 in gathered and 500 not in gathered


async def test_open_model_far_behind_its_schedule_ends_with_its_duration(
    fake_hub: FakeHub, write: Callable[..., Path]
) -> None:
    # A rate no runner can start (a stage target of 1e20 per second): the schedule went on
    # through every iteration due, one event-loop turn each, long after the duration
    # (hours for this one). Past the end, those not started are dropped, in one count.
    import asyncio

    text = """
steps:
  - client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/echo
"""
    options = RunOptions(iterations=None, duration_s=0.01, rate=1e12, max_in_flight=2)
    run = replay([load_file(write(text))], hub_url=fake_hub.url, options=options)
    results, _ = await asyncio.wait_for(run, 120)
    planned = results[0].iterations_started + results[0].iterations_dropped
    assert abs(planned - 10_000_000_000) <= 1
    assert results[0].iterations_started >= 2


async def test_a_hub_that_never_answers_is_said_so_before_anything_runs(
    write: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A port that accepts and never answers (a hung hub): the refusal read "GET .../healthz
    # failed: TimeoutError: ", the exception's empty text, saying neither what nor how long.
    monkeypatch.setattr("hub.replay.service.PREFLIGHT_TIMEOUT_S", 0.2)
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with pytest.raises(SourceError) as caught:
            await replay([load_file(write(SCENARIO))], hub_url=url, options=RunOptions())
    assert str(caught.value) == (
        f"cannot reach the hub at {url}: GET {url}/healthz failed: no answer within 0.2 s"
    )


class _Clock:
    """The open model's schedule clock, moved by the test: ``step`` seconds per reading."""

    def __init__(self, step: float) -> None:
        self.now = 1000.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


ONE_STEP = """
steps:
  - client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/echo
"""


async def test_open_model_counts_iterations_the_runner_started_behind_schedule(
    fake_hub: FakeHub, write: Callable[..., Path]
) -> None:
    # `--rate 4000` on two shared cores started iterations up to 1.6 s after their due
    # times; their latency counts from when they were sent, so that lag (the runner's own
    # coordinated omission) showed nowhere. A clock that runs 0.5 s per reading puts every
    # start behind its due time.
    options = RunOptions(iterations=4, rate=100.0)
    clock = _Clock(0.5)

    def on_start(runner: Runner) -> None:
        runner.clock = clock

    results, _ = await replay(
        [load_file(write(ONE_STEP))], hub_url=fake_hub.url, options=options, on_start=on_start
    )
    result = results[0]
    assert result.iterations_started == 4
    assert result.iterations_late == 4
    assert result.start_lag_ms_max >= 500.0
    document = result.to_dict()
    assert document["iterations"]["late"] == 4
    assert document["iterations"]["start_lag_ms_max"] >= 500.0


async def test_open_model_on_schedule_has_no_late_starts(
    fake_hub: FakeHub, write: Callable[..., Path]
) -> None:
    # A clock that never moves: every iteration is due at or after "now", none is late.
    options = RunOptions(iterations=3, rate=100.0)

    def on_start(runner: Runner) -> None:
        runner.clock = _Clock(0.0)

    results, _ = await replay(
        [load_file(write(ONE_STEP))], hub_url=fake_hub.url, options=options, on_start=on_start
    )
    assert results[0].iterations_started == 3
    assert results[0].iterations_late == 0
    assert results[0].to_dict()["iterations"]["late"] == 0


# SCENARIO's requests (a query, headers, a JSON body), checked against a fixed answer.
ON_THE_WIRE = """
name: wire
vars: {issue: "HS-{{ run.iteration }}"}
steps:
  - id: find
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/echo
    path: /citizens
    query: {province: "79", tags: [a, b]}
    headers: {X-Road-Issue: "{{ issue }}"}
    expect: {status: 200, json: {$.n: 1}}
    capture: {cid: "$.items[0].id"}
  - id: verify
    client: VN/COM/0101234565/ekyc
    service: VN/GOV/BCA/population/echo
    method: POST
    path: /citizens/{{ cid }}/verify
    json: {id: "{{ cid }}", n: "{{ run.iteration }}"}
"""
# A whole answer, as a hub would send it: its bytes are all counted as received.
ANSWER = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nx-road-id: abc\r\n"
    b'content-length: 43\r\n\r\n{"items": [{"id": "079123456789"}], "n": 1}'
)


async def test_data_sent_and_received_are_the_bytes_on_the_wire(
    write: Callable[..., Path],
) -> None:
    # k6 reports data_sent and data_received; a replay said requests and latencies only.
    async with (
        RawHub(ANSWER) as hub,
        Runner(
            hub_url=hub.url,
            credentials=KEYS,
            providers=Providers(hub.url),
            options=RunOptions(iterations=3),
        ) as runner,
    ):
        results = await runner.run([load_file(write(ON_THE_WIRE))])
    read = hub.read
    (result,) = results
    assert result.ok, result.to_dict()
    assert result.requests == 6
    assert (result.sent_bytes, result.received_bytes) == (read, 6 * len(ANSWER))
    figures = result.to_dict()
    assert figures["data_sent"]["bytes"] == read
    assert figures["data_received"]["bytes"] == 6 * len(ANSWER)
    assert figures["data_received"]["per_s"] > 0


async def test_open_model_records_when_iterations_started_and_the_rate_asked(
    fake_hub: FakeHub, write: Callable[..., Path]
) -> None:
    # The report's start rate comes from the starts the schedule made: a clock that moves
    # 0.1 s a reading gives every start its own time, so there is a span to measure over.
    options = RunOptions(iterations=4, rate=100.0)

    def on_start(runner: Runner) -> None:
        runner.clock = _Clock(0.1)

    results, _ = await replay(
        [load_file(write(ONE_STEP))], hub_url=fake_hub.url, options=options, on_start=on_start
    )
    iterations = results[0].to_dict()["iterations"]
    assert iterations["started"] == 4 and iterations["target_per_s"] == 100.0
    assert iterations["started_per_s"] is not None and iterations["started_per_s"] > 0


async def test_a_ramped_open_model_has_no_single_target_rate(
    fake_hub: FakeHub, write: Callable[..., Path]
) -> None:
    from hub.replay.options import Ramp, parse_stages

    ramp = Ramp(10.0, parse_stages("300ms:30"))
    options = RunOptions(iterations=None, duration_s=ramp.duration_s, rate=10.0, ramp=ramp)
    results, _ = await replay([load_file(write(ONE_STEP))], hub_url=fake_hub.url, options=options)
    assert results[0].to_dict()["iterations"]["target_per_s"] is None
