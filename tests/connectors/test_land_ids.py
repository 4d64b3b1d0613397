"""Land identifiers: GeoHash parcel IDs, certificate codes and serials."""

from __future__ import annotations

import random

import pytest
from stdnum import luhn

from schemas import land_ids


def test_geohash_matches_known_values() -> None:
    # Reference points from the GeoHash description (Wikipedia, geohash.org).
    assert land_ids.encode(42.6, -5.6).startswith("ezs42")
    assert land_ids.encode(57.64911, 10.40744).startswith("u4pruydqqvj")
    lat, lon = land_ids.decode("u4pruydqqvj8")
    assert lat == pytest.approx(57.64911, abs=1e-6)
    assert lon == pytest.approx(10.40744, abs=1e-6)


def test_geohash_round_trips_through_cell_bits() -> None:
    draw = random.Random(1)
    for _ in range(5000):
        lat, lon = draw.uniform(8, 24), draw.uniform(102, 110)
        geohash = land_ids.encode(lat, lon)
        assert land_ids.is_parcel_id(geohash)
        assert land_ids.from_cell(*land_ids.cell_of(geohash)) == geohash
        back = land_ids.decode(geohash)
        assert back == pytest.approx((lat, lon), abs=1e-6)


def test_province_boxes_cover_the_34_provinces_inside_vietnam() -> None:
    from schemas.identifiers import PROVINCES

    assert set(land_ids.PROVINCE_BOUNDS) == set(PROVINCES)
    for min_lat, min_lon, max_lat, max_lon in land_ids.PROVINCE_BOUNDS.values():
        assert 8.3 <= min_lat < max_lat <= 23.5
        assert 102.1 <= min_lon < max_lon <= 110


def test_certificate_code_structure() -> None:
    code = land_ids.certificate_code("79", 2024, 1234567)
    assert len(code) == 12 and code.isdigit()
    assert code[:2] == "79" and code[2:4] == "24" and code[4:11] == "1234567"
    assert luhn.is_valid(code)
    assert land_ids.is_certificate_code(code)
    assert land_ids.certificate_number(code) == 1234567
    typo = code[:5] + str((int(code[5]) + 1) % 10) + code[6:]
    assert not land_ids.is_certificate_code(typo)


def test_certificate_serial_structure() -> None:
    assert land_ids.certificate_serial(0, 12) == "AA00000012"
    assert land_ids.certificate_serial(675, 99_999_999) == "ZZ99999999"
    assert land_ids.is_certificate_serial("AK01234567")
    for bad in ("A01234567", "ak01234567", "AK0123456", "AK012345678"):
        assert not land_ids.is_certificate_serial(bad)


def test_a_trailing_newline_is_not_part_of_an_identifier() -> None:
    # "$" matches before a final "\n": "w7dytcbw9u29\n" passed and cell_of raised KeyError.
    parcel = land_ids.encode(10.77, 106.70)
    code = land_ids.certificate_code("79", 2024, 1234567)
    assert land_ids.is_parcel_id(parcel) and land_ids.is_certificate_code(code)
    assert not land_ids.is_parcel_id(parcel + "\n")
    assert not land_ids.is_certificate_code(code + "\n")
    assert not land_ids.is_certificate_serial("AK01234567\n")
