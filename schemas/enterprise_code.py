"""Enterprise codes (mã số doanh nghiệp, the tax code / MST): make them and check them.

A code is 10 digits: province (2), sequence (7), check digit (1), where the check digit is
``10 - (sum of digits 1-9 weighted 31, 29, 23, 19, 17, 13, 7, 5, 3) mod 11``. A weighted sum
that is 0 mod 11 would need a check "digit" of 10, so such sequences are never issued.
Branches add ``-NNN`` (001-999). Validation is python-stdnum's (``stdnum.vn.mst``); only the
generator lives here.
"""

from __future__ import annotations

import re

from stdnum.vn import mst

WEIGHTS = (31, 29, 23, 19, 17, 13, 7, 5, 3)
# The sequence is built from a 6-digit serial plus one filler digit chosen to make the check
# digit exist, so every serial below SERIAL_SPACE maps to exactly one valid code.
SERIAL_SPACE = 1_000_000
# Used with fullmatch: "$" also matches before a final "\n" ("0186709705\n" was found).
CODE_RE = re.compile(r"([0-9]{10})(?:-([0-9]{3}))?")


class EnterpriseCodeError(ValueError):
    """A code that is not a valid enterprise or branch code; the message says why."""


def check_digit(first9: str) -> str | None:
    """The check digit for nine digits, or None when no digit can make them valid."""
    total = sum(w * int(d) for w, d in zip(WEIGHTS, first9, strict=True))
    rest = total % 11
    return None if rest == 0 else str(10 - rest)


def code_for(province: str, serial: int) -> str:
    """The valid 10-digit code of a province (2 digits) and a serial in [0, SERIAL_SPACE)."""
    if not (len(province) == 2 and province.isascii() and province.isdigit()):
        raise EnterpriseCodeError(f"province code {province!r} must be 2 digits")
    if not 0 <= serial < SERIAL_SPACE:
        raise EnterpriseCodeError(f"serial {serial} is outside [0, {SERIAL_SPACE})")
    head = f"{province}{serial:06d}"
    # The filler starts at a digit that varies with the serial so codes do not all look
    # alike; one step changes the weighted sum by 3 (mod 11), so at most two tries succeed.
    start = (serial * 7 + int(province)) % 10
    for step in range(10):
        filler = (start + step) % 10
        first9 = f"{head}{filler}"
        if first9[2:9] == "0000000":  # stdnum refuses an all-zero sequence
            continue
        digit = check_digit(first9)
        if digit is not None:
            return first9 + digit
    raise AssertionError("unreachable: some filler digit always yields a check digit")


def serial_of(code: str) -> int:
    """The serial a 10-digit code was made from (the inverse of ``code_for``)."""
    return int(code[2:8])


def is_valid(code: str) -> bool:
    """Whether ``code`` is a valid enterprise or branch code (``0101234567[-001]``)."""
    return CODE_RE.fullmatch(code) is not None and mst.is_valid(code)


def split(code: str) -> tuple[str, int | None]:
    """The enterprise code and branch number (None for the head office) of a valid code."""
    match = CODE_RE.fullmatch(code)
    if match is None and re.fullmatch(r"[0-9]{13}", code) and mst.is_valid(code):
        raise EnterpriseCodeError(
            f"{code!r} is branch {code[10:]} of enterprise {code[:10]} written without its "
            f"dash: give it as {code[:10]}-{code[10:]}"
        )
    if match is None or not mst.is_valid(code):
        raise EnterpriseCodeError(
            f"{code!r} is not a valid enterprise code: 10 digits with a correct check digit, "
            "optionally followed by -NNN for a branch (001-999)"
        )
    branch = match.group(2)
    return match.group(1), (int(branch) if branch else None)


def branch_code(code: str, branch: int) -> str:
    """The code of branch number ``branch`` (1-999) of enterprise ``code``."""
    if not 1 <= branch <= 999:
        raise EnterpriseCodeError(f"branch number {branch} is outside 1-999")
    return f"{code}-{branch:03d}"
