"""The population mock's app: the manifest's services over a ``PopulationData``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Header, Query, Request

from connectors.kit import FaultConfig, Handler, HubClient, build_app
from connectors.kit.queries import AsOf, Cursor, DateFilter, ProvinceFilter
from connectors.kit.subscriptions import Subscriptions
from connectors.population.manifest import manifest
from connectors.population.models import CitizenVerifyRequest, HouseholdIdFilter
from connectors.population.records import Record
from connectors.population.store import PopulationData
from schemas.population import (
    BirthRegistration,
    CitizenBatchRequest,
    DeathRegistration,
    ResidenceRegistration,
)
from schemas.subscriptions import SubscriptionRequest

Limit = Annotated[int, Query(ge=1, le=100, description="Page size, at most 100")]
# Set by the hub to the calling subsystem (the client's own X-Road-* headers are dropped).
Caller = Annotated[str | None, Header(alias="X-Road-Client", include_in_schema=False)]


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
    hub = HubClient(client_id=manifest.subsystem_id, hub_url=hub_url, client_key=client_key)
    subscriptions = Subscriptions(data.overlay("subscriptions"), hub=hub)

    def published(request: Request, write: Callable[[Any], Record], body: Any) -> Record:
        """Make a write, then publish the changes it logged (a death may move others of the
        household) to the subscriptions, with the officer and dossier of the write."""
        before = len(data.changes)
        done = write(body)
        purpose = {h: request.headers.get(h, "") for h in ("X-Road-UserId", "X-Road-Issue")}
        for seq in range(before + 1, len(data.changes) + 1):
            change = data.changes[seq]
            event = {"event": change["kind"], "citizen_id": change["citizen_id"]}
            subscriptions.publish({**event, "at": change["at"], "seq": seq}, purpose=purpose)
        return done

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

    async def birth_registration(body: BirthRegistration, request: Request) -> Record:
        return published(request, data.register_birth, body)

    async def death_registration(body: DeathRegistration, request: Request) -> Record:
        return published(request, data.register_death, body)

    async def residence_registration(body: ResidenceRegistration, request: Request) -> Record:
        return published(request, data.register_residence, body)

    async def citizen_changes(
        since: dt.datetime | None = None, limit: Limit = 100, cursor: Cursor = None
    ) -> dict[str, Any]:
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=dt.UTC)
        items, next_cursor = data.changes_since(since, limit=limit, cursor=cursor)
        return {"items": items, "next_cursor": next_cursor}

    async def subscribe(body: SubscriptionRequest, caller: Caller = None) -> dict[str, Any]:
        return subscriptions.subscribe(
            owner=caller, service=body.service, path=body.path, events=body.events
        )

    async def subscription_list(caller: Caller = None) -> dict[str, Any]:
        return {"items": subscriptions.mine(caller)}

    async def unsubscribe(id: str, caller: Caller = None) -> dict[str, Any]:
        return subscriptions.cancel(caller, id)

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
        "citizen-subscribe": subscribe,
        "citizen-subscriptions": subscription_list,
        "citizen-unsubscribe": unsubscribe,
    }
    app = build_app(
        manifest,
        dataset=data,
        handlers=handlers,
        hub=hub,
        faults=faults,
        on_close=[subscriptions.aclose],
    )
    app.state.subscriptions = subscriptions
    return app
