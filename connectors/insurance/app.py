"""The insurance mock's app: the manifest's services over an ``InsuranceData``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Query

from connectors.insurance.manifest import manifest
from connectors.insurance.store import InsuranceData
from connectors.kit import FaultConfig, Handler, HubClient, build_app
from connectors.kit.queries import Cursor, PersonalIdParam
from schemas.insurance import CardIssue


def create_app(
    *,
    seed: int = 42,
    size: int | None = None,
    hub_url: str | None = None,
    client_key: str | None = None,
    faults: FaultConfig | dict[str, Any] | None = None,
    state_path: str | Path | None = None,
) -> FastAPI:
    """An insurance mock mirroring the population of ``seed`` and ``size``."""
    data = InsuranceData(seed=seed, size=size, state_path=state_path)

    async def card_issue(body: CardIssue) -> dict[str, Any]:
        return data.issue(body)

    async def card_lookup(code: str) -> dict[str, Any]:
        return data.lookup(code)

    async def card_search(
        holder_id: PersonalIdParam,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        cursor: Cursor = None,
    ) -> dict[str, Any]:
        start = int(cursor or 0)
        cards = data.cards_of(holder_id)
        more = start + limit < len(cards)
        return {
            "items": cards[start : start + limit],
            "next_cursor": str(start + limit) if more else None,
        }

    handlers: dict[str, Handler] = {
        "card-issue": card_issue,
        "card-lookup": card_lookup,
        "card-search": card_search,
    }
    hub = HubClient(client_id=manifest.subsystem_id, hub_url=hub_url, client_key=client_key)
    return build_app(manifest, dataset=data, handlers=handlers, hub=hub, faults=faults)
