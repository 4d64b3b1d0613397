"""The insurance mock: cards of seed citizens, and cards issued to newborns."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from urllib.parse import quote

import httpx
import pytest

import connectors
from connectors.insurance.store import InsuranceData
from connectors.population.dataset import DEFAULT_SIZE, citizen_at
from schemas.insurance import CardIssue


@pytest.fixture
async def api() -> AsyncIterator[httpx.AsyncClient]:
    app = connectors.get("insurance").create_app(seed=42)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://insurance") as client:
        yield client


async def test_seed_citizens_hold_cards_that_lead_back_to_them(api: httpx.AsyncClient) -> None:
    holders = 0
    for index in range(60):
        person = citizen_at(42, DEFAULT_SIZE, index)
        page = (await api.get("/cards", params={"holder_id": person["id"]})).json()
        for card in page["items"]:
            holders += 1
            assert card["holder_id"] == card["social_insurance_number"] == person["id"]
            assert len(card["code"]) == 15 and card["code"].endswith(person["id"][2:])
            assert card["code"][3:5] == person["permanent_address"]["province"]
            assert (await api.get(f"/cards/{card['code']}")).json() == card
    assert 45 <= holders <= 60  # about 93 % coverage
    assert (await api.get("/cards/GD4790000000000")).status_code == 404


async def test_newborn_card_is_issued_once_and_found(api: httpx.AsyncClient) -> None:
    body = {"holder_id": "079325123456", "full_name": "Lê Bảo An", "date_of_birth": "2025-04-01"}
    issued = await api.post("/cards", json=body)
    assert issued.status_code == 201, issued.text
    card = issued.json()
    assert card["code"] == "TE179" + "9325123456" and card["valid_to"] == "2031-03-31"
    assert (await api.get(f"/cards/{card['code']}")).json() == card
    found = (await api.get("/cards", params={"holder_id": body["holder_id"]})).json()
    assert found["items"] == [card]
    assert (await api.post("/cards", json=body)).status_code == 409
    wrong_year = {**body, "holder_id": "079324123456"}
    assert (await api.post("/cards", json=wrong_year)).status_code == 422
    await api.post("/__reset")
    assert (await api.get(f"/cards/{card['code']}")).status_code == 404


async def test_a_child_born_on_29_february_gets_a_card(api: httpx.AsyncClient) -> None:
    body = {"holder_id": "079324000001", "full_name": "Bé", "date_of_birth": "2024-02-29"}
    issued = await api.post("/cards", json=body)  # replace(year=2030) failed: a 500
    assert issued.status_code == 201, issued.text
    assert issued.json()["valid_to"] == "2030-02-28"  # the day before 1 March 2030


async def test_digits_that_are_not_ascii_are_no_data(api: httpx.AsyncClient) -> None:
    # "²" passed str.isdigit() and failed int(): a 500.
    assert (await api.get("/cards/GD47990900²²²²²")).status_code == 400
    cards = await api.get("/cards", params={"holder_id": "079200317948", "cursor": "²"})
    assert cards.status_code == 422


async def test_a_seed_citizens_card_carries_the_population_records_name(
    api: httpx.AsyncClient,
) -> None:
    for index in range(200):  # a seed citizen without a card (about 7 %)
        person = citizen_at(42, DEFAULT_SIZE, index)
        if not (await api.get("/cards", params={"holder_id": person["id"]})).json()["items"]:
            break
    else:
        raise AssertionError("every one of 200 citizens holds a card")
    body = {"holder_id": person["id"], "full_name": "Tên Giả Mạo"}
    refused = await api.post("/cards", json=body)
    assert refused.status_code == 422 and "population database" in refused.text
    wrong_day = {"holder_id": person["id"], "date_of_birth": "1900-01-01"}
    assert (await api.post("/cards", json=wrong_day)).status_code == 422
    issued = await api.post("/cards", json={"holder_id": person["id"]})
    assert issued.status_code == 201, issued.text
    assert issued.json()["full_name"] == person["full_name"]


@pytest.mark.parametrize("code", ["abc", "gd4799090012345", "GD47990900123", "GD479909001234\n"])
async def test_a_malformed_card_code_is_a_400_saying_what_one_is(
    api: httpx.AsyncClient, code: str
) -> None:
    # Each was a 404 "no health-insurance card with code abc".
    answer = await api.get(f"/cards/{quote(code)}")
    assert answer.status_code == 400, answer.text
    assert answer.json() == {
        "type": "BadRequest",
        "message": f"{code!r} is not a health-insurance card code: 2 capital letters (the "
        "beneficiary group) and 13 digits (e.g. GD4799090001234)",
    }
    assert (await api.get("/cards/GD4799090001234")).status_code == 404  # well-formed: no data


@pytest.mark.parametrize(
    ("holder", "born", "group", "valid_to"),
    [
        # Five until 3 January 2026: 2190 days old on 1 January, which 365-day years made six.
        ("079220123456", "2020-01-03", "TE", "2026-01-02"),
        # 61 until 2 January 2026, and pensioners' cards start at 62.
        ("079164123456", "1964-01-02", "GD", "2026-12-31"),
        ("079164123457", "1964-01-01", "HT", "2026-12-31"),
    ],
)
def test_the_beneficiary_group_follows_the_age_in_calendar_years(
    holder: str, born: str, group: str, valid_to: str
) -> None:
    data = InsuranceData(seed=42)
    request = CardIssue(holder_id=holder, full_name="Lê Bảo An", date_of_birth=born)
    card = data.issue(request, today=dt.date(2026, 1, 1))
    assert (card["beneficiary_group"], card["valid_to"]) == (group, valid_to)


async def test_a_holder_whose_id_carries_a_merged_provinces_code_gets_a_card_of_today(
    api: httpx.AsyncClient,
) -> None:
    # Born in Hà Giang (02) in 1990: the ID keeps 002, and the card's province, taken from
    # it, was refused as "unknown province code 02", a field the client never sent.
    body = {"holder_id": "002190001298", "full_name": "Vàng Thị Mai", "date_of_birth": "1990-01-01"}
    issued = await api.post("/cards", json=body)
    assert issued.status_code == 201, issued.text
    assert issued.json()["province"] == "08"  # Hà Giang is Tuyên Quang's since 2025
    assert issued.json()["code"] == "GD408" + "2190001298"


async def test_a_pre_merger_province_code_given_is_refused_naming_the_one_in_force(
    api: httpx.AsyncClient,
) -> None:
    body = {"holder_id": "079190001299", "full_name": "Lê An", "date_of_birth": "1990-01-01"}
    refused = await api.post("/cards", json={**body, "province": "26"})
    assert refused.status_code == 422
    assert refused.json()["message"] == (
        "province 26 is a code from before the 2025 merger: give 25 (Phú Thọ), the province "
        "in force since"
    )
