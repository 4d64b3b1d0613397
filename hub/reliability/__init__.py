"""Reliability and security controls hooked into the gateway: quotas, circuit breakers,
mutual-TLS identities, and how long a locked database may hold up the log.

docs/security.md says what each control does and why.

``install(state)`` is called by ``create_app`` when this package is present.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.engine import make_url

from hub.reliability.breaker import Breaker, readdressed
from hub.reliability.mtls import peer_authenticator
from hub.reliability.quota import LocalQuotas, QuotaPolicy, RedisQuotas

if TYPE_CHECKING:
    from hub.app import HubState

__all__ = ["Breaker", "LocalQuotas", "RedisQuotas", "install"]


def install(state: HubState) -> None:
    s = state.settings
    policy = QuotaPolicy(state.registry, (s.default_quota_rps, s.default_quota_per_day), s.timezone)
    quotas: LocalQuotas | RedisQuotas
    if s.redis_url:
        quotas = RedisQuotas(
            policy, s.redis_url, prefix=f"hub:{quota_namespace(s.database_url)}:quota:"
        )
        state.on_shutdown.append(quotas.close)
    else:
        quotas = LocalQuotas(policy)
    breaker = Breaker(
        window_s=s.breaker_window_s,
        min_requests=s.breaker_min_requests,
        failure_ratio=s.breaker_failure_ratio,
        open_s=s.breaker_open_s,
    )
    state.gateway.quota = quotas
    state.gateway.breaker = breaker
    state.registry.on_reload.append(lambda old, new: breaker.forget(readdressed(old, new)))
    state.gateway.peer_auth = peer_authenticator(state.registry)
    state.extras["quotas"] = quotas
    state.extras["breaker"] = breaker
    if s.is_sqlite:
        # Not the log writer's engine: its connection runs in the event loop and polls for
        # the lock itself (hub/txlog/sqlite.py, LOCK_WAIT_S), so a blocking wait there
        # would stall every exchange.
        _busy_timeout(state.engine.sync_engine, s.sqlite_busy_timeout_ms)


def quota_namespace(database_url: str) -> str:
    """Hubs on the same database share counters; other hubs on the same Redis do not.

    The URL names the database, less its password: nodes given a new password one at a
    time (docs/security.md, rotating secrets) counted apart until the last had it, each
    group letting a client through its whole quota. A URL without one hashes as it did.
    """
    url = make_url(database_url)
    if url.password is not None:
        database_url = url._replace(password=None).render_as_string(hide_password=False)
    return hashlib.sha256(database_url.encode()).hexdigest()[:12]


def _busy_timeout(sync_engine: Any, ms: int) -> None:
    """Set how long SQLite waits on a lock; runs after the engine's own connect pragmas."""

    @event.listens_for(sync_engine, "connect")
    def _set(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={int(ms)}")
        cur.close()
