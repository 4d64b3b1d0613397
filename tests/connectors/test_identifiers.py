"""Provinces, communes and personal identification numbers follow DOMAIN.md."""

from __future__ import annotations

import datetime as dt

import pytest

from schemas.identifiers import (
    COMMUNES,
    COMMUNES_BY_PROVINCE,
    CURRENT_PROVINCE,
    OLD_PROVINCE_CODES,
    PROVINCES,
    is_valid_personal_id,
    make_personal_id,
    personal_id_facts,
    province_problem,
)


def test_34_provinces_with_two_digit_codes() -> None:
    assert len(PROVINCES) == 34
    assert PROVINCES["01"] == "Hà Nội" and PROVINCES["79"] == "Hồ Chí Minh"
    assert all(len(code) == 2 and code.isdigit() for code in PROVINCES)


def test_communes_are_five_digits_unique_and_in_every_province() -> None:
    assert all(len(code) == 5 and code.isdigit() for code in COMMUNES)
    assert all(len(COMMUNES_BY_PROVINCE[p]) >= 3 for p in PROVINCES)
    assert all(c.province in PROVINCES and c.name[:3] in ("Phư", "Xã ") for c in COMMUNES.values())


@pytest.mark.parametrize(
    ("year", "sex", "digit"),
    [(1985, "male", "0"), (1985, "female", "1"), (2003, "male", "2"), (2024, "female", "3")],
)
def test_century_and_sex_digit(year: int, sex: str, digit: str) -> None:
    pid = make_personal_id("79", dt.date(year, 6, 1), sex, 123)
    assert pid == f"079{digit}{year % 100:02d}000123"
    assert is_valid_personal_id(pid, dt.date(year, 6, 1), sex)
    assert personal_id_facts(pid) == ("79", year, sex)


def test_invalid_ids_are_refused() -> None:
    good = make_personal_id("01", dt.date(1990, 1, 1), "female", 999_999)
    assert is_valid_personal_id(good)
    assert not is_valid_personal_id(good, sex="male")
    assert not is_valid_personal_id(good, date_of_birth="1991-01-01")
    assert not is_valid_personal_id(good[:-1])
    assert not is_valid_personal_id("003190999999")  # 03 is no province code
    assert not is_valid_personal_id("179190999999")
    assert not is_valid_personal_id("07939912345a")
    assert not is_valid_personal_id(good + "\n")  # "$" matches before a final newline
    # 21st century, year 99: in the future
    assert not is_valid_personal_id("079299123456", today=dt.date(2026, 1, 1))
    with pytest.raises(ValueError):
        make_personal_id("99", dt.date(1990, 1, 1), "male", 1)


def test_every_province_code_before_the_merger_leads_to_one_in_force() -> None:
    assert set(CURRENT_PROVINCE) == OLD_PROVINCE_CODES and len(OLD_PROVINCE_CODES) == 63
    assert set(CURRENT_PROVINCE.values()) == set(PROVINCES)
    # Hà Giang joined Tuyên Quang, Bình Dương and Bà Rịa - Vũng Tàu Hồ Chí Minh City.
    assert [CURRENT_PROVINCE[c] for c in ("02", "74", "77", "79", "01")] == [
        "08",
        "79",
        "79",
        "79",
        "01",
    ]
    assert province_problem("79") is None
    assert province_problem("99") == "unknown province code 99"
