"""`hub audit verify`'s check of the audit trail of registry changes.

What each check catches:

- the chain: an event edited (its hash), deleted or inserted (the next one no longer
  follows, or an id is skipped);
- signatures (the keys that verify the log's batches): an event rewritten with the chain
  recomputed after it (the database administrator's attack: the signed hash is no longer
  the event's), a signature forged or moved from another event, a key the hub never had;
- the registry version: events cut from the end while the version moved on past the last
  one, and a version set back below the last event's (it only grows) or its row deleted;
- anchors (``expect``: id -> hash of events an earlier audit saw): events cut from the end
  with the version set back too, which nothing else shows, and a trail cut back and made
  again past the anchor.

An event without a signature was written by a command run without the hub's key
(`hub registry apply` or `hub keys` where HUB_SIGNING_KEY_FILE was not there), or had its
signature removed: nothing tells which, so it is a finding, unless a kept anchor at or
after it vouches for the chain up to there.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import String, Table, func, literal_column, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncConnection

from hub.models import RegistryEvent, RegistryVersion
from hub.registry.events import GENESIS, event_hash, event_message
from hub.txlog.forms import well_formed
from hub.txlog.signing import key_id, verify

_events: Table = RegistryEvent.__table__  # type: ignore[assignment]
NAMED_UNSIGNED = 10  # unsigned events named one by one; the rest are counted


@dataclass
class TrailReport:
    events: int = 0
    last_id: int = 0
    last_hash: str = GENESIS
    problems: list[str] = field(default_factory=list)
    signatures_checked: int = 0
    signed_by: Counter[str] = field(default_factory=Counter)  # key id -> events it signed
    unknown_keys: set[str] = field(default_factory=set)  # key ids of events not checkable
    anchors_checked: int = 0
    vouched_to: int = 0  # the last event id a kept anchor was found unchanged at
    unsigned: list[tuple[int, str]] = field(default_factory=list)  # id, the event named
    unproven: int = 0  # of ``problems``, those that say only that events are unsigned
    version: int | None = None  # the registry's version when read

    @property
    def anchor(self) -> str:
        """``ID:HASH`` of the last event, for ``hub audit verify --expect-event`` next time."""
        return f"{self.last_id}:{self.last_hash}"

    @property
    def vouched(self) -> int:
        """Unsigned events a kept anchor vouches for (at or before it)."""
        return sum(1 for i, _ in self.unsigned if i <= self.vouched_to)


async def verify_trail(
    conn: AsyncConnection,
    *,
    public_keys: Iterable[Ed25519PublicKey] = (),
    expect: Mapping[int, str] | None = None,
    max_problems: int = 20,
) -> TrailReport:
    """Recompute the chain of events in id order and check their signatures against
    ``public_keys`` (none: not checked); each problem names the event."""
    keys = {key_id(k): k for k in public_keys}
    anchors = dict(expect or {})
    report = TrailReport()
    prev_id, prev_hash = 0, GENESIS
    after = 0
    # SQLite keeps a time written "...T09:00" as text that reads back as the same time (the
    # hash holds) while SQL compares it as stored: it leaves `--since`/`--until` ranges.
    sqlite = conn.dialect.name == "sqlite"
    columns: list[Any] = list(_events.c)
    if sqlite:
        columns.append(literal_column(f"NOT {well_formed(_events.c.at)}").label("at_bad"))
        # As stored, not through SQLAlchemy's processor: a time that is no time failed the
        # whole check ("cannot read the log") instead of naming its event.
        columns[columns.index(_events.c.at)] = type_coerce(_events.c.at, String).label("at")
    await _below_the_trail(conn, report)
    while len(report.problems) < max_problems:
        query = select(*columns).where(_events.c.id > after).order_by(_events.c.id).limit(5000)
        rows = (await conn.execute(query)).mappings().all()
        if not rows:
            break
        for stored in rows:
            report.events += 1
            row = dict(stored)
            where = f"event id={row['id']} ({row['action']} {row['target']})"
            if sqlite and not _read_at(report, row, where):
                _check_links(report, row, where, prev_id, prev_hash)
            else:
                _check_chain(report, row, where, prev_id, prev_hash)
            if row.get("at_bad") and isinstance(row["at"], datetime):
                report.problems.append(
                    f"{where}: its time (at) was changed: it is not stored as the hub writes "
                    "it, so time ranges (--since, --until) no longer find it"
                )
            if keys:
                _check_signature(report, keys, row, where)
            if row["id"] in anchors:
                _check_anchor(report, row, anchors.pop(row["id"]))
            prev_id, prev_hash = row["id"], row["hash"]
            after = row["id"]
        report.last_id, report.last_hash = prev_id, prev_hash
    if len(report.problems) >= max_problems:
        return report
    for kept in sorted(anchors):
        report.problems.append(
            f"event id={kept}, kept as an anchor, is missing: "
            + (
                f"the trail now ends at id={report.last_id} (events were cut from the end, and "
                "the registry version maybe set back with them)"
                if kept > report.last_id
                else "it was deleted"
            )
        )
    _unsigned_problems(report)
    report.version = version = (await conn.execute(select(RegistryVersion.version))).scalar()
    if report.events:
        last = (
            await conn.execute(select(_events.c.version).where(_events.c.id == report.last_id))
        ).scalar()
        _check_version(report, version, last)
    return report


def _check_version(report: TrailReport, version: int | None, last: int | None) -> None:
    """The registry's version against the one the last event's change made: it only grows,
    so one below was set back by hand (hubs holding a newer snapshot then miss changes), and
    a row gone is made again at 1 by the next change."""
    if last is None:
        return
    where = f"the last event (id={report.last_id}) made version {last}"
    if version is None:
        report.problems.append(
            f"the registry's version row is gone, but {where}: it was deleted around the hub"
        )
    elif version > last:
        report.problems.append(
            f"the registry is at version {version}, but {where}: events were cut from the "
            "end, or the registry was changed around the hub"
        )
    elif version < last:
        report.problems.append(
            f"the registry is at version {version}, but {where}: the version was set back "
            "around the hub (it only grows)"
        )


async def _below_the_trail(conn: AsyncConnection, report: TrailReport) -> None:
    """Events below id 1, where the hub begins the trail: the walk starts there, so one put
    below it (id 0, or negative) was never read while `hub audit events` listed it."""
    below = _events.c.id < 1
    found = (
        await conn.execute(
            select(_events.c.id, _events.c.action, _events.c.target)
            .where(below)
            .order_by(_events.c.id)
            .limit(1)
        )
    ).first()
    if found is None:
        return
    n = int((await conn.execute(select(func.count()).where(below))).scalar() or 0)
    report.problems.append(
        f"event id={found.id} ({found.action} {found.target}) lies before id=1, where the hub "
        f"begins the trail: it was inserted ({n} event{'' if n == 1 else 's'} below id=1)"
    )


def _read_at(report: TrailReport, row: dict[str, Any], where: str) -> bool:
    """SQLite: the stored time as a datetime; False (said so) when it is no time at all."""
    try:
        row["at"] = datetime.fromisoformat(row["at"])
    except (TypeError, ValueError):
        report.problems.append(f"{where}: its time was changed: at={row['at']!r:.40} is no time")
        return False
    return True


def _check_chain(report: TrailReport, row: Any, where: str, prev_id: int, prev_hash: str) -> None:
    _check_links(report, row, where, prev_id, prev_hash)
    if event_hash(row["prev_hash"], dict(row)) != row["hash"]:
        report.problems.append(f"{where}: its hash does not match its content: edited")


def _check_links(report: TrailReport, row: Any, where: str, prev_id: int, prev_hash: str) -> None:
    """Whether the event follows the one before it, by id and by hash."""
    if row["id"] != prev_id + 1:
        first, last = prev_id + 1, row["id"] - 1
        gap = f"event id={first} was" if first == last else f"events id={first}..{last} were"
        report.problems.append(
            f"{where}: follows event id={prev_id}; "
            + (f"{gap} deleted" if last >= first else "its id is out of order")
        )
    elif row["prev_hash"] != prev_hash:
        report.problems.append(
            f"{where}: does not follow the event before it (its prev_hash differs): an "
            "event before it was deleted, inserted or rewritten"
        )


def _check_signature(
    report: TrailReport, keys: dict[str, Ed25519PublicKey], row: Any, where: str
) -> None:
    signature, kid = row["signature"], row["key_id"]
    if signature is None:
        report.unsigned.append((row["id"], where))
    elif kid is None:
        # Not an unknown key: no key was named at all, and no public key passed could help.
        report.problems.append(
            f"{where}: signed, but its key_id was erased: its signature cannot be checked"
        )
    elif kid not in keys:
        report.problems.append(f"{where}: signed by an unknown key ({kid})")
        report.unknown_keys.add(kid)
    elif not verify(keys[kid], event_message(row["hash"]), signature):
        report.problems.append(
            f"{where}: its signature does not match its hash: the event was rewritten and the "
            "chain recomputed after it, or its signature was changed"
        )
    else:
        report.signatures_checked += 1
        report.signed_by[kid] += 1


def _check_anchor(report: TrailReport, row: Any, kept: str) -> None:
    report.anchors_checked += 1
    if row["hash"] != kept:
        report.problems.append(
            f"event id={row['id']} is not the event kept as an anchor: its hash is "
            f"{row['hash']}, the anchor's {kept} (the trail was cut back to before it and "
            "made again, or rewritten)"
        )
    else:
        report.vouched_to = max(report.vouched_to, row["id"])


def _unsigned_problems(report: TrailReport) -> None:
    """The unsigned events no kept anchor vouches for, as problems."""
    left = [where for i, where in report.unsigned if i > report.vouched_to]
    if not left:
        return
    named = [f"{where}: not signed" for where in left[:NAMED_UNSIGNED]]
    report.problems.extend(named)
    report.unproven += len(named) + 1
    count = len(left)
    report.problems.append(
        f"{count} {'event' if count == 1 else 'events'} not signed: written where the "
        "hub's signing key was not at hand (`hub registry apply` or `hub keys` without "
        "HUB_SIGNING_KEY_FILE), or their signatures removed; nothing tells which. Once "
        "checked by other means, keep the anchor of an event at or after them "
        "(--expect-event): the events up to it are then vouched for"
    )
