"""How an admin write goes through ``registry.apply``: a document applied (or only tried,
``dry_run``), and the database's refusals said in words."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from hub.admin.common import RACED, commit
from hub.registry import service as registry
from hub.registry.events import admin_api
from hub.registry.schemas import ApplyResult, RegistryDoc
from hub.registry.yamlio import RegistryFileError


async def apply_doc(
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
        # One entry POSTed is its own event; a document is also the apply's (with counts).
        result = await registry.apply(
            session,
            doc,
            prune=prune,
            prune_all=prune_all,
            actor=admin_api(state.signer),
            summary=exists is None,
        )
    except RegistryFileError as exc:
        raise HTTPException(exc.status, str(exc)) from None
    except registry.CertificateTaken as exc:
        # What the registry holds refuses it, as a POST or PATCH of the subsystem is (409).
        raise HTTPException(409, str(exc)) from None
    except registry.RegistryConflict as exc:
        raise HTTPException(422, str(exc)) from None
    except IntegrityError:
        await session.rollback()
        certs = [(s.id, s.cert_sha256) for s in doc.subsystems]
        raise HTTPException(409, await refusal(session, certs)) from None
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


async def cert_taken(session: AsyncSession, certs: list[tuple[str, str | None]]) -> str | None:
    """The refusal of the first (subsystem, certificate) whose certificate another subsystem
    holds; None when none is."""
    for subsystem_id, cert in certs:
        holder = cert and await registry.cert_holder(session, cert, besides=subsystem_id)
        if holder:
            return registry.cert_taken(cert or "", holder)
    return None


async def refusal(session: AsyncSession, certs: list[tuple[str, str | None]]) -> str:
    """Why the database refused a change, read once it is rolled back: a certificate held
    by another subsystem (its unique index, migration 0008), else a race."""
    return await cert_taken(session, certs) or RACED
