"""The land registry's seed data: GeoHash IDs in place, unique parcels, real land users."""

from __future__ import annotations

import datetime as dt
import time

import pytest

from connectors.business.dataset import Enterprises
from connectors.kit import NotFoundError, ProviderError, UnprocessableError
from connectors.land.dataset import Parcels
from connectors.population.dataset import citizen_at, index_of
from schemas import land_ids
from schemas.identifiers import COMMUNES
from schemas.land import LAND_USES, CertificateVerify, LandTransfer, Parcel

SIZE = 20_000
SEED = 11


@pytest.fixture(scope="module")
def data() -> Parcels:
    return Parcels(seed=SEED, size=SIZE)


def test_parcel_ids_decode_inside_their_province(data: Parcels) -> None:
    ids = set()
    for i in range(data.count):
        record = data.seed_parcel(i)
        lat, lon = land_ids.decode(record["id"])
        min_lat, min_lon, max_lat, max_lon = land_ids.PROVINCE_BOUNDS[record["province"]]
        assert min_lat <= lat <= max_lat and min_lon <= lon <= max_lon, record
        ids.add(record["id"])
    assert len(ids) == data.count


def test_commune_sheet_number_is_unique(data: Parcels) -> None:
    places = [data.place_of(i) for i in range(data.count)]
    assert len({(c, s, n) for _, c, s, n in places}) == data.count
    assert all(COMMUNES[c].province == p for p, c, _, _ in places)


def test_records_are_well_formed(data: Parcels) -> None:
    serials, codes = set(), set()
    for i in range(0, data.count, 5):
        record = data.seed_parcel(i)
        Parcel.model_validate(record)
        assert record["land_use"] in LAND_USES
        certificate = record["certificate"]
        assert land_ids.is_certificate_code(certificate["code"])
        assert certificate["code"][:2] == record["province"]
        assert land_ids.is_certificate_serial(certificate["serial"])
        codes.add(certificate["code"])
        serials.add(certificate["serial"])
    assert len(codes) == len(serials) == len(range(0, data.count, 5))


def test_land_users_are_real_citizens_and_enterprises(data: Parcels) -> None:
    enterprises = Enterprises(seed=SEED, size=SIZE)
    kinds = set()
    for i in range(0, data.count, 3):
        for user in data.seed_parcel(i)["land_users"]:
            kinds.add(user["kind"])
            if user["kind"] == "citizen":
                index = index_of(SEED, SIZE, user["id"])
                assert index is not None
                assert citizen_at(SEED, SIZE, index)["id"] == user["id"]
            else:
                assert enterprises.get(user["id"])["code"] == user["id"]
    assert kinds == {"citizen", "enterprise"}


def test_lookup_by_id_and_unknown_ids(data: Parcels) -> None:
    record = data.seed_parcel(77)
    assert data.get(record["id"]) == record
    for unknown in ("w3gvk1td8f2q", "zzzzzzzzzzzz"):
        with pytest.raises(NotFoundError):
            data.get(unknown)
    for malformed in ("short", "AAAAAAAAAAAA"):  # no parcel could have them: a 400, no 404
        with pytest.raises(ProviderError, match="is not a parcel ID") as caught:
            data.get(malformed)
        assert caught.value.status_code == 400


def test_same_seed_same_data_other_seed_other_data() -> None:
    first = [Parcels(seed=5, size=SIZE).seed_parcel(i) for i in range(40)]
    assert first == [Parcels(seed=5, size=SIZE).seed_parcel(i) for i in range(40)]
    assert first != [Parcels(seed=6, size=SIZE).seed_parcel(i) for i in range(40)]


def test_search_by_commune_province_and_land_user(data: Parcels) -> None:
    some = data.seed_parcel(1234)
    items, _ = data.search(commune=some["commune"], limit=50)
    assert len(items) == 50 and all(p["commune"] == some["commune"] for p in items)
    items, _ = data.search(province="46", limit=50)
    assert len(items) == 50 and all(p["province"] == "46" for p in items)
    assert some["province"] != "01"
    assert data.search(province="01", commune=some["commune"]) == ([], None)
    held: dict[str, set[str]] = {}
    for i in range(data.count):
        record = data.seed_parcel(i)
        for user in record["land_users"]:
            held.setdefault(user["id"], set()).add(record["id"])
    for user, parcels in list(held.items())[:400]:
        items, cursor = data.search(land_user=user, limit=100)
        assert {p["id"] for p in items} == parcels and cursor is None


def test_commune_pagination_visits_every_parcel_once(data: Parcels) -> None:
    commune = data.seed_parcel(0)["commune"]
    seen, cursor = [], 0
    while True:
        items, following = data.search(commune=commune, limit=37, cursor=cursor)
        seen += [p["id"] for p in items]
        if following is None:
            break
        cursor = following
    expected = [data.parcel_id(i) for i in range(data.count) if data.place_of(i)[1] == commune]
    assert seen == expected


def test_certificate_verify_answers(data: Parcels) -> None:
    record = data.seed_parcel(42)
    code, serial = record["certificate"]["code"], record["certificate"]["serial"]
    verify = data.verify_certificate
    assert verify(CertificateVerify(code=code, serial=serial)) == (True, "current")
    assert verify(CertificateVerify(code=code, serial=serial, parcel_id=record["id"]))[0]
    other = data.seed_parcel(43)
    assert verify(CertificateVerify(code=code, serial=serial, parcel_id=other["id"])) == (
        False,
        "mismatch",
    )
    assert verify(CertificateVerify(code=code, serial=other["certificate"]["serial"])) == (
        False,
        "mismatch",
    )
    assert verify(CertificateVerify(code="123456789015", serial=serial)) == (False, "unknown")


def test_transfer_is_visible_to_later_reads_and_reset_undoes_it() -> None:
    data = Parcels(seed=SEED, size=SIZE)
    i = next(i for i in range(data.count) if len(data.seed_parcel(i)["land_users"]) == 2)
    before = data.seed_parcel(i)
    seller, co_owner = before["land_users"]
    buyer = data.seed_parcel(i + 1)["land_users"][0]
    request = LandTransfer.model_validate(
        {
            "from": {"kind": "citizen", "id": seller["id"], "name": "x"},
            "to": [{"kind": buyer["kind"], "id": buyer["id"], "name": "y"}],
            "certificate": {k: before["certificate"][k] for k in ("code", "serial")},
        }
    )
    transfer_id, after, previous = data.transfer(before["id"], request, today=dt.date(2025, 9, 1))
    assert transfer_id.startswith("BD-20250901-")
    assert after["land_users"] == [co_owner, {"kind": buyer["kind"], "id": buyer["id"]}]
    assert previous == {k: before["certificate"][k] for k in ("code", "serial")}
    assert data.get(before["id"]) == after
    assert after["id"] in {p["id"] for p in data.search(land_user=buyer["id"], limit=100)[0]}
    assert before["id"] not in {p["id"] for p in data.search(land_user=seller["id"])[0]}
    new = after["certificate"]
    assert data.verify_certificate(CertificateVerify(code=new["code"], serial=new["serial"]))[0]
    old = CertificateVerify(code=previous["code"], serial=previous["serial"])
    assert data.verify_certificate(old) == (False, "superseded")
    with pytest.raises(UnprocessableError):  # the old certificate cannot be used again
        data.transfer(before["id"], request, today=dt.date(2025, 9, 2))

    data.reset()
    assert data.get(before["id"]) == before
    assert data.verify_certificate(old) == (True, "current")


def test_default_size_starts_fast_and_a_million_works() -> None:
    started = time.perf_counter()
    data = Parcels(seed=42)
    data.get(data.parcel_id(data.count - 1))
    assert time.perf_counter() - started < 2
    big = Parcels(seed=42, size=1_000_000)
    record = big.seed_parcel(big.count - 1)
    assert big.get(record["id"]) == record
    user = record["land_users"][0]["id"]
    assert record["id"] in {p["id"] for p in big.search(land_user=user, limit=100)[0]}
