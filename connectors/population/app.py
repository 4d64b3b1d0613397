"""The population mock's app: the manifest's services over a ``PopulationData``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Query

from connectors.kit import FaultConfig, Handler, HubClient, build_app
from connectors.kit.queries import AsOf, Cursor, DateFilter, ProvinceFilter
from connectors.population.manifest import manifest
from connectors.population.models import CitizenVerifyRequest, HouseholdIdFilter
from connectors.population.store import PopulationData
from schemas.population import (
    BirthRegistration,
    CitizenBatchRequest,
    DeathRegistration,
    ResidenceRegistration,
)

Limit = Annotated[int, Query(ge=1, le=100, description="Page size, at most 100")]


def create_app(
    *,
    seed: int = 42,
    size: int | None = None,
    hub_url: str | None = None,
    client_key: str | None = None,
    faults: FaultConfig | dict[str, Any] | None = None,
    state_path: str | Path | None = None,
) -> FastAPI:
    """A population mock with its own data (``seed``, ``size`` citizens) and faults."""
    data = PopulationData(seed=seed, size=size, state_path=state_path)

    async def citizen_lookup(id: str, as_of: AsOf = None) -> dict[str, Any]:
        return data.get(id, as_of=as_of)

    async def citizen_batch_lookup(body: CitizenBatchRequest) -> dict[str, Any]:
        return data.batch(body.ids, as_of=body.as_of)

    async def citizen_search(
        province: ProvinceFilter = None,
        name: Annotated[str | None, Query(max_length=200)] = None,
        birth_year: Annotated[int | None, Query(ge=1800, le=2400)] = None,
        born_before: DateFilter = None,
        status: Annotated[
            Literal["alive", "deceased"] | None, Query(description="alive or deceased")
        ] = None,
        household_id: HouseholdIdFilter = None,
        limit: Limit = 20,
        cursor: Cursor = None,
    ) -> dict[str, Any]:
        items, next_cursor = data.search(
            province=province,
            name=name,
            birth_year=birth_year,
            born_before=born_before,
            status=status,
            household_id=household_id,
            limit=limit,
            cursor=cursor,
        )
        return {"items": items, "next_cursor": next_cursor}

    async def citizen_verify(body: CitizenVerifyRequest) -> dict[str, bool]:
        return {"match": data.verify(body)}

    async def household_lookup(id: str) -> dict[str, Any]:
        return data.household(id)

    async def birth_registration(body: BirthRegistration) -> dict[str, Any]:
        return data.register_birth(body)

    async def death_registration(body: DeathRegistration) -> dict[str, Any]:
        return data.register_death(body)

    async def residence_registration(body: ResidenceRegistration) -> dict[str, Any]:
        return data.register_residence(body)

    async def citizen_changes(
        since: dt.datetime | None = None, limit: Limit = 100, cursor: Cursor = None
    ) -> dict[str, Any]:
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=dt.UTC)
        items, next_cursor = data.changes_since(since, limit=limit, cursor=cursor)
        return {"items": items, "next_cursor": next_cursor}

    handlers: dict[str, Handler] = {
        "citizen-lookup": citizen_lookup,
        "citizen-batch-lookup": citizen_batch_lookup,
        "citizen-search": citizen_search,
        "citizen-verify": citizen_verify,
        "household-lookup": household_lookup,
        "birth-registration": birth_registration,
        "death-registration": death_registration,
        "residence-registration": residence_registration,
        "citizen-changes": citizen_changes,
    }
    hub = HubClient(client_id=manifest.subsystem_id, hub_url=hub_url, client_key=client_key)
    return build_app(manifest, dataset=data, handlers=handlers, hub=hub, faults=faults)
