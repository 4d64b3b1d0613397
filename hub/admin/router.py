"""Admin API under ``/admin``: the registry (keys in ``hub/admin/keys.py``), admin token."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Query, Request, Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.admin import keys
from hub.admin.common import PRECONDITION, RACED, IfMatch, commit, etag, precondition, stale
from hub.admin.wire import GONE, YAML_TYPES, AdminRoute, RegistryRoute
from hub.core.deps import AdminDep, SessionDep, StateDep
from hub.models import Grant, Member, Service, Subsystem
from hub.registry import repository as repo
from hub.registry import service as registry
from hub.registry.schemas import (
    ApplyResult,
    GrantIn,
    GrantKey,
    GrantPatch,
    MemberCreate,
    MemberIdStr,
    MemberPatch,
    RegistryDoc,
    ServiceIdStr,
    ServiceIn,
    ServicePatch,
    SubsystemIdStr,
    SubsystemIn,
    SubsystemPatch,
)
from hub.registry.yamlio import RegistryFileError

router = APIRouter(prefix="/admin", tags=["admin"], route_class=AdminRoute)


async def _apply(
    session: AsyncSession,
    state: Any,
    doc: RegistryDoc,
    *,
    prune: bool = False,
    prune_all: bool = False,
    dry_run: bool = False,
    exists: str | None = None,
) -> ApplyResult:
    """Apply ``doc``; with ``exists`` (a POST's refusal of an entry that is there), the one
    entry of ``doc`` must be new."""
    try:
        result = await registry.apply(session, doc, prune=prune, prune_all=prune_all)
    except RegistryFileError as exc:
        raise HTTPException(400 if exc.bad_identifier else 422, str(exc)) from None
    except registry.RegistryConflict as exc:
        raise HTTPException(422, str(exc)) from None
    except IntegrityError:
        await session.rollback()
        certs = [(s.id, s.cert_sha256) for s in doc.subsystems]
        raise HTTPException(409, await _refusal(session, certs)) from None
    if exists is not None and not result.created:
        # Another POST made it after this one looked: apply() found it and upserted it.
        await session.rollback()
        raise HTTPException(409, exists)
    if dry_run:
        await session.rollback()
        result.dry_run = True
    else:
        await commit(session, state)
    return result


@router.get("/registry", summary="Export the whole registry (the YAML of `hub registry export`)")
async def export_registry(
    _: AdminDep, session: SessionDep, format: str = Query("json", pattern="^(json|yaml)$")
) -> Any:
    doc = await registry.export(session)
    if format == "yaml":
        return Response(registry.dump_yaml(doc), media_type="application/yaml")
    return doc


REGISTRY_BODY = {
    "requestBody": {
        "content": {
            **{t: {"schema": {"$ref": "#/components/schemas/RegistryDoc"}} for t in YAML_TYPES},
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
    return await _apply(session, state, doc, prune=prune, prune_all=prune_all, dry_run=dry_run)


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


# --- members, subsystems, services -------------------------------------------------------


async def _get(session: AsyncSession, model: Any, key: str, what: str) -> Any:
    row = await session.get(model, key)
    if row is None:
        raise HTTPException(404, f"no such {what} {key}: GET /admin/{what}s lists them")
    return row


def _plain(row: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    return {f: getattr(row, f) for f in fields}


MEMBER_FIELDS = ("id", "name", "enabled")
SUBSYSTEM_FIELDS = ("id", "name", "base_url", "enabled", *registry.SUBSYSTEM_OPTIONAL)
SERVICE_FIELDS = ("id", *registry.SERVICE_FIELDS)
FIELDS: dict[Any, tuple[str, ...]] = {
    Member: MEMBER_FIELDS,
    Subsystem: SUBSYSTEM_FIELDS,
    Service: SERVICE_FIELDS,
}


def _out(row: Any, response: Response) -> dict[str, Any]:
    """What a GET answers of ``row``, its ETag in ``response``'s headers."""
    response.headers["ETag"] = _tag(row)
    return _plain(row, FIELDS[type(row)])


def _tag(row: Any) -> str:
    return etag(_plain(row, FIELDS[type(row)]), row.updated_at)


def _guards(if_match: str | None) -> bool:
    """Whether the write must find the entry as it was read: ``*`` takes it as it is."""
    return if_match is not None and if_match.strip() != "*"


async def _create(
    session: AsyncSession,
    state: Any,
    response: Response,
    model: Any,
    key: str,
    what: str,
    doc: RegistryDoc,
) -> None:
    exists = f"{what} {key} exists; PATCH it instead"
    if await session.get(model, key):
        raise HTTPException(409, exists)
    await _apply(session, state, doc, exists=exists)
    response.headers["ETag"] = _tag(await session.get(model, key))


async def _current(
    session: AsyncSession, model: Any, key: str, what: str, if_match: str | None
) -> Any:
    """The entry to change, if ``If-Match`` (when given) names it as it is."""
    row = await _get(session, model, key, what)
    precondition(if_match, _tag(row), f"{what} {key}")
    return row


async def _change(
    session: AsyncSession,
    state: Any,
    row: Any,
    what: str,
    changes: dict[str, Any],
    if_match: str | None,
) -> Any:
    model, key, now = type(row), row.id, repo.utcnow()
    if _guards(if_match) and not await repo.claim(session, row, FIELDS[model], now):
        # Written or deleted by another change since _current read it: this one is not made.
        if await session.get(model, key, populate_existing=True) is None:
            raise HTTPException(409, GONE)
        raise stale(f"{what} {key}")
    for k, v in changes.items():
        setattr(row, k, v)
    row.updated_at = now
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        certs = [(key, changes.get("cert_sha256"))] if model is Subsystem else []
        raise HTTPException(409, await _refusal(session, certs)) from None
    await repo.bump_version(session)
    await commit(session, state)
    return row


async def _delete(
    session: AsyncSession, state: Any, model: Any, key: str, what: str, if_match: str | None
) -> None:
    row = await _current(session, model, key, what, if_match)
    # What hangs below goes by the database's ON DELETE CASCADE. Counted, so that an entry
    # another change deleted since it was read is a 404 as it would be a moment later (it
    # was a 204, and a SQLAlchemy warning in the hub's log).
    guarded = FIELDS[model] if _guards(if_match) else None
    if not await repo.delete_entry(session, row, guarded):
        if guarded and await session.get(model, key, populate_existing=True) is not None:
            raise stale(f"{what} {key}")
        raise HTTPException(404, f"no such {what} {key}: GET /admin/{what}s lists them")
    await repo.bump_version(session)
    await commit(session, state)


@router.get("/members")
async def list_members(_: AdminDep, session: SessionDep) -> list[dict[str, Any]]:
    return [_plain(m, MEMBER_FIELDS) for m in await repo.members(session)]


@router.post("/members", status_code=201)
async def create_member(
    body: MemberCreate, response: Response, _: AdminDep, session: SessionDep, state: StateDep
) -> Any:
    await _create(session, state, response, Member, body.id, "member", RegistryDoc(members=[body]))
    return body


@router.get("/members/{member_id:path}", summary="One member")
async def get_member(
    member_id: MemberIdStr, response: Response, _: AdminDep, session: SessionDep
) -> Any:
    return _out(await _get(session, Member, member_id, "member"), response)


@router.patch(
    "/members/{member_id:path}",
    summary="Change a member (enabled=false disables)",
    responses=PRECONDITION,
)
async def change_member(
    member_id: MemberIdStr,
    body: MemberPatch,
    response: Response,
    _: AdminDep,
    session: SessionDep,
    state: StateDep,
    if_match: IfMatch = None,
) -> Any:
    row = await _current(session, Member, member_id, "member", if_match)
    changes = body.model_dump(exclude_unset=True)
    return _out(await _change(session, state, row, "member", changes, if_match), response)


@router.delete("/members/{member_id:path}", status_code=204, responses=PRECONDITION)
async def delete_member(
    member_id: MemberIdStr,
    _: AdminDep,
    session: SessionDep,
    state: StateDep,
    if_match: IfMatch = None,
) -> None:
    await _delete(session, state, Member, member_id, "member", if_match)


@router.get("/subsystems", summary="Subsystems (?member=ID: of that member)")
async def list_subsystems(
    _: AdminDep, session: SessionDep, member: MemberIdStr | None = None
) -> list[dict[str, Any]]:
    return [_plain(s, SUBSYSTEM_FIELDS) for s in await repo.subsystems(session, member=member)]


@router.post("/subsystems", status_code=201)
async def create_subsystem(
    body: SubsystemIn, response: Response, _: AdminDep, session: SessionDep, state: StateDep
) -> Any:
    await _cert_free(session, body.cert_sha256, body.id)
    await _create(
        session, state, response, Subsystem, body.id, "subsystem", RegistryDoc(subsystems=[body])
    )
    return body


async def _cert_taken(session: AsyncSession, certs: list[tuple[str, str | None]]) -> str | None:
    """The refusal of the first (subsystem, certificate) whose certificate another subsystem
    holds; None when none is."""
    for subsystem_id, cert in certs:
        holder = cert and await registry.cert_holder(session, cert, besides=subsystem_id)
        if holder:
            return registry.cert_taken(cert or "", holder)
    return None


async def _cert_free(session: AsyncSession, cert: str | None, subsystem_id: str) -> None:
    # Checked before the write for a plain 409 (apply() calls a taken one a 422 conflict);
    # the unique index catches one taken meanwhile (_refusal).
    taken = await _cert_taken(session, [(subsystem_id, cert)])
    if taken:
        raise HTTPException(409, taken)


async def _refusal(session: AsyncSession, certs: list[tuple[str, str | None]]) -> str:
    """Why the database refused a change, read once it is rolled back: a certificate held
    by another subsystem (its unique index, migration 0008), else a race."""
    return await _cert_taken(session, certs) or RACED


@router.get("/subsystems/{subsystem_id:path}", summary="One subsystem")
async def get_subsystem(
    subsystem_id: SubsystemIdStr, response: Response, _: AdminDep, session: SessionDep
) -> Any:
    return _out(await _get(session, Subsystem, subsystem_id, "subsystem"), response)


@router.patch("/subsystems/{subsystem_id:path}", responses=PRECONDITION)
async def change_subsystem(
    subsystem_id: SubsystemIdStr,
    body: SubsystemPatch,
    response: Response,
    _: AdminDep,
    session: SessionDep,
    state: StateDep,
    if_match: IfMatch = None,
) -> Any:
    row = await _current(session, Subsystem, subsystem_id, "subsystem", if_match)
    changes = body.model_dump(exclude_unset=True)
    await _cert_free(session, changes.get("cert_sha256"), subsystem_id)
    return _out(await _change(session, state, row, "subsystem", changes, if_match), response)


@router.delete("/subsystems/{subsystem_id:path}", status_code=204, responses=PRECONDITION)
async def delete_subsystem(
    subsystem_id: SubsystemIdStr,
    _: AdminDep,
    session: SessionDep,
    state: StateDep,
    if_match: IfMatch = None,
) -> None:
    await _delete(session, state, Subsystem, subsystem_id, "subsystem", if_match)


@router.get("/services", summary="Services (?subsystem=ID: of that provider)")
async def list_services(
    _: AdminDep, session: SessionDep, subsystem: SubsystemIdStr | None = None
) -> list[dict[str, Any]]:
    return [_plain(s, SERVICE_FIELDS) for s in await repo.services(session, subsystem=subsystem)]


@router.post("/services", status_code=201)
async def create_service(
    body: ServiceIn, response: Response, _: AdminDep, session: SessionDep, state: StateDep
) -> Any:
    await _create(
        session, state, response, Service, body.id, "service", RegistryDoc(services=[body])
    )
    return body


@router.get("/services/{service_id:path}", summary="One service")
async def get_service(
    service_id: ServiceIdStr, response: Response, _: AdminDep, session: SessionDep
) -> Any:
    return _out(await _get(session, Service, service_id, "service"), response)


@router.patch(
    "/services/{service_id:path}",
    summary="Change a service (enabled=false disables)",
    responses=PRECONDITION,
)
async def change_service(
    service_id: ServiceIdStr,
    body: ServicePatch,
    response: Response,
    _: AdminDep,
    session: SessionDep,
    state: StateDep,
    if_match: IfMatch = None,
) -> Any:
    row = await _current(session, Service, service_id, "service", if_match)
    changes = body.model_dump(exclude_unset=True)
    if "endpoints" in changes and changes["endpoints"] is None:
        changes["endpoints"] = []  # "no endpoints" is an empty list, as export writes it
    return _out(await _change(session, state, row, "service", changes, if_match), response)


@router.delete("/services/{service_id:path}", status_code=204, responses=PRECONDITION)
async def delete_service(
    service_id: ServiceIdStr,
    _: AdminDep,
    session: SessionDep,
    state: StateDep,
    if_match: IfMatch = None,
) -> None:
    await _delete(session, state, Service, service_id, "service", if_match)


# --- grants --------------------------------------------------------------------------------


def _grant_out(g: Grant) -> dict[str, Any]:
    return {"client": g.client_id, "service": g.service_id, "enabled": g.enabled}


def _grant_tag(g: Grant) -> str:
    return etag(_grant_out(g))


def _grant_named(key: GrantKey | GrantPatch) -> str:
    return f"the grant of {key.client} for {key.service}"


async def _grant(session: AsyncSession, key: GrantKey | GrantPatch) -> Grant:
    grant = await session.get(Grant, (key.client, key.service))
    if grant is None:
        raise HTTPException(404, f"{key.client} has no grant for {key.service}")
    return grant


@router.get(
    "/grants",
    summary="Grants (?client=ID, ?service=ID: those of that client, service)",
    description="With both, the one grant, and its `ETag` (for `If-Match`) in the headers.",
)
async def list_grants(
    response: Response,
    _: AdminDep,
    session: SessionDep,
    client: SubsystemIdStr | None = None,
    service: ServiceIdStr | None = None,
) -> list[dict[str, Any]]:
    grants = await repo.grants(session, client=client, service=service)
    if client is not None and service is not None and grants:
        response.headers["ETag"] = _grant_tag(grants[0])
    return [_grant_out(g) for g in grants]


@router.post("/grants", status_code=201)
async def create_grant(
    body: GrantIn, response: Response, _: AdminDep, session: SessionDep, state: StateDep
) -> Any:
    exists = (
        f"{body.client} has a grant for {body.service} already; PATCH /admin/grants to change it"
    )
    if await session.get(Grant, (body.client, body.service)):
        raise HTTPException(409, exists)
    await _apply(session, state, RegistryDoc(grants=[body]), exists=exists)
    response.headers["ETag"] = _grant_tag(await _grant(session, body))
    return body


@router.patch(
    "/grants",
    summary="Change a grant, named by client and service (enabled=false)",
    responses=PRECONDITION,
)
async def change_grant(
    body: GrantPatch,
    response: Response,
    _: AdminDep,
    session: SessionDep,
    state: StateDep,
    if_match: IfMatch = None,
) -> Any:
    grant = await _grant(session, body)
    precondition(if_match, _grant_tag(grant), _grant_named(body))
    if body.enabled is not None and body.enabled != grant.enabled:
        if not _guards(if_match):
            grant.enabled = body.enabled
        elif not await repo.switch_grant(session, grant, body.enabled):
            # Switched or deleted by another change since it was read: this one is not made.
            key = (body.client, body.service)
            if await session.get(Grant, key, populate_existing=True) is None:
                raise HTTPException(409, GONE)
            raise stale(_grant_named(body))
        await repo.bump_version(session)
        await commit(session, state)
    response.headers["ETag"] = _grant_tag(grant)
    return _grant_out(grant)


NAME_THE_GRANT = (
    'give ?client=CLIENT&service=SERVICE, or a JSON body {"client": ..., "service": ...}'
)


@router.delete(
    "/grants",
    status_code=204,
    summary="Delete a grant, named by ?client=&service= or by a JSON body with both",
    responses=PRECONDITION,
)
async def delete_grant(
    _: AdminDep,
    session: SessionDep,
    state: StateDep,
    body: GrantKey | None = None,
    client: SubsystemIdStr | None = None,
    service: ServiceIdStr | None = None,
    if_match: IfMatch = None,
) -> None:
    if body is None:
        if client is None and service is None:
            raise HTTPException(422, f"which grant? {NAME_THE_GRANT}")
        if client is None or service is None:
            has, lacks = ("client", "service") if service is None else ("service", "client")
            raise HTTPException(422, f"the query gives a {has} but no {lacks}: {NAME_THE_GRANT}")
        body = GrantKey(client=client, service=service)
    elif client is not None or service is not None:
        raise HTTPException(
            422, f"the grant is named twice, in the query and in the body; {NAME_THE_GRANT}"
        )
    grant = await _grant(session, body)
    precondition(if_match, _grant_tag(grant), _grant_named(body))
    seen = grant.enabled if _guards(if_match) else None
    deleted = await repo.delete_grant(session, body.client, body.service, enabled=seen)
    if seen is not None and not deleted:
        # Switched or deleted by another change since it was read.
        key = (body.client, body.service)
        if await session.get(Grant, key, populate_existing=True) is not None:
            raise stale(_grant_named(body))
        raise HTTPException(404, f"{body.client} has no grant for {body.service}")
    await repo.bump_version(session)
    await commit(session, state)


router.include_router(keys.router)
