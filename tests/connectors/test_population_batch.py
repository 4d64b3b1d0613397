"""citizen-batch-lookup and as_of: many citizens in one call, and a citizen as on a day."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx

import connectors
from connectors.kit.testing import open_client
from connectors.population.dataset import DEFAULT_SIZE, citizen_at

UNKNOWN = "079000000001"  # well-formed, held by no one
HANOI = {"province": "01", "commune": "00301", "detail": "Số 1 Tràng Tiền"}


def yesterday() -> str:
    # The mocks date a write by its UTC day; as_of the day before sees the record before it.
    return (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat()


async def test_batch_answers_the_found_in_order_and_names_the_rest(api: httpx.AsyncClient) -> None:
    people = [citizen_at(42, DEFAULT_SIZE, i) for i in (30, 3, 17)]
    ids = [p["id"] for p in people]
    answer = await api.post("/citizens/batch", json={"ids": [*ids, UNKNOWN, ids[0]]})
    assert answer.status_code == 200, answer.text
    # A duplicate is answered once, where it was first asked.
    assert answer.json() == {"items": people, "not_found": [UNKNOWN]}


async def test_batch_refuses_a_malformed_id_unlike_an_unknown_one(api: httpx.AsyncClient) -> None:
    # As the single lookup answers a 400 for an ID no one could hold and a 404 for an unknown
    # one, a batch refuses the first (naming it) and lists the second in not_found.
    known = citizen_at(42, DEFAULT_SIZE, 3)["id"]
    refused = await api.post("/citizens/batch", json={"ids": [known, "999999999999"]})
    assert refused.status_code == 422
    assert refused.json()["type"] == "InvalidRequest"
    assert "ids.1" in refused.json()["message"] and "999999999999" in refused.json()["message"]
    for body in ({"ids": []}, {"ids": [known] * 101}, {"ids": [known], "extra": 1}):
        assert (await api.post("/citizens/batch", json=body)).status_code == 422, body


async def test_batch_of_a_hundred_fits_the_registered_body_limit() -> None:
    spec = connectors.get("population").manifest.service("citizen-batch-lookup")
    assert spec.personal_data and spec.method == "POST" and spec.path == "/citizens/batch"
    # Pretty-printed, as a person's tool may send it.
    body = (
        '{\n    "ids": [\n' + ",\n".join(f'        "{UNKNOWN}"' for _ in range(100)) + "\n    ]\n}"
    )
    assert len(body.encode()) <= spec.max_body_bytes
    schema = spec.request_schema()
    assert schema is not None and schema["properties"]["ids"]["maxItems"] == 100


async def test_as_of_before_a_birth_is_no_data_saying_so(api: httpx.AsyncClient) -> None:
    person = citizen_at(42, DEFAULT_SIZE, 17)
    born = dt.date.fromisoformat(person["date_of_birth"])
    on_birth = await api.get(f"/citizens/{person['id']}", params={"as_of": born.isoformat()})
    assert on_birth.status_code == 200 and on_birth.json() == person
    before = (born - dt.timedelta(days=1)).isoformat()
    answer = await api.get(f"/citizens/{person['id']}", params={"as_of": before})
    assert answer.status_code == 404
    assert answer.json()["message"] == (
        f"citizen {person['id']} was not yet registered on {before}: born {born}"
    )
    batch = await api.post("/citizens/batch", json={"ids": [person["id"]], "as_of": before})
    assert batch.json() == {"items": [], "not_found": [person["id"]]}


async def test_as_of_sees_the_residence_before_a_move_and_life_before_a_death(
    api: httpx.AsyncClient,
) -> None:
    person = citizen_at(42, DEFAULT_SIZE, 40)
    moved = await api.post(
        "/residences", json={"id": person["id"], "kind": "permanent", "address": HANOI}
    )
    assert moved.status_code == 200, moved.text
    died = await api.post("/deaths", json={"id": person["id"], "date_of_death": "2026-01-05"})
    assert died.status_code == 200, died.text
    now = (await api.get(f"/citizens/{person['id']}")).json()
    assert now["permanent_address"]["province"] == "01" and now["status"] == "deceased"

    before_move = await api.get(f"/citizens/{person['id']}", params={"as_of": yesterday()})
    # The move was registered today: the day before, the old address; the death (dated
    # 2026-01-05) stands, whenever it was registered.
    assert before_move.json() == {**person, "status": "deceased", "date_of_death": "2026-01-05"}
    alive = await api.get(f"/citizens/{person['id']}", params={"as_of": "2026-01-04"})
    assert alive.json() == person
    today = dt.datetime.now(dt.UTC).date().isoformat()
    batch = await api.post("/citizens/batch", json={"ids": [person["id"]], "as_of": today})
    assert batch.json() == {"items": [now], "not_found": []}


async def test_as_of_a_newborn_starts_on_their_birth_date(api: httpx.AsyncClient) -> None:
    mother = next(
        p
        for p in map(lambda i: citizen_at(42, DEFAULT_SIZE, i), range(200))
        if p["sex"] == "female" and p["date_of_birth"] > "1985"
    )
    born = await api.post(
        "/births",
        json={"full_name": "Lê Bé", "date_of_birth": "2026-02-01", "sex": "male",
              "mother_id": mother["id"]},
    )  # fmt: skip
    assert born.status_code == 201, born.text
    child = born.json()
    assert (await api.get(f"/citizens/{child['id']}", params={"as_of": "2026-02-01"})).json() == (
        child
    )
    early = await api.get(f"/citizens/{child['id']}", params={"as_of": "2026-01-31"})
    assert early.status_code == 404 and "not yet registered on 2026-01-31" in early.text


async def test_as_of_outside_1900_to_today_says_what_to_send(api: httpx.AsyncClient) -> None:
    cid = citizen_at(42, DEFAULT_SIZE, 3)["id"]
    tomorrow = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=2)).isoformat()
    for day, said in (("1899-12-31", "before 1900-01-01"), (tomorrow, "is in the future")):
        single = await api.get(f"/citizens/{cid}", params={"as_of": day})
        assert single.status_code == 422 and said in single.json()["message"], single.text
        assert "as_of" in single.json()["message"]
        batch = await api.post("/citizens/batch", json={"ids": [cid], "as_of": day})
        assert batch.status_code == 422 and said in batch.json()["message"], batch.text
    wrong = await api.get(f"/citizens/{cid}", params={"as_of": "05/01/2020"})
    assert wrong.status_code == 422 and "YYYY-MM-DD" in wrong.json()["message"]


async def test_history_is_kept_in_the_state_file(tmp_path: Path) -> None:
    state = tmp_path / "population.sqlite"
    person = citizen_at(42, DEFAULT_SIZE, 40)
    for round_ in range(2):  # the second app is the mock restarted on the same file
        app = connectors.get("population").create_app(seed=42, state_path=state)
        async with open_client(app) as api:
            if round_ == 0:
                move = {"id": person["id"], "kind": "permanent", "address": HANOI}
                assert (await api.post("/residences", json=move)).status_code == 200
            then = await api.get(f"/citizens/{person['id']}", params={"as_of": yesterday()})
            assert then.json() == person
            now = (await api.get(f"/citizens/{person['id']}")).json()
            assert now["permanent_address"]["province"] == "01"
