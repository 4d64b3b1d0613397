"""The business registry's seed data: valid codes, real representatives, search, determinism."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from stdnum.vn import mst

from connectors.business.dataset import SCAN_BUDGET, Enterprises
from connectors.kit import ConflictError
from connectors.population.dataset import DEFAULT_SIZE, citizen_at, index_of, years_after
from schemas.business import Enterprise, EnterpriseRegistration
from schemas.identifiers import COMMUNES, PROVINCES

SIZE = 20_000


@pytest.fixture(scope="module")
def data() -> Enterprises:
    return Enterprises(seed=7, size=SIZE)


def test_thousands_of_codes_are_valid_and_unique(data: Enterprises) -> None:
    codes = [data.code_at(k) for k in range(data.count)]
    assert data.count == 2000
    assert all(mst.is_valid(code) for code in codes)
    assert len(set(codes)) == len(codes)
    assert all(code[:2] in PROVINCES for code in codes)


def test_records_are_well_formed(data: Enterprises) -> None:
    for k in range(0, data.count, 7):
        record = data.enterprise_at(k)
        Enterprise.model_validate(record)
        office = record["head_office"]
        assert record["code"][:2] == office["province"]
        assert COMMUNES[office["commune"]].province == office["province"]
        assert record["name"].startswith(("Công ty", "Doanh nghiệp"))
        for branch in record["branches"]:
            assert mst.is_valid(branch)


def test_representatives_are_real_adult_citizens(data: Enterprises) -> None:
    for k in range(0, data.count, 3):
        record = data.enterprise_at(k)
        person = record["legal_representative"]
        index = index_of(7, SIZE, person["id"])
        assert index is not None
        citizen = citizen_at(7, SIZE, index)
        assert citizen["full_name"] == person["full_name"]
        born = dt.date.fromisoformat(citizen["date_of_birth"])
        assert years_after(born, 18) <= dt.date.fromisoformat(record["registration_date"])


def test_a_representative_born_late_in_a_month_is_18_on_the_registration_date() -> None:
    # Enterprise 4176 of seed 1: its representative, born 31 May 2007, was given 28 May 2025
    # as the first day of 18 and the enterprise was registered on 29 May, aged 17.
    record = Enterprises(seed=1, size=DEFAULT_SIZE).enterprise_at(4176)
    person = record["legal_representative"]
    index = index_of(1, DEFAULT_SIZE, person["id"])
    assert index is not None
    born = dt.date.fromisoformat(citizen_at(1, DEFAULT_SIZE, index)["date_of_birth"])
    assert born.day > 28
    assert years_after(born, 18) <= dt.date.fromisoformat(record["registration_date"])


def test_lookup_by_code_and_by_branch_code(data: Enterprises) -> None:
    with_branch = next(
        data.enterprise_at(k) for k in range(data.count) if data.enterprise_at(k)["branches"]
    )
    assert data.get(with_branch["code"]) == with_branch
    branch = data.get(with_branch["branches"][0])
    assert branch["type"] == "branch"
    assert branch["parent_code"] == with_branch["code"]
    assert branch["name"].startswith("Chi nhánh ")


def test_same_seed_same_data_other_seed_other_data() -> None:
    first = [Enterprises(seed=3, size=SIZE).enterprise_at(k) for k in range(50)]
    again = [Enterprises(seed=3, size=SIZE).enterprise_at(k) for k in range(50)]
    other = [Enterprises(seed=4, size=SIZE).enterprise_at(k) for k in range(50)]
    assert first == again
    assert first != other


def test_search_by_each_filter(data: Enterprises) -> None:
    items, _ = data.search(province="48", limit=30)
    assert items and all(i["head_office"]["province"] == "48" for i in items)
    items, _ = data.search(status="dissolved", limit=30)
    assert items and all(i["status"] == "dissolved" for i in items)
    items, _ = data.search(name="cong ty co phan", limit=30)
    assert items and all(i["type"] == "joint-stock" for i in items)
    target = data.enterprise_at(123)
    items, cursor = data.search(representative_id=target["legal_representative"]["id"], limit=100)
    assert target in items and cursor is None
    assert all(i["legal_representative"] == target["legal_representative"] for i in items)


def test_representative_search_finds_every_enterprise_of_that_person(data: Enterprises) -> None:
    by_person: dict[str, set[str]] = {}
    for k in range(data.count):
        record = data.enterprise_at(k)
        by_person.setdefault(record["legal_representative"]["id"], set()).add(record["code"])
    for person, codes in list(by_person.items())[:300]:
        items, _ = data.search(representative_id=person, limit=100)
        assert {i["code"] for i in items} == codes


def test_pagination_visits_every_match_once(data: Enterprises) -> None:
    seen: list[str] = []
    cursor = 0
    while True:
        items, following = data.search(province="79", limit=100, cursor=cursor)
        seen += [i["code"] for i in items]
        if following is None:
            break
        cursor = following
    expected = [data.code_at(k) for k in range(data.count) if data.province_of(k) == "79"]
    assert seen == expected


def test_unknown_and_malformed_codes() -> None:
    from connectors.kit import NotFoundError, ProviderError

    data = Enterprises(seed=7, size=SIZE)
    missing = data.code_at(data.count + 5)  # valid, but not issued yet
    with pytest.raises(NotFoundError):
        data.get(missing)
    with pytest.raises(ProviderError):
        data.get("0100000000")


def test_default_size_starts_fast_and_a_million_works() -> None:
    started = time.perf_counter()
    data = Enterprises(seed=42)
    data.get(data.code_at(data.count - 1))
    assert data.size == DEFAULT_SIZE
    assert time.perf_counter() - started < 2
    big = Enterprises(seed=42, size=1_000_000)
    record = big.enterprise_at(big.count - 1)
    assert big.get(record["code"]) == record
    # A search that matches nothing answers after a bounded scan, with a cursor to go on.
    assert big.search(name="không có tên này") == ([], SCAN_BUDGET)
    assert big.search(name="không có tên này", cursor=big.count - 10) == ([], None)


def registration(name: str) -> EnterpriseRegistration:
    person = citizen_at(7, SIZE, 1)
    return EnterpriseRegistration.model_validate(
        {
            "name": name,
            "head_office": {"province": "79", "commune": "23701", "detail": "Số 1 Lê Lợi"},
            "legal_representative": {"id": person["id"], "full_name": person["full_name"]},
        }
    )


def test_a_name_identical_to_a_registered_enterprise_is_refused() -> None:
    data = Enterprises(seed=7, size=SIZE)
    today = dt.date(2026, 1, 5)
    first = data.register(registration("Công ty TNHH Minh Khang"), today=today)
    with pytest.raises(ConflictError) as refused:
        data.register(registration("công ty  TNHH minh KHANG"), today=today)
    assert f"enterprise {first['code']} is already registered" in refused.value.message
    # A seed enterprise's name is taken too, unless the enterprise is dissolved or bankrupt.
    profiles = [data._profile(k) for k in range(data.count)]
    holders: dict[str, list[dict]] = {}
    for profile in profiles:
        holders.setdefault(profile["name"], []).append(profile)
    active = next(p for p in profiles if p["status"] == "active")
    with pytest.raises(ConflictError) as refused:
        data.register(registration(active["name"].upper()), today=today)
    assert "enterprise " in refused.value.message
    gone = next(
        name
        for name, found in holders.items()
        if all(p["status"] in ("dissolved", "bankrupt") for p in found)
    )
    assert data.register(registration(gone), today=today)["name"] == gone
    # A reset forgets the registrations and their names.
    data.reset()
    assert (
        data.register(registration("Công ty TNHH Minh Khang"), today=today)["code"]
        == (first["code"])
    )
