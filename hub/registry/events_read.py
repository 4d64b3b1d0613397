"""Reading the audit trail of registry changes: pages of events (GET /admin/events,
`hub audit events`); `hub audit verify`'s check of it is hub/registry/events_verify.py."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from hub.core.hints import did_you_mean
from hub.core.ids import IdError, parse_member, parse_service, parse_subsystem
from hub.core.limits import PAGE_MAX, ROW_ID_MAX
from hub.models import ApiKey, Grant, Member, RegistryEvent, Service, Subsystem
from hub.registry.service import meant
from hub.stats import timeutil as tu
from hub.stats.timeutil import InputError

_events: Table = RegistryEvent.__table__  # type: ignore[assignment]
MAX_LIMIT = PAGE_MAX
MAX_ID = ROW_ID_MAX
ENTRIES = ("member", "subsystem", "service", "grant")
# Every action the hub records (hub/registry/events.py's callers), and the kinds they make.
ACTIONS = frozenset(
    [f"{entry}.{verb}" for entry in ENTRIES for verb in ("create", "update", "delete")]
    + ["key.issue", "key.rotate", "key.revoke", "registry.apply"]
)
KINDS = frozenset(action.partition(".")[0] for action in ACTIONS)
COLUMNS = ("id", "at", "actor", "source", "action", "target", "version", "detail")


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _check(name: str, value: str | None, cli_name: str | None = None) -> None:
    if value is not None and (not value.strip() or "\x00" in value or len(value) > 800):
        flag = cli_name or tu.option(name)
        problem = "must be a non-empty text of at most 800 characters"
        raise InputError(f"{name} {problem}", f"{flag} {problem}")


TARGETS = (
    "a member's, subsystem's or service's id (VN/GOV/BCA, VN/GOV/BCA/population, "
    "VN/GOV/BCA/population/citizen-lookup), a grant as CLIENT -> SERVICE, a key as key:ID "
    "(its id in GET /admin/keys, `hub keys list`) or registry (the documents applied)"
)


def _target(target: str) -> str:
    """``target`` as the events write it (a grant's arrow spaced as theirs); a target no
    event could have (a mistyped id) is refused, as it would match nothing and read as "no
    such change was made"."""
    if target == "registry":
        return target
    try:
        if target.startswith("key:"):
            number = target[4:]
            if not (number.isascii() and number.isdigit() and 1 <= int(number) <= MAX_ID):
                raise IdError(f"{target[:60]!r} names no key: its ID is a number")
            return f"key:{int(number)}"
        if "->" in target:
            client, _, service = (part.strip() for part in target.partition("->"))
            parse_subsystem(client, "client")
            parse_service(service)
            return f"{client} -> {service}"
        parts = target.count("/") + 1
        if parts == 3:
            parse_member(target)
        elif parts in (4, 5):
            (parse_subsystem if parts == 4 else parse_service)(target)
        else:
            raise IdError(f"{target[:60]!r} is no entry's id")
    except IdError as exc:
        problem = f"{exc}; a target is {TARGETS}"
        raise InputError(f"target: {problem}", f"--target: {problem}") from None
    return target


def _under(under: str) -> str:
    """``under`` checked as a member's, subsystem's or service's id: what is below it is
    found by its id's parts, which neither a grant, a key nor ``registry`` has."""
    if under == "registry" or under.startswith("key:") or "->" in under:
        problem = (
            f"{under[:60]!r} is not a member's, subsystem's or service's id (VN/GOV/BCA, "
            "VN/GOV/BCA/population...); for a grant's or a key's events give target"
        )
        raise InputError(f"under: {problem}", f"--under: {problem}".replace("target", "--target"))
    try:
        return _target(under)
    except InputError as exc:
        raise InputError(
            str(exc).replace("target:", "under:", 1), exc.cli.replace("--target:", "--under:", 1)
        ) from None


async def page(
    session: AsyncSession,
    *,
    since: str | None = None,
    until: str | None = None,
    action: str | None = None,
    target: str | None = None,
    under: str | None = None,
    limit: int = 100,
    cursor: int | None = None,
    now: datetime | None = None,
    cli: bool = False,
) -> dict[str, Any]:
    """The events newest first, filtered; ``next_cursor`` (an event id) gives the page
    after. ``action``: one (``grant.create``) or a kind (``grant``); ``target``: an entry's
    id, which also finds the grants it is the client or service of; ``under``: an entry's
    id, which finds its events and those of every entry below it (a member's subsystems and
    services) and the grants any of them is part of. ``notes``: on an empty page, a sentence
    for a ``target`` or ``under`` that names nothing (``unheard_of``), in the API's words
    (target=X) or with ``cli`` the command line's (--target X)."""
    if not 1 <= limit <= MAX_LIMIT:
        raise tu.bad("limit", f"must be between 1 and {MAX_LIMIT}; got {limit}")
    if cursor is not None and not 1 <= cursor <= MAX_ID:
        raise InputError(
            "cursor is not one this API gave out; pass next_cursor from the last page",
            "--cursor is not one this hub gave out; give the one the last page printed",
        )
    if action is not None and action not in ACTIONS and action not in KINDS:
        # A misspelt one would match nothing and read as "no such change was made".
        hint = did_you_mean(action, ACTIONS | KINDS)
        problem = (
            f"{action[:60]!r} is not an action{hint}: give one such as grant.create or a "
            "kind such as grant (member, subsystem, service, grant, key, registry)"
        )
        raise InputError(f"action={problem}", f"--action {problem}")
    _check("target", target)
    if target is not None:
        target = _target(target)
    _check("under", under)
    if under is not None:
        under = _under(under)
    now = now or tu.utcnow()
    # An empty since= is no time (a 400 that says what one is), not "from the start".
    utc = tu.zone("UTC")
    start = None if since is None else tu.parse_instant(since, utc, name="since", now=now)
    end = None if until is None else tu.parse_instant(until, utc, name="until", now=now)
    if start is not None and end is not None and start >= end:
        raise tu.not_before(since, until)
    query = select(_events).order_by(_events.c.id.desc()).limit(limit + 1)
    if cursor is not None:
        query = query.where(_events.c.id < cursor)
    if start is not None:
        query = query.where(_events.c.at >= start)
    if end is not None:
        query = query.where(_events.c.at < end)
    if action is not None:
        column = _events.c.action
        query = query.where(column == action if "." in action else column.like(f"{action}.%"))
    if target is not None:
        query = query.where(_of_target(target))
    if under is not None:
        query = query.where(_below(under))
    rows = (await session.execute(query)).mappings().all()
    more = len(rows) > limit
    items = [shown(r) for r in rows[:limit]]
    notes = []
    if not items:
        # A misspelt target or under answered an empty page alone, as for an entry never
        # changed; a page with events shows the filter names something, and asks nothing.
        for value, below in ((target, False), (under, True)):
            if value is not None:
                note = await unheard_of(session, value, under=below, cli=cli)
                notes += [note] if note else []
    return {"items": items, "next_cursor": items[-1]["id"] if more else None, "notes": notes}


def _below(under: str) -> ColumnElement[bool]:
    """The events of ``under``, of every entry below it and of the grants any of them is
    part of."""
    u = _like(under)
    # Below it: its id, then "/" (a grant's target starts with its client's id).
    return or_(
        *(
            _events.c.target.like(pattern, escape="\\")
            for pattern in (u, f"{u}/%", f"{u} -> %", f"% -> {u}", f"% -> {u}/%")
        )
    )


def _of_target(target: str) -> ColumnElement[bool]:
    """The events of ``target`` and those of the grants it is the client or service of."""
    t = _like(target)
    return or_(
        _events.c.target == target,
        _events.c.target.like(f"{t} -> %", escape="\\"),
        _events.c.target.like(f"% -> {t}", escape="\\"),
    )


# What a target names, by its form: a member's id has 3 parts, a subsystem's 4, a service's 5.
_ENTRIES: dict[int, tuple[type[Member | Subsystem | Service], str]] = {
    3: (Member, "member"),
    4: (Subsystem, "subsystem"),
    5: (Service, "service"),
}


def _kind(target: str) -> str | None:
    """``target``'s kind as the events write it (member... grant, key); None: ``registry``."""
    if target.startswith("key:"):
        return "key"
    if "->" in target:
        return "grant"
    entry = _ENTRIES.get(target.count("/") + 1)
    return entry[1] if entry else None


async def unheard_of(
    session: AsyncSession, target: str, *, under: bool = False, cli: bool = False
) -> str | None:
    """A sentence for a ``target`` that is neither registered (or an issued key) nor in the
    audit trail, naming the one likely meant; None for one either holds. With ``under``,
    for that filter: an entry is in the trail when its events, or those of an entry below
    it, are. In the API's words (target=X), or with ``cli`` the command line's (--target X).

    Such a target (a typo, most often) has no events, which reads as "no change was made
    to it"; one that is held may rightly have none under the other filters. Only a page
    with no events asks, and the ids are read whole only for a target found in neither."""
    name = "under" if under else "target"
    target = _under(target) if under else _target(target)
    given = f"--{name} {target}" if cli else f"{name}={target}"
    kind = _kind(target)
    if kind is None:
        return None
    trailed = _below(target) if under else _of_target(target)
    found = await session.execute(select(_events.c.id).where(trailed).limit(1))
    if found.first() is not None:
        return None
    if kind == "key":
        if await session.get(ApiKey, int(target[4:])) is not None:
            return None
        # A key's number is not misspelt as an id is: the one next to it is no better guess.
        return f"no key {target} is issued or in the audit trail: nothing matches {given}"
    if kind == "grant":
        client, _, service = target.partition(" -> ")
        if await session.get(Grant, (client, service)) is not None:
            return None
        held = select(Grant.client_id + " -> " + Grant.service_id)
    else:
        model = _ENTRIES[target.count("/") + 1][0]
        if await session.get(model, target) is not None:
            return None
        held = select(model.id)
    trail = select(_events.c.target).distinct()
    known = set((await session.scalars(held)).all()) | {
        t for t in (await session.scalars(trail)).all() if _kind(t) == kind
    }
    return (
        f"no {kind} {target} is registered or in the audit trail{meant(target, known)}: "
        f"nothing matches {given}"
    )


def shown(row: Any) -> dict[str, Any]:
    out = {name: row[name] for name in COLUMNS}
    out["at"] = tu.iso_utc(row["at"])
    out["detail"] = json.loads(row["detail"])
    out["hash"] = row["hash"]
    out["key_id"] = row["key_id"]  # the hub's key that signed it; None: unsigned
    return out
