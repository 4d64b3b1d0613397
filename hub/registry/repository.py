"""All SQL of the registry."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, ColumnElement, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from hub.models import (
    ApiKey,
    Grant,
    LogBatch,
    Member,
    RegistryEvent,
    RegistryVersion,
    Service,
    Subsystem,
)


def _utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


# The naive UTC time the log and the registry store. Every exchange reads it once:
# datetime.replace costs 1.6 of _utcnow's 2.1 us, and datetime.utcnow gives the same value
# in 0.4 (timeit). utcnow is deprecated from Python 3.12, so there the slower one serves.
utcnow: Callable[[], datetime] = datetime.utcnow if sys.version_info < (3, 12) else _utcnow


async def members(session: AsyncSession) -> Sequence[Member]:
    return (await session.scalars(select(Member).order_by(Member.id))).all()


async def subsystems(session: AsyncSession, *, member: str | None = None) -> Sequence[Subsystem]:
    query = select(Subsystem).order_by(Subsystem.id)
    if member is not None:
        query = query.where(Subsystem.member_id == member)
    return (await session.scalars(query)).all()


async def services(session: AsyncSession, *, subsystem: str | None = None) -> Sequence[Service]:
    query = select(Service).order_by(Service.id)
    if subsystem is not None:
        query = query.where(Service.subsystem_id == subsystem)
    return (await session.scalars(query)).all()


async def subsystem_with_cert(session: AsyncSession, cert: str, *, besides: str) -> str | None:
    """The subsystem other than ``besides`` registered with client certificate ``cert``."""
    query = select(Subsystem.id).where(Subsystem.cert_sha256 == cert, Subsystem.id != besides)
    return await session.scalar(query.limit(1))


async def grants(
    session: AsyncSession, *, client: str | None = None, service: str | None = None
) -> Sequence[Grant]:
    query = select(Grant).order_by(Grant.client_id, Grant.service_id)
    if client is not None:
        query = query.where(Grant.client_id == client)
    if service is not None:
        query = query.where(Grant.service_id == service)
    return (await session.scalars(query)).all()


async def api_keys(session: AsyncSession, client: str | None = None) -> Sequence[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.id)
    if client is not None:
        query = query.where(ApiKey.subsystem_id == client)
    return (await session.scalars(query)).all()


async def get_key(session: AsyncSession, key_id: int) -> ApiKey | None:
    return await session.get(ApiKey, key_id)


async def end_key(session: AsyncSession, key_id: int, at: datetime) -> bool:
    """Give an active key its end; False when it has one already or is revoked.

    One conditional UPDATE, so that of two operators rotating a key at once one does: each
    read it without an end, and both rotated it (two new keys, its end moved twice).
    """
    result = await session.execute(
        update(ApiKey)
        .where(ApiKey.id == key_id, ApiKey.expires_at.is_(None), ApiKey.revoked_at.is_(None))
        .values(expires_at=at)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def get_key_by_prefix(session: AsyncSession, prefix: str) -> ApiKey | None:
    return await session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))


def as_read(
    row: Member | Subsystem | Service, fields: tuple[str, ...]
) -> list[ColumnElement[bool]]:
    """The conditions an UPDATE or DELETE of ``row`` needs to touch it only as it was read:
    when it was last written (every change writes updated_at) and what it held.

    JSON columns are left to updated_at: PostgreSQL's json has no equality.
    """
    model: Any = type(row)
    same = [model.id == row.id, model.updated_at == row.updated_at]
    for field in fields:
        if not isinstance(model.__table__.c[field].type, JSON):
            same.append(getattr(model, field) == getattr(row, field))
    return same


async def claim(
    session: AsyncSession, row: Member | Subsystem | Service, fields: tuple[str, ...], at: datetime
) -> bool:
    """Mark ``row`` written ``at`` if the database holds it as it was read; False when
    another change wrote or deleted it since.

    One conditional UPDATE, as end_key: it holds the row (PostgreSQL's row lock, SQLite's
    write lock) until the commit, so that nothing changes it between this check and the
    change written after it.
    """
    result = await session.execute(
        update(type(row))
        .where(*as_read(row, fields))
        .values(updated_at=at)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def delete_entry(
    session: AsyncSession, row: Member | Subsystem | Service, fields: tuple[str, ...] | None
) -> bool:
    """Delete ``row`` (with ``fields``: only as it was read); False when it is not there."""
    model: Any = type(row)
    same = as_read(row, fields) if fields is not None else [model.id == row.id]
    result = await session.execute(delete(model).where(*same))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def switch_grant(session: AsyncSession, grant: Grant, enabled: bool) -> bool:
    """Turn ``grant`` on or off if it is still as it was read; False when another change
    switched or deleted it since (one conditional UPDATE, as claim)."""
    result = await session.execute(
        update(Grant)
        .where(
            Grant.client_id == grant.client_id,
            Grant.service_id == grant.service_id,
            Grant.enabled == grant.enabled,
        )
        .values(enabled=enabled)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def delete_grant(
    session: AsyncSession, client: str, service: str, *, enabled: bool | None = None
) -> int:
    """Delete a grant; with ``enabled``, only if it is still switched so."""
    query = delete(Grant).where(Grant.client_id == client, Grant.service_id == service)
    if enabled is not None:
        query = query.where(Grant.enabled == enabled)
    result = await session.execute(query)
    return result.rowcount or 0  # type: ignore[attr-defined]


async def version(session: AsyncSession) -> int:
    row = await session.get(RegistryVersion, 1)
    return row.version if row else 0


async def hold(session: AsyncSession) -> None:
    """Take the registry's write lock before a change reads what it changes.

    Held until the commit: two changes at once (two requests, two workers, a worker and
    `hub keys`) then read one after the other, so the second sees what the first wrote.
    Without it both read the entry as it was, and a key revoked twice at once was two
    events, an update's ``from`` the value before the other update. Call it first in the
    transaction: rows read before it stay as they were read.

    PostgreSQL: the row lock of the registry version, which the change's own bump
    (``bump_version``) takes anyway. SQLite: an update of that row to itself, which begins
    the write transaction (the driver begins one only at the first write, so the reads
    before it saw whatever was committed at each moment): other writers, the log writer
    among them, wait the change's few milliseconds of reads as they wait its writes.
    """
    stmt: Any
    if session.get_bind().dialect.name == "postgresql":
        stmt = select(RegistryVersion.version).where(RegistryVersion.id == 1).with_for_update()
    else:
        stmt = (
            update(RegistryVersion)
            .where(RegistryVersion.id == 1)
            .values(version=RegistryVersion.version)
        )
    await session.execute(stmt)


async def bump_version(session: AsyncSession) -> None:
    """Tell every worker the registry changed; committed with the change itself."""
    row = await session.get(RegistryVersion, 1)
    if row is None:
        session.add(RegistryVersion(id=1, version=1))
    else:
        await session.execute(
            update(RegistryVersion)
            .where(RegistryVersion.id == 1)
            .values(version=RegistryVersion.version + 1)
        )


async def signed_already(session: AsyncSession) -> bool:
    """Whether an event of the registry's trail or a batch of the log is signed: the
    database's hub has a signing key of its own."""
    for column in (RegistryEvent.key_id, LogBatch.key_id):
        if (await session.execute(select(column).where(column.is_not(None)).limit(1))).first():
            return True
    return False
