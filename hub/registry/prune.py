"""What ``apply`` deletes with ``--prune`` (within the files' scope) or ``--prune-all``, and
what it warns about: two services of one provider on one route (a rename's leftover)."""

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
        warnings.append(
            f"{' and '.join(ids)} both declare {method} {holders[ids[0]]}: if one of them was "
            "renamed, delete the old one (`hub registry apply --prune` with the provider's "
            "file, or DELETE /admin/services/ID)"
        )
    return warnings
