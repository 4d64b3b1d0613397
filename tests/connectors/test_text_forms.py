"""Vietnamese text in writes is kept in one Unicode form (NFC), whichever form it came in.

"Ngân" typed on some keyboards (macOS, older Windows IMEs) arrives decomposed (NFD): "a",
then a combining circumflex and a combining acute. It was stored as sent: a card was refused
for a citizen's own name ("is not that of citizen"), and records carried names that equal
their NFC twin nowhere but on screen.
"""

from __future__ import annotations

import unicodedata

import httpx
import pytest

import connectors
from connectors.population.dataset import citizen_at
from schemas.business import EnterpriseRegistration


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


async def open_mock(name: str) -> httpx.AsyncClient:
    app = connectors.get(name).create_app(seed=42, size=200)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}")


async def test_a_card_for_a_citizen_named_in_nfd_is_issued_under_the_nfc_name() -> None:
    async with await open_mock("insurance") as insurance:
        for i in range(200):
            person = citizen_at(42, 200, i)
            found = await insurance.get("/cards", params={"holder_id": person["id"]})
            if not found.json()["items"] and unicodedata.is_normalized("NFC", person["full_name"]):
                break
        else:
            pytest.fail("every one of 200 citizens holds a card")
        assert nfd(person["full_name"]) != person["full_name"], "a name with diacritics"
        answer = await insurance.post(
            "/cards", json={"holder_id": person["id"], "full_name": nfd(person["full_name"])}
        )
    assert answer.status_code == 201, answer.text
    assert answer.json()["full_name"] == person["full_name"]


async def test_a_birth_registered_in_nfd_is_stored_in_nfc() -> None:
    mother = next(
        p
        for p in (citizen_at(42, 200, i) for i in range(200))
        if p["sex"] == "female" and "1970" < p["date_of_birth"] < "1995"
    )
    name = "Nguyễn Thị Ngọc Ánh"
    body = {"full_name": nfd(name), "date_of_birth": "2025-03-01", "sex": "female"}
    async with await open_mock("population") as population:
        born = await population.post("/births", json={**body, "mother_id": mother["id"]})
        assert born.status_code == 201, born.text
        assert born.json()["full_name"] == name
        again = await population.get(f"/citizens/{born.json()['id']}")
    assert again.json()["full_name"] == name


def test_names_and_addresses_of_a_registration_are_nfc() -> None:
    request = EnterpriseRegistration.model_validate(
        {
            "name": nfd("Công ty TNHH Hưng Thịnh Phát"),
            "head_office": {"province": "79", "commune": "23701", "detail": nfd("Số 5 Lê Lợi")},
            "legal_representative": {"id": "079090001234", "full_name": nfd("Trần Văn Đức")},
        }
    )
    assert request.name == "Công ty TNHH Hưng Thịnh Phát"
    assert request.head_office.detail == "Số 5 Lê Lợi"
    assert request.legal_representative.full_name == "Trần Văn Đức"
