"""Admin API under ``/admin``: the registry and API keys (admin token)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.core.deps import AdminDep, SessionDep, StateDep
from hub.models import Grant, Member, Service, Subsystem
from hub.registry import repository as repo
from hub.registry import service as registry
from hub.registry.schemas import (
    ApplyResult,
    GrantIn,
    GrantKey,
    GrantPatch,
    KeyIn,
    KeyOut,
    MemberIn,
    MemberPatch,
    NewKeyOut,
    RegistryDoc,
    RotateIn,
    ServiceIn,
    ServicePatch,
    SubsystemIn,
    SubsystemPatch,
)
from hub.registry.yamlio import RegistryFileError

router = APIRouter(prefix="/admin", tags=["admin"])


class KeyRequest(KeyIn):
    client: str


RACED = (
    "another change to the registry was being made at the same time and took this entry "
    "first; read it again and retry"
)


async def _commit(session: AsyncSession, state: Any) -> None:
    try:
        await session.commit()
    except IntegrityError:
        # Two admins adding the same entry at once: the database kept one (a 500 before).
        await session.rollback()
        raise HTTPException(409, RACED) from None
    await state.registry.refresh(force=True)


async def _apply(
    session: AsyncSession, state: Any, doc: RegistryDoc, prune: bool = False
) -> ApplyResult:
    try:
        result = await registry.apply(session, doc, prune=prune)
    except (RegistryFileError, registry.RegistryConflict) as exc:
        raise HTTPException(422, str(exc)) from None
    except IntegrityError:
        await session.rollback()
        raise HTTPException(409, RACED) from None
    await _commit(session, state)
    return result


@router.get("/registry", summary="Export the whole registry (the YAML of `hub registry export`)")
async def export_registry(
    _: AdminDep, session: SessionDep, format: str = Query("json", pattern="^(json|yaml)$")
) -> Any:
    doc = await registry.export(session)
    if format == "yaml":
        return Response(registry.dump_yaml(doc), media_type="application/yaml")
    return doc


@router.put("/registry", summary="Apply a registry document (idempotent)")
async def apply_registry(
    doc: RegistryDoc, _: AdminDep, session: SessionDep, state: StateDep, prune: bool = False
) -> ApplyResult:
    return await _apply(session, state, doc, prune)


# --- members, subsystems, services -------------------------------------------------------


async def _get(session: AsyncSession, model: Any, key: str, what: str) -> Any:
    row = await session.get(model, key)
    if row is None:
        raise HTTPException(404, f"there is no {what} {key}")
    return row


def _plain(row: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    return {f: getattr(row, f) for f in fields}


MEMBER_FIELDS = ("id", "name", "enabled")
SUBSYSTEM_FIELDS = ("id", "name", "base_url", "enabled", *registry.SUBSYSTEM_OPTIONAL)
SERVICE_FIELDS = ("id", *registry.SERVICE_FIELDS)


async def _create(
    session: AsyncSession, state: Any, model: Any, key: str, what: str, doc: RegistryDoc
) -> None:
    if await session.get(model, key):
        raise HTTPException(409, f"{what} {key} exists; PATCH it instead")
    await _apply(session, state, doc)


async def _change(
    session: AsyncSession, state: Any, model: Any, key: str, what: str, changes: dict[str, Any]
) -> Any:
    row = await _get(session, model, key, what)
    for k, v in changes.items():
        setattr(row, k, v)
    row.updated_at = repo.utcnow()
    await repo.bump_version(session)
    await _commit(session, state)
    return row


async def _delete(session: AsyncSession, state: Any, model: Any, key: str, what: str) -> None:
    await session.delete(await _get(session, model, key, what))
    await repo.bump_version(session)
    await _commit(session, state)


@router.get("/members")
async def list_members(_: AdminDep, session: SessionDep) -> list[dict[str, Any]]:
    return [_plain(m, MEMBER_FIELDS) for m in await repo.members(session)]


@router.post("/members", status_code=201)
async def create_member(body: MemberIn, _: AdminDep, session: SessionDep, state: StateDep) -> Any:
    await _create(session, state, Member, body.id, "member", RegistryDoc(members=[body]))
    return body


@router.patch("/members/{member_id:path}", summary="Change a member (enabled=false disables)")
async def change_member(
    member_id: str, body: MemberPatch, _: AdminDep, session: SessionDep, state: StateDep
) -> Any:
    changes = body.model_dump(exclude_unset=True)
    row = await _change(session, state, Member, member_id, "member", changes)
    return _plain(row, MEMBER_FIELDS)


@router.delete("/members/{member_id:path}", status_code=204)
async def delete_member(member_id: str, _: AdminDep, session: SessionDep, state: StateDep) -> None:
    await _delete(session, state, Member, member_id, "member")


@router.get("/subsystems")
async def list_subsystems(_: AdminDep, session: SessionDep) -> list[dict[str, Any]]:
    return [_plain(s, SUBSYSTEM_FIELDS) for s in await repo.subsystems(session)]


@router.post("/subsystems", status_code=201)
async def create_subsystem(
    body: SubsystemIn, _: AdminDep, session: SessionDep, state: StateDep
) -> Any:
    await _create(session, state, Subsystem, body.id, "subsystem", RegistryDoc(subsystems=[body]))
    return body


@router.patch("/subsystems/{subsystem_id:path}")
async def change_subsystem(
    subsystem_id: str, body: SubsystemPatch, _: AdminDep, session: SessionDep, state: StateDep
) -> Any:
    changes = body.model_dump(exclude_unset=True)
    row = await _change(session, state, Subsystem, subsystem_id, "subsystem", changes)
    return _plain(row, SUBSYSTEM_FIELDS)


@router.delete("/subsystems/{subsystem_id:path}", status_code=204)
async def delete_subsystem(
    subsystem_id: str, _: AdminDep, session: SessionDep, state: StateDep
) -> None:
    await _delete(session, state, Subsystem, subsystem_id, "subsystem")


@router.get("/services")
async def list_services(_: AdminDep, session: SessionDep) -> list[dict[str, Any]]:
    return [_plain(s, SERVICE_FIELDS) for s in await repo.services(session)]


@router.post("/services", status_code=201)
async def create_service(body: ServiceIn, _: AdminDep, session: SessionDep, state: StateDep) -> Any:
    await _create(session, state, Service, body.id, "service", RegistryDoc(services=[body]))
    return body


@router.patch("/services/{service_id:path}", summary="Change a service (enabled=false disables)")
async def change_service(
    service_id: str, body: ServicePatch, _: AdminDep, session: SessionDep, state: StateDep
) -> Any:
    changes = body.model_dump(exclude_unset=True)
    if "endpoints" in changes and changes["endpoints"] is None:
        changes["endpoints"] = []  # "no endpoints" is an empty list, as export writes it
    row = await _change(session, state, Service, service_id, "service", changes)
    return _plain(row, SERVICE_FIELDS)


@router.delete("/services/{service_id:path}", status_code=204)
async def delete_service(
    service_id: str, _: AdminDep, session: SessionDep, state: StateDep
) -> None:
    await _delete(session, state, Service, service_id, "service")


# --- grants --------------------------------------------------------------------------------


def _grant_out(g: Grant) -> dict[str, Any]:
    return {"client": g.client_id, "service": g.service_id, "enabled": g.enabled}


async def _grant(session: AsyncSession, key: GrantKey | GrantPatch) -> Grant:
    grant = await session.get(Grant, (key.client, key.service))
    if grant is None:
        raise HTTPException(404, f"{key.client} has no grant for {key.service}")
    return grant


@router.get("/grants")
async def list_grants(_: AdminDep, session: SessionDep) -> list[dict[str, Any]]:
    return [_grant_out(g) for g in await repo.grants(session)]


@router.post("/grants", status_code=201)
async def create_grant(body: GrantIn, _: AdminDep, session: SessionDep, state: StateDep) -> Any:
    await _apply(session, state, RegistryDoc(grants=[body]))
    return body


@router.patch("/grants", summary="Change a grant, named by client and service (enabled=false)")
async def change_grant(body: GrantPatch, _: AdminDep, session: SessionDep, state: StateDep) -> Any:
    grant = await _grant(session, body)
    if body.enabled is not None and body.enabled != grant.enabled:
        grant.enabled = body.enabled
        await repo.bump_version(session)
        await _commit(session, state)
    return _grant_out(grant)


@router.delete("/grants", status_code=204)
async def delete_grant(body: GrantKey, _: AdminDep, session: SessionDep, state: StateDep) -> None:
    await _grant(session, body)
    await repo.delete_grant(session, body.client, body.service)
    await repo.bump_version(session)
    await _commit(session, state)


# --- API keys --------------------------------------------------------------------------------

# A key's id as the database can hold it: a larger number is a 422, not an overflow in SQLite.
KeyId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The key's id, from GET /admin/keys")]


def _key_out(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "client": row.subsystem_id,
        "prefix": row.prefix,
        "label": row.label,
        "created_at": row.created_at,
        "expires_at": row.expires_at,
        "revoked_at": row.revoked_at,
    }


@router.get("/keys", response_model=list[KeyOut])
async def list_keys(_: AdminDep, session: SessionDep, client: str | None = None) -> Any:
    return [_key_out(k) for k in await repo.api_keys(session, client)]


@router.post("/keys", status_code=201, response_model=NewKeyOut)
async def issue_key(body: KeyRequest, _: AdminDep, session: SessionDep, state: StateDep) -> Any:
    try:
        row, key = await registry.issue_key(
            session, secret=state.settings.secret_key, client=body.client, label=body.label
        )
    except registry.RegistryConflict as exc:
        raise HTTPException(404, str(exc)) from None
    await _commit(session, state)
    return {**_key_out(row), "api_key": key}


@router.post("/keys/{key_id}/rotate", status_code=201, response_model=NewKeyOut)
async def rotate_key(
    key_id: KeyId, _: AdminDep, session: SessionDep, state: StateDep, body: RotateIn | None = None
) -> Any:
    row = await repo.get_key(session, key_id)
    if row is None or row.revoked_at is not None:
        raise HTTPException(404, f"there is no active key {key_id}")
    if row.expires_at is not None:
        # Rotating it again would move its end, and an expired key would work once more.
        if row.expires_at <= repo.utcnow():
            raise HTTPException(404, f"there is no active key {key_id}: it expired")
        raise HTTPException(
            409,
            f"key {key_id} was rotated already and works until {row.expires_at:%Y-%m-%d %H:%M:%S}"
            " UTC; rotate the key that replaced it",
        )
    new, key = await registry.rotate_key(
        session,
        secret=state.settings.secret_key,
        row=row,
        grace_seconds=(body or RotateIn()).grace_seconds,
    )
    await _commit(session, state)
    return {**_key_out(new), "api_key": key}


@router.delete("/keys/{key_id}", status_code=204)
async def revoke_key(key_id: KeyId, _: AdminDep, session: SessionDep, state: StateDep) -> None:
    row = await repo.get_key(session, key_id)
    if row is None:
        raise HTTPException(404, f"there is no key {key_id}")
    await registry.revoke_key(session, row)
    await _commit(session, state)
