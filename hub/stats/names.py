"""The names of the clients, services and providers the statistics list, for people.

The figures are kept by id (VN/GOV/BCA/population); an operator asks who shared with whom
and reads agencies ("Bộ Công an · Cơ sở dữ liệu quốc gia về dân cư"). The names come from
the registry as it is now: an id deleted since, or "" (not identified), has none.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from hub.registry.cache import Snapshot, load

SEPARATOR = " · "
# A service's description may be a paragraph: its first line, cut to this, names it.
MAX_DESCRIPTION = 120


class Directory:
    """Display names of the ids of one registry snapshot (never changed once loaded)."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def name(self, ident: str) -> str | None:
        """A subsystem's "member · subsystem", a service's "member · description", a member's
        own name; either part alone when the other is blank, None when both are."""
        snap = self.snapshot
        service = snap.services.get(ident)
        if service is not None:
            what = service.description.strip().split("\n", 1)[0].strip()
            if len(what) > MAX_DESCRIPTION:
                what = what[: MAX_DESCRIPTION - 1].rstrip() + "…"
            if not what:
                return self.name(service.provider)
            return _join(snap.members.get(_member(service.provider), ""), what)
        subsystem = snap.subsystems.get(ident)
        if subsystem is not None:
            return _join(snap.members.get(_member(ident), ""), subsystem[0])
        return snap.members.get(ident) or None

    def pick(self, ids: Iterable[str]) -> dict[str, str]:
        """id -> name for those of ``ids`` that have one, in their order."""
        found = {}
        for ident in dict.fromkeys(ids):
            if ident and (shown := self.name(ident)):
                found[ident] = shown
        return found


def _member(subsystem: str) -> str:
    return subsystem.rpartition("/")[0]


def _join(*parts: str) -> str | None:
    return SEPARATOR.join(p.strip() for p in parts if p.strip()) or None


async def read(conn: AsyncConnection | AsyncSession) -> Directory:
    """The registry as it is in the database (the CLI, which holds no snapshot)."""
    if isinstance(conn, AsyncSession):
        return Directory(await load(conn))
    async with AsyncSession(bind=conn) as session:
        return Directory(await load(session))


async def names(
    conn: AsyncConnection | AsyncSession, directory: Directory | None, ids: Iterable[str]
) -> dict[str, str]:
    """The names of ``ids``, from ``directory`` or else read from the database."""
    ids = [i for i in ids if i]
    if not ids:
        return {}
    if directory is None:
        directory = await read(conn)
    return directory.pick(ids)
