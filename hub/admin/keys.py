"""Admin API for API keys: issue (with an optional expiry), list, rotate, revoke.

The rules live in hub/registry/keys.py, which `hub keys` uses too."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Response

from hub.admin.common import RACED, commit
from hub.admin.wire import AdminRoute
from hub.core.deps import AdminDep, SessionDep, StateDep
from hub.registry import keys
from hub.registry import repository as repo
from hub.registry.events import admin_api
from hub.registry.schemas import KeyOut, KeyRequest, NewKeyOut, RotateIn, SubsystemIdStr
from hub.registry.service import RegistryConflict

router = APIRouter(route_class=AdminRoute)

# An answer carrying a new key, shown once, must not stay in a proxy's or browser's cache.
NO_STORE = "no-store"

# A key's id as the database can hold it: a larger number is a 400, not an overflow in SQLite.
KeyId = Annotated[
    int,
    Path(ge=1, le=2**63 - 1, description="The key's id, from GET /admin/keys", examples=[12]),
]


def _refused(exc: keys.KeyRefused) -> HTTPException:
    return HTTPException(404 if exc.gone else 409, str(exc))


@router.get("/keys", response_model=list[KeyOut])
async def list_keys(
    _: AdminDep, session: SessionDep, state: StateDep, client: SubsystemIdStr | None = None
) -> Any:
    secret = state.settings.secret_key
    return [keys.fields(k, secret) for k in await repo.api_keys(session, client)]


@router.post("/keys", status_code=201, response_model=NewKeyOut)
async def issue_key(
    body: KeyRequest, _: AdminDep, session: SessionDep, state: StateDep, response: Response
) -> Any:
    try:
        row, key = await keys.issue_key(
            session,
            secret=state.settings.secret_key,
            client=body.client,
            label=body.label,
            expires_at=body.expires_at,
            actor=admin_api(state.signer),
        )
    except RegistryConflict as exc:
        # The body names a client there is not: a 422, as a grant's unknown client is (the
        # 404 is for a path, /admin/keys/{id}, naming a key there is not).
        raise HTTPException(422, str(exc)) from None
    await commit(session, state)
    response.headers["Cache-Control"] = NO_STORE
    response.headers["Location"] = f"/admin/keys/{row.id}"
    return {**keys.fields(row, state.settings.secret_key), "api_key": key}


@router.post("/keys/{key_id}/rotate", status_code=201, response_model=NewKeyOut)
async def rotate_key(
    key_id: KeyId,
    _: AdminDep,
    session: SessionDep,
    state: StateDep,
    response: Response,
    body: RotateIn | None = None,
) -> Any:
    try:
        rotated = await keys.rotate(
            session,
            secret=state.settings.secret_key,
            key_id=key_id,
            grace_seconds=(body or RotateIn()).grace_seconds,
            actor=admin_api(state.signer),
        )
    except keys.KeyRefused as exc:
        raise _refused(exc) from None
    if rotated is None:
        raise HTTPException(409, RACED)
    await commit(session, state)
    new, key = rotated
    response.headers["Cache-Control"] = NO_STORE
    response.headers["Location"] = f"/admin/keys/{new.id}"
    return {**keys.fields(new, state.settings.secret_key), "api_key": key}


@router.get("/keys/{key_id}", response_model=KeyOut, summary="One key (never its secret)")
async def get_key(key_id: KeyId, _: AdminDep, session: SessionDep, state: StateDep) -> Any:
    row = await repo.get_key(session, key_id)
    if row is None:
        raise HTTPException(404, f"there is no key {key_id}")
    return keys.fields(row, state.settings.secret_key)


@router.delete("/keys/{key_id}", status_code=204)
async def revoke_key(key_id: KeyId, _: AdminDep, session: SessionDep, state: StateDep) -> None:
    try:
        await keys.revoke(session, key_id, admin_api(state.signer))
    except keys.KeyRefused as exc:
        raise _refused(exc) from None
    await commit(session, state)
