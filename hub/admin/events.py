"""Admin API for the audit trail of registry and key changes (hub/registry/events.py)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from hub.admin.wire import AdminRoute
from hub.core.deps import AdminDep, SessionDep
from hub.core.ids import EXAMPLES, Described, id_regex
from hub.registry import events_read
from hub.stats.timeutil import InputError

router = APIRouter(route_class=AdminRoute)

# What events_read takes of a target and of under, as the events write them (it also takes
# blanks around a grant's arrow, and a key's number with zeros before it).
_ENTRY = "|".join(id_regex(parts) for parts in (3, 4, 5))
_KEY = r"key:[1-9][0-9]{0,17}"  # any number of 18 digits or fewer is a key's id (MAX_ID)
TARGET = Described(
    f"^(?:registry|{_KEY}|{_ENTRY}|{id_regex(4)} -> {id_regex(5)})$",
    (EXAMPLES[4], f"{EXAMPLES[4]} -> {EXAMPLES[5]}", "key:12", "registry"),
    "an entry's id, a grant as `CLIENT -> SERVICE`, a key as `key:ID`, or `registry`",
)
# The actions the trail takes (events_read.ACTIONS, KINDS), one or a kind, as a pattern: a
# client drawing any text sent action=\U000528b6 and got 400.
ACTION = Described(
    "^(?:" + "|".join(re.escape(a) for a in sorted(events_read.ACTIONS | events_read.KINDS)) + ")$",
    ("grant.create", "grant", "key.revoke"),
    "an action (grant.create, key.revoke, registry.apply...) or a kind (grant)",
)
UNDER = Described(
    f"^(?:{_ENTRY})$", (EXAMPLES[3], EXAMPLES[4]), "a member's, subsystem's or service's id"
)


@router.get(
    "/events",
    summary="Who changed the registry and its keys, and when: newest first",
    description="Each change to a member, subsystem, service, grant or API key, made through "
    "this API, `hub registry apply`, `hub keys` or `hub up`'s demo loading, with who made it "
    "(`actor`, `source`), the `action` (member.update, grant.delete, key.revoke, "
    "registry.apply...), its `target`, what changed (`detail`; never a key or token), its "
    "chained `hash` and the hub's key that signed it (`key_id`; null: unsigned). "
    "`since`/`until`: ISO times (UTC without a zone) or 24h, 7d; `action`: one, or a kind "
    "(`grant`); `target`: an entry's id, which also finds the grants it is part of, a "
    "grant as `CLIENT -> SERVICE`, a key as `key:ID` (one no event could have is a 400); "
    "`under`: a member's, subsystem's or service's id, which finds its events and those of "
    "the entries below it (a subsystem's services) and of the grants any of them is part of. "
    "`next_cursor` gives the next (older) page. `notes`: on an empty page, a sentence for a "
    "`target` or `under` that is neither registered nor in the trail (a typo, most often), "
    "with the id likely meant; the answer is still a 200. Empty otherwise.",
)
async def list_events(
    _: AdminDep,
    session: SessionDep,
    since: str | None = None,
    until: str | None = None,
    action: Annotated[str, ACTION] | None = None,
    target: Annotated[str, TARGET] | None = None,
    under: Annotated[str, UNDER] | None = None,
    limit: Annotated[int, Query(ge=1, le=events_read.MAX_LIMIT)] = 100,
    cursor: Annotated[int | None, Query(ge=1, le=events_read.MAX_ID)] = None,
) -> dict[str, Any]:
    try:
        return await events_read.page(
            session,
            since=since,
            until=until,
            action=action,
            target=target,
            under=under,
            limit=limit,
            cursor=cursor,
        )
    except InputError as exc:
        raise HTTPException(400, str(exc)) from None
