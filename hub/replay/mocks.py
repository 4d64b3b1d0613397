"""Stub and verify steps: a mock agency's ``/__stubs`` and request journal (``/__requests``).

A stub step adds stubs (``POST {base}/__stubs``) and remembers the ids the mock gives them;
its ``clear`` deletes those ids, one by one, so stubs others set on the same mock stay. What
an iteration added and did not clear is deleted when the iteration ends, and, should that be
cut short, when the scenario ends (``Stubbed``).

A verify step counts the calls in the journal (``GET {base}/__requests/count``) against its
bounds. The runner clears the journal of every mock a scenario verifies at the start of each
iteration (those iterations run one at a time), so a count is that iteration's calls, and it
is exact while the mock's ``dropped`` is 0.
"""

from __future__ import annotations

import json
import time
from typing import Any

import aiohttp

from hub.replay.faults import said
from hub.replay.mockplan import StubPlan, VerifyPlan, calls_text
from hub.replay.results import Failure, missing_variable
from hub.replay.sources import Providers, SourceError, failure_text
from hub.replay.templating import MissingVariable, render_value

TIMEOUT = aiohttp.ClientTimeout(total=10)


class Stubbed:
    """The stubs added and not yet removed: ``(stubs URL, id)`` pairs, in the order added."""

    def __init__(self) -> None:
        self.ids: list[tuple[str, str]] = []

    def pop(self, url: str | None = None) -> list[tuple[str, str]]:
        """Forget the stubs of ``url`` (None: all), newest first, and give them."""
        taken = [pair for pair in self.ids if url is None or pair[0] == url]
        self.ids = [pair for pair in self.ids if pair not in taken]
        return taken[::-1]


async def add_stubs(
    session: aiohttp.ClientSession, url: str, stubs: list[Any], stubbed: Stubbed
) -> Failure | None:
    """POST ``stubs`` to ``url`` (a mock's ``/__stubs``); remember the ids it answers."""
    async with session.post(url, json=stubs, timeout=TIMEOUT) as response:
        status, body = response.status, await response.read()
    if status != 201:
        text = f"the mock refused the stubs with {status}: {said(body) or '(no message)'}"
        return Failure("stub", url, "201", f"{status}: {said(body)}", status=status, text=text)
    try:
        added = json.loads(body)
        ids = [str(item["id"]) for item in (added if isinstance(added, list) else [added])]
    except (ValueError, KeyError, TypeError):
        got = body[:200].decode("utf-8", "replace")
        return Failure("stub", url, "the added stubs with their ids", got, status=status)
    stubbed.ids += [(url, stub_id) for stub_id in ids]
    return None


async def remove_stubs(
    session: aiohttp.ClientSession, pairs: list[tuple[str, str]], *, quiet: bool = False
) -> Failure | None:
    """DELETE each stub; one already gone (404: deleted by hand, a ``POST /__reset``) is fine."""
    for url, stub_id in pairs:
        try:
            async with session.delete(f"{url}/{stub_id}", timeout=TIMEOUT) as response:
                status, body = response.status, await response.read()
        except (TimeoutError, aiohttp.ClientError):
            if quiet:
                continue
            raise
        if status not in (200, 404) and not quiet:
            text = f"the mock refused to delete stub {stub_id!r} with {status}: {said(body)}"
            return Failure("stub", url, "200", status, status=status, text=text)
    return None


async def clear_journal(session: aiohttp.ClientSession, base: str) -> str | None:
    """DELETE ``{base}/__requests``; None, or why it could not be cleared."""
    url = f"{base}/__requests"
    try:
        async with session.delete(url, timeout=TIMEOUT) as response:
            status, body = response.status, await response.read()
    except (TimeoutError, aiohttp.ClientError) as exc:
        return f"DELETE {url} failed: {failure_text(exc, TIMEOUT.total or 0)}"
    if status != 200:
        return f"DELETE {url} answered {status}: {said(body)} (is it a mock with a journal?)"
    return None


async def count_calls(
    session: aiohttp.ClientSession,
    base: str,
    filters: list[tuple[str, Any]],
    low: int | None,
    high: int | None,
    calls: str,
) -> Failure | None:
    """Count the journal's calls matching ``filters``; a Failure unless low <= count <= high.

    ``calls`` says in words which calls are counted (``GET /citizens/079...``).
    """
    url = f"{base}/__requests/count"
    params = [(k, str(v)) for k, v in filters]
    async with session.get(url, params=params, timeout=TIMEOUT) as response:
        status, body = response.status, await response.read()
    try:
        answer = json.loads(body) if status == 200 else {}
        count, dropped = int(answer["count"]), int(answer.get("dropped") or 0)
    except (ValueError, KeyError, TypeError, AttributeError):
        text = f"the mock's journal answered {status}: {said(body) or '(no message)'}"
        return Failure(
            "verify", url, "a count", f"{status}: {said(body)}", status=status, text=text
        )
    if (low is None or count >= low) and (high is None or count <= high):
        return None
    wanted = _wanted(low, high)
    text = f"expected {wanted} of {calls}, the mock saw {count}"
    if dropped:
        text += (
            f" (its journal dropped {dropped} older call(s) since the iteration began, "
            "so calls may be missing from the count)"
        )
    return Failure("verify", "", f"{wanted} of {calls}", count, text=text)


def _wanted(low: int | None, high: int | None) -> str:
    if low is not None and low == high:
        return f"{low} call{'' if low == 1 else 's'}"
    if high is None:
        return f"at least {low} call{'' if low == 1 else 's'}"
    if low is None or low == 0:
        return f"at most {high} call{'' if high == 1 else 's'}"
    return f"{low} to {high} calls"


async def lacks_control(session: aiohttp.ClientSession, url: str) -> str | None:
    """Why ``url`` (a mock's ``/__stubs`` or ``/__requests/count``) cannot serve a step, or
    None when it answers 200 (or cannot be reached now: the step will say so)."""
    try:
        async with session.get(url, timeout=TIMEOUT) as response:
            status, body = response.status, await response.read()
    except (TimeoutError, aiohttp.ClientError):
        return None
    if status == 200:
        return None
    return (
        f"GET {url} answered {status}: {said(body) or '(no message)'}; the step needs a mock "
        "agency built on the connector kit (docs/connectors.md, Stubs and Request journal)"
    )


async def _base(
    session: aiohttp.ClientSession, providers: Providers, provider: str, url: str | None
) -> str:
    """A provider's base URL: the step's ``url:``, else --providers or the hub's list."""
    return url or await providers.resolve(session, provider)


async def run_stub(
    session: aiohttp.ClientSession,
    providers: Providers,
    step: StubPlan,
    variables: dict[str, Any],
    stubbed: Stubbed,
) -> tuple[float | None, Failure | None]:
    """Add the step's stubs (rendered), or remove those ``stubbed`` holds for its mock."""
    try:
        stubs = None if step.stubs is None else [render_value(s, variables) for s in step.stubs]
    except MissingVariable as exc:
        return None, missing_variable("stub", exc)
    started = time.perf_counter()
    try:
        url = f"{await _base(session, providers, step.provider, step.url)}/__stubs"
    except SourceError as exc:
        return None, Failure("config", "provider", "a provider base URL", str(exc))
    try:
        if stubs is None:
            failure = await remove_stubs(session, stubbed.pop(url))
        else:
            failure = await add_stubs(session, url, stubs, stubbed)
    except (TimeoutError, aiohttp.ClientError) as exc:
        why = failure_text(exc, session.timeout.total or 0)
        return None, Failure("stub", url, "an answer", why)
    return (time.perf_counter() - started) * 1000, failure


async def clear_journals(
    session: aiohttp.ClientSession, providers: Providers, verified: list[tuple[str, str | None]]
) -> dict[str, str | None]:
    """Clear the journal of each mock a scenario verifies: base URL -> None, or why not
    (told by the verify steps of that mock). A count is then the iteration's own."""
    problems: dict[str, str | None] = {}
    for provider, url in verified:
        try:
            base = await _base(session, providers, provider, url)
        except SourceError as exc:
            problems[url or provider] = str(exc)
            continue
        if base not in problems:
            problems[base] = await clear_journal(session, base)
    return problems


async def run_verify(
    session: aiohttp.ClientSession,
    providers: Providers,
    step: VerifyPlan,
    variables: dict[str, Any],
    journals: dict[str, str | None],
) -> tuple[float | None, Failure | None]:
    """Count the calls the step names in its mock's journal, against its bounds."""
    try:
        filters = [(name, render_value(value, variables)) for name, value in step.filters]
    except MissingVariable as exc:
        return None, missing_variable("request", exc)
    started = time.perf_counter()
    try:
        base = await _base(session, providers, step.provider, step.url)
    except SourceError as exc:
        return None, Failure("config", "provider", "a provider base URL", str(exc))
    problem = journals.get(base)
    if problem is not None:
        text = f"the journal could not be cleared at the start of the iteration: {problem}"
        return None, Failure("verify", "", "a cleared journal", problem, text=text)
    calls = calls_text(dict(filters))  # as rendered: GET /citizens/079...
    try:
        failure = await count_calls(session, base, filters, step.at_least, step.at_most, calls)
    except (TimeoutError, aiohttp.ClientError) as exc:
        got = f"{type(exc).__name__}: {exc}"
        return None, Failure("verify", f"{base}/__requests/count", "an answer", got)
    return (time.perf_counter() - started) * 1000, failure
