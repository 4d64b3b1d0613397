"""Mock land registry (Ministry of Agriculture and Environment): parcels and certificates.

Services (base URL of the mock; through the hub prefix ``/r1/VN/GOV/BNNMT/land-registry/
<service>``):

- ``parcel-lookup``  ``GET /parcels/{id}?as_of=``: one parcel by its 12-character GeoHash ID,
  as it is now or as it was on ``as_of`` (YYYY-MM-DD; ``dataset.py`` says how history is kept)
- ``parcel-batch-lookup``  ``POST /parcels/batch`` ``{ids: [1 to 100 parcel IDs], as_of?}`` ->
  ``{"items": [parcels found], "not_found": [IDs]}``; an ID no parcel could have is refused
  (422), as the single lookup refuses it (400)
- ``parcel-search``  ``GET /parcels?province=&commune=&land_user=&limit=&cursor=``
  (``land_user``: a personal ID number or an enterprise code)
- ``certificate-verify``  ``POST /certificates/verify`` ``{code, serial, parcel_id?}`` ->
  ``{"valid": bool, "status": "current" | "superseded" | "mismatch" | "unknown"}``; a code,
  serial or parcel ID no certificate could have (12 digits with a Luhn check digit; two
  capital letters and eight digits; 12 GeoHash characters) is refused (422), not "unknown"
- ``land-transfer``  ``POST /parcels/{id}/transfers`` ``{from, to, certificate}``: checks
  both parties through the hub (population ``citizen-verify``, business
  ``enterprise-lookup``), then replaces the giving users and issues a new certificate (201)

Land users are citizens by personal ID number and enterprises by enterprise code (DOMAIN.md).
A branch (``-NNN``) is not one: it has no legal personality of its own, so the land is its
enterprise's. A transfer to a branch code, and a search by one, is refused (422) with a
sentence that names the enterprise's code to give instead.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from pydantic import AfterValidator

from connectors.kit import (
    Connector,
    HubClient,
    InvalidRequestError,
    UnprocessableError,
    build_app,
)
from connectors.kit.app import FaultsArg
from connectors.kit.checks import lookup_enterprise, verify_citizen
from connectors.kit.queries import AsOf, CommuneFilter, Cursor, ProvinceFilter
from connectors.land.dataset import Parcels, same_name
from connectors.land.manifest import MANIFEST
from schemas import enterprise_code
from schemas.common import check_personal_id
from schemas.identifiers import COMMUNES, PROVINCES
from schemas.land import CertificateVerify, LandTransfer, ParcelBatchRequest, Party

__all__ = ["MANIFEST", "Parcels", "connector", "create_app"]

ENTERPRISE_CODE = re.compile(r"([0-9]{10})(-[0-9]{3})?", re.ASCII)
PERSONAL_ID = re.compile(r"[0-9]{12}", re.ASCII)


def _land_user(value: str | None) -> str | None:
    # A branch given as a land user was stored, and then no search could find its parcels.
    if value is None:
        return value
    if PERSONAL_ID.fullmatch(value):
        # One no citizen could hold (province 99) answered an empty page.
        return check_personal_id(value)
    code = ENTERPRISE_CODE.fullmatch(value)
    if code is None:
        raise ValueError(
            f"must be a personal ID number (12 digits) or an enterprise code (10 digits) "
            f"(got {value!r})"
        )
    if code.group(2):
        raise ValueError(
            f"{value} is a branch's code, and a branch holds no land-use rights of its own: "
            f"search by its enterprise's code {code.group(1)}"
        )
    if not enterprise_code.is_valid(value):
        # A wrong check digit answered an empty page; the lookup of the code says it is none.
        enterprise_code.split(value)  # raises, saying what a code is
    return value


LandUserFilter = Annotated[
    str | None,
    Query(description="A land user: personal ID number (12 digits) or enterprise code (10)"),
    AfterValidator(_land_user),
]


async def check_party(hub: HubClient, request: Request, party: Party, *, receiving: bool) -> None:
    """Refuse (422) a party the population or business registry does not confirm."""
    if party.kind == "citizen":
        if not (len(party.id) == 12 and party.id.isascii() and party.id.isdigit()):
            raise UnprocessableError(f"citizen {party.id!r}: a personal ID number is 12 digits")
        if not await verify_citizen(hub, request, citizen_id=party.id, full_name=party.name):
            raise UnprocessableError(
                f"citizen {party.id} ({party.name}) does not match the population database"
            )
        return
    code = ENTERPRISE_CODE.fullmatch(party.id)
    if code is None:
        # Looked up through the hub, "0186709705?a=1" found 0186709705 and was stored as is.
        raise UnprocessableError(f"enterprise {party.id!r}: an enterprise code is 10 digits")
    if code.group(2):
        raise UnprocessableError(
            f"enterprise {party.id}: a branch holds no land-use rights of its own; give its "
            f"enterprise's code {code.group(1)}"
        )
    record = await lookup_enterprise(hub, request, code=party.id)
    if record is None:
        raise UnprocessableError(f"the business registry has no enterprise {party.id}")
    if not same_name(record.get("name", ""), party.name):
        raise UnprocessableError(
            f"enterprise {party.id} is registered as {record.get('name')!r}, not {party.name!r}"
        )
    if receiving and record.get("status") != "active":
        raise UnprocessableError(
            f"enterprise {party.id} is {record.get('status')}; only an active enterprise can "
            "receive land-use rights"
        )


def create_app(
    *,
    seed: int = 42,
    size: int | None = None,
    hub_url: str | None = None,
    client_key: str | None = None,
    faults: FaultsArg = None,
    state_path: str | Path | None = None,
) -> FastAPI:
    """The land registry app; ``size`` is the population size it draws land users from."""
    data = Parcels(seed=seed, size=size, state_path=state_path)
    hub = HubClient(client_id=MANIFEST.subsystem_id, hub_url=hub_url, client_key=client_key)

    async def lookup(id: str, as_of: AsOf = None) -> dict[str, Any]:
        return data.get(id, as_of=as_of)

    async def batch(body: ParcelBatchRequest) -> dict[str, Any]:
        return data.batch(body.ids, as_of=body.as_of)

    async def search(
        province: ProvinceFilter = None,
        commune: CommuneFilter = None,
        land_user: LandUserFilter = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        cursor: Cursor = None,
    ) -> dict[str, Any]:
        place = COMMUNES.get(commune) if commune is not None else None
        if place is not None and province is not None and place.province != province:
            # Both filters hold for no parcel: an empty page said nothing of why.
            raise InvalidRequestError(
                f"commune {commune} is in province {place.province} "
                f"({PROVINCES[place.province]}), not {province}: give one or the other"
            )
        items, following = data.search(
            province=province,
            commune=commune,
            land_user=land_user,
            limit=limit,
            cursor=int(cursor or 0),
        )
        return {"items": items, "next_cursor": None if following is None else str(following)}

    async def verify(body: CertificateVerify) -> dict[str, Any]:
        valid, status = data.verify_certificate(body)
        return {"valid": valid, "status": status}

    async def transfer(id: str, body: LandTransfer, request: Request) -> dict[str, Any]:
        # The registry's own records first (cheap, and no other agency is bothered for a
        # request that cannot succeed), then both sides through the hub.
        data.check_transfer(data.get(id), body)
        for party in body.from_:
            await check_party(hub, request, party, receiving=False)
        for party in body.to:
            await check_party(hub, request, party, receiving=True)
        transfer_id, parcel, previous = data.transfer(id, body, today=dt.date.today())
        return {"transfer_id": transfer_id, "parcel": parcel, "previous_certificate": previous}

    return build_app(
        MANIFEST,
        dataset=data,
        hub=hub,
        faults=faults,
        handlers={
            "parcel-lookup": lookup,
            "parcel-batch-lookup": batch,
            "parcel-search": search,
            "certificate-verify": verify,
            "land-transfer": transfer,
        },
    )


connector = Connector(MANIFEST, create_app)
