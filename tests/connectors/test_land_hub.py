"""Land transfer checks both parties through the hub before changing the land users."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from connectors import business, land
from connectors.kit.checks import CITIZEN_VERIFY, ENTERPRISE_LOOKUP
from connectors.kit.testing import FakeHub, open_client, serve
from connectors.land.dataset import Parcels
from connectors.population.dataset import citizen_at, index_of

SEED, SIZE = 9, 10_000
KEY = "land-registry-test-key"
PURPOSE = {"X-Road-UserId": "officer-12", "X-Road-Issue": "CN-2025-0420"}
DATA = Parcels(seed=SEED, size=SIZE)


@pytest.fixture
def hub() -> Iterator[tuple[FakeHub, str]]:
    registry = business.create_app(seed=SEED, size=SIZE)
    fake = FakeHub(seed=SEED, size=SIZE, upstreams={ENTERPRISE_LOOKUP: registry})
    with serve(fake.app) as url:
        yield fake, url


def name_of(citizen_id: str) -> str:
    index = index_of(SEED, SIZE, citizen_id)
    assert index is not None
    return citizen_at(SEED, SIZE, index)["full_name"]


def citizen_parcel() -> dict[str, Any]:
    return next(
        p
        for p in map(DATA.seed_parcel, range(DATA.count))
        if [u["kind"] for u in p["land_users"]] == ["citizen"]
    )


def active_enterprise() -> dict[str, Any]:
    return next(
        e
        for e in map(DATA.enterprises.enterprise_at, range(DATA.enterprises.count))
        if e["status"] == "active"
    )


def request_for(parcel: dict[str, Any], to: dict[str, Any]) -> dict[str, Any]:
    seller = parcel["land_users"][0]["id"]
    return {
        "from": {"kind": "citizen", "id": seller, "name": name_of(seller)},
        "to": to,
        "certificate": {k: parcel["certificate"][k] for k in ("code", "serial")},
    }


async def test_transfer_to_an_enterprise_goes_through_the_hub(hub: tuple[FakeHub, str]) -> None:
    fake, url = hub
    parcel, buyer = citizen_parcel(), active_enterprise()
    body = request_for(parcel, {"kind": "enterprise", "id": buyer["code"], "name": buyer["name"]})
    app = land.create_app(seed=SEED, size=SIZE, hub_url=url, client_key=KEY)
    async with open_client(app) as client:
        answer = await client.post(f"/parcels/{parcel['id']}/transfers", json=body, headers=PURPOSE)
        assert answer.status_code == 201, answer.text
        result = answer.json()
        assert result["parcel"]["land_users"] == [{"kind": "enterprise", "id": buyer["code"]}]
        assert result["previous_certificate"] == body["certificate"]
        new = result["parcel"]["certificate"]
        assert new["code"] != parcel["certificate"]["code"]

        verify, lookup = fake.requests
        assert verify.method == "POST"
        assert verify.path == f"/r1/{CITIZEN_VERIFY}/citizens/verify"
        assert verify.body == {"id": body["from"]["id"], "full_name": body["from"]["name"]}
        assert lookup.method == "GET"
        assert lookup.path == (
            f"/r1/VN/GOV/BTC/business-registry/enterprise-lookup/enterprises/{buyer['code']}"
        )
        for call in (verify, lookup):
            assert call.headers["x-road-client"] == "VN/GOV/BNNMT/land-registry"
            assert call.headers["authorization"] == f"Bearer {KEY}"
            assert call.headers["x-road-userid"] == "officer-12"
            assert call.headers["x-road-issue"] == "CN-2025-0420"

        # Later reads see the transfer; the old certificate is superseded; reset undoes it.
        assert (await client.get(f"/parcels/{parcel['id']}")).json() == result["parcel"]
        held = await client.get("/parcels", params={"land_user": buyer["code"], "limit": 100})
        assert parcel["id"] in [p["id"] for p in held.json()["items"]]
        old = await client.post("/certificates/verify", json=body["certificate"])
        assert old.json() == {"valid": False, "status": "superseded"}
        current = await client.post(
            "/certificates/verify",
            json={"code": new["code"], "serial": new["serial"], "parcel_id": parcel["id"]},
        )
        assert current.json() == {"valid": True, "status": "current"}
        await client.post("/__reset")
        assert (await client.get(f"/parcels/{parcel['id']}")).json()["land_users"] == (
            parcel["land_users"]
        )


async def test_transfer_between_citizens(hub: tuple[FakeHub, str]) -> None:
    fake, url = hub
    parcel = citizen_parcel()
    buyer = citizen_at(SEED, SIZE, 0)
    body = request_for(parcel, {"kind": "citizen", "id": buyer["id"], "name": buyer["full_name"]})
    app = land.create_app(seed=SEED, size=SIZE, hub_url=url, client_key=KEY)
    async with open_client(app) as client:
        answer = await client.post(f"/parcels/{parcel['id']}/transfers", json=body, headers=PURPOSE)
    assert answer.status_code == 201, answer.text
    assert answer.json()["parcel"]["land_users"] == [{"kind": "citizen", "id": buyer["id"]}]
    assert [c.body["id"] for c in fake.calls(CITIZEN_VERIFY)] == [body["from"]["id"], buyer["id"]]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"to": {"kind": "citizen", "id": "079090001234", "name": "Không Có Ai"}}, "population"),
        ({"to": {"kind": "enterprise", "id": "0100233488", "name": "X"}}, "no enterprise"),
        ({"to": {"kind": "enterprise", "id": "ENTERPRISE", "name": "Tên Sai"}}, "not 'Tên Sai'"),
        ({"to": {"kind": "enterprise", "id": "INACTIVE", "name": "NAME"}}, "only an active"),
        # Looked up as /enterprises/0186709705?a=1, it found 0186709705 and was stored as is.
        ({"to": {"kind": "enterprise", "id": "ENTERPRISE?a=1", "name": "X"}}, "10 digits"),
        # Accepted, it was a land user no parcel search could find (land_user is 10 digits).
        (
            {"to": {"kind": "enterprise", "id": "ENTERPRISE-001", "name": "X"}},
            "a branch holds no land-use rights of its own; give its enterprise's code ENTERPRISE",
        ),
    ],
)
async def test_parties_the_registries_do_not_confirm_are_refused(
    hub: tuple[FakeHub, str], change: dict[str, Any], message: str
) -> None:
    fake, url = hub
    parcel = citizen_parcel()
    to = dict(change["to"])
    if to["id"].startswith("ENTERPRISE"):
        to["id"] = to["id"].replace("ENTERPRISE", active_enterprise()["code"])
        message = message.replace("ENTERPRISE", active_enterprise()["code"])
    if to["id"] == "INACTIVE":
        closed = next(
            e
            for e in map(DATA.enterprises.enterprise_at, range(DATA.enterprises.count))
            if e["status"] == "dissolved"
        )
        to.update(id=closed["code"], name=closed["name"])
    app = land.create_app(seed=SEED, size=SIZE, hub_url=url, client_key=KEY)
    async with open_client(app) as client:
        answer = await client.post(
            f"/parcels/{parcel['id']}/transfers", json=request_for(parcel, to), headers=PURPOSE
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["type"] == "Unprocessable"
        assert message in answer.json()["message"]
        assert (await client.get(f"/parcels/{parcel['id']}")).json() == parcel


async def test_local_contradictions_are_refused_before_any_call(
    hub: tuple[FakeHub, str],
) -> None:
    fake, url = hub
    parcel, other = citizen_parcel(), DATA.seed_parcel(3)
    buyer = citizen_at(SEED, SIZE, 0)
    to = {"kind": "citizen", "id": buyer["id"], "name": buyer["full_name"]}
    stranger = request_for(parcel, to)
    stranger["from"] = to | {"id": other["land_users"][0]["id"]}
    wrong_certificate = request_for(parcel, to)
    wrong_certificate["certificate"] = {k: other["certificate"][k] for k in ("code", "serial")}
    app = land.create_app(seed=SEED, size=SIZE, hub_url=url, client_key=KEY)
    async with open_client(app) as client:
        path = f"/parcels/{parcel['id']}/transfers"
        answer = await client.post(path, json=stranger, headers=PURPOSE)
        assert answer.status_code == 422 and "not a current land user" in answer.json()["message"]
        answer = await client.post(path, json=wrong_certificate, headers=PURPOSE)
        assert answer.status_code == 422 and "current certificate" in answer.json()["message"]
        answer = await client.post("/parcels/zzzzzzzzzzzz/transfers", json=stranger)
        assert answer.status_code == 404 and answer.json()["type"] == "NotFound"
    assert fake.requests == []


async def test_a_hub_refusal_is_a_502(hub: tuple[FakeHub, str]) -> None:
    fake, url = hub
    fake.refuse(ENTERPRISE_LOOKUP, 503, "Server.ServiceUnavailable")
    parcel, buyer = citizen_parcel(), active_enterprise()
    body = request_for(parcel, {"kind": "enterprise", "id": buyer["code"], "name": buyer["name"]})
    app = land.create_app(seed=SEED, size=SIZE, hub_url=url, client_key=KEY)
    async with open_client(app) as client:
        answer = await client.post(f"/parcels/{parcel['id']}/transfers", json=body, headers=PURPOSE)
        assert answer.status_code == 502
        assert "Server.ServiceUnavailable" in answer.json()["message"]
        assert (await client.get(f"/parcels/{parcel['id']}")).json() == parcel


async def test_lookup_search_and_verify_over_http() -> None:
    app = land.create_app(seed=SEED, size=SIZE)
    async with open_client(app) as client:
        page = (await client.get("/parcels", params={"province": "92", "limit": 3})).json()
        assert len(page["items"]) == 3 and page["next_cursor"] is not None
        parcel = page["items"][0]
        assert (await client.get(f"/parcels/{parcel['id']}")).json() == parcel
        missing = await client.get("/parcels/s000000000000"[:-1])
        assert missing.status_code == 404 and missing.json()["type"] == "NotFound"
        forged = {"code": "123456789015", "serial": "AK01234567"}  # well formed, never issued
        bad = await client.post("/certificates/verify", json=forged)
        assert bad.json() == {"valid": False, "status": "unknown"}
        assert (
            await client.post("/certificates/verify", json={"code": "1", "serial": "2"})
        ).status_code == 422
        assert (await client.get("/parcels", params={"land_user": "abc"})).status_code == 422
        branch = await client.get("/parcels", params={"land_user": "0186709705-001"})
        assert branch.status_code == 422
        assert branch.json()["message"] == (
            "query parameter land_user: 0186709705-001 is a branch's code, and a branch holds "
            "no land-use rights of its own: search by its enterprise's code 0186709705"
        )
        spec = (await client.get("/openapi.json")).json()
        assert "/parcels/{id}/transfers" in spec["paths"]


async def test_a_malformed_parcel_id_is_a_400_saying_what_one_is() -> None:
    # "$" matches before a final "\n": both answered 500 (KeyError in cell_of), then 404.
    parcel = citizen_parcel()
    body = request_for(parcel, {"kind": "citizen", "id": "079090001234", "name": "A"})
    app = land.create_app(seed=SEED, size=SIZE)
    async with open_client(app) as client:
        lookup = await client.get(f"/parcels/{parcel['id']}%0A")
        transfer = await client.post(f"/parcels/{parcel['id']}%0A/transfers", json=body)
    for answer in (lookup, transfer):
        assert answer.status_code == 400, answer.text
        assert answer.json() == {
            "type": "BadRequest",
            "message": f"{parcel['id'] + chr(10)!r} is not a parcel ID: 12 GeoHash characters "
            "(0123456789bcdefghjkmnpqrstuvwxyz)",
        }
