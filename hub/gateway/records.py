"""What one exchange carries through the handler, and the two things made of it at the end:
its record for the transaction log and its answer as one ``hub.response`` message.
"""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

from hub.core.ids import request_id
from hub.gateway import paths
from hub.gateway.cycles import EXTENSION
from hub.gateway.forwarder import Answer, http_date
from hub.gateway.privacy import log_path
from hub.registry.cache import ServiceEntry, Snapshot
from hub.registry.repository import utcnow


def b64sha512(data: bytes) -> str:
    return base64.b64encode(hashlib.sha512(data).digest()).decode()


EMPTY_HASH = b64sha512(b"")  # most exchanges are GETs without a body


class Exchange:
    """What one request carries through the handler; slots keep it cheap to build."""

    __slots__ = (
        "started",
        "request_id",
        "xroad_id",
        "client",
        "claimed",
        "target",
        "service",
        "user_id",
        "issue",
        "method",
        "body",
        "params",
        "query",
        "request_hash",
    )

    def __init__(self, method: str) -> None:
        self.started = utcnow()  # also the key's expiry clock
        # A UUIDv7 as 32 hex digits: time-ordered, which the log's indexes need (see there).
        self.request_id = request_id()
        self.xroad_id = self.request_id
        # Who sent it, as far as the hub established it (its key's or certificate's owner),
        # what the log and its statistics name; and the X-Road-Client it claimed.
        self.client = ""
        self.claimed = ""
        self.target: paths.Target | None = None
        self.service: ServiceEntry | None = None
        self.user_id: str | None = None
        self.issue: str | None = None
        self.method = method
        self.body = b""
        self.params: dict[str, str] | None = None  # the path's templated values, once matched
        self.query = ""
        self.request_hash = EMPTY_HASH


def record(
    ex: Exchange,
    answer: Answer,
    fault: str | None,
    t0: float,
    upstream_ms: float | None,
    *,
    snap: Snapshot,
    secret: str,
    tokens: tuple[str, ...] = (),
) -> dict[str, Any]:
    """The exchange's log record (SPEC 6), its path pseudonymised where it may name a person."""
    total_ms = (time.perf_counter() - t0) * 1000
    target, service = ex.target, ex.service
    if service is None and target is not None:
        # Refused before the service was resolved (bad key, wrong client): the path may
        # still name a person, so judge it by its service, and an unknown one as personal.
        service = snap.services.get(target.service_id)
    personal = service.personal_data if service is not None else target is not None
    path = ""
    if target is not None:
        full = target.path if target.meta is None else f"/{target.meta}"
        params = ex.params
        # Which of the path's segments hold values: its endpoint's templated ones. A
        # path not matched to one (refused before, no such endpoint, a service that
        # takes any path, an unknown service) is judged segment by segment (opaque):
        # a 10-digit tax code of a refused request went into the log in clear.
        opaque = False
        if personal and target.meta is None:
            if params is None and service is not None:
                ok, params = service.match(ex.method, target.path)
                opaque = not ok
            opaque = opaque or service is None or not service.routes
        path = log_path(
            secret, full, ex.query, params or {}, personal, opaque=opaque, tokens=tokens
        )
    keep = bool(ex.service and ex.service.keep_bodies)
    if target is None:
        service_id = provider = ""
    elif ex.service is not None:
        service_id, provider = target.service_id, target.provider
    else:
        # Refused before its service was found, or a metaservice: the ids the path names
        # count only when registered. Anyone could otherwise add providers and services
        # of any name to the sharing matrix and to statistics kept for ever.
        provider = target.provider if target.provider in snap.subsystems else ""
        if target.meta is not None:
            service_id = f"{provider}/{target.meta}" if provider else ""
        else:
            service_id = target.service_id if target.service_id in snap.services else ""
    return {
        "id": ex.xroad_id,
        "request_id": ex.request_id,
        "client": ex.client,
        "service": service_id,
        "provider": provider,
        "method": ex.method,
        "path": path[:2000],
        "user_id": ex.user_id,
        "issue": ex.issue,
        "status_code": answer.status,
        "succeeded": fault is None and answer.status < 400,
        "fault_code": fault,
        "request_bytes": len(ex.body),
        "response_bytes": len(answer.body),
        "started_at": ex.started,
        "total_ms": round(total_ms, 3),
        "upstream_ms": round(upstream_ms, 3) if upstream_ms is not None else None,
        "hub_ms": round(total_ms - (upstream_ms or 0.0), 3),
        "request_hash": ex.request_hash,
        "response_hash": b64sha512(answer.body),
        "request_body": ex.body.decode("utf-8", "replace") if keep else None,
        "response_body": answer.body.decode("utf-8", "replace") if keep else None,
    }


def message(
    ex: Exchange,
    answer: Answer,
    extra: list[tuple[str, str]],
    upstream_ms: float | None,
    total_ms: float,
) -> dict[str, Any]:
    """The whole answer as one ``hub.response`` message, the provider's headers apart.

    The hub's own headers come rendered (``head``, "name: value" lines): every value is
    the hub's or was checked on the way in (ids by their rules, the content type as
    httptools parsed it). Built as one string, the answer took 4.1 + 3.8 us to build
    and encode as header pairs, against 3.2 + 2.2 us so (timeit, the bench answer).
    """
    passed = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers]
    target = ex.target
    up = upstream_ms or 0.0
    # The provider's content type as it sent it, none if it sent none; no length where
    # HTTP forbids one (1xx, 204) or where there is no body to measure (304), and a
    # forwarded HEAD answer's that of the GET, or none if the provider gave none (RFC
    # 9110 8.6, 9.3.2): the HEAD's own empty body said 0 of a chunked GET.
    status = answer.status
    head = f"content-type: {answer.content_type}\r\n" if answer.content_type else ""
    if status >= 200 and status not in (204, 304):
        length = answer.head_length
        if length is None:
            head += f"content-length: {len(answer.body)}\r\n"
        elif length:
            head += f"content-length: {length}\r\n"
    # No X-Road-Client or X-Road-Service when the request was refused before it said
    # them (its headers too large to read): empty, they read as given and blank.
    client = f"x-road-client: {ex.claimed}\r\n" if ex.claimed else ""
    named = f"x-road-service: {target.service_id}\r\n" if target is not None else ""
    head += (
        f"x-road-id: {ex.xroad_id}\r\n"
        f"x-road-request-id: {ex.request_id}\r\n"
        f"{client}{named}"
        f"x-road-request-hash: {ex.request_hash}\r\n"
        f"x-hub-upstream-latency: {up:.3f}\r\n"
        f"x-hub-latency: {total_ms - up:.3f}\r\n"
    )
    for name, value in extra:
        head += f"{name.lower()}: {value}\r\n"
    if not answer.headers:  # the hub's own answer (a refusal, a metaservice): see http_date
        head += f"date: {http_date()}\r\n"
    return {
        "type": EXTENSION,
        "status": answer.status,
        "passed": passed,
        "head": head.encode("latin-1"),
        "body": answer.body,
    }
