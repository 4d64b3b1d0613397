"""What the admin routes share: committing a change, with a race said in words, and the
validators (``ETag``, ``If-Match``) that keep two operators from undoing each other."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from typing import Annotated, Any, NoReturn

from fastapi import Header, HTTPException
from pydantic import WithJsonSchema
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

RACED = (
    "another change to the registry was being made at the same time and took this entry "
    "first; read it again and retry"
)

_TAG = r'(?:W/)?"[^"]*"'
_TAGS = re.compile(rf"\s*{_TAG}\s*(?:,\s*{_TAG}\s*)*")
# What precondition takes, as /openapi.json gives it: a client drawing an If-Match from the
# document sent "null" and got 400.
IF_MATCH_PATTERN = rf"^(?:\s*\*\s*|{_TAGS.pattern})$"

IfMatch = Annotated[
    str | None,
    # A header is text or absent: no "null" branch, which such a client sent as "null".
    WithJsonSchema(
        {
            "type": "string",
            "pattern": IF_MATCH_PATTERN,
            "examples": ['"0f1e2d3c4b5a69788796a5b4c3d2e1f0"', "*"],
        }
    ),
    Header(
        alias="If-Match",
        description="The `ETag` a GET of the entry answered: the change is made only if the "
        "entry is still as it was read, else 412 (`*`: whatever it holds). Without it, the "
        "last change wins.",
    ),
]
PRECONDITION: dict[int | str, dict[str, Any]] = {
    412: {"description": "The entry changed since the ETag in If-Match was read"}
}

BAD_IF_MATCH = (
    "If-Match takes * or the ETag a GET of the entry answered, with its double quotes "
    '(If-Match: "..."), several separated by commas'
)


async def commit(session: AsyncSession, state: Any) -> None:
    try:
        await session.commit()
    except IntegrityError:
        # Two admins adding the same entry at once: the database kept one (a 500 before).
        await session.rollback()
        raise HTTPException(409, RACED) from None
    await state.registry.refresh(force=True)
    if (link := state.extras.get("workers")) is not None:
        # The other workers of `hub serve --workers N` reload it before this is answered:
        # a key revoked or a grant removed is refused by all of them from now on.
        await link.ask("registry")


def etag(representation: dict[str, Any], written: datetime | None = None) -> str:
    """A strong validator of an entry: a digest of what a GET answers of it and of when it
    was last written (so it moves with a change made and undone between two reads)."""
    content = json.dumps(
        [representation, written.isoformat() if written else None],
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return '"' + hashlib.sha256(content.encode()).hexdigest()[:32] + '"'


async def lost(
    session: AsyncSession, model: Any, key: Any, named: str, gone: HTTPException
) -> NoReturn:
    """A write guarded by If-Match found its row no longer as read: ``gone`` when another
    change deleted it since, else the 412 of one that changed it."""
    if await session.get(model, key, populate_existing=True) is None:
        raise gone
    raise stale(named)


def stale(named: str) -> HTTPException:
    return HTTPException(
        412,
        f"{named} changed since the ETag given in If-Match was read, so this change was not "
        "made: GET it again and reapply your change to what it holds now",
    )


def guards(if_match: str | None) -> bool:
    """Whether the write must find the entry as it was read: ``*`` takes it as it is."""
    return if_match is not None and if_match.strip() != "*"


def precondition(if_match: str | None, current: str, named: str) -> None:
    """Refuse the change (412) unless ``If-Match`` names the entry as it is now (``current``);
    without the header, any change goes, as before it was taken."""
    if if_match is None or if_match.strip() == "*":
        return
    if not _TAGS.fullmatch(if_match):
        raise HTTPException(400, BAD_IF_MATCH)
    # The strong comparison of RFC 9110: a weak tag (W/"...") never matches.
    if current not in [tag for weak, tag in re.findall(r'(W/)?("[^"]*")', if_match) if not weak]:
        raise stale(named)
