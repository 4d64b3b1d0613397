"""Admin API under ``/admin``: the registry as a whole (export, apply) and the admin token.

The entries one by one are in ``entries.py``, grants in ``grants.py``, keys in ``keys.py``,
the audit trail of changes in ``events.py``; included here in that order, the order their
routes are matched in.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response

from hub.admin import entries, events, grants, keys
from hub.admin.apply import apply_doc
from hub.admin.wire import YAML_TYPES, AdminRoute, RegistryRoute
from hub.core.deps import AdminDep, SessionDep, StateDep
from hub.registry import service as registry
from hub.registry.schemas import ApplyResult, RegistryDoc

router = APIRouter(prefix="/admin", tags=["admin"], route_class=AdminRoute)


@router.get("/registry", summary="Export the whole registry (the YAML of `hub registry export`)")
async def export_registry(
    _: AdminDep, session: SessionDep, format: Literal["json", "yaml"] = Query("json")
) -> Any:
    doc = await registry.export(session)
    if format == "yaml":
        return Response(registry.dump_yaml(doc), media_type="application/yaml")
    return doc


REGISTRY_BODY = {
    "requestBody": {
        "content": {
            **{
                t: {"schema": {"$ref": "#/components/schemas/RegistryDoc"}}
                for t in sorted(YAML_TYPES)
            },
        }
    }
}


async def apply_registry(
    doc: RegistryDoc,
    request: Request,
    _: AdminDep,
    session: SessionDep,
    state: StateDep,
    prune: bool = False,
    prune_all: bool = False,
    dry_run: bool = False,
) -> ApplyResult:
    # From YAML, the document as parsed there: it knows the line of each entry.
    doc = request.scope.get("hub.registry_doc", doc)
    return await apply_doc(session, state, doc, prune=prune, prune_all=prune_all, dry_run=dry_run)


router.add_api_route(
    "/registry",
    apply_registry,
    methods=["PUT"],
    summary="Apply a registry document, JSON or YAML (an upsert; idempotent)",
    description="Entries the registry holds change only in the fields given. `prune` also "
    "deletes what the document leaves out of the subsystems it declares (their services; "
    "grants between a client and a service it declares both of); `prune_all` deletes "
    "everything it leaves out. `dry_run` answers what would change and changes nothing. "
    "YAML (what `GET /admin/registry?format=yaml` gives) goes with "
    "`Content-Type: application/yaml`.",
    route_class_override=RegistryRoute,
    openapi_extra=REGISTRY_BODY,
)


router.include_router(entries.router)
router.include_router(grants.router)
router.include_router(keys.router)
router.include_router(events.router)
