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
from hub.admin.common import PRECONDITION, IfMatch, guards, precondition
from hub.admin.wire import YAML_TYPES, AdminRoute, RegistryRoute
from hub.core.deps import AdminDep, SessionDep, StateDep
from hub.registry import repository as repo
from hub.registry import service as registry
from hub.registry.schemas import ApplyResult, RegistryDoc

router = APIRouter(prefix="/admin", tags=["admin"], route_class=AdminRoute)


@router.get(
    "/registry",
    summary="Export the whole registry (the YAML of `hub registry export`)",
    description="Its `ETag`, sent back as `If-Match` with `PUT /admin/registry`, applies the "
    "document only to the registry as it was exported.",
    # Its JSON is the document PUT /admin/registry takes (described, not checked again).
    response_model=None,
    responses={
        200: {
            "content": {
                "application/json": {"schema": {"$ref": "#/components/schemas/RegistryDoc"}},
                "application/yaml": {},
            }
        }
    },
)
async def export_registry(
    response: Response,
    _: AdminDep,
    session: SessionDep,
    format: Literal["json", "yaml"] = Query("json"),
) -> Any:
    # Read before the export: a change made in between gives an older tag (a 412 to come,
    # never a document applied over a change it did not see).
    tag = _registry_tag(await repo.version(session))
    doc = await registry.export(session)
    if format == "yaml":
        yaml = registry.dump_yaml(doc)
        return Response(yaml, media_type="application/yaml", headers={"ETag": tag})
    response.headers["ETag"] = tag
    return doc


def _registry_tag(version: int) -> str:
    """The registry's validator: its version, which every change to it moves."""
    return f'"registry-{version}"'


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
    response: Response,
    _: AdminDep,
    session: SessionDep,
    state: StateDep,
    prune: bool = False,
    prune_all: bool = False,
    dry_run: bool = False,
    if_match: IfMatch = None,
) -> ApplyResult:
    # From YAML, the document as parsed there: it knows the line of each entry.
    doc = request.scope.get("hub.registry_doc", doc)
    if guards(if_match):
        # Compared once this change holds the registry's lock: none can come in between.
        await repo.hold(session)
        precondition(if_match, _registry_tag(await repo.version(session)), "the registry")
    result = await apply_doc(session, state, doc, prune=prune, prune_all=prune_all, dry_run=dry_run)
    response.headers["ETag"] = _registry_tag(await repo.version(session))
    return result


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
    "`Content-Type: application/yaml`. With `If-Match` (the `ETag` of the export), it "
    "applies only to the registry as it was exported, else 412.",
    route_class_override=RegistryRoute,
    openapi_extra=REGISTRY_BODY,
    responses=PRECONDITION,
)


router.include_router(entries.router)
router.include_router(grants.router)
router.include_router(keys.router)
router.include_router(events.router)
