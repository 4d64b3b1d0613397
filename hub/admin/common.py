"""What the admin routes share: committing a change, with a race said in words."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

RACED = (
    "another change to the registry was being made at the same time and took this entry "
    "first; read it again and retry"
)


async def commit(session: AsyncSession, state: Any) -> None:
    try:
        await session.commit()
    except IntegrityError:
        # Two admins adding the same entry at once: the database kept one (a 500 before).
        await session.rollback()
        raise HTTPException(409, RACED) from None
    await state.registry.refresh(force=True)
