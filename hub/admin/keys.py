"""Admin API for API keys: issue (with an optional expiry), list, rotate, revoke."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Response

from hub.admin.common import RACED, commit
from hub.admin.wire import AdminRoute
from hub.core.deps import AdminDep, SessionDep, StateDep
from hub.models import ApiKey
from hub.registry import repository as repo
from hub.registry import service as registry
from hub.registry.schemas import KeyIn, KeyOut, NewKeyOut, RotateIn, SubsystemIdStr

router = APIRouter(route_class=AdminRoute)


class KeyRequest(KeyIn):
    client: SubsystemIdStr


# An answer carrying a new key, shown once, must not stay in a proxy's or browser's cache.
NO_STORE = "no-store"

# A key's id as the database can hold it: a larger number is a 422, not an overflow in SQLite.
KeyId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The key's id, from GET /admin/keys")]


def _utc(value: datetime | None) -> datetime | None:
    """A stored (naive UTC) time as the API answers it: with its zone, ``...Z``."""
    return value.replace(tzinfo=UTC) if value is not None else None


def _key_out(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "client": row.subsystem_id,
        "prefix": row.prefix,
        "label": row.label,
        "created_at": _utc(row.created_at),
        "expires_at": _utc(row.expires_at),
        "revoked_at": _utc(row.revoked_at),
    }


@router.get("/keys", response_model=list[KeyOut])
async def list_keys(_: AdminDep, session: SessionDep, client: SubsystemIdStr | None = None) -> Any:
    return [_key_out(k) for k in await repo.api_keys(session, client)]


@router.post("/keys", status_code=201, response_model=NewKeyOut)
async def issue_key(
    body: KeyRequest, _: AdminDep, session: SessionDep, state: StateDep, response: Response
) -> Any:
    try:
        row, key = await registry.issue_key(
            session,
            secret=state.settings.secret_key,
            client=body.client,
            label=body.label,
            expires_at=body.expires_at,
        )
    except registry.RegistryConflict as exc:
        raise HTTPException(404, str(exc)) from None
    await commit(session, state)
    response.headers["Cache-Control"] = NO_STORE
    return {**_key_out(row), "api_key": key}


@router.post("/keys/{key_id}/rotate", status_code=201, response_model=NewKeyOut)
async def rotate_key(
    key_id: KeyId,
    _: AdminDep,
    session: SessionDep,
    state: StateDep,
    response: Response,
    body: RotateIn | None = None,
) -> Any:
    row = _rotatable(await repo.get_key(session, key_id), key_id)
    rotated = await registry.rotate_key(
        session,
        secret=state.settings.secret_key,
        row=row,
        grace_seconds=(body or RotateIn()).grace_seconds,
    )
    if rotated is None:
        # Rotated, revoked or deleted by another change since it was read: say which.
        _rotatable(await session.get(ApiKey, key_id, populate_existing=True), key_id)
        raise HTTPException(409, RACED)
    await commit(session, state)
    new, key = rotated
    response.headers["Cache-Control"] = NO_STORE
    return {**_key_out(new), "api_key": key}


def _rotatable(row: ApiKey | None, key_id: int) -> ApiKey:
    """``row`` if it may be rotated; else the refusal that says why."""
    if row is None or row.revoked_at is not None:
        raise HTTPException(404, f"there is no active key {key_id}")
    if row.expires_at is not None:
        # Rotating it again would move its end, and an expired key would work once more.
        if row.expires_at <= repo.utcnow():
            raise HTTPException(404, f"there is no active key {key_id}: it expired")
        raise HTTPException(
            409,
            f"key {key_id} already has an end: it works until "
            f"{row.expires_at:%Y-%m-%d %H:%M:%S} UTC (it was rotated, or issued with "
            "expires_at); rotate the key that replaced it, or issue a new key",
        )
    return row


@router.delete("/keys/{key_id}", status_code=204)
async def revoke_key(key_id: KeyId, _: AdminDep, session: SessionDep, state: StateDep) -> None:
    row = await repo.get_key(session, key_id)
    if row is None:
        raise HTTPException(404, f"there is no key {key_id}")
    await registry.revoke_key(session, row)
    await commit(session, state)
