"""Cross-agency data over every record: searches at sizes below the enterprise and parcel
floors, and land users of age on their certificate's date."""

from __future__ import annotations

import datetime as dt

import pytest

from connectors.business.dataset import Enterprises
from connectors.land.dataset import Parcels
from connectors.population.dataset import citizen_at, index_of, years_after


def _pages(search, **filters):  # type: ignore[no-untyped-def]
    """Every item of a search, page by page."""
    items, cursor = search(**filters, limit=3)
    while cursor is not None:
        more, cursor = search(**filters, limit=3, cursor=cursor)
        items += more
    return items


# Under 10 citizens there are still 10 enterprises, and under 20 still 10 parcels: several
# share a representative or a land user, and the search by that person found only one.
@pytest.mark.parametrize(("seed", "size"), [(1, 1), (2, 2), (3, 5), (4, 13), (9, 19), (8, 21)])
def test_a_search_by_person_finds_all_theirs_at_any_size(seed: int, size: int) -> None:
    enterprises = Enterprises(seed=seed, size=size)
    held: dict[str, list[str]] = {}
    for k in range(enterprises.count):
        record = enterprises.enterprise_at(k)
        held.setdefault(record["legal_representative"]["id"], []).append(record["code"])
    for person, codes in held.items():
        found = _pages(enterprises.search, representative_id=person)
        assert [e["code"] for e in found] == codes, person

    parcels = Parcels(seed=seed, size=size)
    users: dict[str, list[str]] = {}
    for i in range(parcels.count):
        record = parcels.seed_parcel(i)
        for user in record["land_users"]:
            users.setdefault(user["id"], []).append(record["id"])
    for user, ids in users.items():
        assert [p["id"] for p in _pages(parcels.search, land_user=user)] == ids, user


@pytest.mark.parametrize(("seed", "size"), [(7, 3000), (0, 997), (42, 5000)])
def test_citizen_land_users_are_18_on_their_certificate_s_date(seed: int, size: int) -> None:
    parcels = Parcels(seed=seed, size=size)
    for i in range(parcels.count):
        record = parcels.seed_parcel(i)
        issued = dt.date.fromisoformat(record["certificate"]["issued_on"])
        assert dt.date(2024, 8, 1) <= issued <= dt.date(2025, 6, 30), record
        assert record["certificate"]["code"][2:4] == f"{issued.year % 100:02d}", record
        for user in record["land_users"]:
            if user["kind"] != "citizen":
                continue
            index = index_of(seed, size, user["id"])
            assert index is not None
            born = dt.date.fromisoformat(citizen_at(seed, size, index)["date_of_birth"])
            assert years_after(born, 18) <= issued, (record, born)
