"""What ``apply`` deletes with ``--prune`` (within the files' scope) or ``--prune-all``, what
``--prune`` leaves that its user may have expected gone, and what it warns about: two
services of one provider on one route (a rename's leftover)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from hub.models import Grant, Service
from hub.registry import repository as repo
from hub.registry.events import Change, grant_target
from hub.registry.schemas import RegistryDoc


def pruned_services(doc: RegistryDoc, services: dict[str, Any]) -> set[str]:
    """The stored services a scoped prune deletes: those of the subsystems ``doc`` declares
    that it does not list."""
    declared = {s.id for s in doc.subsystems}
    listed = {s.id for s in doc.services}
    return {key for key, row in services.items() if row.subsystem_id in declared} - listed


async def prune_entries(
    session: AsyncSession,
    doc: RegistryDoc,
    existing: dict[str, dict[str, Any]],
    current_grants: dict[tuple[str, str], Grant],
    *,
    everything: bool,
    into: list[str],
    trail: list[Change],
) -> None:
    """Delete what ``doc`` leaves out (in its scope, unless ``everything``); each deletion
    is named in ``into`` and is an event in ``trail``, the grants that go with a deleted
    service or subsystem too."""
    listed = {
        "members": {m.id for m in doc.members},
        "subsystems": {s.id for s in doc.subsystems},
        "services": {s.id for s in doc.services},
    }
    if everything:
        gone = {section: set(rows) - listed[section] for section, rows in existing.items()}
    else:
        gone = {
            "members": set(),
            "subsystems": set(),
            "services": pruned_services(doc, existing["services"]),
        }
    # Below a deleted subsystem or member, everything goes (the database cascades); named
    # here so that the list says all that is lost.
    for key in gone["members"]:
        gone["subsystems"] |= {k for k, r in existing["subsystems"].items() if r.member_id == key}
    for key in gone["subsystems"]:
        gone["services"] |= {k for k, r in existing["services"].items() if r.subsystem_id == key}
    wanted = {(g.client, g.service) for g in doc.grants}
    for client, service in sorted(current_grants):
        if (client, service) in wanted:
            continue  # the references are checked: neither end of it is deleted
        hangs = client in gone["subsystems"] or service in gone["services"]
        in_scope = everything or (client in listed["subsystems"] and service in listed["services"])
        if hangs or in_scope:
            await repo.delete_grant(session, client, service)
            into.append(f"delete grant {client} -> {service}")
            trail.append(Change("grant.delete", grant_target(client, service)))
    for section in ("services", "subsystems", "members"):
        for key in sorted(gone[section]):
            row = existing[section][key]
            keys = await repo.api_keys(session, key) if section == "subsystems" else []
            await session.delete(row)
            also = f" (and its {len(keys)} API key{'s' * (len(keys) != 1)})" if keys else ""
            into.append(f"delete {section[:-1]} {key}{also}")
            detail = {"api_keys": [k.id for k in keys]} if keys else {}
            trail.append(Change(f"{section[:-1]}.delete", key, detail))
        await session.flush()


# Grants named in a note, at most: a provider granted to many clients would drown the output.
_NOTED = 5


def _listed(names: Sequence[str]) -> str:
    """The first few of ``names``, then how many more there are."""
    more = f" (and {len(names) - _NOTED} more)" if len(names) > _NOTED else ""
    return "; ".join(names[:_NOTED]) + more


def left_grants(doc: RegistryDoc, grants: Sequence[tuple[str, str]]) -> list[str]:
    """A note (none or one) on the grants ``--prune`` leaves though one end of each is the
    document's: a grant is the document's to delete only when it declares both its client
    and its service, so a grant line deleted from a provider's file, to a client the file
    does not declare, stays (so does one from a client it declares to another provider's
    service). ``grants`` is what the registry holds after the prune."""
    subsystems = {s.id for s in doc.subsystems}
    services = {s.id for s in doc.services}
    wanted = {(g.client, g.service) for g in doc.grants}
    left = sorted(
        (client, service)
        for client, service in grants
        if (client in subsystems) != (service in services) and (client, service) not in wanted
    )
    if not left:
        return []
    named = _listed([f"{c} -> {s}" for c, s in left])
    client, service = left[0]
    return [
        f"--prune leaves {len(left)} grant{'s' * (len(left) != 1)} between an entry the files "
        f"declare and one they do not: {named}. --prune deletes only grants whose "
        "client and service the files both declare; remove one with DELETE "
        f"/admin/grants?client={client}&service={service} (or --prune-all with a file of "
        "the whole registry)"
    ]


def left_out(
    doc: RegistryDoc, services: dict[str, Any], grants: Sequence[tuple[str, str]]
) -> list[str]:
    """A note (none or one), for an apply without --prune, on what --prune would delete:
    the services of subsystems ``doc`` declares that it does not list, and the grants
    between a client and a service it declares that it does not list. An operator who
    deleted a grant line and applied the file read "unchanged" and took the grant for
    gone; it was still in force. ``services`` and ``grants`` are the registry's before."""
    gone = sorted(pruned_services(doc, services))
    clients = {s.id for s in doc.subsystems}
    listed = {s.id for s in doc.services}
    wanted = {(g.client, g.service) for g in doc.grants}
    hanging: dict[str, int] = {}
    left = []
    for client, service in sorted(grants):
        if (client, service) in wanted:
            continue
        if service in gone:
            hanging[service] = hanging.get(service, 0) + 1
        elif client in clients and service in listed:
            left.append(f"{client} -> {service}")
    named = [
        f"{sid} (with {hanging[sid]} grant{'s' * (hanging[sid] != 1)})" if sid in hanging else sid
        for sid in gone
    ] + left
    if not named:
        return []
    counts = [
        f"{n} {word}{'s' * (n != 1)}"
        for n, word in ((len(gone), "service"), (len(left), "grant"))
        if n
    ]
    one = len(named) == 1
    return [
        f"the files leave out {' and '.join(counts)} that the registry holds within what they "
        f"declare, and {'it stays' if one else 'they stay'} in force: "
        f"{_listed(named)}. apply changes only what the files give; --prune "
        f"(prune=true) deletes {'it' if one else 'them'}"
    ]


def _route(path: str) -> str:
    """An endpoint path as the gateway matches it: the names of ``{...}`` segments do not
    count (``/records/{id}`` and ``/records/{rid}`` are one route)."""
    return "/".join("{}" if p.startswith("{") else p for p in path.rstrip("/").split("/"))


def same_endpoints(services: Sequence[Service], touched: set[str]) -> list[str]:
    """Warnings for two services of one provider declaring one method and path, where one
    of them is in ``touched`` (what was just applied): most often a service renamed in a
    file, whose old entry is still registered and granted."""
    claims: dict[tuple[str, str, str], dict[str, str]] = {}  # -> service id: its path
    for svc in services:
        for e in svc.endpoints or []:
            key = (svc.subsystem_id, e["method"], _route(e["path"]))
            claims.setdefault(key, {})[svc.id] = e["path"]
    warnings = []
    for (_, method, _), holders in claims.items():
        if len(holders) < 2 or not touched & holders.keys():
            continue
        ids = sorted(holders)
        named = f"{', '.join(ids[:-1])} and {ids[-1]} {'both' if len(ids) == 2 else 'all'}"
        warnings.append(
            f"{named} declare {method} {holders[ids[0]]}: if one of them was "
            "renamed, delete the old one (`hub registry apply --prune` with the provider's "
            "file, or DELETE /admin/services/ID)"
        )
    return warnings
