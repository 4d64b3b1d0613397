"""The audit trail of registry and key changes: who changed what, when, hash-chained.

Every change to the registry (members, subsystems, services, grants) and to API keys goes
through ``record``, in the transaction of the change itself: the admin API, `hub registry
apply`, `hub keys` and `hub up`'s demo loading alike. A change rolled back (refused, or a
dry run) takes its events with it; an event is never written without its change.

Each event's hash covers its fields and the previous event's hash, as the transaction
log's records do (hub/txlog/chain.py), and is signed with the key that signs the log's
batches when the process making the change holds it (the actor's ``signer``: the hub's own,
or the key file a command on the hub's host reads); `hub audit verify` recomputes the chain
and checks the signatures (hub/registry/events_verify.py). Details never hold a key, a key's
hash or a token.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import socket
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.models import ApiKey, Grant, Member, RegistryEvent, RegistryVersion, Service, Subsystem
from hub.registry import repository as repo

if TYPE_CHECKING:
    from hub.txlog.signing import Signer

GENESIS = "0" * 64

# The fields an event's hash covers, in this order; changing it breaks old chains.
CHAINED = ("id", "at", "actor", "source", "action", "target", "version", "detail")


@dataclass(frozen=True)
class Actor:
    """Who made a change (``who``), through what (``source``: api, cli, demo), and the hub's
    signing key its events are signed with (None: written unsigned)."""

    who: str
    source: str
    signer: Signer | None = field(default=None, compare=False, repr=False)


def admin_api(signer: Signer | None) -> Actor:
    """The admin API's caller: the admin token (the only one that may change the registry;
    the operator token reads), with the hub's key."""
    return Actor("admin token", "api", signer)


def demo(signer: Signer | None) -> Actor:
    """`hub up`'s demo registry and keys, loaded with the hub's key."""
    return Actor("demo", "demo", signer)


def local_actor(source: str = "cli", signer: Signer | None = None) -> Actor:
    """A command run on a host: its OS user and host name."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no name for the uid (a container's)
        import os

        user = f"uid {os.getuid()}"
    return Actor(f"{user}@{socket.gethostname()}", source, signer)


@dataclass
class Change:
    """One change: ``action`` (member.create, grant.delete, key.rotate, ...) of ``target``
    (an entry's id, ``CLIENT -> SERVICE`` for a grant, ``key:ID`` for a key), and what
    changed (``detail``: fields, ``{"from": old, "to": new}`` for an update)."""

    action: str
    target: str
    detail: dict[str, Any] = field(default_factory=dict)


def grant_target(client: str, service: str) -> str:
    return f"{client} -> {service}"


def key_target(key_id: int) -> str:
    return f"key:{key_id}"


def updated(row: Any, changes: dict[str, Any]) -> dict[str, Any]:
    """``{field: {"from": old, "to": new}}`` for what ``changes`` changes in ``row``."""
    return {
        k: {"from": getattr(row, k), "to": v} for k, v in changes.items() if getattr(row, k) != v
    }


async def going_with(session: AsyncSession, model: Any, key: str) -> dict[str, Any]:
    """What the database's ON DELETE CASCADE deletes with entry ``key`` of ``model``: the
    entries below it by id, the grants as ``CLIENT -> SERVICE``, the keys by id."""
    subsystems: list[str] = []
    if model is Member:
        subsystems = list(
            await session.scalars(
                select(Subsystem.id).where(Subsystem.member_id == key).order_by(Subsystem.id)
            )
        )
    owners = [key] if model is Subsystem else subsystems
    services = [key] if model is Service else []
    if owners:
        services += await session.scalars(
            select(Service.id).where(Service.subsystem_id.in_(owners)).order_by(Service.id)
        )
    touching = or_(Grant.service_id.in_(services), Grant.client_id.in_(owners))
    grants = [
        grant_target(g.client_id, g.service_id)
        for g in await session.execute(
            select(Grant.client_id, Grant.service_id)
            .where(touching)
            .order_by(Grant.client_id, Grant.service_id)
        )
    ]
    keys = (
        list(
            await session.scalars(
                select(ApiKey.id).where(ApiKey.subsystem_id.in_(owners)).order_by(ApiKey.id)
            )
        )
        if owners
        else []
    )
    found = {
        "subsystems": subsystems,
        "services": [s for s in services if s != key],
        "grants": grants,
        "api_keys": keys,
    }
    return {k: v for k, v in found.items() if v}


def detail_text(detail: dict[str, Any]) -> str:
    """The stored (and hashed) form of a detail: canonical JSON."""
    return json.dumps(
        detail, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_plain
    )


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"
    raise TypeError(f"{type(value).__name__} in an event's detail")


def _text(value: Any) -> str:
    if value is None:
        return "\x00"
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(timespec="microseconds")
    return str(value)


def canonical_text(event: dict[str, Any]) -> str:
    """What an event's hash covers, as the text that is hashed (the definition)."""
    return "\x1f".join(_text(event.get(name)) for name in CHAINED)


def event_hash(prev_hash: str, event: dict[str, Any]) -> str:
    return hashlib.sha256(f"{prev_hash}\x1e{canonical_text(event)}".encode()).hexdigest()


def event_message(digest: str) -> bytes:
    """What an event's signature covers: its hash, which chains all before it. Worded apart
    from a batch's (hub.txlog.chain.batch_message), so that the one key's signature of a
    batch never passes for an event's, nor the reverse."""
    return f"hub-registry-event|{digest}".encode()


async def record(session: AsyncSession, actor: Actor | None, changes: list[Change]) -> None:
    """Bump the registry version and append ``changes`` to the trail, in the caller's
    transaction (committed or rolled back with the change).

    The version's UPDATE comes first: on PostgreSQL its row lock, held until the commit,
    makes every other change wait before it reads the trail's last event, so two changes
    at once never chain onto the same one (SQLite: its write lock does the same).
    """
    await repo.bump_version(session)
    if not changes:
        return
    actor = actor or local_actor()
    version = (await session.execute(select(RegistryVersion.version))).scalar_one()
    last = (
        await session.execute(
            select(RegistryEvent.id, RegistryEvent.hash).order_by(RegistryEvent.id.desc()).limit(1)
        )
    ).first()
    prev_id, prev_hash = (last.id, last.hash) if last else (0, GENESIS)
    at = repo.utcnow()
    for change in changes:
        prev_id += 1
        event = {
            "id": prev_id,
            "at": at,
            "actor": actor.who[:200],
            "source": actor.source,
            "action": change.action,
            "target": change.target,
            "version": version,
            "detail": detail_text(change.detail),
        }
        digest = event_hash(prev_hash, event)
        signer = actor.signer
        session.add(
            RegistryEvent(
                **event,
                prev_hash=prev_hash,
                hash=digest,
                key_id=signer.key_id if signer else None,
                signature=signer.sign(event_message(digest)) if signer else None,
            )
        )
        prev_hash = digest
    await session.flush()
