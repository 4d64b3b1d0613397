"""Identifiers given to a search or a check are held to the rules their lookups apply.

``GET /citizens/999999999999`` is a 400 that says what a personal ID number looks like, but
``GET /enterprises?representative_id=999999999999`` answered an empty page, as if that person
represented nothing: a search by an identifier no record could hold now says so (422).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest

import connectors
from schemas import enterprise_code

# Three digits of Arabic-Indic script: "\d" takes them, a personal ID does not.
ARABIC_DIGITS = "\u0660\u0667\u0669" + "0" * 9


@pytest.fixture
async def mocks() -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    clients = {}
    for name in ("population", "business", "land", "insurance"):
        app = connectors.get(name).create_app(seed=42, size=200)
        clients[name] = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url=f"http://{name}"
        )
    yield clients
    for client in clients.values():
        await client.aclose()


def problem(answer: httpx.Response) -> str:
    assert answer.status_code == 422, answer.text
    body = answer.json()
    assert body["type"] == "InvalidRequest", body
    return body["message"]


PERSONAL_ID_FILTERS = [
    ("business", "/enterprises", "representative_id"),
    ("land", "/parcels", "land_user"),
    ("insurance", "/cards", "holder_id"),
]
IMPOSSIBLE_IDS = {
    "province": "999999999999",  # province 99 was never a province
    "future": "079990001234",  # born in 2099
    "script": ARABIC_DIGITS,
}


@pytest.mark.parametrize(
    ("name", "path", "param", "value"),
    [
        pytest.param(*where, value, id=f"{where[0]}-{kind}")
        for where in PERSONAL_ID_FILTERS
        for kind, value in IMPOSSIBLE_IDS.items()
        # land_user takes ASCII digits only, and says so already (an ID or an enterprise code)
        if (where[0], kind) != ("land", "script")
    ],
)
async def test_a_personal_id_filter_no_citizen_could_hold_is_refused(
    mocks: dict[str, httpx.AsyncClient], name: str, path: str, param: str, value: str
) -> None:
    said = problem(await mocks[name].get(path, params={param: value}))
    assert said.startswith(
        f"query parameter {param}: {value!r} is not a personal identification number: 12 digits"
    ), said


@pytest.mark.parametrize(("name", "path", "param"), PERSONAL_ID_FILTERS)
async def test_a_personal_id_filter_that_could_be_real_still_searches(
    mocks: dict[str, httpx.AsyncClient], name: str, path: str, param: str
) -> None:
    # Well formed, nobody's: "no data", an empty page.
    answer = await mocks[name].get(path, params={param: "079090001234"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"items": [], "next_cursor": None}


async def test_a_land_user_enterprise_code_with_a_wrong_check_digit_is_refused(
    mocks: dict[str, httpx.AsyncClient],
) -> None:
    good = enterprise_code.code_for("01", 1234)
    wrong = good[:9] + str((int(good[9]) + 1) % 10)
    said = problem(await mocks["land"].get("/parcels", params={"land_user": wrong}))
    assert said.startswith(
        f"query parameter land_user: {wrong!r} is not a valid enterprise code"
    ), said
    assert "check digit" in said
    fine = await mocks["land"].get("/parcels", params={"land_user": good})
    assert fine.status_code == 200, fine.text


@pytest.mark.parametrize("value", ["abc", "HK7900000", "hk79000000", "HK\u0667\u0669000000"])
async def test_a_household_filter_that_is_no_household_id_is_refused(
    mocks: dict[str, httpx.AsyncClient], value: str
) -> None:
    # GET /households/abc is a 400; GET /citizens?household_id=abc answered an empty page.
    said = problem(await mocks["population"].get("/citizens", params={"household_id": value}))
    assert said.startswith(f"query parameter household_id: {value!r} is not a household ID")


async def test_a_household_filter_lists_the_household(
    mocks: dict[str, httpx.AsyncClient],
) -> None:
    person = (await mocks["population"].get("/citizens", params={"limit": 1})).json()["items"][0]
    found = await mocks["population"].get(
        "/citizens", params={"household_id": person["household_id"]}
    )
    assert found.status_code == 200
    assert person["id"] in [p["id"] for p in found.json()["items"]]


@pytest.mark.parametrize("value", ["0", "20200101", "2020-01-01T00:00:00", "2020-02-30"], ids=str)
async def test_born_before_is_an_iso_date(mocks: dict[str, httpx.AsyncClient], value: str) -> None:
    # born_before=0 was taken for 1970-01-01 (a Unix time) and answered those born before it.
    said = problem(await mocks["population"].get("/citizens", params={"born_before": value}))
    assert said.startswith("query parameter born_before: "), said
    assert "YYYY-MM-DD" in said or "not a date of the calendar" in said, said


async def test_born_before_takes_a_date(mocks: dict[str, httpx.AsyncClient]) -> None:
    answer = await mocks["population"].get("/citizens", params={"born_before": "1960-01-01"})
    assert answer.status_code == 200
    items = answer.json()["items"]
    assert items and all(p["date_of_birth"] < "1960-01-01" for p in items)


@pytest.mark.parametrize("value", ["abc", "0790-9000-1234", "07909000123", ARABIC_DIGITS])
async def test_citizen_verify_refuses_an_id_that_is_no_personal_id(
    mocks: dict[str, httpx.AsyncClient], value: str
) -> None:
    # A bank sending "0790-9000-1234" was told {"match": false}, as if the customer failed.
    body = {"id": value, "full_name": "Nguyễn Văn An"}
    said = problem(await mocks["population"].post("/citizens/verify", json=body))
    assert said.startswith(f"id: {value!r} is not a personal identification number: 12 digits")
    # The hub refuses it with the same rule, before the provider is bothered.
    spec = next(
        s for s in connectors.get("population").manifest.services if s.code == "citizen-verify"
    )
    assert spec.request_schema()["properties"]["id"]["pattern"] == "^[0-9]{12}$"


@pytest.mark.parametrize("name", ["business", "land"])
async def test_a_tampered_cursor_is_told_as_every_mock_tells_it(
    mocks: dict[str, httpx.AsyncClient], name: str
) -> None:
    # Business and land answered "query parameter cursor: must match pattern '^\\d{1,9}$'".
    path = {"business": "/enterprises", "land": "/parcels"}[name]
    said = problem(await mocks[name].get(path, params={"cursor": "abc"}))
    assert "is not one this service gave out" in said, said
    first = (await mocks[name].get(path, params={"limit": 2})).json()
    more = await mocks[name].get(path, params={"limit": 2, "cursor": first["next_cursor"]})
    assert more.status_code == 200 and more.json()["items"]


async def test_a_commune_of_another_province_is_refused(
    mocks: dict[str, httpx.AsyncClient],
) -> None:
    # commune=00301 (Hà Nội) with province=04 answered an empty page.
    said = problem(
        await mocks["land"].get("/parcels", params={"commune": "00301", "province": "04"})
    )
    assert said == "commune 00301 is in province 01 (Hà Nội), not 04: give one or the other", said
    both = await mocks["land"].get("/parcels", params={"commune": "00301", "province": "01"})
    assert both.status_code == 200 and both.json()["items"]


async def test_a_card_for_a_date_of_birth_the_id_contradicts_says_so(
    mocks: dict[str, httpx.AsyncClient],
) -> None:
    # It said "is not a valid personal ID for that date of birth", not what disagreed.
    body = {"holder_id": "079090001234", "full_name": "A B", "date_of_birth": "1999-01-01"}
    answer = await mocks["insurance"].post("/cards", json=body)
    assert answer.status_code == 422
    assert answer.json()["message"] == (
        "holder_id 079090001234 says born in 1990, not 1999 (date_of_birth 1999-01-01)"
    )


@pytest.mark.parametrize(
    ("name", "path", "body", "field"),
    [
        ("population", "/deaths", {"date_of_death": "2020-01-01"}, "id"),
        (
            "population",
            "/residences",
            {"kind": "temporary", "address": {"province": "79", "commune": "23701", "detail": "x"}},
            "id",
        ),
        (
            "population",
            "/births",
            {"full_name": "Lê Văn A", "date_of_birth": "2025-01-01", "sex": "male"},
            "mother_id",
        ),
        ("insurance", "/cards", {"full_name": "A B", "date_of_birth": "1999-01-01"}, "holder_id"),
    ],
    ids=["death", "residence", "birth", "card"],
)
@pytest.mark.parametrize("value", list(IMPOSSIBLE_IDS.values()), ids=list(IMPOSSIBLE_IDS))
async def test_a_write_naming_an_id_no_citizen_could_hold_says_which_field(
    mocks: dict[str, httpx.AsyncClient], name: str, path: str, body: dict, field: str, value: str
) -> None:
    # A death or residence answered 400 BadRequest, a status their OpenAPI documents do not
    # declare, without naming the field; a birth said "no citizen with id 999999999999".
    said = problem(await mocks[name].post(path, json={**body, field: value}))
    assert said.startswith(f"{field}: {value!r} is not a personal identification number"), said
    # The hub checks the form with the same schema, before the provider is bothered.
    spec = next(
        s for s in connectors.get(name).manifest.services if (s.method, s.path) == ("POST", path)
    )
    prop = spec.request_schema()["properties"][field]
    assert "^[0-9]{12}$" in [p.get("pattern") for p in prop.get("anyOf", [prop])]


# A genuine code and serial (land seed 42, size 200: parcel 0), then each mistyped.
GOOD_CERTIFICATE = {"code": "012514898928", "serial": "WY33426457"}


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("code", "01-25-1489892-8", "must be 12 digits"),
        ("code", "012514898929", "its check digit"),
        ("code", "\u0660" * 12, "must be 12 digits"),
        ("serial", "wy33426457", "two capital letters and eight digits"),
        ("parcel_id", "w7dy-tcbw9u2", "12 GeoHash characters"),
    ],
    ids=["dashes", "check-digit", "script", "serial", "parcel"],
)
async def test_certificate_verify_refuses_what_no_certificate_could_be(
    mocks: dict[str, httpx.AsyncClient], field: str, value: str, said: str
) -> None:
    # A notary who typed the code with dashes, or one digit wrong, was told
    # {"valid": false, "status": "unknown"}: as if the certificate were forged.
    genuine = await mocks["land"].post("/certificates/verify", json=GOOD_CERTIFICATE)
    assert genuine.json() == {"valid": True, "status": "current"}
    body = {**GOOD_CERTIFICATE, field: value}
    message = problem(await mocks["land"].post("/certificates/verify", json=body))
    assert message.startswith(f"{field}: ") and said in message, message
    # The hub checks the form with the same schema (its re, where \\d takes any script's
    # digits), before the provider is bothered; the check digit is the mock's to check.
    spec = connectors.get("land").manifest.service("certificate-verify")
    prop = spec.request_schema()["properties"][field]
    pattern = next(p["pattern"] for p in prop.get("anyOf", [prop]) if "pattern" in p)
    assert re.search(pattern, GOOD_CERTIFICATE.get(field, "w7dytcbw9u29"))
    assert (re.search(pattern, value) is None) == (said != "its check digit")


def _patterned(schema: object) -> list[dict]:
    """Every property of a JSON Schema (nested, in $defs too) that has a pattern."""
    if isinstance(schema, dict):
        found = [schema] if "pattern" in schema else []
        return found + [p for value in schema.values() for p in _patterned(value)]
    if isinstance(schema, list):
        return [p for value in schema for p in _patterned(value)]
    return []


@pytest.mark.parametrize("name", ["population", "business", "land", "insurance"])
def test_the_hubs_request_schemas_hold_codes_to_ascii_digits_and_their_length(name: str) -> None:
    # The hub runs a pattern with Python's re.search: "^\d{2}$" took "٧٩" (Arabic-Indic
    # digits) and "79\n" for a province code, which the mock then refused on its own terms.
    for spec in connectors.get(name).manifest.services:
        for prop in _patterned(spec.request_schema() or {}):
            where = f"{spec.code}: {prop}"
            assert "\\d" not in prop["pattern"], where
            assert "maxLength" in prop, where
            assert re.search(prop["pattern"], "\u0660" * 12) is None, where
