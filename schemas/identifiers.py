"""Vietnamese administrative units and personal identification numbers (DOMAIN.md).

- ``PROVINCES``: the 34 provinces since 1 July 2025 (Decision 19/2025/QĐ-TTg), code -> name.
- ``COMMUNES``: a few communes per province, 5-digit code -> ``Commune``. The names are real
  place names of each province; the codes are synthetic but well formed (5 digits, unique,
  grouped by province as the real list is).
- Personal identification number (số định danh cá nhân): 12 digits: province of birth
  registration (3, the 2-digit province code zero-padded), century and sex (1), last two
  digits of the birth year (2), six random digits. ``make_personal_id`` builds one,
  ``is_valid_personal_id`` checks one.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

PROVINCES: dict[str, str] = {
    "01": "Hà Nội",
    "04": "Cao Bằng",
    "08": "Tuyên Quang",
    "11": "Điện Biên",
    "12": "Lai Châu",
    "14": "Sơn La",
    "15": "Lào Cai",
    "19": "Thái Nguyên",
    "20": "Lạng Sơn",
    "22": "Quảng Ninh",
    "24": "Bắc Ninh",
    "25": "Phú Thọ",
    "31": "Hải Phòng",
    "33": "Hưng Yên",
    "37": "Ninh Bình",
    "38": "Thanh Hóa",
    "40": "Nghệ An",
    "42": "Hà Tĩnh",
    "44": "Quảng Trị",
    "46": "Huế",
    "48": "Đà Nẵng",
    "51": "Quảng Ngãi",
    "52": "Gia Lai",
    "56": "Khánh Hòa",
    "66": "Đắk Lắk",
    "68": "Lâm Đồng",
    "75": "Đồng Nai",
    "79": "Hồ Chí Minh",
    "80": "Tây Ninh",
    "82": "Đồng Tháp",
    "86": "Vĩnh Long",
    "91": "An Giang",
    "92": "Cần Thơ",
    "96": "Cà Mau",
}

# The 63 provinces before 2025: IDs issued before the merger still carry these prefixes.
_OLD_CODES = (
    "01 02 04 06 08 10 11 12 14 15 17 19 20 22 24 25 26 27 30 31 33 34 35 36 37 38 40 42 44 "
    "45 46 48 49 51 52 54 56 58 60 62 64 66 67 68 70 72 74 75 77 79 80 82 83 84 86 87 89 91 "
    "92 93 94 95 96"
)
OLD_PROVINCE_CODES = frozenset(_OLD_CODES.split())
# The provinces each of the 34 absorbed (Resolution 202/2025/QH15); the others kept their code.
_MERGED_INTO = {
    "08": "02", "15": "10", "19": "06", "24": "27", "25": "17 26", "31": "30", "33": "34",
    "37": "35 36", "44": "45", "48": "49", "51": "62", "52": "64", "56": "58", "66": "54",
    "68": "60 67", "75": "70", "79": "74 77", "80": "72", "82": "87", "86": "83 84",
    "91": "89", "92": "93 94", "96": "95",
}  # fmt: skip
# Province code before 2025 -> the code of the province it belongs to now (itself if kept).
CURRENT_PROVINCE: dict[str, str] = {
    **{code: code for code in PROVINCES},
    **{old: new for new, olds in _MERGED_INTO.items() for old in olds.split()},
}


def province_problem(code: str) -> str | None:
    """Why ``code`` is not a province code in force (a sentence), or None when it is one."""
    if code in PROVINCES:
        return None
    now = CURRENT_PROVINCE.get(code)
    if now is None:
        return f"unknown province code {code}"
    return (
        f"province {code} is a code from before the 2025 merger: give {now} "
        f"({PROVINCES[now]}), the province in force since"
    )


_COMMUNE_NAMES: dict[str, tuple[str, ...]] = {
    "01": ("Phường Hoàn Kiếm", "Phường Ba Đình", "Phường Cầu Giấy", "Phường Hà Đông", "Xã Sóc Sơn"),
    "04": ("Phường Thục Phán", "Xã Trùng Khánh", "Xã Bảo Lạc", "Xã Hòa An"),
    "08": ("Phường Minh Xuân", "Phường Hà Giang 1", "Xã Yên Sơn", "Xã Chiêm Hóa"),
    "11": ("Phường Điện Biên Phủ", "Phường Mường Lay", "Xã Tuần Giáo", "Xã Mường Chà"),
    "12": ("Phường Tân Phong", "Xã Tam Đường", "Xã Sìn Hồ", "Xã Phong Thổ"),
    "14": ("Phường Tô Hiệu", "Phường Mộc Châu", "Xã Mai Sơn", "Xã Thuận Châu"),
    "15": ("Phường Lào Cai", "Phường Yên Bái", "Phường Sa Pa", "Xã Bắc Hà"),
    "19": ("Phường Phan Đình Phùng", "Phường Bắc Kạn", "Xã Đại Từ", "Xã Phú Bình"),
    "20": ("Phường Đông Kinh", "Phường Lương Văn Tri", "Xã Cao Lộc", "Xã Hữu Lũng"),
    "22": ("Phường Hạ Long", "Phường Móng Cái 1", "Phường Uông Bí", "Phường Cẩm Phả"),
    "24": ("Phường Kinh Bắc", "Phường Bắc Giang", "Phường Từ Sơn", "Xã Yên Phong"),
    "25": ("Phường Việt Trì", "Phường Vĩnh Yên", "Phường Hòa Bình", "Xã Lâm Thao"),
    "31": ("Phường Hồng Bàng", "Phường Lê Chân", "Phường Hải Dương", "Xã An Lão"),
    "33": ("Phường Phố Hiến", "Phường Thái Bình", "Xã Văn Giang", "Xã Tiên Lữ"),
    "37": ("Phường Hoa Lư", "Phường Phủ Lý", "Phường Nam Định", "Xã Kim Sơn"),
    "38": ("Phường Hạc Thành", "Phường Sầm Sơn", "Xã Hoằng Hóa", "Xã Thọ Xuân"),
    "40": ("Phường Vinh Phú", "Phường Cửa Lò", "Xã Diễn Châu", "Xã Nghi Lộc"),
    "42": ("Phường Thành Sen", "Phường Hồng Lĩnh", "Xã Cẩm Xuyên", "Xã Hương Khê"),
    "44": ("Phường Đồng Hới", "Phường Đông Hà", "Xã Gio Linh", "Xã Lệ Thủy"),
    "46": ("Phường Thuận Hóa", "Phường Phú Xuân", "Phường Hương Thủy", "Xã Phú Vang"),
    "48": ("Phường Hải Châu", "Phường Sơn Trà", "Phường Tam Kỳ", "Xã Hòa Vang"),
    "51": ("Phường Cẩm Thành", "Phường Kon Tum", "Xã Bình Sơn", "Xã Mộ Đức"),
    "52": ("Phường Pleiku", "Phường Quy Nhơn", "Xã Chư Sê", "Xã Phù Cát"),
    "56": ("Phường Nha Trang", "Phường Cam Ranh", "Phường Phan Rang", "Xã Diên Khánh"),
    "66": ("Phường Buôn Ma Thuột", "Phường Tuy Hòa", "Xã Ea Kar", "Xã Krông Pắc"),
    "68": (
        "Phường Xuân Hương - Đà Lạt",
        "Phường Bảo Lộc 1",
        "Phường Phan Thiết",
        "Phường Gia Nghĩa",
    ),
    "75": ("Phường Trấn Biên", "Phường Biên Hòa", "Phường Đồng Xoài", "Xã Long Thành"),
    "79": (
        "Phường Sài Gòn",
        "Phường Bến Thành",
        "Phường Tân Định",
        "Phường Thủ Dầu Một",
        "Phường Vũng Tàu",
        "Xã Củ Chi",
    ),
    "80": ("Phường Tân Ninh", "Phường Long An", "Xã Đức Hòa", "Xã Gò Dầu"),
    "82": ("Phường Cao Lãnh", "Phường Mỹ Tho", "Phường Sa Đéc", "Xã Cái Bè"),
    "86": ("Phường Thanh Đức", "Phường Bến Tre", "Phường Trà Vinh", "Xã Mỏ Cày"),
    "91": ("Phường Long Xuyên", "Phường Rạch Giá", "Phường Châu Đốc", "Xã Thoại Sơn"),
    "92": ("Phường Ninh Kiều", "Phường Vị Thanh", "Phường Sóc Trăng", "Xã Phong Điền"),
    "96": ("Phường An Xuyên", "Phường Bạc Liêu", "Xã Năm Căn", "Xã Đầm Dơi"),
}


@dataclass(frozen=True)
class Commune:
    """A commune or ward (xã / phường) of a province."""

    code: str
    name: str
    province: str

    @property
    def is_ward(self) -> bool:
        """Urban ward (phường) rather than rural commune (xã): street addresses vs hamlets."""
        return self.name.startswith("Phường")


def _communes() -> dict[str, Commune]:
    out: dict[str, Commune] = {}
    for province, names in _COMMUNE_NAMES.items():
        for k, name in enumerate(names):
            # Synthetic: province code x 300 plus a stride, so codes sort by province.
            code = f"{int(province) * 300 + 7 * k + 1:05d}"
            out[code] = Commune(code=code, name=name, province=province)
    return out


COMMUNES: dict[str, Commune] = _communes()
COMMUNES_BY_PROVINCE: dict[str, tuple[Commune, ...]] = {
    p: tuple(c for c in COMMUNES.values() if c.province == p) for p in PROVINCES
}

_ID_RE = re.compile(r"[0-9]{12}")  # fullmatch: "$" lets a final "\n" through
# Digit 4 of a personal ID: (first year of the century, sex) per value; 20th century 0/1,
# 21st 2/3, 22nd 4/5, 23rd 6/7, 24th 8/9 (Circular 59/2021/TT-BCA).
_CENTURY_SEX = {d: (1900 + 100 * (d // 2), "male" if d % 2 == 0 else "female") for d in range(10)}


def century_sex_digit(year: int, sex: str) -> int:
    """Digit 4 of a personal ID for a birth year and sex (``male`` | ``female``)."""
    if not 1900 <= year <= 2399:
        raise ValueError(f"birth year {year} outside 1900-2399")
    if sex not in ("male", "female"):
        raise ValueError(f"sex must be 'male' or 'female', not {sex!r}")
    return 2 * ((year - 1900) // 100) + (0 if sex == "male" else 1)


def make_personal_id(province: str, date_of_birth: dt.date, sex: str, serial: int) -> str:
    """The personal ID of someone whose birth was registered in ``province`` (2-digit code).

    ``serial`` (0-999999) is the six "random" digits; callers draw it so IDs stay unique.
    """
    if province not in PROVINCES and province not in OLD_PROVINCE_CODES:
        raise ValueError(f"unknown province code {province!r}")
    if not 0 <= serial < 1_000_000:
        raise ValueError(f"serial {serial} outside 0-999999")
    digit = century_sex_digit(date_of_birth.year, sex)
    return f"0{province}{digit}{date_of_birth.year % 100:02d}{serial:06d}"


def is_valid_personal_id(
    value: str,
    date_of_birth: dt.date | str | None = None,
    sex: str | None = None,
    *,
    today: dt.date | None = None,
) -> bool:
    """Whether ``value`` is a well-formed personal ID, consistent with birth date and sex if given.

    Checks 12 digits, a province prefix (current or pre-2025 code), and a birth year (from
    digits 4-6) that is not in the future; with ``date_of_birth`` the year must match, with
    ``sex`` digit 4's parity must.
    """
    if not isinstance(value, str) or not _ID_RE.fullmatch(value):
        return False
    province = value[1:3]
    if value[0] != "0" or (province not in PROVINCES and province not in OLD_PROVINCE_CODES):
        return False
    century, id_sex = _CENTURY_SEX[int(value[3])]
    year = century + int(value[4:6])
    if year > (today or dt.date.today()).year:
        return False
    if date_of_birth is not None:
        if isinstance(date_of_birth, str):
            date_of_birth = dt.date.fromisoformat(date_of_birth)
        if date_of_birth.year != year:
            return False
    return sex is None or sex == id_sex


# What a personal ID looks like, for the refusals of one that is not.
PERSONAL_ID_FORM = (
    "12 digits, a province code (001 to 096), a century-and-sex digit, the last two digits of "
    "a birth year not in the future, then six more (e.g. 079090001234)"
)


def personal_id_facts(value: str) -> tuple[str, int, str]:
    """(province code, birth year, sex) read from a valid personal ID."""
    if not is_valid_personal_id(value):
        raise ValueError(f"{value!r} is not a valid personal identification number")
    century, sex = _CENTURY_SEX[int(value[3])]
    return value[1:3], century + int(value[4:6]), sex
