"""The population mock over HTTP (in process): reads, filters, writes, the changes feed, reset."""

from __future__ import annotations

import httpx

import connectors
from connectors.population.dataset import DEFAULT_SIZE, citizen_at
from schemas.identifiers import is_valid_personal_id


def head_of_family(seed: int = 42) -> dict:
    """The first household head with a spouse and children."""
    for index in range(100):
        person = citizen_at(seed, DEFAULT_SIZE, index)
        nxt = citizen_at(seed, DEFAULT_SIZE, index + 2)
        if person["relation_to_head"] == "head" and nxt["relation_to_head"] == "child":
            return person
    raise AssertionError("no family in the first 100 citizens")


async def test_lookup_answers_the_record_and_no_data_is_404(api: httpx.AsyncClient) -> None:
    person = citizen_at(42, DEFAULT_SIZE, 17)
    answer = await api.get(f"/citizens/{person['id']}")
    assert answer.status_code == 200 and answer.json() == person
    missing = await api.get("/citizens/079000000001")
    assert missing.status_code == 404
    assert missing.json() == {"type": "NotFound", "message": "no citizen with id 079000000001"}


async def test_search_filters_and_paginates(api: httpx.AsyncClient) -> None:
    first = await api.get("/citizens", params={"province": "79", "limit": 5})
    page = first.json()
    assert len(page["items"]) == 5 and page["next_cursor"]
    assert all(p["permanent_address"]["province"] == "79" for p in page["items"])
    second = (
        await api.get(
            "/citizens", params={"province": "79", "limit": 5, "cursor": page["next_cursor"]}
        )
    ).json()
    assert not {p["id"] for p in page["items"]} & {p["id"] for p in second["items"]}

    born = (await api.get("/citizens", params={"birth_year": 1970, "limit": 10})).json()["items"]
    assert born and all(p["date_of_birth"].startswith("1970") for p in born)

    name = page["items"][0]["full_name"]
    by_name = (await api.get("/citizens", params={"name": name.lower(), "limit": 3})).json()
    assert by_name["items"] and all(p["full_name"] == name for p in by_name["items"])

    household = page["items"][0]["household_id"]
    members = (await api.get("/citizens", params={"household_id": household})).json()
    assert members["next_cursor"] is None
    assert page["items"][0]["id"] in {p["id"] for p in members["items"]}

    assert (await api.get("/citizens", params={"limit": 101})).status_code == 422
    assert (await api.get("/citizens", params={"cursor": "zz"})).status_code == 422


async def test_verify_says_yes_or_no_and_nothing_else(api: httpx.AsyncClient) -> None:
    person = citizen_at(42, DEFAULT_SIZE, 3)
    yes = await api.post(
        "/citizens/verify",
        json={
            "id": person["id"],
            "full_name": person["full_name"].upper(),
            "date_of_birth": person["date_of_birth"],
        },
    )
    assert yes.json() == {"match": True}
    wrong_name = await api.post("/citizens/verify", json={"id": person["id"], "full_name": "X Y"})
    assert wrong_name.json() == {"match": False}
    unknown = await api.post("/citizens/verify", json={"id": "079000000001", "full_name": "X Y"})
    assert unknown.status_code == 200 and unknown.json() == {"match": False}
    assert (await api.post("/citizens/verify", json={"full_name": "X"})).status_code == 422


async def test_household_lookup(api: httpx.AsyncClient) -> None:
    head = head_of_family()
    house = (await api.get(f"/households/{head['household_id']}")).json()
    assert house["head_id"] == head["id"]
    relations = [m["relation_to_head"] for m in house["members"]]
    assert relations[:2] == ["head", "spouse"] and "child" in relations
    assert (await api.get("/households/HK79000000")).status_code == 404


async def test_birth_issues_a_valid_id_and_joins_the_household(api: httpx.AsyncClient) -> None:
    head = head_of_family()
    father, mother = (head["id"], head["spouse_id"])
    if head["sex"] == "female":
        father, mother = mother, father
    born = await api.post(
        "/births",
        json={
            "full_name": "Nguyễn Minh Khôi",
            "date_of_birth": "2025-09-02",
            "sex": "male",
            "father_id": father,
            "mother_id": mother,
        },
    )
    assert born.status_code == 201, born.text
    child = born.json()
    assert is_valid_personal_id(child["id"], "2025-09-02", "male")
    assert child["id"][3] == "2" and child["id"][4:6] == "25"
    assert child["id"][1:3] == head["permanent_address"]["province"]
    assert child["household_id"] == head["household_id"]
    assert (await api.get(f"/citizens/{child['id']}")).json() == child
    house = (await api.get(f"/households/{head['household_id']}")).json()
    assert child["id"] in {m["id"] for m in house["members"]}
    changes = (await api.get("/citizens/changes", params={"since": "2000-01-01T00:00:00"})).json()
    assert [(c["kind"], c["citizen_id"]) for c in changes["items"]] == [("birth", child["id"])]

    orphan = await api.post(
        "/births", json={"full_name": "A", "date_of_birth": "2025-01-01", "sex": "female"}
    )
    assert orphan.status_code == 422
    wrong = await api.post(
        "/births",
        json={
            "full_name": "A",
            "date_of_birth": "2025-01-01",
            "sex": "female",
            "father_id": mother,
        },
    )
    assert wrong.status_code == 422


async def test_death_and_residence_are_visible_and_reset_forgets_them(
    api: httpx.AsyncClient,
) -> None:
    person = citizen_at(42, DEFAULT_SIZE, 40)
    moved = await api.post(
        "/residences",
        json={
            "id": person["id"],
            "kind": "permanent",
            "address": {"province": "01", "commune": "00301", "detail": "Số 1 Tràng Tiền"},
        },
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["permanent_address"]["commune_name"] == "Phường Hoàn Kiếm"
    found = (await api.get("/citizens", params={"province": "01", "limit": 100})).json()
    assert person["id"] in {p["id"] for p in found["items"]}

    bad_commune = await api.post(
        "/residences",
        json={
            "id": person["id"],
            "kind": "temporary",
            "address": {"province": "79", "commune": "00301", "detail": "x"},
        },
    )
    assert bad_commune.status_code == 422

    died = await api.post("/deaths", json={"id": person["id"], "date_of_death": "2026-01-05"})
    assert died.status_code == 200 and died.json()["status"] == "deceased"
    again = await api.post("/deaths", json={"id": person["id"], "date_of_death": "2026-01-05"})
    assert again.status_code == 409
    body = {"id": person["id"], "full_name": person["full_name"]}
    assert (await api.post("/citizens/verify", json=body)).json() == {"match": False}
    kinds = [c["kind"] for c in (await api.get("/citizens/changes")).json()["items"]]
    assert kinds == ["residence", "death"]
    page = (await api.get("/citizens/changes", params={"limit": 1})).json()
    assert len(page["items"]) == 1 and page["next_cursor"] == "1"

    assert (await api.post("/__reset")).json()["writes"] == 0
    assert (await api.get(f"/citizens/{person['id']}")).json() == person
    assert (await api.get("/citizens/changes")).json() == {"items": [], "next_cursor": None}


async def test_large_population_starts_fast_and_serves_high_indices() -> None:
    app = connectors.get("population").create_app(seed=42, size=1_000_000)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://p") as client:
        health = (await client.get("/__health")).json()
        assert health["size"] == 1_000_000
        last = citizen_at(42, 1_000_000, 999_999)
        assert (await client.get(f"/citizens/{last['id']}")).json() == last


async def test_openapi_document_lists_the_manifest(api: httpx.AsyncClient) -> None:
    doc = (await api.get("/openapi.json")).json()
    operations = {op["operationId"] for path in doc["paths"].values() for op in path.values()}
    assert operations == {s.code for s in connectors.get("population").manifest.services}


async def test_digits_that_are_not_ascii_are_no_data(api: httpx.AsyncClient) -> None:
    # "²" passed str.isdigit() and failed int(): a 500 on each of these.
    assert (await api.get("/citizens/07909000123²")).status_code == 404
    assert (await api.get("/households/HK79²²²²²²")).status_code == 404
    assert (await api.get("/citizens", params={"cursor": "²"})).status_code == 422
    assert (await api.get("/citizens/changes", params={"cursor": "²"})).status_code == 422
    verify = await api.post("/citizens/verify", json={"id": "07909000123²", "full_name": "A"})
    assert verify.status_code == 200 and verify.json() == {"match": False}


async def test_a_birth_must_fit_its_parents_lives(api: httpx.AsyncClient) -> None:
    mother = next(
        p
        for p in (citizen_at(42, DEFAULT_SIZE, i) for i in range(200))
        if p["sex"] == "female"
        and "1960" <= p["date_of_birth"] <= "1995"
        and p["status"] == "alive"
    )
    born = mother["date_of_birth"]
    child = {"full_name": "Con", "sex": "female", "mother_id": mother["id"]}
    for date, said in (
        ("1850-01-01", "1900 or later"),  # the ID's century digit: it was a 500
        (f"{int(born[:4]) - 1}{born[4:]}", "would be under 12"),
        (f"{int(born[:4]) + 5}{born[4:]}", "would be under 12"),
    ):
        answer = await api.post("/births", json={**child, "date_of_birth": date})
        assert answer.status_code == 422 and said in answer.text, (date, answer.text)
    died = await api.post("/deaths", json={"id": mother["id"], "date_of_death": "2026-01-01"})
    assert died.status_code in (200, 201), died.text
    after = await api.post("/births", json={**child, "date_of_birth": "2026-11-01"})
    assert after.status_code == 422 and "died on 2026-01-01" in after.text
    before = await api.post("/births", json={**child, "date_of_birth": "2025-12-01"})
    assert before.status_code == 201, before.text
