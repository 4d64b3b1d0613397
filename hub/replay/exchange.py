"""One exchange step: sent through the hub's gateway, its answer checked and captured.

Exchanges go through the hub's own pooled HTTP/1.1 client (hub/gateway/client.py), the
one its gateway uses towards providers: the runner shares two cores with the hub it loads,
and through one aiohttp session it reached 0.46-0.59 of wrk's rate on the same exchange
(bench/replay_vs_wrk.py) where the issue asks for 0.5. aiohttp (which had itself replaced
httpx's AsyncClient, about 30 times slower here) still serves the rare fault and
provider-list calls.
"""

from __future__ import annotations

import time
import zlib
from typing import Any
from urllib.parse import urlsplit

from multidict import CIMultiDict

from hub.gateway.client import ClientError, HttpClient
from hub.replay.expect import Reply, capture, check
from hub.replay.plan import ExchangePlan
from hub.replay.requestlog import RequestLog, RequestRow, failure_text, number, timestamp
from hub.replay.results import Failure, ScenarioResult, StepStats, missing_variable
from hub.replay.templating import MissingVariable, render_text, render_value
from hub.replay.wire import (
    LINE_BREAK,
    answer_size,
    decoded,
    head_lines,
    hub_words,
    json_body,
    request_size,
    request_target,
    transport_kind,
)


async def run_exchange(
    http: HttpClient,
    step: ExchangePlan,
    variables: dict[str, Any],
    result: ScenarioResult,
    stats: StepStats,
    *,
    hub_url: str,
    credentials: dict[str, str],
    timeout_s: float,
    log: RequestLog | None = None,
    iteration: int = 0,
    attempt: int = 1,
) -> tuple[float | None, Failure | None]:
    """Send one exchange and check it. Only an exchange that got an HTTP answer is a
    request with a latency: counting one that failed before sending, or got no answer,
    would make req/s and the percentiles lie (a refused connection takes microseconds).
    With ``log``, the request sent (answered or not) is a row of it. ``attempt``: its
    number under the step's ``retry``; the failure of one after which no other is sent
    says how many were, in the report as in its row."""
    try:
        client = render_text(step.client, variables)
        service = render_text(step.service, variables)
        path = render_text(step.path, variables)
        headers = {"X-Road-Client": client}
        if not step.sends_auth:
            key = credentials.get(client)
            if key is None:
                return None, Failure("config", "client", f"an API key for {client}", "none")
            headers["Authorization"] = f"Bearer {key}"
        for name, value in step.headers:
            headers[name] = render_text(value, variables)
        params = [
            (render_text(name, variables), render_text(value, variables))
            for name, value in step.query
        ]
        data = b""
        if step.json is not None:
            if not any(name.lower() == "content-type" for name in headers):
                headers["Content-Type"] = "application/json"
            try:
                data = json_body(render_value(step.json, variables))
            except (TypeError, ValueError) as exc:
                return None, Failure("request", "json", "a body JSON can hold", str(exc))
        elif step.body is not None:
            # Raw text, said so: a body without Content-Type is guesswork for the
            # receiver. A step sends another type by setting the header.
            if not any(name.lower() == "content-type" for name in headers):
                headers["Content-Type"] = "text/plain; charset=utf-8"
            data = render_text(step.body, variables).encode()
        url = hub_url + request_target(f"/r1/{service}{path}", params)
        broken = [name for name, value in headers.items() if LINE_BREAK.search(value)]
        if broken:
            text = f"the value of header {broken[0]} holds a line break; it was not sent"
            return None, Failure("request", "headers", "no line break", "a line break", text=text)
        head = head_lines(headers)
    except MissingVariable as exc:
        return None, missing_variable("request", exc)
    except ClientError as exc:  # a line break elsewhere (the path): never sent
        return None, Failure("request", "", "a request", str(exc), text=f"{exc}; not sent")
    sent_at = time.time() if log is not None else 0.0
    started = time.perf_counter()
    try:
        response = await http.request_head(step.method, url, head, data, timeout_s=timeout_s)
    except (TimeoutError, ClientError, OSError, ValueError) as exc:
        waited = (time.perf_counter() - started) * 1000
        kind = transport_kind(exc)
        stats.transport_errors[kind] += 1
        if kind == "timeout":
            stats.timeouts_ms.append(waited)
            got = f"timeout: no answer within {timeout_s:g} s (--timeout)"
        elif kind == "refused":
            # Python's words, "[Errno 111] Connect call failed ('127.0.0.1', 8000)", hid
            # the likely cause: a hub that stopped (or restarted) during the run.
            where = urlsplit(hub_url).netloc.rpartition("@")[2]
            got = f"refused: nothing listens on {where}, the hub's address (it stopped?)"
        else:
            got = f"{kind}: {type(exc).__name__}: {hub_words(exc)}".rstrip(": ")
        unanswered = Failure("transport", f"{step.method} {url}", "an HTTP answer", got)
        if attempt > 1:  # no answer ends the retries (the runner's _retry)
            unanswered.attempts = attempt
        if log is not None:
            target = url[len(hub_url) :]
            log.write(_row(sent_at, result, iteration, step, target, waited, unanswered))
        return None, unanswered
    elapsed = (time.perf_counter() - started) * 1000
    result.requests += 1
    # As requests: exchanges that got an answer (one cut short may or may not have gone out).
    sent = request_size(step.method, url, head, data)
    received = answer_size(response)
    result.sent_bytes += sent
    result.received_bytes += received
    answer = CIMultiDict(response.headers)
    stats.answered(response.status, answer.get("X-Road-Error"))
    failure: Failure | None
    try:
        body = decoded(response.body, answer.get("Content-Encoding"))
    except zlib.error as exc:
        got = f"a body that does not decode: {exc}"
        failure = Failure("body", "Content-Encoding", "a body", got, status=response.status)
    else:
        reply = Reply(response.status, answer, body, elapsed)
        failure = check(step, reply, variables) or capture(step, reply, variables)
    if failure is not None and attempt > 1 and attempt == step.attempts:
        failure.attempts = attempt  # the last attempt the step's retry sends
    if log is not None:
        target = url[len(hub_url) :]
        log.write(
            _row(
                sent_at,
                result,
                iteration,
                step,
                target,
                elapsed,
                failure,
                answer=answer,
                status=response.status,
                sent=sent,
                received=received,
            )
        )
    return elapsed, failure


def _row(
    sent_at: float,
    result: ScenarioResult,
    iteration: int,
    step: ExchangePlan,
    target: str,
    elapsed_ms: float,
    failure: Failure | None,
    *,
    answer: CIMultiDict[str] | None = None,
    status: int | None = None,
    sent: int | None = None,
    received: int | None = None,
) -> RequestRow:
    """The ``--out`` row of a request sent; without ``answer``, one that got none."""
    if failure is None:
        outcome, reason = "passed", None
    else:
        outcome = "transport_error" if failure.kind == "transport" else "failed"
        reason = failure_text(failure.checks_message(), failure.attempts_note())
    ids: tuple[str | None, str | None, float | None] = (None, None, None)
    if answer is not None:
        latency = number(answer.get("X-Hub-Latency"))
        ids = (answer.get("X-Road-Id"), answer.get("X-Road-Request-Id"), latency)
    return RequestRow(
        timestamp(sent_at),
        result.name,
        iteration,
        step.id,
        step.method,
        target,
        status,
        outcome,
        reason,
        round(elapsed_ms, 3),
        *ids,
        sent,
        received,
    )
