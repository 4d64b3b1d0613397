"""citizen-verify takes an ID with something to check it against, and a date as YYYY-MM-DD.

Both sides are tested: the mock's own answer, and the request schema the hub validates bodies
with (its registry entry, run through the hub's own schema check and validator).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectors.demo import demo_registry
from connectors.population.dataset import DEFAULT_SIZE, citizen_at
from hub.registry.request_schema import check_request_schema, request_validator

PERSON = citizen_at(42, DEFAULT_SIZE, 0)
UNKNOWN_ID = "079000000001"
SERVICE = "VN/GOV/BCA/population/citizen-verify"


def hub_schema() -> dict[str, Any]:
    """citizen-verify's request_schema as the demo registry hands it to the hub."""
    doc = demo_registry({"population": "http://127.0.0.1:19301"})
    schema = next(s for s in doc["services"] if s["id"] == SERVICE)["request_schema"]
    assert check_request_schema(schema) is schema  # the registry takes it as it is
    return schema


def hub_accepts(body: dict[str, Any]) -> bool:
    return not list(request_validator(hub_schema()).iter_errors(body))


@pytest.mark.parametrize("body", [{}, {"full_name": None}, {"date_of_birth": None}])
async def test_an_id_alone_is_refused_whether_or_not_it_exists(
    api: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    # It answered match: true for any living citizen and false for an unknown ID: an oracle.
    known = await api.post("/citizens/verify", json={"id": PERSON["id"], **body})
    unknown = await api.post("/citizens/verify", json={"id": UNKNOWN_ID, **body})
    assert known.status_code == unknown.status_code == 422
    assert known.json() == unknown.json()
    problem = known.json()
    assert problem["type"] == "InvalidRequest"
    assert "send full_name or date_of_birth" in problem["message"]


async def test_either_field_alone_is_enough(api: httpx.AsyncClient) -> None:
    by_name = {"id": PERSON["id"], "full_name": PERSON["full_name"]}
    by_birth = {"id": PERSON["id"], "date_of_birth": PERSON["date_of_birth"]}
    for body in (by_name, by_birth):
        answer = await api.post("/citizens/verify", json=body)
        assert answer.status_code == 200 and answer.json() == {"match": True}
        assert hub_accepts(body)


@pytest.mark.parametrize("body", [{}, {"full_name": None}, {"date_of_birth": None}])
def test_the_hub_schema_refuses_an_id_alone(body: dict[str, Any]) -> None:
    assert not hub_accepts({"id": PERSON["id"], **body})


@pytest.mark.parametrize(
    "date",
    [
        "not-a-date",
        "1990-1-5",
        "05/01/1990",
        "1990-01-05T00:00:00",
        "1990-01-05\n",  # Python's $ matches before a final newline
        "١٩٩٠-٠١-٠٥",  # Arabic-Indic digits, which Python's \d takes
        19900105,
    ],
)
def test_the_hub_schema_wants_an_iso_date(date: Any) -> None:
    assert not hub_accepts({"id": PERSON["id"], "date_of_birth": date})
    assert hub_accepts({"id": PERSON["id"], "date_of_birth": "1990-01-05"})


@pytest.mark.parametrize(
    ("date", "said"),
    [
        ("not-a-date", "date_of_birth must be an ISO date, YYYY-MM-DD"),
        ("1990-01-05T00:00:00", "date_of_birth must be an ISO date, YYYY-MM-DD"),
        (0, "date_of_birth must be an ISO date, YYYY-MM-DD"),  # not 1970-01-01
        ("2020-02-30", "date_of_birth 2020-02-30 is not a date of the calendar"),
    ],
)
async def test_the_mock_says_what_is_wrong_with_a_date(
    api: httpx.AsyncClient, date: Any, said: str
) -> None:
    answer = await api.post("/citizens/verify", json={"id": PERSON["id"], "date_of_birth": date})
    assert answer.status_code == 422
    assert answer.json()["type"] == "InvalidRequest"
    assert answer.json()["message"].startswith(said)


def test_the_hubs_refusal_of_an_id_alone_says_what_to_send_not_the_body() -> None:
    from hub.gateway.body import schema_problem

    error = next(request_validator(hub_schema()).iter_errors({"id": PERSON["id"]}))
    problem = schema_problem(error)
    assert PERSON["id"] not in problem  # jsonschema's own message repeated the body
    assert "'full_name' is a required property" in problem
    assert "'date_of_birth' is a required property" in problem


def first_with(text: str, field: str = "full_name") -> dict[str, Any]:
    """The first seed citizen whose ``field`` (a name, or the detail of an address) has ``text``."""
    for index in range(DEFAULT_SIZE):
        person = citizen_at(42, DEFAULT_SIZE, index)
        value = person[field] if field == "full_name" else person[field]["detail"]
        if text in value:
            return person
    raise AssertionError(f"no {field} with {text!r}")


async def test_a_name_matches_with_its_tone_mark_on_either_vowel(api: httpx.AsyncClient) -> None:
    # "Thủy" and "Thuỷ" are one name in the two tone-placement conventions in use (as are
    # "Hòa" and "Hoà"); a bank's customer typed the other one and was told the ID was not theirs.
    person = first_with("Thủy")
    other = person["full_name"].replace("Thủy", "Thuỷ")
    assert other != person["full_name"]
    answer = await api.post("/citizens/verify", json={"id": person["id"], "full_name": other})
    assert answer.status_code == 200 and answer.json() == {"match": True}
    # A different tone, or none, is still another name.
    for wrong in ("Thuy", "Thùy", "Thụy"):
        body = {"id": person["id"], "full_name": person["full_name"].replace("Thủy", wrong)}
        answer = await api.post("/citizens/verify", json=body)
        assert answer.json() == {"match": False}, wrong


async def test_a_household_is_joined_at_its_address_in_either_tone_placement(
    api: httpx.AsyncClient,
) -> None:
    head = first_with("Thôn Hòa Bình", "permanent_address")
    home = head["permanent_address"]
    mover = citizen_at(42, DEFAULT_SIZE, 0 if head["id"] != PERSON["id"] else 1)
    assert mover["household_id"] != head["household_id"]
    where = {k: home[k] for k in ("province", "commune")} | {"detail": "thôn hoà bình"}
    body = {"id": mover["id"], "kind": "permanent", "address": where}
    joined = await api.post("/residences", json=body | {"household_id": head["household_id"]})
    assert joined.status_code == 200, joined.text
    assert joined.json()["household_id"] == head["household_id"]
