"""A step's ``retry``: its request sent again until its ``expect`` holds, each attempt a request."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hub.replay import requestlog
from hub.replay.loader import load_file
from hub.replay.problems import ScenarioLoadError
from hub.replay.runner import Runner, RunOptions
from hub.replay.service import replay
from tests.replay.conftest import RawHub, run_scenario
from tests.replay.test_replay_out import read_rows

FakeHub = Any  # the fake_hub fixture of conftest.py

# The ``ready`` service answers 404 until the path's call number ``after``, then 200.
POLLS = """
name: polls
steps:
  - id: wait-for-it
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/ready
    path: /event-{{ run.iteration }}
    query: {after: AFTER}
    retry: {attempts: ATTEMPTS, every_ms: 10}
    expect:
      status: 200
      json: {$.ready: true}
    capture: {call: $.call}
  - id: after
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/echo
    json: {call: "{{ call }}"}
    expect:
      json: {$.json.call: 3}
"""


def polls(after: int, attempts: int) -> str:
    return POLLS.replace("AFTER", str(after)).replace("ATTEMPTS", str(attempts))


async def test_a_step_passes_on_the_attempt_whose_expect_holds(
    fake_hub: FakeHub, write: Callable[..., Path], tmp_path: Path
) -> None:
    out = tmp_path / "requests.csv"
    scenario = write(polls(after=3, attempts=5))
    result = await run_scenario(fake_hub.url, scenario, iterations=2, out=out)
    wait, after = result.steps
    assert result.ok, result.to_dict()
    # One run of the step per iteration, passed; the capture is the passing attempt's (3).
    assert (wait.runs, wait.passed, wait.failed, after.passed) == (2, 2, 0, 2)
    # Every attempt went to the hub: a request, an answer and a latency each.
    assert len(fake_hub.arrivals) == 2 * 3 + 2
    assert result.requests == 8
    assert dict(wait.statuses) == {404: 4, 200: 2}
    assert len(wait.latencies_ms) == 6
    figures = result.to_dict()
    assert figures["requests"] == 8
    [step] = [s for s in figures["steps"] if s["id"] == "wait-for-it"]
    assert (step["runs"], step["passed"], step["statuses"]) == (2, 2, {"200": 2, "404": 4})
    # A row per attempt, each with its own outcome; the bytes add up to the report's.
    rows = read_rows(out)
    assert [(r["iteration"], r["step"], r["status"], r["outcome"]) for r in rows] == [
        ("1", "wait-for-it", "404", "failed"),
        ("1", "wait-for-it", "404", "failed"),
        ("1", "wait-for-it", "200", "passed"),
        ("1", "after", "200", "passed"),
        ("2", "wait-for-it", "404", "failed"),
        ("2", "wait-for-it", "404", "failed"),
        ("2", "wait-for-it", "200", "passed"),
        ("2", "after", "200", "passed"),
    ]
    assert sum(int(r["bytes_sent"]) for r in rows) == result.sent_bytes
    assert sum(int(r["bytes_received"]) for r in rows) == result.received_bytes


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
async def test_a_step_that_never_holds_fails_after_its_attempts(
    fake_hub: FakeHub, write: Callable[..., Path], tmp_path: Path, suffix: str
) -> None:
    out = tmp_path / f"requests{suffix}"
    scenario = write(polls(after=10, attempts=3))
    result = await run_scenario(fake_hub.url, scenario, iterations=1, out=out)
    wait, after = result.steps
    assert not result.ok
    assert (wait.runs, wait.failed, after.runs) == (1, 1, 0)
    assert result.requests == 3 and len(fake_hub.arrivals) == 3
    assert dict(wait.statuses) == {404: 3} and len(wait.latencies_ms) == 3
    failure = wait.first_failure
    assert failure is not None
    # The last attempt's failure, every check of it, and how many attempts were made.
    checks = "status: expected 200, got 404; json $.ready: expected true, got false"
    assert failure.message() == f"{checks} (after 3 attempts)"
    assert result.to_dict()["steps"][0]["first_failure"]["attempts"] == 3
    rows = read_rows(out)
    assert [(str(r["status"]), r["outcome"]) for r in rows] == [("404", "failed")] * 3
    # The last attempt's row says it as the report does; it said the checks alone. The
    # attempts retried say theirs alone: another came after each.
    assert [r["failure"] for r in rows] == [checks, checks, f"{checks} (after 3 attempts)"]


async def test_a_long_failure_keeps_its_attempts_in_the_row(
    fake_hub: FakeHub, write: Callable[..., Path], tmp_path: Path
) -> None:
    # A row's reason is cut at 300 characters: the note at its end went with the cut.
    long = "x" * 400
    checks = "{" + ", ".join(f"$.{key}: {long}" for key in ("ready", "call", "more")) + "}"
    text = polls(after=1, attempts=2).replace("{$.ready: true}", checks)
    out = tmp_path / "requests.csv"
    result = await run_scenario(fake_hub.url, write(text), iterations=1, out=out)
    failure = result.steps[0].first_failure
    assert failure is not None and failure.attempts == 2
    assert len(failure.message()) > requestlog.FAILURE_CHARS
    first, last = (r["failure"] for r in read_rows(out))
    assert len(first) == len(last) == requestlog.FAILURE_CHARS
    assert first.endswith("...") and last.endswith("... (after 2 attempts)")
    assert last.startswith(first[: -len("... (after 2 attempts)")])


async def test_an_attempt_with_no_answer_ends_the_retries_and_its_row_says_so(
    write: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A hub that answered the first attempt and was gone at the second.
    answer = b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
    out = tmp_path / "requests.jsonl"
    async with RawHub(answer) as hub:

        async def pause(self: Runner, seconds: float) -> None:
            await hub.__aexit__()  # nothing listens on its port from now on (closed twice: fine)

        monkeypatch.setattr(Runner, "_pause", pause)
        scenario = write(polls(after=1, attempts=3))
        result = await run_scenario(hub.url, scenario, iterations=1, out=out)
    failure = result.steps[0].first_failure
    assert failure is not None and failure.kind == "transport" and failure.attempts == 2
    first, second = read_rows(out)
    assert (first["outcome"], second["outcome"]) == ("failed", "transport_error")
    assert not first["failure"].endswith("attempts)")
    assert second["failure"] == failure.message() and second["failure"].endswith(
        " (after 2 attempts)"
    )


async def test_ctrl_c_in_the_wait_between_attempts_sends_no_more(
    fake_hub: FakeHub, write: Callable[..., Path]
) -> None:
    text = polls(after=10, attempts=3).replace("every_ms: 10", "every_ms: 60000")
    runners: list[Runner] = []
    run = asyncio.create_task(
        replay(
            [load_file(write(text))],
            hub_url=fake_hub.url,
            options=RunOptions(iterations=1),
            on_start=runners.append,
        )
    )
    while not fake_hub.arrivals:
        assert not run.done(), run.result()
        await asyncio.sleep(0.01)
    runners[0].stop()
    # Not the minute the wait would last: a run that ignored the stop would fail here.
    results, _ = await asyncio.wait_for(run, 30)
    (result,) = results
    assert result.interrupted and result.requests == 1 and len(fake_hub.arrivals) == 1
    assert result.steps[0].failed == 1


async def test_a_transport_error_is_not_retried(
    refused_url: str, write: Callable[..., Path]
) -> None:
    result = await run_scenario(refused_url, write(polls(after=1, attempts=5)), iterations=1)
    wait = result.steps[0]
    assert dict(wait.transport_errors) == {"refused": 1} and wait.failed == 1
    assert wait.first_failure is not None and "attempts" not in wait.first_failure.message()


@pytest.mark.parametrize(
    ("retry", "said"),
    [
        ("{attempts: 1, every_ms: 10}", "retry.attempts: Input should be greater than or"),
        ("{attempts: 101, every_ms: 10}", "retry.attempts: Input should be less than or"),
        ("{attempts: 2.5, every_ms: 10}", "retry.attempts: Input should be a valid integer"),
        ("{attempts: 3, every_ms: 0}", "retry.every_ms: Input should be greater than or"),
        ("{attempts: 3, every_ms: 60001}", "retry.every_ms: Input should be less than or"),
        ("{attempts: 3, every_ms: 1s}", "give milliseconds as a number, without a unit"),
        ("{attempts: 3}", "field retry: missing required field 'every_ms'"),
        ("{attempts: 3, every: 10}", "unknown key 'every'"),
        ("3", "field retry:"),
    ],
)
def test_bad_retry_values_are_refused_when_the_file_is_loaded(
    write: Callable[..., Path], retry: str, said: str
) -> None:
    text = polls(after=1, attempts=3).replace("{attempts: 3, every_ms: 10}", retry)
    with pytest.raises(ScenarioLoadError) as caught:
        load_file(write(text))
    assert said in str(caught.value)


def test_a_retry_with_nothing_to_wait_for_is_refused(write: Callable[..., Path]) -> None:
    text = """
steps:
  - id: blind
    client: VN/GOV/BTP/civil-status
    service: VN/GOV/BCA/population/echo
    retry: {attempts: 3, every_ms: 100}
"""
    with pytest.raises(ScenarioLoadError) as caught:
        load_file(write(text))
    assert "retry: the step has no expect or capture that could fail" in str(caught.value)
