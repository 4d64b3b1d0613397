"""The population mock over HTTP (in process): reads, filters, writes, the changes feed, reset."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import quote

import httpx
import pytest

import connectors
from connectors.population import dataset as gen
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
    assert (await api.get("/citizens/07909000123²")).status_code == 400
    assert (await api.get("/households/HK79²²²²²²")).status_code == 400
    assert (await api.get("/citizens", params={"cursor": "²"})).status_code == 422
    assert (await api.get("/citizens/changes", params={"cursor": "²"})).status_code == 422
    verify = await api.post("/citizens/verify", json={"id": "07909000123²", "full_name": "A"})
    # Not {"match": false} either: only the ID's form is wrong, and the answer says so.
    assert verify.status_code == 422
    assert verify.json()["message"].startswith("id: '07909000123²' is not a personal")


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


async def test_the_last_page_has_no_cursor() -> None:
    # The cursor after a full last page led to an empty page; business and land look ahead.
    app = connectors.get("population").create_app(seed=42, size=2000)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://p") as client:
        last = (await client.get("/citizens", params={"limit": 100, "cursor": "1900"})).json()
        assert len(last["items"]) == 100 and last["next_cursor"] is None
        before = (await client.get("/citizens", params={"limit": 100, "cursor": "1800"})).json()
        assert before["next_cursor"] == "1900"
        # With a filter, the cursor points at the next match, and the last match ends it.
        seen, cursor = [], None
        while True:
            params = {"province": "79", "limit": 7} | ({"cursor": cursor} if cursor else {})
            page = (await client.get("/citizens", params=params)).json()
            assert page["items"], "a page came back empty"
            seen += [p["id"] for p in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
    everyone = [citizen_at(42, 2000, i) for i in range(2000)]
    assert seen == [p["id"] for p in everyone if p["permanent_address"]["province"] == "79"]


def family_of(head: dict) -> list[dict]:
    """The seed household of ``head``: head, spouse, children."""
    index = gen.index_of(42, DEFAULT_SIZE, head["id"])
    assert index is not None
    start, n = gen.household_span(42, DEFAULT_SIZE, index)
    return gen.household_at(42, DEFAULT_SIZE, start)


async def coherent(api: httpx.AsyncClient, household_id: str) -> dict:
    """The household, after checking its members share its address and the search agrees."""
    house = (await api.get(f"/households/{household_id}")).json()
    listed = (await api.get("/citizens", params={"household_id": household_id})).json()
    # The same people; the search lists them in index order, the lookup head first.
    assert sorted(m["id"] for m in house["members"]) == sorted(p["id"] for p in listed["items"])
    assert [m["relation_to_head"] for m in house["members"]].count("head") == 1
    assert house["members"][0]["id"] == house["head_id"]
    for person in listed["items"]:
        assert person["household_id"] == household_id and person["status"] == "alive"
        assert person["permanent_address"] == house["address"]
        relation = next(m for m in house["members"] if m["id"] == person["id"])
        assert person["relation_to_head"] == relation["relation_to_head"]
    return house


def move(citizen_id: str, address: dict, **more: str) -> dict:
    where = {k: address[k] for k in ("province", "commune", "detail")}
    return {"id": citizen_id, "kind": "permanent", "address": where, **more}


HANOI = {"province": "01", "commune": "00301", "detail": "Số 1 Tràng Tiền"}


async def test_a_permanent_move_leaves_the_household_for_one_at_the_new_address(
    api: httpx.AsyncClient,
) -> None:
    head = head_of_family()
    home = head["household_id"]
    spouse, *children = family_of(head)[1:]
    # A child moves away: a household of its own there, with a new ID in the same format.
    moved = (await api.post("/residences", json=move(children[0]["id"], HANOI))).json()
    assert moved["household_id"] != home and moved["relation_to_head"] == "head"
    assert re.fullmatch(r"HK01[0-9]{6}", moved["household_id"])
    there = await coherent(api, moved["household_id"])
    assert [m["id"] for m in there["members"]] == [moved["id"]]
    assert there["address"]["detail"] == "Số 1 Tràng Tiền"
    house = await coherent(api, home)
    assert [m["id"] for m in house["members"]] == [p["id"] for p in (head, spouse, *children[1:])]
    assert house["address"] == head["permanent_address"]

    # The head moves too: the spouse, the eldest left, heads the household, and the
    # children stay the spouse's children.
    left = (await api.post("/residences", json=move(head["id"], HANOI))).json()
    assert left["household_id"] not in (home, moved["household_id"])
    house = await coherent(api, home)
    assert house["head_id"] == spouse["id"]
    assert {m["id"]: m["relation_to_head"] for m in house["members"]} == {spouse["id"]: "head"} | {
        c["id"]: "child" for c in children[1:]
    }
    kinds = [
        (c["kind"], c["citizen_id"]) for c in (await api.get("/citizens/changes")).json()["items"]
    ]
    assert kinds == [
        ("residence", moved["id"]),
        ("residence", head["id"]),
        ("residence", spouse["id"]),  # now the head: the record changed
    ]

    # The spouse follows into the head's new household, by its ID: joined, as the spouse.
    joined = await api.post(
        "/residences",
        json=move(spouse["id"], left["permanent_address"], household_id=left["household_id"]),
    )
    assert joined.status_code == 200, joined.text
    assert joined.json()["household_id"] == left["household_id"]
    assert joined.json()["relation_to_head"] == "spouse"
    new_home = await coherent(api, left["household_id"])
    assert [m["id"] for m in new_home["members"]] == [head["id"], spouse["id"]]
    # Without adults, the eldest child heads the old household; the others are "other".
    house = await coherent(api, home)
    assert house["head_id"] == children[1]["id"]

    # A move to the address one already has, and a temporary residence, change no household.
    same = await api.post("/residences", json=move(head["id"], left["permanent_address"]))
    assert same.json()["household_id"] == left["household_id"]
    away = await api.post("/residences", json={**move(head["id"], HANOI), "kind": "temporary"})
    assert away.json()["household_id"] == left["household_id"]

    # Joining asks for the household's own address, and a household that exists.
    elsewhere = HANOI | {"detail": "Số 9 Hàng Bài"}
    wrong = await api.post(
        "/residences", json=move(children[1]["id"], elsewhere, household_id=left["household_id"])
    )
    assert wrong.status_code == 422
    assert wrong.json()["message"] == (
        f"household {left['household_id']} is at Số 1 Tràng Tiền, commune 00301, province 01: "
        "give its address to join it"
    )
    unknown = await api.post(
        "/residences", json=move(children[1]["id"], HANOI, household_id="HK79000000")
    )
    assert unknown.status_code == 422 and "HK79000000" in unknown.json()["message"]


async def test_a_death_leaves_the_household_and_a_head_is_succeeded(
    api: httpx.AsyncClient,
) -> None:
    head = head_of_family()
    home = head["household_id"]
    spouse, *children = family_of(head)[1:]
    died = await api.post("/deaths", json={"id": children[-1]["id"], "date_of_death": "2026-01-05"})
    assert died.status_code == 200, died.text
    house = await coherent(api, home)
    assert children[-1]["id"] not in [m["id"] for m in house["members"]]
    assert house["head_id"] == head["id"]

    await api.post("/deaths", json={"id": head["id"], "date_of_death": "2026-01-06"})
    house = await coherent(api, home)
    assert house["head_id"] == spouse["id"]
    assert [m["id"] for m in house["members"]] == [spouse["id"], *(c["id"] for c in children[:-1])]
    # A death keeps the household the record was last in, as a matter of history.
    assert (await api.get(f"/citizens/{head['id']}")).json()["household_id"] == home

    for person in (spouse, *children[:-1]):
        await api.post("/deaths", json={"id": person["id"], "date_of_death": "2026-01-07"})
    empty = await api.get(f"/households/{home}")
    assert empty.status_code == 404 and "no living members" in empty.json()["message"]
    assert (await api.get("/citizens", params={"household_id": home})).json()["items"] == []


async def test_the_same_birth_twice_is_refused(api: httpx.AsyncClient) -> None:
    head = head_of_family()
    spouse, *children = family_of(head)[1:]
    mother = head if head["sex"] == "female" else spouse
    father = spouse if mother is head else head
    body = {
        "full_name": "Nguyễn Minh Khôi",
        "date_of_birth": "2025-09-02",
        "sex": "male",
        "father_id": father["id"],
        "mother_id": mother["id"],
    }
    first = await api.post("/births", json=body)
    assert first.status_code == 201, first.text
    child = first.json()["id"]
    # Name, birth date and mother identify a birth: spacing and case do not count.
    for again in (body, {**body, "full_name": " nguyễn  minh KHÔI", "father_id": None}):
        refused = await api.post("/births", json=again)
        assert refused.status_code == 409, refused.text
        assert refused.json() == {
            "type": "Conflict",
            "message": f"this birth is already registered: citizen {child} (Nguyễn Minh Khôi, "
            f"born 2025-09-02 to mother {mother['id']})",
        }
    # With the father alone, his children are compared.
    by_father = await api.post("/births", json={**body, "mother_id": None})
    assert by_father.status_code == 409 and child in by_father.json()["message"]
    # A twin has a name of its own.
    twin = await api.post("/births", json={**body, "full_name": "Nguyễn Minh Khang"})
    assert twin.status_code == 201, twin.text
    # A seed child registered again is the same birth too.
    seed_child = {**body, "full_name": children[0]["full_name"]}
    seed_child["date_of_birth"] = children[0]["date_of_birth"]
    refused = await api.post("/births", json=seed_child)
    assert refused.status_code == 409 and children[0]["id"] in refused.json()["message"]


async def test_a_death_before_a_childs_birth_is_refused(api: httpx.AsyncClient) -> None:
    # A mother registered as dead years before her children were born: the registry held
    # what birth-registration itself refuses (a birth after the mother's death).
    head = head_of_family()
    spouse, *children = family_of(head)[1:]
    mother, father = (head, spouse) if head["sex"] == "female" else (spouse, head)
    eldest = min(children, key=lambda c: c["date_of_birth"])
    day_before = (dt.date.fromisoformat(eldest["date_of_birth"]) - dt.timedelta(days=1)).isoformat()
    refused = await api.post("/deaths", json={"id": mother["id"], "date_of_death": day_before})
    assert refused.status_code == 422, refused.text
    assert refused.json()["message"] == (
        f"date_of_death {day_before} is before the birth of citizen {eldest['id']} on "
        f"{eldest['date_of_birth']}, whose mother this citizen is"
    )
    # A child registered since counts too; a father may die up to 300 days before a birth.
    born = await api.post(
        "/births",
        json={
            "full_name": "Con Út",
            "date_of_birth": "2026-03-01",
            "sex": "male",
            "father_id": father["id"],
            "mother_id": mother["id"],
        },
    )
    assert born.status_code == 201, born.text
    early = await api.post("/deaths", json={"id": father["id"], "date_of_death": "2025-04-01"})
    assert early.status_code == 422 and born.json()["id"] in early.json()["message"], early.text
    assert (await api.get(f"/citizens/{father['id']}")).json()["status"] == "alive"
    late = await api.post("/deaths", json={"id": father["id"], "date_of_death": "2025-06-01"})
    assert late.status_code == 200, late.text


async def test_a_newborn_is_the_heads_child_only_when_the_head_is_a_parent(
    api: httpx.AsyncClient,
) -> None:
    # A birth to the head's spouse by another father was recorded as the head's "child";
    # the relations recomputed when a head is succeeded would say "other".
    head = head_of_family()
    spouse = family_of(head)[1]
    mother, father = (head, spouse) if head["sex"] == "female" else (spouse, head)
    other_father = next(
        p
        for p in (citizen_at(42, DEFAULT_SIZE, i) for i in range(200))
        if p["sex"] == "male"
        and p["household_id"] != head["household_id"]
        and "1960" <= p["date_of_birth"] <= "2000"
    )
    for dad, relation in (
        (father, "child"),
        (other_father, "child" if mother is head else "other"),
    ):
        born = await api.post(
            "/births",
            json={
                "full_name": f"Con {relation}",
                "date_of_birth": "2025-09-02",
                "sex": "male",
                "father_id": dad["id"],
                "mother_id": mother["id"],
            },
        )
        assert born.status_code == 201, born.text
        assert born.json()["relation_to_head"] == relation
        assert born.json()["household_id"] == head["household_id"]
    await coherent(api, head["household_id"])


async def household_pages(api: httpx.AsyncClient, household_id: str, between: Any) -> list[str]:
    """Every member's ID, one per page, calling ``between(page_number)`` after each page."""
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"household_id": household_id, "limit": 1}
        if cursor is not None:
            params["cursor"] = cursor
        page = (await api.get("/citizens", params=params)).json()
        seen += [p["id"] for p in page["items"]]
        await between(len(seen))
        cursor = page["next_cursor"]
        if cursor is None:
            return seen


async def test_household_pages_skip_nobody_when_a_member_dies_between_pages(
    api: httpx.AsyncClient,
) -> None:
    # Paging by offset over the living members: the head's death after page 1 moved every
    # other member one place up, and page 2 (from place 1) skipped the one now at place 0.
    head = head_of_family()
    family = family_of(head)
    assert len(family) >= 3

    async def head_dies(pages: int) -> None:
        if pages == 1:
            died = await api.post("/deaths", json={"id": head["id"], "date_of_death": "2026-01-05"})
            assert died.status_code == 200, died.text

    seen = await household_pages(api, head["household_id"], head_dies)
    assert seen == [p["id"] for p in family]  # each once, the head (seen before it died) too

    # A member who dies before the page that would list them is not listed; the rest are.
    youngest = family[-1]

    async def youngest_dies(pages: int) -> None:
        if pages == 1:
            await api.post("/deaths", json={"id": youngest["id"], "date_of_death": "2026-01-06"})

    seen = await household_pages(api, head["household_id"], youngest_dies)
    assert seen == [p["id"] for p in family[1:-1]]


async def test_search_by_status_and_born_before(api: httpx.AsyncClient) -> None:
    # What a looped death scenario needs: the first living citizen born before a date, from
    # a cursor on, however many before them have died.
    params = {"born_before": "1965-10-31", "status": "alive", "limit": 2, "cursor": "1000"}
    first = (await api.get("/citizens", params=params)).json()["items"]
    assert len(first) == 2
    assert all(p["date_of_birth"] < "1965-10-31" and p["status"] == "alive" for p in first)
    died = await api.post("/deaths", json={"id": first[0]["id"], "date_of_death": "2025-10-30"})
    assert died.status_code == 200, died.text
    after = (await api.get("/citizens", params=params)).json()["items"]
    assert after[0] == first[1] and after[1]["id"] not in {p["id"] for p in first}
    dead = {**params, "status": "deceased"}
    assert [p["id"] for p in (await api.get("/citizens", params=dead)).json()["items"]] == [
        first[0]["id"]
    ]

    wrong_status = await api.get("/citizens", params={"status": "dead"})
    assert wrong_status.status_code == 422
    assert "status" in wrong_status.json()["message"]
    assert "'alive' or 'deceased'" in wrong_status.json()["message"]
    wrong_date = await api.get("/citizens", params={"born_before": "31/10/1965"})
    assert wrong_date.status_code == 422 and "born_before" in wrong_date.json()["message"]


@pytest.mark.parametrize(
    "value",
    ["abc", "07909000123", "0790900012345", "999090001234", "079990001234", "07909000123\n"],
)
async def test_a_malformed_personal_id_is_a_400_saying_what_one_is(
    api: httpx.AsyncClient, value: str
) -> None:
    # Each was a 404 "no citizen with id abc": no data, as if such a citizen might exist.
    answer = await api.get(f"/citizens/{quote(value)}")
    assert answer.status_code == 400, answer.text
    assert answer.json() == {
        "type": "BadRequest",
        "message": f"{value!r} is not a personal identification number: 12 digits, a province "
        "code (001 to 096), a century-and-sex digit, the last two digits of a birth year not in "
        "the future, then six more (e.g. 079090001234)",
    }
    assert (await api.get("/citizens/079090001234")).status_code == 404  # well-formed: no data


async def test_a_malformed_household_id_is_a_400_saying_what_one_is(
    api: httpx.AsyncClient,
) -> None:
    answer = await api.get("/households/79000000")
    assert answer.status_code == 400, answer.text
    assert answer.json() == {
        "type": "BadRequest",
        "message": "'79000000' is not a household ID: HK and 8 digits (e.g. HK79000000)",
    }


async def test_a_birth_in_a_merged_province_is_refused_naming_the_one_in_force(
    api: httpx.AsyncClient,
) -> None:
    head = head_of_family()
    parent = "father_id" if head["sex"] == "male" else "mother_id"
    body = {"full_name": "Nguyễn Minh Khôi", "date_of_birth": "2025-09-02", "sex": "male"}
    refused = await api.post(
        "/births", json={**body, parent: head["id"], "birth_registration_province": "02"}
    )
    assert refused.status_code == 422
    assert refused.json()["message"] == (
        "province 02 is a code from before the 2025 merger: give 08 (Tuyên Quang), the "
        "province in force since"
    )
    unknown = await api.post(
        "/births", json={**body, parent: head["id"], "birth_registration_province": "99"}
    )
    assert unknown.json()["message"] == "unknown province code 99"
