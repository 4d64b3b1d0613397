"""The registry as a document (`hub registry export`, GET /admin/registry), which ``apply``
takes back unchanged; the fields of each entry it writes."""

from __future__ import annotations

from typing import Any

import yaml
from sqlalchemy.ext.asyncio import AsyncSession

from hub.registry import repository as repo

SERVICE_FIELDS = (
    "description",
    "base_url",
    "service_type",
    "endpoints",
    "personal_data",
    "timeout_ms",
    "max_body_bytes",
    "request_schema",
    "enabled",
    "keep_bodies",
)

# Subsystem fields written by apply and exported only when set (quotas, mTLS certificate).
SUBSYSTEM_OPTIONAL = ("quota_rps", "quota_per_day", "cert_sha256")


async def export(session: AsyncSession) -> dict[str, Any]:
    """The registry as a document that ``apply`` takes back unchanged."""
    doc: dict[str, Any] = {"members": [], "subsystems": [], "services": [], "grants": []}
    for m in await repo.members(session):
        doc["members"].append({"id": m.id, "name": m.name, **_off(m)})
    for s in await repo.subsystems(session):
        item: dict[str, Any] = {"id": s.id}
        if s.name:  # optional: unsaid, so that another registry keeps the name it has
            item["name"] = s.name
        if s.base_url:
            item["base_url"] = s.base_url
        item.update(_off(s))
        for field in SUBSYSTEM_OPTIONAL:
            if getattr(s, field) is not None:
                item[field] = getattr(s, field)
        doc["subsystems"].append(item)
    for svc in await repo.services(session):
        item = {"id": svc.id}
        for field in SERVICE_FIELDS:
            # As for the other entries: `enabled: true` and unset optional fields (a base
            # URL of its own, a schema) left unsaid, so that applied to another registry
            # they keep its values; written out, they re-enabled a service disabled there.
            if field != "enabled" and getattr(svc, field) is not None:
                item[field] = getattr(svc, field)
        item.update(_off(svc))
        doc["services"].append(item)
    for g in await repo.grants(session):
        doc["grants"].append({"client": g.client_id, "service": g.service_id, **_off(g)})
    return doc


def _off(row: Any) -> dict[str, bool]:
    """``enabled: false`` for a disabled entry; an enabled one leaves the default unsaid."""
    return {} if row.enabled else {"enabled": False}


def dump_yaml(doc: dict[str, Any]) -> str:
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
