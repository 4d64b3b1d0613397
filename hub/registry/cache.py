"""The registry held in memory for the gateway, reloaded when its version moves.

The gateway resolves services, grants and keys on every exchange; reading them from the
database each time would cost more than the whole forwarding hop.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from jsonschema import Draft202012Validator
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from hub.core import security
from hub.registry import repository as repo
from hub.registry.request_schema import request_validator

log = logging.getLogger(__name__)

# The least time between two of ``RegistryCache.catch_up``'s checks of the registry version.
CATCH_UP_S = 0.2
# A path segment's parameters (";jsessionid=..."), which Servlet containers cut off.
SEGMENT_PARAMS = re.compile(r";[^/]*")
# What other servers cut off a path before routing: the last segment's ".suffix" (Spring
# MVC's suffix pattern match, its default before 5.3, routes /x.json and /x. to /x), and a
# segment's trailing dots and spaces (Windows drops them from names: IIS).
LOOSE_ENDS = re.compile(r"[. ]+(?=/)|\.[^/]*$|[. ]+$")


@dataclass(slots=True)
class ServiceEntry:
    id: str
    code: str
    provider: str
    base_url: str | None
    service_type: str
    endpoints: list[dict[str, str]]
    personal_data: bool
    timeout_s: float
    max_body_bytes: int
    enabled: bool
    keep_bodies: bool
    description: str
    validator: Draft202012Validator | None
    # (method, compiled path regex, names of templated segments)
    routes: list[tuple[str, re.Pattern[str], tuple[str, ...]]] = field(default_factory=list)
    # The hub's path for this service: /r1/{id}, where a provider's redirect is sent.
    public: str = ""
    # Why the service cannot be called (an endpoint stored that no pattern can match).
    problem: str | None = None
    # Paths this service's templates (or its any-path) would match but that another service
    # of the same provider names more exactly: (regex on the service's path, that service).
    # (regex on the service's path, that service, the method it declares there).
    shadows: list[tuple[re.Pattern[str], str, str]] = field(default_factory=list)

    def match(self, method: str, path: str) -> tuple[bool, dict[str, str]]:
        """Whether the service exposes ``method path``, and the templated values found."""
        if not self.routes:
            return True, {}
        for m, pattern, _names in self.routes:
            if m == method or (method == "HEAD" and m == "GET"):
                found = pattern.match(path)
                if found:
                    return True, found.groupdict()
        return False, {}

    def claimed_by(self, method: str, path: str) -> str | None:
        """The other service of this provider that ``path`` belongs to, if one does.

        Without this, a grant of ``GET /citizens/{id}`` reached the provider's
        ``GET /citizens/changes`` (another service, not granted) with ``id=changes``. The
        provider routes the decoded path, so the decoded path is what is compared. A path
        another service declares is refused whatever the method; the service named is the
        one that declares this method there, when one does (``POST /records`` may be one
        service's and ``GET /records`` another's).
        """
        plain = unquote(path) if "%" in path else path
        if ";" in plain:
            # Tomcat, Jetty and Spring cut a segment's ";params" off before routing:
            # /citizens/changes;x is /citizens/changes there.
            plain = SEGMENT_PARAMS.sub("", plain)
        wanted = "GET" if method == "HEAD" else method
        owner = _shadow_owner(self.shadows, plain, wanted)
        if owner is None and ("." in plain or " " in plain):
            loose = LOOSE_ENDS.sub("", plain)
            if loose != plain:
                owner = _shadow_owner(self.shadows, loose, wanted)
        return owner


def _shadow_owner(
    shadows: list[tuple[re.Pattern[str], str, str]], path: str, method: str
) -> str | None:
    """The service among ``shadows`` that declares ``path``: the one with ``method`` there
    when one has it, else the first."""
    first = None
    for pattern, owner, declared in shadows:
        if pattern.match(path):
            if declared == method:
                return owner
            first = first or owner
    return first


@dataclass(slots=True)
class KeyEntry:
    client: str
    key_hash: str
    expires_at: datetime | None
    revoked: bool
    secret_id: str | None = None  # the secret its hash was made under; None before 0010

    def live(self, now: datetime) -> bool:
        return not self.revoked and (self.expires_at is None or self.expires_at > now)


@dataclass(slots=True)
class Snapshot:
    version: int = -1
    services: dict[str, ServiceEntry] = field(default_factory=dict)
    subsystems: dict[str, Any] = field(default_factory=dict)  # id -> (name, base_url, enabled)
    members: dict[str, str] = field(default_factory=dict)  # id -> name
    grants: frozenset[tuple[str, str]] = frozenset()  # (client, service), enabled ones only
    # What an operator turned off, kept apart to say so (a disabled member's subsystems and
    # services are disabled in ``subsystems`` and ``services`` already).
    disabled_members: frozenset[str] = frozenset()
    disabled_grants: frozenset[tuple[str, str]] = frozenset()
    keys: dict[str, KeyEntry] = field(default_factory=dict)  # prefix -> entry
    # client id -> (requests per second, per day), only for clients with a quota set
    quotas: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)
    # cert sha256 (hex) -> subsystem id, enabled or not
    certs: dict[str, str] = field(default_factory=dict)
    # Keys whose HMAC matched in this snapshot, by an unkeyed digest of the key, so that a
    # client's next exchanges skip the HMAC (one per exchange otherwise) and no key is kept
    # in plain text. At most one per entry of ``keys``: only matching keys are kept, and a
    # new snapshot (a key revoked, rotated or added) starts empty. Revocation and expiry
    # are still checked on every call.
    verified: dict[bytes, KeyEntry] = field(default_factory=dict)

    def off_member(self, subsystem: str) -> str | None:
        """The member of ``subsystem`` if an operator disabled it, else None."""
        member = subsystem.rpartition("/")[0]
        return member if member in self.disabled_members else None

    def authenticate(self, secret: str, key: str, now: datetime) -> str | None:
        """The client a key belongs to, or None when unknown, revoked or expired.

        ``secret`` is the process's one server secret; the keys verified with it are kept.
        """
        seen = hashlib.blake2b(key.encode(), digest_size=16).digest()
        entry = self.verified.get(seen)
        if entry is None:
            prefix = security.key_prefix(key)
            entry = self.keys.get(prefix) if prefix else None
            if entry is None or not security.key_matches(secret, key, entry.key_hash):
                return None
            self.verified[seen] = entry
        if entry.revoked:
            return None
        if entry.expires_at is not None and entry.expires_at <= now:
            return None
        return entry.client

    def foreign_keys(self, secret: str, now: datetime) -> list[str]:
        """The prefixes of live keys hashed under another secret than ``secret``: every
        call with them is refused, and only the hub's operators can tell why."""
        mine = security.secret_id(secret)
        return sorted(
            prefix
            for prefix, entry in self.keys.items()
            if entry.secret_id not in (None, mine) and entry.live(now)
        )

    def foreign_key(self, secret: str, key: str) -> tuple[str, KeyEntry] | None:
        """For a key ``authenticate`` refused: its prefix and entry, when the prefix is
        registered under another secret than ``secret`` (so no hash made now can match)."""
        prefix = security.key_prefix(key)
        entry = self.keys.get(prefix) if prefix else None
        if prefix is None or entry is None or entry.secret_id in (None, security.secret_id(secret)):
            return None
        return prefix, entry

    def ended(self, key: str, now: datetime) -> tuple[str, str] | None:
        """For a key ``authenticate`` refused: its owner and why, when it is a registered
        key that was revoked or has expired; None for a key the registry does not hold.

        ``authenticate`` keeps every key whose HMAC matched, revoked and expired ones too. Its
        sender holds the whole key, so saying which end it met tells nothing new, and the log
        names whose key was still being sent.
        """
        entry = self.verified.get(hashlib.blake2b(key.encode(), digest_size=16).digest())
        if entry is None:
            return None
        if entry.revoked:
            return entry.client, "this API key was revoked; ask the hub's operators for a new one"
        if entry.expires_at is not None and entry.expires_at <= now:
            return entry.client, (
                f"this API key expired at {entry.expires_at:%Y-%m-%d %H:%M:%S} UTC (it was "
                "rotated, or issued with an end): use the key that replaced it, or ask the "
                "hub's operators for a new one"
            )
        return None


def _segments(path: str) -> list[str]:
    return path.strip("/").split("/") if path.strip("/") else []


def _templated(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


def _refines(mine: list[str], other: list[str]) -> bool:
    """Whether ``other`` names a strict part of what ``mine`` matches (a literal for a
    template), so that a path ``other`` matches is ``other``'s and not ``mine``'s."""
    if len(mine) != len(other):
        return False
    finer = False
    for a, b in zip(mine, other, strict=True):
        if _templated(a) and not _templated(b):
            finer = True
        elif not _templated(a) and (_templated(b) or a != b):
            return False
    return finer


def _shadow(services: dict[str, ServiceEntry]) -> None:
    """Fill each service's ``shadows`` from the other services at the same provider host."""
    hosts: dict[tuple[str, str], list[tuple[str, ServiceEntry]]] = {}
    for entry in services.values():
        if entry.base_url:
            url = urlsplit(entry.base_url)
            hosts.setdefault((url.scheme, url.netloc.lower()), []).append(
                (url.path.rstrip("/"), entry)
            )
    for group in hosts.values():
        for base, entry in group:
            mine = [_segments(e["path"]) for e in entry.endpoints]
            seen: set[tuple[str, str]] = set()
            for other_base, other in group:
                if other is entry or other.problem is not None:
                    continue
                for ep in other.endpoints:
                    full = other_base + "/" + ep["path"].strip("/")
                    if base and not full.startswith(base + "/"):
                        continue  # outside every path this service reaches
                    rest = full[len(base) :]
                    theirs = _segments(rest)
                    method = ep["method"].upper()
                    if (rest, method) in seen or not (
                        not mine or any(_refines(m, theirs) for m in mine)
                    ):
                        continue
                    seen.add((rest, method))
                    # Without regard to case, as Express and ASP.NET Core route.
                    pattern = _compile(rest, re.IGNORECASE)[0]
                    entry.shadows.append((pattern, other.id, method))


def _compile(path: str, flags: int = 0) -> tuple[re.Pattern[str], tuple[str, ...]]:
    names: list[str] = []
    out = []
    for part in path.strip("/").split("/"):
        if part.startswith("{") and part.endswith("}"):
            names.append(part[1:-1])
            out.append(f"(?P<{part[1:-1]}>[^/]+)")
        else:
            out.append(re.escape(part))
    return re.compile("^/" + "/".join(out) + "/?$", flags), tuple(names)


async def load(session: AsyncSession) -> Snapshot:
    snap = Snapshot(version=await repo.version(session))
    members = await repo.members(session)
    snap.members = {m.id: m.name for m in members}
    snap.disabled_members = frozenset(m.id for m in members if not m.enabled)
    subs = await repo.subsystems(session)
    snap.subsystems = {
        s.id: (s.name, s.base_url, s.enabled and s.member_id not in snap.disabled_members)
        for s in subs
    }
    snap.quotas = {
        s.id: (s.quota_rps, s.quota_per_day)
        for s in subs
        if s.quota_rps is not None or s.quota_per_day is not None
    }
    # A disabled subsystem's too: its certificate is refused saying so (hub/reliability/mtls.py).
    snap.certs = {s.cert_sha256: s.id for s in subs if s.cert_sha256}
    for svc in await repo.services(session):
        sub = snap.subsystems.get(svc.subsystem_id)
        entry = ServiceEntry(
            id=svc.id,
            code=svc.code,
            provider=svc.subsystem_id,
            base_url=(svc.base_url or (sub[1] if sub else None)),
            service_type=svc.service_type,
            endpoints=list(svc.endpoints or []),
            personal_data=svc.personal_data,
            timeout_s=svc.timeout_ms / 1000.0,
            max_body_bytes=svc.max_body_bytes,
            enabled=svc.enabled and bool(sub and sub[2]),
            keep_bodies=svc.keep_bodies,
            description=svc.description,
            validator=request_validator(svc.request_schema) if svc.request_schema else None,
            public=f"/r1/{svc.id}",
        )
        try:
            for ep in entry.endpoints:
                pattern, names = _compile(ep["path"])
                entry.routes.append((ep["method"].upper(), pattern, names))
        except (re.error, KeyError, AttributeError, TypeError) as exc:
            # Stored before the registry refused it: this service is unusable, and the
            # rest of the registry (a key revoked since) must still load.
            log.error("service %s has an endpoint the gateway cannot match: %s", svc.id, exc)
            entry.routes = []
            entry.problem = (
                f"service {svc.id} has an endpoint the hub cannot match ({exc}); an operator "
                "must correct its endpoints"
            )
        snap.services[svc.id] = entry
    _shadow(snap.services)
    grants = await repo.grants(session)
    snap.grants = frozenset((g.client_id, g.service_id) for g in grants if g.enabled)
    snap.disabled_grants = frozenset((g.client_id, g.service_id) for g in grants if not g.enabled)
    for k in await repo.api_keys(session):
        snap.keys[k.prefix] = KeyEntry(
            client=k.subsystem_id,
            key_hash=k.key_hash,
            expires_at=k.expires_at,
            revoked=k.revoked_at is not None,
            secret_id=k.secret_id,
        )
    return snap


class RegistryCache:
    """Holds the current snapshot; ``refresh`` is cheap when nothing changed."""

    def __init__(self, sessions: async_sessionmaker) -> None:
        self.sessions = sessions
        self.snapshot = Snapshot()
        self._lock = asyncio.Lock()
        # The last reload failed: the snapshot is older than the registry (/readyz says so).
        self.failing = False
        # ``catch_up``'s check in flight, and when the last one began (time.monotonic).
        self._check: asyncio.Future[None] | None = None
        self._checked_at = -math.inf
        # Called with (old, new) each time a snapshot replaces another, in every worker that
        # reloads: state kept beside the registry that a change makes stale (a provider's
        # circuit, opened by failures at an address an operator has since corrected).
        self.on_reload: list[Callable[[Snapshot, Snapshot], None]] = []

    async def refresh(self, *, force: bool = False) -> None:
        async with self._lock, self.sessions() as session:
            if not force and await repo.version(session) == self.snapshot.version:
                return
            try:
                snapshot = await load(session)
            except Exception:
                self.failing = True
                raise
            self.failing = False
            old, self.snapshot = self.snapshot, snapshot
            for listener in self.on_reload:
                try:
                    listener(old, snapshot)
                except Exception:  # the registry is reloaded whatever a listener does
                    log.exception("a listener of registry reloads failed")

    async def catch_up(self, seen: Snapshot) -> Snapshot | None:
        """A snapshot newer than ``seen``, reloaded if the registry moved since; else None.

        For an API key ``seen`` does not hold: another worker (or the CLI) may have issued it
        a moment ago, and ``poll`` would find it only within its interval. Only refused
        exchanges call this, so a flood of unknown keys costs one version query per
        CATCH_UP_S and a reload only when the registry did change: a caller that comes while
        a check runs waits for it, and one within CATCH_UP_S of the last check gets None.
        """
        if self.snapshot is seen:
            if self._check is None:
                now = time.monotonic()
                if now - self._checked_at < CATCH_UP_S:
                    return None
                self._checked_at = now
                self._check = asyncio.ensure_future(self._catch_up())
            # Shielded: a caller that goes away leaves the check to those still waiting.
            await asyncio.shield(self._check)
        return None if self.snapshot is seen else self.snapshot

    async def _catch_up(self) -> None:
        try:
            await self.refresh()
        except Exception:  # the caller's key is refused, as without the check
            log.warning("registry refresh failed", exc_info=True)
        finally:
            self._check = None

    async def poll(self, interval_s: float) -> None:
        """Reload when another worker or the CLI changed the registry.

        A failure is logged once, in one line, until it works again or fails another way:
        while the database was down each worker logged one at every interval, and each with
        a traceback of some 170 lines that said no more than its last (DEBUG has it)."""
        failing: type[BaseException] | None = None
        while True:
            await asyncio.sleep(interval_s)
            try:
                await self.refresh()
            except Exception as exc:  # keep serving the last good snapshot
                if type(exc) is not failing:
                    first = (str(exc).splitlines() or [""])[0]
                    log.warning(
                        "registry refresh failed: %s: %s (said once until it works again)",
                        type(exc).__name__,
                        first,
                    )
                    log.debug("registry refresh failed", exc_info=True)
                failing = type(exc)
            else:
                if failing is not None:
                    log.warning("registry refresh works again")
                failing = None
