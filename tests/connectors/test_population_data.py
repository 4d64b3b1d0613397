"""The synthetic population: valid IDs, consistent households, determinism, large sizes."""

from __future__ import annotations

import datetime as dt
import time

from connectors.population import dataset as gen
from connectors.population.dataset import DEFAULT_SIZE, citizen_at
from schemas.identifiers import COMMUNES, PROVINCES, is_valid_personal_id
from schemas.population import Citizen

SAMPLE = 6000


def test_personal_ids_are_valid_and_consistent_over_thousands() -> None:
    seen = set()
    centuries = set()
    for index in range(SAMPLE):
        person = citizen_at(42, DEFAULT_SIZE, index)
        Citizen.model_validate(person)
        pid, born = person["id"], dt.date.fromisoformat(person["date_of_birth"])
        assert is_valid_personal_id(pid, born, person["sex"]), person
        assert pid[:3] == "0" + person["birth_registration_province"]
        assert pid[1:3] in PROVINCES
        digit = int(pid[3])
        assert digit % 2 == (0 if person["sex"] == "male" else 1)
        assert 1900 + 100 * (digit // 2) + int(pid[4:6]) == born.year
        centuries.add(digit // 2)
        home = person["permanent_address"]
        assert COMMUNES[home["commune"]].province == home["province"]
        seen.add(pid)
    assert len(seen) == SAMPLE
    assert centuries == {0, 1}  # both 19xx and 20xx births


def test_same_seed_same_data_other_seed_other_data() -> None:
    first = [citizen_at(7, DEFAULT_SIZE, i) for i in range(200)]
    assert first == [citizen_at(7, DEFAULT_SIZE, i) for i in range(200)]
    other = [citizen_at(8, DEFAULT_SIZE, i) for i in range(200)]
    assert sum(a["id"] == b["id"] for a, b in zip(first, other, strict=True)) < 5
    # Records do not depend on the size (except the last household), so other mocks can use
    # DEFAULT_SIZE whatever size the population mock runs with.
    assert first[:100] == [citizen_at(7, 1_000_000, i) for i in range(100)]


def test_households_parents_and_spouses_refer_to_real_citizens() -> None:
    by_id = {}
    for index in range(3000):
        person = citizen_at(42, DEFAULT_SIZE, index)
        by_id[person["id"]] = person
    children = 0
    for person in by_id.values():
        assert gen.index_of(42, DEFAULT_SIZE, person["id"]) is not None
        if person["spouse_id"]:
            spouse = by_id[person["spouse_id"]]
            assert spouse["spouse_id"] == person["id"] and spouse["sex"] != person["sex"]
            assert spouse["household_id"] == person["household_id"]
        if person["relation_to_head"] == "child":
            children += 1
            father, mother = by_id[person["father_id"]], by_id[person["mother_id"]]
            assert father["sex"] == "male" and mother["sex"] == "female"
            assert father["household_id"] == mother["household_id"] == person["household_id"]
            assert person["full_name"].split()[0] == father["full_name"].split()[0]
            assert mother["date_of_birth"] < person["date_of_birth"]
    assert children > 500


def test_ids_lead_back_to_their_index_and_unknown_ids_to_nothing() -> None:
    for index in (0, 1, 5, 999, DEFAULT_SIZE - 1):
        assert gen.index_of(42, DEFAULT_SIZE, citizen_at(42, DEFAULT_SIZE, index)["id"]) == index
    pid = citizen_at(42, DEFAULT_SIZE, 10)["id"]
    assert gen.index_of(43, DEFAULT_SIZE, pid) is None
    assert gen.index_of(42, DEFAULT_SIZE, pid[:3] + "9" + pid[4:]) is None


def test_permutation_is_a_bijection() -> None:
    values = {gen.permute(42, 5, x) for x in range(0, 1_000_000, 97)}
    assert len(values) == len(range(0, 1_000_000, 97))
    assert all(gen.unpermute(42, 5, gen.permute(42, 5, x)) == x for x in range(0, 10**6, 9973))


def test_a_million_citizens_are_instant_and_high_indices_work() -> None:
    started = time.perf_counter()
    last = [citizen_at(42, 1_000_000, i) for i in range(999_990, 1_000_000)]
    assert time.perf_counter() - started < 1.0
    for index, person in zip(range(999_990, 1_000_000), last, strict=True):
        assert gen.index_of(42, 1_000_000, person["id"]) == index
        assert is_valid_personal_id(person["id"], person["date_of_birth"], person["sex"])
