"""Admin API for the registry's entries one by one: members, subsystems, services."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Response
from fastapi.encoders import jsonable_encoder
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.convertors import Convertor, register_url_convertor

from hub.admin.apply import apply_doc, cert_taken, refusal
from hub.admin.common import PRECONDITION, IfMatch, commit, etag, guards, lost, precondition
from hub.admin.schemas import (
    MemberCreated,
    MemberOut,
    ServiceCreated,
    ServiceOut,
    SubsystemCreated,
    SubsystemOut,
)
from hub.admin.wire import GONE, AdminRoute
from hub.core.deps import AdminDep, SessionDep, StateDep
from hub.models import Member, Service, Subsystem
from hub.registry import repository as repo
from hub.registry import service as registry
from hub.registry.events import Change, admin_api, going_with, record, updated
from hub.registry.schemas import (
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

router = APIRouter(route_class=AdminRoute)


class _EntryId(Convertor[str]):
    """An entry's id in a path: its parts with the slashes between them, never empty.
    ``/admin/members/`` matched as the member ``''`` (a 400 "member identifier ''", and a
    405 to a POST); it is redirected without its slash now, as ``/admin/grants/`` is. An
    id ending in a slash is still taken, and refused as malformed."""

    regex = ".+"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("entry_id", _EntryId())


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


async def _create(
    session: AsyncSession,
    state: Any,
    response: Response,
    model: Any,
    what: str,
    body: MemberCreate | SubsystemIn | ServiceIn,
) -> dict[str, Any]:
    """Create ``body``; answer it as sent, with what ``hub registry apply`` would warn of it
    (a member code no agency has, a service with nowhere to forward)."""
    key, doc = body.id, RegistryDoc.model_validate({f"{what}s": [body]})
    exists = f"{what} {key} exists; PATCH it instead"
    await repo.hold(session)
    if await session.get(model, key):
        raise HTTPException(409, exists)
    result = await apply_doc(session, state, doc, exists=exists)
    response.headers["ETag"] = _tag(await session.get(model, key))
    response.headers["Location"] = f"/admin/{what}s/{key}"
    return {**jsonable_encoder(body), "warnings": result.warnings}


async def _current(
    session: AsyncSession, model: Any, key: str, what: str, if_match: str | None
) -> Any:
    """The entry to change, if ``If-Match`` (when given) names it as it is; read once this
    change holds the registry's lock, so that what its event says it changed from is so."""
    await repo.hold(session)
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
    diff = updated(row, changes)
    if not diff:
        # Nothing to change (the values it holds, a name typed in the other Unicode form):
        # no event and updated_at kept, as `hub registry apply` of an unchanged file.
        return row
    if guards(if_match) and not await repo.claim(session, row, FIELDS[model], now):
        # Written or deleted by another change since _current read it: this one is not made.
        await lost(session, model, key, f"{what} {key}", HTTPException(409, GONE))
    change = Change(f"{what}.update", key, diff)
    for k, v in changes.items():
        setattr(row, k, v)
    row.updated_at = now
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        certs = [(key, changes.get("cert_sha256"))] if model is Subsystem else []
        raise HTTPException(409, await refusal(session, certs)) from None
    await record(session, admin_api(state.signer), [change])
    await commit(session, state)
    return row


async def _delete(
    session: AsyncSession, state: Any, model: Any, key: str, what: str, if_match: str | None
) -> None:
    row = await _current(session, model, key, what, if_match)
    # What hangs below goes by the database's ON DELETE CASCADE. Counted, so that an entry
    # another change deleted since it was read is a 404 as it would be a moment later (it
    # was a 204, and a SQLAlchemy warning in the hub's log).
    guarded = FIELDS[model] if guards(if_match) else None
    change = Change(f"{what}.delete", key, await going_with(session, model, key))
    if not await repo.delete_entry(session, row, guarded):
        missing = HTTPException(404, f"no such {what} {key}: GET /admin/{what}s lists them")
        if guarded:
            await lost(session, model, key, f"{what} {key}", missing)
        raise missing
    await record(session, admin_api(state.signer), [change])
    await commit(session, state)


@router.get("/members", response_model=list[MemberOut])
async def list_members(_: AdminDep, session: SessionDep) -> list[dict[str, Any]]:
    return [_plain(m, MEMBER_FIELDS) for m in await repo.members(session)]


@router.post("/members", status_code=201, response_model=MemberCreated)
async def create_member(
    body: MemberCreate, response: Response, _: AdminDep, session: SessionDep, state: StateDep
) -> Any:
    return await _create(session, state, response, Member, "member", body)


@router.get("/members/{member_id:entry_id}", response_model=MemberOut, summary="One member")
async def get_member(
    member_id: MemberIdStr, response: Response, _: AdminDep, session: SessionDep
) -> Any:
    return _out(await _get(session, Member, member_id, "member"), response)


@router.patch(
    "/members/{member_id:entry_id}",
    response_model=MemberOut,
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


@router.delete("/members/{member_id:entry_id}", status_code=204, responses=PRECONDITION)
async def delete_member(
    member_id: MemberIdStr,
    _: AdminDep,
    session: SessionDep,
    state: StateDep,
    if_match: IfMatch = None,
) -> None:
    await _delete(session, state, Member, member_id, "member", if_match)


@router.get(
    "/subsystems",
    response_model=list[SubsystemOut],
    summary="Subsystems (?member=ID: of that member)",
)
async def list_subsystems(
    _: AdminDep, session: SessionDep, member: MemberIdStr | None = None
) -> list[dict[str, Any]]:
    return [_plain(s, SUBSYSTEM_FIELDS) for s in await repo.subsystems(session, member=member)]


@router.post("/subsystems", status_code=201, response_model=SubsystemCreated)
async def create_subsystem(
    body: SubsystemIn, response: Response, _: AdminDep, session: SessionDep, state: StateDep
) -> Any:
    await _cert_free(session, body.cert_sha256, body.id)
    return await _create(session, state, response, Subsystem, "subsystem", body)


async def _cert_free(session: AsyncSession, cert: str | None, subsystem_id: str) -> None:
    # Checked before the write, for a PATCH (which goes without apply()) and for a refusal
    # that names no document's entry (apply() says "subsystems[0]: ..."); the unique index
    # catches one taken meanwhile (refusal).
    taken = await cert_taken(session, [(subsystem_id, cert)])
    if taken:
        raise HTTPException(409, taken)


@router.get(
    "/subsystems/{subsystem_id:entry_id}", response_model=SubsystemOut, summary="One subsystem"
)
async def get_subsystem(
    subsystem_id: SubsystemIdStr, response: Response, _: AdminDep, session: SessionDep
) -> Any:
    return _out(await _get(session, Subsystem, subsystem_id, "subsystem"), response)


@router.patch(
    "/subsystems/{subsystem_id:entry_id}", response_model=SubsystemOut, responses=PRECONDITION
)
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


@router.delete("/subsystems/{subsystem_id:entry_id}", status_code=204, responses=PRECONDITION)
async def delete_subsystem(
    subsystem_id: SubsystemIdStr,
    _: AdminDep,
    session: SessionDep,
    state: StateDep,
    if_match: IfMatch = None,
) -> None:
    await _delete(session, state, Subsystem, subsystem_id, "subsystem", if_match)


@router.get(
    "/services",
    response_model=list[ServiceOut],
    summary="Services (?subsystem=ID: of that provider)",
)
async def list_services(
    _: AdminDep, session: SessionDep, subsystem: SubsystemIdStr | None = None
) -> list[dict[str, Any]]:
    return [_plain(s, SERVICE_FIELDS) for s in await repo.services(session, subsystem=subsystem)]


@router.post("/services", status_code=201, response_model=ServiceCreated)
async def create_service(
    body: ServiceIn, response: Response, _: AdminDep, session: SessionDep, state: StateDep
) -> Any:
    return await _create(session, state, response, Service, "service", body)


@router.get("/services/{service_id:entry_id}", response_model=ServiceOut, summary="One service")
async def get_service(
    service_id: ServiceIdStr, response: Response, _: AdminDep, session: SessionDep
) -> Any:
    return _out(await _get(session, Service, service_id, "service"), response)


@router.patch(
    "/services/{service_id:entry_id}",
    response_model=ServiceOut,
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


@router.delete("/services/{service_id:entry_id}", status_code=204, responses=PRECONDITION)
async def delete_service(
    service_id: ServiceIdStr,
    _: AdminDep,
    session: SessionDep,
    state: StateDep,
    if_match: IfMatch = None,
) -> None:
    await _delete(session, state, Service, service_id, "service", if_match)
