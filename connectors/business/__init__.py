"""Mock business registry (Ministry of Finance): enterprises, branches and registration.

Services (base URL of the mock; through the hub prefix ``/r1/VN/GOV/BTC/business-registry/
<service>``):

- ``enterprise-lookup``  ``GET /enterprises/{code}``: an enterprise, or a branch (``-NNN``)
- ``enterprise-search``  ``GET /enterprises?name=&province=&status=&representative_id=
  &limit=&cursor=``: ``{"items": [...], "next_cursor": ...}``
- ``enterprise-registration``  ``POST /enterprises``: checks the legal representative with
  population ``citizen-verify`` through the hub, then issues a new enterprise code (201); a
  name identical to a registered enterprise's (case and spacing aside) is refused (409), as
  the Law on Enterprises does, unless that enterprise is dissolved or bankrupt
- ``citizen-events``  ``POST /events/citizens``: a population event of the registry's
  subscription (``citizen-subscribe``), recorded once per subscription and change
- ``citizen-events-received``  ``GET /events/citizens?citizen_id=&event=``: what arrived
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Header, Query, Request

from connectors.business.dataset import Enterprises
from connectors.business.manifest import MANIFEST
from connectors.kit import Connector, HubClient, UnprocessableError, build_app
from connectors.kit.app import FaultsArg
from connectors.kit.checks import verify_citizen
from connectors.kit.queries import Cursor, PersonalIdFilter, ProvinceFilter
from schemas.business import EnterpriseRegistration, EnterpriseStatus
from schemas.identifiers import (
    COMMUNES,
    is_valid_personal_id,
    personal_id_facts,
    province_problem,
)
from schemas.subscriptions import CitizenEvent, CitizenEventKind

__all__ = ["MANIFEST", "Enterprises", "connector", "create_app"]


def create_app(
    *,
    seed: int = 42,
    size: int | None = None,
    hub_url: str | None = None,
    client_key: str | None = None,
    faults: FaultsArg = None,
    state_path: str | Path | None = None,
) -> FastAPI:
    """The business registry app; ``size`` is the population size it draws people from."""
    data = Enterprises(seed=seed, size=size, state_path=state_path)
    events = data.overlay("citizen_events")  # by "subscription/seq": a resend is kept once
    hub = HubClient(client_id=MANIFEST.subsystem_id, hub_url=hub_url, client_key=client_key)

    async def lookup(code: str) -> dict[str, Any]:
        return data.get(code)

    async def search(
        name: Annotated[str | None, Query(max_length=200)] = None,
        province: ProvinceFilter = None,
        status: EnterpriseStatus | None = None,
        representative_id: PersonalIdFilter = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        cursor: Cursor = None,
    ) -> dict[str, Any]:
        items, following = data.search(
            name=name,
            province=province,
            status=status,
            representative_id=representative_id,
            limit=limit,
            cursor=int(cursor or 0),
        )
        return {"items": items, "next_cursor": None if following is None else str(following)}

    async def register(body: EnterpriseRegistration, request: Request) -> dict[str, Any]:
        office = body.head_office
        said = province_problem(office.province)
        if said is not None:
            raise UnprocessableError(f"head_office.province: {said}")
        commune = COMMUNES.get(office.commune)
        if commune is None or commune.province != office.province:
            raise UnprocessableError(
                f"head_office.commune {office.commune!r} is not a commune of province "
                f"{office.province}"
            )
        person = body.legal_representative
        if not is_valid_personal_id(person.id):
            # No citizen can hold it: said so, not "is not 18 or older" or "does not match".
            raise UnprocessableError(
                f"legal_representative.id {person.id} is not a personal identification "
                "number: 12 digits, the first three a province code, then the century and "
                "sex digit and the birth year"
            )
        today = dt.date.today()
        born = person.date_of_birth or _born_by_id(person.id)
        if _years_between(born, today) < ADULT_AGE:
            # The registry's own records are adults (dataset.ADULT_BY); a registration was not.
            if person.date_of_birth is not None:
                said = f"born {born}"
            else:  # only the year is known: _born_by_id's 31 December is no one's birthday
                said = f"born in {born.year}, by the ID number"
            raise UnprocessableError(
                f"the legal representative {person.id} is not {ADULT_AGE} or older ({said})"
            )
        matched = await verify_citizen(
            hub,
            request,
            citizen_id=person.id,
            full_name=person.full_name,
            date_of_birth=person.date_of_birth,
        )
        if not matched:
            raise UnprocessableError(
                f"the legal representative {person.id} ({person.full_name}) does not match the "
                "population database: check the ID number, full name and date of birth"
            )
        return data.register(body, today=today)

    async def receive_event(
        body: CitizenEvent,
        sender: Annotated[str | None, Header(alias="X-Road-Client")] = None,
    ) -> dict[str, Any]:
        key = f"{body.subscription}/{body.seq}"
        if key not in events:
            received = {"sender": sender, "received_at": dt.datetime.now(dt.UTC).isoformat()}
            events[key] = {**body.model_dump(mode="json"), **received}
        return dict(events[key])

    async def received_events(
        citizen_id: PersonalIdFilter = None, event: CitizenEventKind | None = None
    ) -> dict[str, Any]:
        items = [
            e
            for e in events.values()
            if citizen_id in (None, e["citizen_id"]) and event in (None, e["event"])
        ]
        return {"items": items}

    return build_app(
        MANIFEST,
        dataset=data,
        hub=hub,
        faults=faults,
        handlers={
            "enterprise-lookup": lookup,
            "enterprise-search": search,
            "enterprise-registration": register,
            "citizen-events": receive_event,
            "citizen-events-received": received_events,
        },
    )


connector = Connector(MANIFEST, create_app)


ADULT_AGE = 18


def _born_by_id(citizen_id: str) -> dt.date:
    """The latest birth date a valid ID number allows: 31 December of the year it encodes."""
    _province, year, _sex = personal_id_facts(citizen_id)
    return dt.date(year, 12, 31)


def _years_between(born: dt.date, day: dt.date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))
