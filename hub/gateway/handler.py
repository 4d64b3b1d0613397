"""The exchange: one raw ASGI handler for ``/r1/...``, the hub's hot path.

It runs outside FastAPI on purpose: the admin and operator API use FastAPI, but the
routing, dependency injection and validation layers cost more than the whole hop here
(see docs/benchmarks.md for the figures).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from hub.core import errors
from hub.core.settings import PLACEHOLDER, Settings
from hub.gateway import body as body_mod
from hub.gateway import checks, paths
from hub.gateway.cycles import EXTENSION, head_pairs
from hub.gateway.forwarder import REQUEST_DROP, Answer, Forwarder
from hub.gateway.metaservices import Metaservices
from hub.gateway.records import Exchange, b64sha512, message, record
from hub.registry.cache import RegistryCache, ServiceEntry
from hub.txlog.remote import RemoteLogWriter
from hub.txlog.writer import LogWriter

log = logging.getLogger(__name__)

# The request target's limit, Apache's and near nginx's: a longer one was forwarded and the
# provider's refusal came back as the hub's Server.ServiceFailed, blaming the provider.
MAX_TARGET_BYTES = 8192
Observer = Callable[[dict[str, Any]], None]


class Gateway:
    """ASGI app for ``/r1``: checks, forwards, records, answers."""

    def __init__(
        self,
        *,
        settings: Settings,
        registry: RegistryCache,
        writer: LogWriter | RemoteLogWriter,
        forwarder: Forwarder,
    ) -> None:
        self.settings = settings
        # Sent by mistake in a gateway URL, kept out of the log (privacy.log_path); the
        # development placeholder is no secret, and a word paths may hold.
        self.tokens = tuple(
            t for t in (settings.admin_token, settings.operator_token) if t != PLACEHOLDER
        )
        self.registry = registry
        self.writer = writer
        self.forwarder = forwarder
        self.meta = Metaservices(registry=registry, forwarder=forwarder)
        self.observers: list[Observer] = []
        # Exchanges refused with Server.LoggingFailed: none has a record, so no observer
        # counts them (/metrics reads this: hub_exchanges_unlogged_total).
        self.unlogged = 0
        # Set by the reliability features: quota(client) -> seconds to wait or None;
        # breaker.allow(provider) -> ticket (0: refused) / breaker.record(provider, ok, ticket).
        self.quota: Callable[[str], Awaitable[float | None]] | None = None
        self.breaker: Any = None
        # peer_auth(scope, headers, ex) -> client proven by a mutual-TLS certificate, or None.
        self.peer_auth: Callable[[dict, dict[str, str], Exchange], str | None] | None = None

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        """The ASGI entry, for requests the hub's protocol does not answer itself."""
        raw = scope.get("raw_path") or scope["path"].encode()
        message = await self.exchange(
            scope["method"],
            raw.decode("latin-1").split("?", 1)[0],
            scope.get("query_string", b"").decode("latin-1"),
            scope["headers"],
            receive=receive,
            scope=scope,
        )
        if EXTENSION in scope.get("extensions", ()):
            await send(message)
            return
        headers = message["passed"] + head_pairs(message["head"])
        await send({"type": "http.response.start", "status": message["status"], "headers": headers})
        await send({"type": "http.response.body", "body": message["body"]})

    async def exchange(
        self,
        method: str,
        raw_path: str,
        query: str,
        raw_headers: list[tuple[bytes, bytes]],
        *,
        body: bytes | None = None,
        receive: Callable | None = None,
        scope: dict | None = None,
    ) -> dict[str, Any]:
        """One exchange, from the request's parts to the whole answer as one message.

        The body comes whole (``body``: the hub's protocol read it with the request) or from
        ASGI's ``receive``. The answer is a ``hub.response`` message (hub/gateway/protocol.py):
        status, the provider's headers (``passed``), the hub's own rendered (``head``), and body.
        """
        t0 = time.perf_counter()
        ex = Exchange(method)
        # One registry snapshot for the whole exchange: an operator's change takes effect
        # between exchanges, never between one exchange's checks and its record.
        snap = self.registry.snapshot
        upstream_ms: float | None = None
        answer: Answer | None = None
        extra: list[tuple[str, str]] = []
        fault: str | None
        try:
            if len(raw_path) + len(query) > MAX_TARGET_BYTES:
                raise errors.BadRequest(
                    f"the path and query are {len(raw_path) + len(query)} bytes; the limit is "
                    f"{MAX_TARGET_BYTES}: send long selections in a body instead"
                )
            headers = checks.read_headers(raw_headers, self.settings.max_header_bytes)
            ex.query = query
            # X-Road-Id first: a refused path is answered and recorded under the client's id.
            checks.read_purpose(ex, headers)
            ex.target = paths.parse(raw_path, snap.services)
            client = None
            if self.peer_auth is not None and scope is not None:
                client = self.peer_auth(scope, headers, ex)
            if client is None:
                try:
                    client = checks.authenticate(ex, headers, snap, self.settings.secret_key)
                except checks.UnknownKey:
                    # Perhaps a key just issued or rotated through another worker: this
                    # worker's snapshot would learn of it only at its next reload, up to
                    # HUB_REGISTRY_REFRESH_S later. Refused keys only: a known key's path
                    # is unchanged.
                    newer = await self.registry.catch_up(snap)
                    if newer is None:
                        raise
                    snap = newer
                    client = checks.authenticate(ex, headers, snap, self.settings.secret_key)
            else:
                ex.client = ex.claimed = client
            if ex.target.meta is not None:
                answer, upstream_ms = await self.meta.answer(ex.target, client, ex.query, ex.method)
            else:
                service = checks.authorize(ex, client, snap)
                await self._read_body(ex, raw_headers, body, receive, service)
                if self.quota is not None:
                    wait = await self.quota(client)
                    if wait is not None:
                        after = max(1, int(wait + 0.999))  # whole seconds, rounded up
                        raise errors.RateLimited(
                            f"client {client} is over its quota; retry in {after} s",
                            headers={"Retry-After": str(after)},
                        )
                if self.breaker is not None and not (
                    ticket := self.breaker.allow(service.provider)
                ):
                    after = max(1, int(self.breaker.retry_after(service.provider) + 0.999))
                    raise errors.ServiceUnavailable(
                        f"provider {service.provider} is failing and its circuit is open; "
                        f"retry in {after} s",
                        headers={"Retry-After": str(after)},
                    )
                t_up = time.perf_counter()
                why = self.writer.refusal(t_up)
                if why is not None:
                    raise LogRefused(
                        f"{why}, so the exchange is refused before it reached the provider; "
                        "retry shortly"
                    )
                if not self.writer.linked:
                    try:
                        await self.writer.connect()
                    except errors.LoggingFailed as exc:
                        raise LogRefused(exc.message) from None
                try:
                    answer = await self._forward(ex, service, headers, raw_headers)
                finally:
                    upstream_ms = (time.perf_counter() - t_up) * 1000
                    if self.breaker is not None:
                        self.breaker.record(
                            service.provider, answer is not None and answer.status < 500, ticket
                        )
        except LogRefused as exc:  # not recorded: the log cannot take it (see refusal)
            self.unlogged += 1
            answer = Answer(exc.status, [], exc.body(ex.request_id), "application/json")
            extra = [("X-Road-Error", exc.code)]
            total_ms = (time.perf_counter() - t0) * 1000
            return message(ex, answer, extra, upstream_ms, total_ms)
        except errors.HubError as exc:
            # Its headers (Retry-After, WWW-Authenticate) are the hub's own, as X-Road-Error:
            # as the provider's they had cost the refusal its Date (see message).
            answer = Answer(exc.status, [], exc.body(ex.request_id), "application/json")
            extra += exc.headers.items()
            extra.append(("X-Road-Error", exc.code))
            fault = exc.code
        except Exception:
            log.exception("exchange %s failed inside the hub", ex.request_id)
            bug = errors.InternalError("the hub failed to handle this exchange; it is logged")
            answer = Answer(500, [], bug.body(ex.request_id), "application/json")
            extra.append(("X-Road-Error", bug.code))
            fault = bug.code
        else:
            fault = None

        entry = record(
            ex,
            answer,
            fault,
            t0,
            upstream_ms,
            snap=snap,
            secret=self.settings.secret_key,
            tokens=self.tokens,
        )
        try:
            await self.writer.submit(entry)
        except errors.LoggingFailed as failed:
            self.unlogged += 1
            unlogged = failed
            if upstream_ms is not None:
                # Forwarded: the provider may have carried it out (see LogWriter.refusal).
                unlogged = errors.LoggingFailed(
                    "the exchange went to the provider, but it could not be recorded in the "
                    "transaction log, so its answer is withheld; the provider may have carried "
                    "out the request: check before sending it again"
                )
            answer = Answer(unlogged.status, [], unlogged.body(ex.request_id), "application/json")
            extra = [("X-Road-Error", unlogged.code)]
        else:
            for observer in self.observers:
                observer(entry)
        total_ms = (time.perf_counter() - t0) * 1000
        return message(ex, answer, extra, upstream_ms, total_ms)

    async def _read_body(
        self,
        ex: Exchange,
        raw_headers: list[tuple[bytes, bytes]],
        body: bytes | None,
        receive: Callable | None,
        service: ServiceEntry,
    ) -> None:
        limit = service.max_body_bytes
        length = next((v for k, v in raw_headers if k == b"content-length"), None)
        if length is not None:
            if not (length.isascii() and length.isdigit()):
                raise errors.BadRequest("Content-Length must be a whole number")
            if int(length) > limit:
                if body is not None:
                    # Read whole already (the server's fast path): the record gives its size
                    # and hash, as the answer's X-Road-Request-Hash does (they said 0 bytes
                    # and the empty body's). One refused unread, by its length, has none.
                    ex.body, ex.request_hash = body, b64sha512(body)
                raise errors.PayloadTooLarge(
                    f"the body is {int(length)} bytes; {service.id} accepts at most {limit}"
                )
        if body is None:
            assert receive is not None
            body = await body_mod.read_body(receive, service)
        elif len(body) > limit:
            ex.body, ex.request_hash = body, b64sha512(body)
            raise errors.PayloadTooLarge(
                f"the body is over the limit of {limit} bytes of {service.id}"
            )
        ex.body = body
        if ex.body:
            ex.request_hash = b64sha512(ex.body)
        if service.validator is not None:
            body_mod.validate(service, ex.body)

    async def _forward(
        self,
        ex: Exchange,
        service: ServiceEntry,
        headers: dict[str, str],
        raw_headers: list[tuple[bytes, bytes]],
    ) -> Answer:
        assert ex.target is not None and service.base_url is not None
        drop = REQUEST_DROP
        if "connection" in headers:
            # Headers the client named in Connection are for this hop only (RFC 9110 7.6.1),
            # in every Connection header it sent.
            named = [t for n, v in raw_headers if n == b"connection" for t in v.split(b",")]
            drop = drop | {t.strip().lower() for t in named}
        # The client's headers go on as the bytes uvicorn parsed (httptools refuses line
        # breaks in them); the hub's own values were checked on the way in. Rendered here
        # rather than as str pairs for HttpClient.request: 4.1 -> 2.6 us with the request line
        # (timeit, the bench exchange).
        xroad = (
            f"X-Road-Client: {ex.client}\r\nX-Road-Service: {service.id}\r\n"
            f"X-Road-Id: {ex.xroad_id}\r\nX-Road-Request-Id: {ex.request_id}\r\n"
        )
        if ex.user_id:
            xroad += f"X-Road-UserId: {ex.user_id}\r\n"
        if ex.issue:
            xroad += f"X-Road-Issue: {ex.issue}\r\n"
        head = b"".join(
            [
                b"%s: %s\r\n" % (name, value)
                for name, value in raw_headers
                if name not in drop
                and not name.startswith(b"x-road-")
                and (b"_" not in name or _kept(name, drop))
            ]
        )
        head += xroad.encode("latin-1")
        url = service.base_url + ex.target.path + ("?" + ex.query if ex.query else "")
        try:
            answer = await self.forwarder.send_head(
                ex.method, url, head, ex.body, service.timeout_s, (service.base_url, service.public)
            )
        except (errors.ServiceTimeout, errors.ServiceFailed) as exc:
            # The forwarder's sentences say "the provider": a replay's report or a log line
            # shows the sentence alone, so it says which (no cost until one is raised).
            if exc.message.startswith("the provider"):
                exc.message = f"provider {service.provider}{exc.message[12:]}"
            raise
        except asyncio.CancelledError:
            # The hub is stopping and its graceful wait (30 s) ran out before the provider
            # answered (a service's timeout may be longer). The request reached the provider,
            # so it is recorded, as a timeout, by the log's last flush: the cancel is taken
            # back so that the record's commit can still be awaited.
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            raise errors.ServiceTimeout(
                f"the hub stopped before provider {service.provider} answered (the service's "
                f"timeout is {service.timeout_s:g} s); the provider may have carried out the "
                "request: check before sending it again"
            ) from None
        if answer.body and "json" in answer.content_type:
            try:
                orjson.loads(answer.body)
            except orjson.JSONDecodeError:
                raise errors.ServiceFailed(
                    f"provider {service.provider} sent a malformed answer (invalid JSON)"
                ) from None
        return answer


def _kept(name: bytes, drop: frozenset[bytes] | set[bytes]) -> bool:
    """Whether a header named with ``_`` is forwarded: CGI, WSGI and PHP read ``X_Road_Client``
    as ``X-Road-Client`` (both HTTP_X_ROAD_CLIENT), so a client's would stand beside the
    hub's own there; it is dropped as the name it stands for would be."""
    name = name.replace(b"_", b"-")
    return name not in drop and not name.startswith(b"x-road-")


class LogRefused(errors.LoggingFailed):
    """Refused before forwarding because the log cannot take the record: none is written."""
