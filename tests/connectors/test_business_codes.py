"""Enterprise codes: generated codes are valid MST numbers by python-stdnum, and unique."""

from __future__ import annotations

import pytest
from stdnum.vn import mst

from schemas import enterprise_code
from schemas.identifiers import PROVINCES


def test_every_serial_gives_a_valid_code_with_province_prefix() -> None:
    for province in ("01", "79", "96"):
        for serial in range(0, enterprise_code.SERIAL_SPACE, 97):
            code = enterprise_code.code_for(province, serial)
            assert mst.is_valid(code), code
            assert code[:2] == province
            assert enterprise_code.serial_of(code) == serial


def test_check_digit_follows_the_domain_rule() -> None:
    weights = (31, 29, 23, 19, 17, 13, 7, 5, 3)
    for serial in range(5000):
        code = enterprise_code.code_for("48", serial)
        total = sum(w * int(d) for w, d in zip(weights, code[:9], strict=True))
        assert int(code[9]) == 10 - total % 11


def test_a_changed_digit_is_caught() -> None:
    code = enterprise_code.code_for("01", 123456)
    wrong = code[:9] + str((int(code[9]) + 1) % 10)
    assert not enterprise_code.is_valid(wrong)
    assert not mst.is_valid(wrong)


def test_codes_are_unique_across_provinces_and_serials() -> None:
    codes = {enterprise_code.code_for(p, s) for p in PROVINCES for s in range(300)}
    assert len(codes) == len(PROVINCES) * 300


def test_nine_digits_summing_to_zero_mod_11_have_no_check_digit() -> None:
    assert enterprise_code.check_digit("000000000") is None
    assert enterprise_code.check_digit("010023348") == "8"  # stdnum's own example 0100233488


def test_branch_codes() -> None:
    code = enterprise_code.code_for("79", 42)
    branch = enterprise_code.branch_code(code, 7)
    assert branch == f"{code}-007"
    assert mst.is_valid(branch)
    assert enterprise_code.split(branch) == (code, 7)
    assert enterprise_code.split(code) == (code, None)
    for bad in (f"{code}-000", f"{code}-1", code[:9], "abcdefghij"):
        assert not enterprise_code.is_valid(bad), bad
    with pytest.raises(enterprise_code.EnterpriseCodeError):
        enterprise_code.split(f"{code}-000")
    with pytest.raises(enterprise_code.EnterpriseCodeError):
        enterprise_code.branch_code(code, 1000)


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(enterprise_code.EnterpriseCodeError):
        enterprise_code.code_for("7", 1)
    with pytest.raises(enterprise_code.EnterpriseCodeError):
        enterprise_code.code_for("79", enterprise_code.SERIAL_SPACE)


def test_a_trailing_newline_is_not_part_of_a_code() -> None:
    # "$" matches before a final "\n": "0186709705\n" was looked up as 0186709705.
    code = enterprise_code.code_for("01", 42)
    for bad in (f"{code}\n", f"{code}-001\n"):
        assert not enterprise_code.is_valid(bad)
        with pytest.raises(enterprise_code.EnterpriseCodeError):
            enterprise_code.split(bad)


def test_a_branch_code_written_without_its_dash_is_refused_naming_the_form_to_give() -> None:
    # 13 digits is how some systems store a branch's tax code, and stdnum takes it; it was
    # told "is not a valid enterprise code", as if the check digit were wrong.
    code = enterprise_code.code_for("79", 42)
    with pytest.raises(enterprise_code.EnterpriseCodeError) as refused:
        enterprise_code.split(f"{code}007")
    assert str(refused.value) == (
        f"'{code}007' is branch 007 of enterprise {code} written without its dash: give it "
        f"as {code}-007"
    )
