"""The API key life cycle: issue, rotate, revoke, and the rules that refuse a change.

Both the admin API (hub/admin/keys.py) and `hub keys` (hub/cli/keys.py) go through these:
each change bumps the registry version in the same transaction, and is an event of the
audit trail (hub/registry/events.py, never with the key or its hash), so every hub on the
database sees it (a new key at once through ``RegistryCache.catch_up``, a revocation at its
next reload).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.core import security
from hub.core.db import create_engine, session_factory
from hub.models import ApiKey, Subsystem
from hub.registry import repository as repo
from hub.registry.cache import Snapshot, load
from hub.registry.events import Actor, Change, key_target, record
from hub.registry.service import RegistryConflict, meant

log = logging.getLogger(__name__)


class KeyRefused(LookupError):
    """A key that cannot be rotated or revoked, in a sentence. ``gone``: there is no such
    key (or none active, for a rotation), the API's 404; else it has an end already, 409."""

    def __init__(self, message: str, *, gone: bool) -> None:
        super().__init__(message)
        self.gone = gone


def utc(value: datetime | None) -> datetime | None:
    """A stored (naive UTC) time as the hub shows it: with its zone, ``...Z``."""
    return value.replace(tzinfo=UTC) if value is not None else None


def fields(row: ApiKey, secret: str) -> dict[str, Any]:
    """A key as listed: everything but its hash (the key itself is never stored), and
    whether it was hashed under ``secret`` (None: made before the hub kept track)."""
    made_under = row.secret_id
    return {
        "id": row.id,
        "client": row.subsystem_id,
        "prefix": row.prefix,
        "label": row.label,
        "created_at": utc(row.created_at),
        "expires_at": utc(row.expires_at),
        "revoked_at": utc(row.revoked_at),
        "current_secret": None if made_under is None else made_under == security.secret_id(secret),
    }


async def issue_key(
    session: AsyncSession,
    *,
    secret: str,
    client: str,
    label: str = "",
    key: str | None = None,
    expires_at: datetime | None = None,
    actor: Actor | None = None,
) -> tuple[ApiKey, str]:
    """Create a key for ``client``; the plain key is returned once and never stored.

    ``expires_at`` (naive UTC, as stored) ends it; None keeps it until it is revoked.
    """
    row, key = await _new_key(
        session, secret=secret, client=client, label=label, key=key, expires_at=expires_at
    )
    detail = {"client": client, "label": label, "expires_at": expires_at}
    await record(session, actor, [Change("key.issue", key_target(row.id), detail)])
    return row, key


async def _new_key(
    session: AsyncSession,
    *,
    secret: str,
    client: str,
    label: str,
    key: str | None,
    expires_at: datetime | None,
) -> tuple[ApiKey, str]:
    if await session.get(Subsystem, client) is None:
        ids = set((await session.scalars(select(Subsystem.id))).all())
        raise RegistryConflict(
            f"unknown client {client}{meant(client, ids)}: no subsystem has that id; register "
            "it before issuing keys"
        )
    key = key or security.new_api_key()
    prefix = security.key_prefix(key)
    assert prefix is not None
    row = ApiKey(
        subsystem_id=client,
        prefix=prefix,
        key_hash=security.hash_key(secret, key),
        secret_id=security.secret_id(secret),
        label=label,
        created_at=repo.utcnow(),
        expires_at=expires_at,
    )
    session.add(row)
    await session.flush()
    return row, key


async def revoke_key(session: AsyncSession, row: ApiKey, actor: Actor | None = None) -> None:
    if row.revoked_at is not None:
        return  # revoked already: when it was stays as it was
    row.revoked_at = repo.utcnow()
    detail = {"client": row.subsystem_id, "revoked_at": row.revoked_at}
    await record(session, actor, [Change("key.revoke", key_target(row.id), detail)])


async def revoke(
    session: AsyncSession, key_id: int, actor: Actor | None = None
) -> tuple[ApiKey, bool]:
    """Revoke key ``key_id``; the key, and whether it was revoked before (then unchanged)."""
    await repo.hold(session)  # a revocation at the same time waits, then finds it revoked
    row = await repo.get_key(session, key_id)
    if row is None:
        raise KeyRefused(f"there is no key {key_id}", gone=True)
    before = row.revoked_at is not None
    await revoke_key(session, row, actor)
    return row, before


async def rotate_key(
    session: AsyncSession,
    *,
    secret: str,
    row: ApiKey,
    grace_seconds: int,
    actor: Actor | None = None,
) -> tuple[ApiKey, str] | None:
    """A new key for the same client; the old one works for ``grace_seconds`` more.

    None when another change gave ``row`` an end or revoked it since it was read.
    """
    ends = repo.utcnow() + timedelta(seconds=grace_seconds)
    if not await repo.end_key(session, row.id, ends):
        return None
    new, key = await _new_key(
        session,
        secret=secret,
        client=row.subsystem_id,
        label=row.label,
        key=None,
        expires_at=None,
    )
    detail = {"client": row.subsystem_id, "new_key": new.id, "old_key_expires_at": ends}
    await record(session, actor, [Change("key.rotate", key_target(row.id), detail)])
    return new, key


async def rotate(
    session: AsyncSession,
    *,
    secret: str,
    key_id: int,
    grace_seconds: int,
    actor: Actor | None = None,
) -> tuple[ApiKey, str] | None:
    """Rotate key ``key_id`` if the rules allow (``rotatable``): the new key and its row.

    None when another change took it first in a way the rules do not explain (retry).
    """
    await repo.hold(session)
    row = rotatable(await repo.get_key(session, key_id), key_id)
    rotated = await rotate_key(
        session, secret=secret, row=row, grace_seconds=grace_seconds, actor=actor
    )
    if rotated is None:
        # Rotated, revoked or deleted by another change since it was read: say which.
        rotatable(await session.get(ApiKey, key_id, populate_existing=True), key_id)
    return rotated


def rotatable(row: ApiKey | None, key_id: int) -> ApiKey:
    """``row`` if it may be rotated; else the refusal that says why."""
    if row is None:
        raise KeyRefused(f"there is no active key {key_id}", gone=True)
    if row.revoked_at is not None:
        raise KeyRefused(
            f"there is no active key {key_id}: it was revoked at "
            f"{row.revoked_at:%Y-%m-%d %H:%M:%S} UTC; issue a new key",
            gone=True,
        )
    if row.expires_at is not None:
        # Rotating it again would move its end, and an expired key would work once more.
        if row.expires_at <= repo.utcnow():
            raise KeyRefused(
                f"there is no active key {key_id}: it expired at "
                f"{row.expires_at:%Y-%m-%d %H:%M:%S} UTC (it was rotated, or issued with an "
                "end); rotate the key that replaced it, or issue a new key",
                gone=True,
            )
        raise KeyRefused(
            f"key {key_id} already has an end: it works until "
            f"{row.expires_at:%Y-%m-%d %H:%M:%S} UTC (it was rotated, or issued with an "
            "expiry); rotate the key that replaced it, or issue a new key",
            gone=False,
        )
    return row


async def live_demo_keys(session: AsyncSession) -> list[ApiKey]:
    """The demo keys the hub still accepts (`hub demo credentials`, /demo/credentials): one
    revoked, or rotated and past its grace, is left out, as `hub up` does not bring it back."""
    live = ApiKey.expires_at.is_(None) | (ApiKey.expires_at > repo.utcnow())
    rows = await session.scalars(
        select(ApiKey).where(ApiKey.label == "demo", ApiKey.revoked_at.is_(None), live)
    )
    return sorted(rows, key=lambda r: r.subsystem_id)


async def ensure_demo_keys(
    session: AsyncSession, *, secret: str, clients: list[str], actor: Actor | None = None
) -> None:
    """Give each demo client its derived key, unless it already has it (events of
    ``actor``'s, `hub up`'s demo)."""
    for client in clients:
        key = security.demo_api_key(secret, client)
        prefix = security.key_prefix(key)
        assert prefix is not None
        if await repo.get_key_by_prefix(session, prefix) is None:
            await issue_key(
                session, secret=secret, client=client, label="demo", key=key, actor=actor
            )


def warn_foreign(snap: Snapshot, secret: str) -> None:
    """Say at start when live keys were hashed under another HUB_SECRET_KEY than ``secret``:
    the hub refuses every call with them, and their senders see only a 401."""
    said = foreign_said(snap.foreign_keys(secret, repo.utcnow()))
    if said:
        log.warning("%s", said)


def foreign_said(prefixes: list[str]) -> str | None:
    """The start warning for the live keys ``prefixes`` hashed under another secret."""
    if not prefixes:
        return None
    shown = ", ".join(prefixes[:10]) + (", ..." if len(prefixes) > 10 else "")
    return (
        f"{len(prefixes)} API key(s) (prefixes {shown}) were hashed under another "
        "HUB_SECRET_KEY than this hub's: every call with them is refused (401). Run the hub "
        "with the secret they were made with, or issue new keys (`hub keys list` marks them)"
    )


async def foreign_said_at(url: str, secret: str) -> str | None:
    """``warn_foreign``'s sentence for the database at ``url``, for `hub serve --workers N`,
    which says it once rather than each worker (or, as before, none of them)."""
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            snap = await load(session)
    finally:
        await engine.dispose()
    return foreign_said(snap.foreign_keys(secret, repo.utcnow()))
