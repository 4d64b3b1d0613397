"""Enterprise registration checks the representative with population through the hub."""

from __future__ import annotations

import datetime as dt
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from stdnum.vn import mst

import connectors
from connectors.business import Enterprises, connector
from connectors.kit.checks import CITIZEN_VERIFY
from connectors.kit.testing import FakeHub, open_client, serve
from connectors.population.dataset import citizen_at

SEED, SIZE = 5, 10_000
KEY = "business-registry-test-key"
PURPOSE = {"X-Road-UserId": "officer-07", "X-Road-Issue": "DKKD-2025-0001"}


@pytest.fixture
def hub() -> Iterator[tuple[FakeHub, str]]:
    fake = FakeHub(seed=SEED, size=SIZE)
    with serve(fake.app) as url:
        yield fake, url


def adult(start: int = 0) -> dict[str, Any]:
    for k in range(start, SIZE):
        person = citizen_at(SEED, SIZE, k)
        if person["date_of_birth"] < "2000-01-01":
            return person
    raise AssertionError("no adult")


def application(person: dict[str, Any], **changes: Any) -> dict[str, Any]:
    body = {
        "name": "Công ty TNHH Thương mại Sông Hồng",
        "type": "llc-multi",
        "head_office": {"province": "01", "commune": "00301", "detail": "Số 5 Tràng Tiền"},
        "legal_representative": {
            "id": person["id"],
            "full_name": person["full_name"],
            "date_of_birth": person["date_of_birth"],
        },
        "charter_capital_vnd": 2_000_000_000,
    }
    body.update(changes)
    return body


async def test_registration_calls_citizen_verify_through_the_hub(
    hub: tuple[FakeHub, str],
) -> None:
    fake, url = hub
    person = adult()
    app = connector.create_app(seed=SEED, size=SIZE, hub_url=url, client_key=KEY)
    async with open_client(app) as client:
        answer = await client.post("/enterprises", json=application(person), headers=PURPOSE)
        assert answer.status_code == 201, answer.text
        record = answer.json()
        assert mst.is_valid(record["code"]) and record["code"][:2] == "01"
        assert record["status"] == "active"
        assert record["registration_date"] == dt.date.today().isoformat()
        assert record["legal_representative"] == {
            "id": person["id"],
            "full_name": person["full_name"],
        }

        [call] = fake.requests
        assert call.method == "POST"
        assert call.path == f"/r1/{CITIZEN_VERIFY}/citizens/verify"
        assert call.path == "/r1/VN/GOV/BCA/population/citizen-verify/citizens/verify"
        assert call.headers["x-road-client"] == "VN/GOV/BTC/business-registry"
        assert call.headers["authorization"] == f"Bearer {KEY}"
        assert call.headers["x-road-userid"] == "officer-07"
        assert call.headers["x-road-issue"] == "DKKD-2025-0001"
        assert call.body == {
            "id": person["id"],
            "full_name": person["full_name"],
            "date_of_birth": person["date_of_birth"],
        }

        # The write is visible to later reads, and a reset forgets it.
        assert (await client.get(f"/enterprises/{record['code']}")).json() == record
        found = await client.get("/enterprises", params={"representative_id": person["id"]})
        assert record in found.json()["items"]
        found = await client.get("/enterprises", params={"name": "song hong", "limit": 100})
        assert record["code"] in [i["code"] for i in found.json()["items"]]
        # The Law on Enterprises forbids a name identical to a registered enterprise's.
        same = application(person, name="  CÔNG TY TNHH   thương mại Sông Hồng ")
        second = await client.post("/enterprises", json=same, headers=PURPOSE)
        assert second.status_code == 409, second.text
        assert second.json() == {
            "type": "Conflict",
            "message": f"enterprise {record['code']} is already registered as {record['name']!r}: "
            "the Law on Enterprises forbids an identical name; choose another",
        }

        assert (await client.post("/__reset")).status_code == 200
        gone = await client.get(f"/enterprises/{record['code']}")
        assert gone.status_code == 404 and gone.json()["type"] == "NotFound"


async def test_registration_against_the_population_mock_itself() -> None:
    population = connectors.get("population").create_app(seed=SEED, size=SIZE)
    fake = FakeHub(seed=SEED, size=SIZE, upstreams={CITIZEN_VERIFY: population})
    person = adult(100)
    wrong = application(person)
    wrong["legal_representative"]["date_of_birth"] = "1901-01-01"
    with serve(fake.app) as url:
        app = connector.create_app(seed=SEED, size=SIZE, hub_url=url, client_key=KEY)
        async with open_client(app) as client:
            good = await client.post("/enterprises", json=application(person), headers=PURPOSE)
            bad = await client.post("/enterprises", json=wrong, headers=PURPOSE)
    assert good.status_code == 201, good.text
    assert bad.status_code == 422, bad.text


async def test_a_representative_who_does_not_match_is_refused(hub: tuple[FakeHub, str]) -> None:
    fake, url = hub
    person = adult()
    body = application(person)
    body["legal_representative"]["full_name"] = "Trần Văn Không Có"
    app = connector.create_app(seed=SEED, size=SIZE, hub_url=url, client_key=KEY)
    async with open_client(app) as client:
        answer = await client.post("/enterprises", json=body, headers=PURPOSE)
        assert answer.status_code == 422
        problem = answer.json()
        assert problem["type"] == "Unprocessable"
        assert "does not match the population database" in problem["message"]
        assert len(fake.requests) == 1
        found = await client.get("/enterprises", params={"representative_id": person["id"]})
        assert all(i["name"] != body["name"] for i in found.json()["items"])


async def test_a_hub_refusal_is_a_502_saying_so(hub: tuple[FakeHub, str]) -> None:
    fake, url = hub
    fake.refuse(CITIZEN_VERIFY, 403, "Client.AccessDenied")
    app = connector.create_app(seed=SEED, size=SIZE, hub_url=url, client_key=KEY)
    async with open_client(app) as client:
        answer = await client.post("/enterprises", json=application(adult()), headers=PURPOSE)
    assert answer.status_code == 502
    assert answer.json()["type"] == "UpstreamFailed"
    assert "refused" in answer.json()["message"]
    assert "Client.AccessDenied" in answer.json()["message"]


async def test_a_mock_started_without_a_key_is_told_how_to_give_it_one(
    hub: tuple[FakeHub, str],
) -> None:
    # `hub mock business --hub-url ...` without --client-key: the hub's 401 ("no API key:
    # send 'Authorization: ...'") spoke to a client, not to whoever started the mock.
    fake, url = hub
    fake.refuse(CITIZEN_VERIFY, 401, "Client.Unauthorized")
    for key, hint in ((None, True), (KEY, False)):
        app = connector.create_app(seed=SEED, size=SIZE, hub_url=url, client_key=key)
        async with open_client(app) as client:
            answer = await client.post("/enterprises", json=application(adult()), headers=PURPOSE)
        assert answer.status_code == 502
        message = answer.json()["message"]
        assert "Client.Unauthorized" in message
        assert (
            "VN/GOV/BTC/business-registry was started without an API key: give it "
            "--client-key or HUB_MOCK_CLIENT_KEY (hub keys issue VN/GOV/BTC/business-registry)"
            in message
        ) is hint, message


async def test_an_unreachable_hub_is_a_502() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the call: nothing listens there
    app = connector.create_app(seed=SEED, size=SIZE, hub_url=f"http://127.0.0.1:{port}")
    async with open_client(app) as client:
        answer = await client.post("/enterprises", json=application(adult()), headers=PURPOSE)
    assert answer.status_code == 502
    assert "could not be reached" in answer.json()["message"]


async def test_without_a_hub_registration_is_a_502() -> None:
    app = connector.create_app(seed=SEED, size=SIZE)
    async with open_client(app) as client:
        answer = await client.post("/enterprises", json=application(adult()))
    assert answer.status_code == 502
    assert "not connected to a hub" in answer.json()["message"]


async def test_a_bad_head_office_is_refused_before_any_call(hub: tuple[FakeHub, str]) -> None:
    fake, url = hub
    app = connector.create_app(seed=SEED, size=SIZE, hub_url=url, client_key=KEY)
    office = {"province": "79", "commune": "00301", "detail": "x"}  # a Hà Nội commune
    async with open_client(app) as client:
        answer = await client.post(
            "/enterprises", json=application(adult(), head_office=office), headers=PURPOSE
        )
        assert answer.status_code == 422
        assert "not a commune of province 79" in answer.json()["message"]
        # Bắc Ninh's code before the 2025 merger: the answer names the province in force.
        office = {"province": "27", "commune": "00301", "detail": "x"}
        answer = await client.post(
            "/enterprises", json=application(adult(), head_office=office), headers=PURPOSE
        )
        assert answer.json()["message"] == (
            "head_office.province: province 27 is a code from before the 2025 merger: give 24 "
            "(Bắc Ninh), the province in force since"
        )
        answer = await client.post("/enterprises", json={"name": "x"}, headers=PURPOSE)
        assert answer.status_code == 422
    assert fake.requests == []


async def test_lookup_search_and_openapi_over_http() -> None:
    app = connector.create_app(seed=SEED, size=SIZE)
    async with open_client(app) as client:
        page = (await client.get("/enterprises", params={"province": "79", "limit": 5})).json()
        assert len(page["items"]) == 5 and page["next_cursor"] is not None
        more = await client.get(
            "/enterprises", params={"province": "79", "limit": 5, "cursor": page["next_cursor"]}
        )
        assert not {i["code"] for i in page["items"]} & {i["code"] for i in more.json()["items"]}
        code = page["items"][0]["code"]
        assert (await client.get(f"/enterprises/{code}")).json() == page["items"][0]
        assert (await client.get("/enterprises", params={"limit": 101})).status_code == 422
        assert (await client.get("/enterprises/0100000000")).status_code == 400
        spec = (await client.get("/openapi.json")).json()
        assert {"/enterprises", "/enterprises/{code}"} <= set(spec["paths"])
    entry = connector.manifest.registry_entry("http://127.0.0.1:8002")
    assert [s["id"] for s in entry["services"]] == [
        "VN/GOV/BTC/business-registry/enterprise-lookup",
        "VN/GOV/BTC/business-registry/enterprise-search",
        "VN/GOV/BTC/business-registry/enterprise-registration",
        "VN/GOV/BTC/business-registry/citizen-events",
        "VN/GOV/BTC/business-registry/citizen-events-received",
    ]


async def test_a_representative_under_18_is_refused_before_any_call(
    hub: tuple[FakeHub, str],
) -> None:
    fake, url = hub
    child = next(
        p
        for p in (citizen_at(SEED, SIZE, k) for k in range(SIZE))
        if p["date_of_birth"] > (dt.date.today() - dt.timedelta(days=5 * 365)).isoformat()
    )
    app = connector.create_app(seed=SEED, size=SIZE, hub_url=url, client_key=KEY)
    async with open_client(app) as client:
        body = application(child)
        answer = await client.post("/enterprises", json=body, headers=PURPOSE)
        assert answer.status_code == 422 and "is not 18 or older" in answer.json()["message"]
        # Without a claimed birth date, the year in the ID number tells (and the answer
        # says so, not "born 20xx-12-31", a date nobody gave).
        del body["legal_representative"]["date_of_birth"]
        answer = await client.post("/enterprises", json=body, headers=PURPOSE)
        assert answer.status_code == 422
        assert answer.json()["message"] == (
            f"the legal representative {child['id']} is not 18 or older (born in "
            f"{child['date_of_birth'][:4]}, by the ID number)"
        )
    assert fake.requests == []


async def test_a_representative_id_that_is_no_personal_id_is_said_so(
    hub: tuple[FakeHub, str],
) -> None:
    # Province 99 was never a province: the answer said the person "is not 18 or older".
    fake, url = hub
    person = {"id": "099090001234", "full_name": "Nguyễn Văn An", "date_of_birth": "1990-01-01"}
    app = connector.create_app(seed=SEED, size=SIZE, hub_url=url, client_key=KEY)
    async with open_client(app) as client:
        body = application(person)
        del body["legal_representative"]["date_of_birth"]
        answer = await client.post("/enterprises", json=body, headers=PURPOSE)
    assert answer.status_code == 422
    assert answer.json()["message"] == (
        "legal_representative.id 099090001234 is not a personal identification number: 12 "
        "digits, the first three a province code, then the century and sex digit and the "
        "birth year"
    )
    assert fake.requests == []


async def test_the_head_office_is_named_from_its_codes(hub: tuple[FakeHub, str]) -> None:
    _fake, url = hub
    office = {
        "province": "01",
        "commune": "00301",
        "detail": "Số 5 Tràng Tiền",
        "province_name": "Hồ Chí Minh",  # the client's own say, and wrong
    }
    app = connector.create_app(seed=SEED, size=SIZE, hub_url=url, client_key=KEY)
    async with open_client(app) as client:
        answer = await client.post(
            "/enterprises", json=application(adult(), head_office=office), headers=PURPOSE
        )
        assert answer.status_code == 201, answer.text
        stored = answer.json()["head_office"]
        assert stored["province_name"] == "Hà Nội" and stored["commune_name"]


async def test_a_code_with_a_trailing_newline_is_refused() -> None:
    # "$" matches before a final "\n": the enterprise came back (200) and its branch was a 404.
    data = Enterprises(seed=SEED, size=SIZE)
    parent = next(e for e in map(data.enterprise_at, range(data.count)) if e["branches"])
    app = connector.create_app(seed=SEED, size=SIZE)
    async with open_client(app) as client:
        for code in (parent["code"], parent["branches"][0]):
            answer = await client.get(f"/enterprises/{code}%0A")
            assert answer.status_code == 400, answer.text
            assert answer.json()["message"] == (
                f"{code + chr(10)!r} is not a valid enterprise code: 10 digits with a correct "
                "check digit, optionally followed by -NNN for a branch (001-999)"
            )
