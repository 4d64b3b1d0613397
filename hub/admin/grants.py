"""Admin API for grants, each named by its client and service (no path of its own)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Response
from sqlalchemy.ext.asyncio import AsyncSession

from hub.admin.apply import apply_doc
from hub.admin.common import PRECONDITION, IfMatch, commit, etag, guards, lost, precondition
from hub.admin.schemas import GrantOut
from hub.admin.wire import GONE, AdminRoute
from hub.core.deps import AdminDep, SessionDep, StateDep
from hub.models import Grant
from hub.registry import repository as repo
from hub.registry.events import Change, admin_api, grant_target, record
from hub.registry.schemas import (
    GrantIn,
    GrantKey,
    GrantPatch,
    RegistryDoc,
    ServiceIdStr,
    SubsystemIdStr,
)

router = APIRouter(route_class=AdminRoute)


def _grant_out(g: Grant) -> dict[str, Any]:
    return {"client": g.client_id, "service": g.service_id, "enabled": g.enabled}


def _grant_tag(g: Grant) -> str:
    return etag(_grant_out(g))


def _grant_named(key: GrantKey | GrantPatch) -> str:
    return f"the grant of {key.client} for {key.service}"


async def _grant(session: AsyncSession, key: GrantKey | GrantPatch, change: bool = True) -> Grant:
    if change:
        await repo.hold(session)  # read as it is when this change is made (events.py)
    grant = await session.get(Grant, (key.client, key.service))
    if grant is None:
        raise HTTPException(404, f"{key.client} has no grant for {key.service}")
    return grant


@router.get(
    "/grants",
    response_model=list[GrantOut],
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


@router.post("/grants", status_code=201, response_model=GrantOut)
async def create_grant(
    body: GrantIn, response: Response, _: AdminDep, session: SessionDep, state: StateDep
) -> Any:
    exists = (
        f"{body.client} has a grant for {body.service} already; PATCH /admin/grants to change it"
    )
    await repo.hold(session)
    if await session.get(Grant, (body.client, body.service)):
        raise HTTPException(409, exists)
    await apply_doc(session, state, RegistryDoc(grants=[body]), exists=exists)
    response.headers["ETag"] = _grant_tag(await _grant(session, body, change=False))
    # A grant has no path of its own: where it is read alone.
    named = urlencode({"client": body.client, "service": body.service}, safe="/")
    response.headers["Location"] = f"/admin/grants?{named}"
    return body


@router.patch(
    "/grants",
    response_model=GrantOut,
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
        switched = {"enabled": {"from": grant.enabled, "to": body.enabled}}
        change = Change("grant.update", grant_target(body.client, body.service), switched)
        if not guards(if_match):
            grant.enabled = body.enabled
        elif not await repo.switch_grant(session, grant, body.enabled):
            # Switched or deleted by another change since it was read: this one is not made.
            key = (body.client, body.service)
            await lost(session, Grant, key, _grant_named(body), HTTPException(409, GONE))
        await record(session, admin_api(state.signer), [change])
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
            raise HTTPException(400, f"which grant? {NAME_THE_GRANT}")
        if client is None or service is None:
            has, lacks = ("client", "service") if service is None else ("service", "client")
            raise HTTPException(400, f"the query gives a {has} but no {lacks}: {NAME_THE_GRANT}")
        body = GrantKey(client=client, service=service)
    elif client is not None or service is not None:
        raise HTTPException(
            400, f"the grant is named twice, in the query and in the body; {NAME_THE_GRANT}"
        )
    grant = await _grant(session, body)
    precondition(if_match, _grant_tag(grant), _grant_named(body))
    seen = grant.enabled if guards(if_match) else None
    detail = {"enabled": grant.enabled}
    deleted = await repo.delete_grant(session, body.client, body.service, enabled=seen)
    if not deleted:
        # Deleted by another change since it was read (or, under If-Match, switched).
        missing = HTTPException(404, f"{body.client} has no grant for {body.service}")
        await lost(session, Grant, (body.client, body.service), _grant_named(body), missing)
    await record(
        session,
        admin_api(state.signer),
        [Change("grant.delete", grant_target(body.client, body.service), detail)],
    )
    await commit(session, state)
