"""Vietnamese names, ethnicities and street names for the synthetic population.

Surname weights follow the commonly cited shares (Nguyễn about 38 %, Trần 11 %, Lê 9.5 %...).
"""

from __future__ import annotations

import random
import unicodedata
from itertools import accumulate

_SURNAMES = (
    ("Nguyễn", 380),
    ("Trần", 110),
    ("Lê", 95),
    ("Phạm", 71),
    ("Hoàng", 51),
    ("Huỳnh", 30),
    ("Phan", 45),
    ("Vũ", 39),
    ("Võ", 30),
    ("Đặng", 21),
    ("Bùi", 20),
    ("Đỗ", 14),
    ("Hồ", 13),
    ("Ngô", 13),
    ("Dương", 10),
    ("Lý", 5),
    ("Đinh", 5),
    ("Trịnh", 4),
    ("Mai", 4),
    ("Cao", 3),
)
SURNAMES = tuple(name for name, _ in _SURNAMES)
_SURNAME_CUM = tuple(accumulate(weight for _, weight in _SURNAMES))

MIDDLE = {
    "male": ("Văn", "Hữu", "Đức", "Minh", "Quốc", "Công", "Thành", "Gia", "Anh", "Xuân"),
    "female": ("Thị", "Thị", "Ngọc", "Thu", "Thanh", "Minh", "Kim", "Phương", "Bảo", "Hồng"),
}
GIVEN = {
    "male": (
        "An",
        "Bình",
        "Cường",
        "Dũng",
        "Đạt",
        "Hải",
        "Hiếu",
        "Hoàng",
        "Hùng",
        "Huy",
        "Khang",
        "Khánh",
        "Khoa",
        "Kiên",
        "Long",
        "Lộc",
        "Minh",
        "Nam",
        "Nghĩa",
        "Phong",
        "Phúc",
        "Quân",
        "Quang",
        "Sơn",
        "Tài",
        "Tâm",
        "Thắng",
        "Thịnh",
        "Toàn",
        "Trung",
        "Tuấn",
        "Tùng",
        "Việt",
        "Vinh",
        "Vũ",
    ),  # fmt: skip
    "female": (
        "Anh",
        "Châu",
        "Chi",
        "Diệp",
        "Dung",
        "Duyên",
        "Giang",
        "Hà",
        "Hạnh",
        "Hằng",
        "Hiền",
        "Hoa",
        "Hồng",
        "Hương",
        "Lan",
        "Liên",
        "Linh",
        "Loan",
        "Mai",
        "My",
        "Nga",
        "Ngân",
        "Nhung",
        "Oanh",
        "Phương",
        "Quyên",
        "Tâm",
        "Thảo",
        "Thủy",
        "Trang",
        "Trinh",
        "Tuyết",
        "Uyên",
        "Vy",
        "Yến",
    ),  # fmt: skip
}
# Kinh about 85 %; the rest among the larger minorities.
ETHNICITIES = (
    ("Kinh", 853),
    ("Tày", 19),
    ("Thái", 18),
    ("Mường", 15),
    ("Khmer", 14),
    ("Hoa", 8),
    ("Nùng", 11),
    ("H'Mông", 13),
    ("Dao", 9),
    ("Gia Rai", 5),
    ("Ê Đê", 4),
)
_ETHNICITY_CUM = tuple(accumulate(weight for _, weight in ETHNICITIES))
STREETS = (
    "Lê Lợi", "Trần Hưng Đạo", "Nguyễn Huệ", "Hai Bà Trưng", "Lý Thường Kiệt", "Nguyễn Trãi",
    "Lê Duẩn", "Điện Biên Phủ", "Phan Chu Trinh", "Quang Trung", "Hùng Vương", "Nguyễn Du",
    "Bà Triệu", "Trường Chinh", "Võ Thị Sáu", "Cách Mạng Tháng Tám",
)  # fmt: skip
HAMLETS = (
    "Đông", "Tây", "Trung", "Hòa Bình", "Tân Lập", "Phú Mỹ", "An Lạc", "Thống Nhất",
    "Bình An", "Tân Thành",
)  # fmt: skip


def surname(rng: random.Random) -> str:
    return rng.choices(SURNAMES, cum_weights=_SURNAME_CUM)[0]


def ethnicity(rng: random.Random) -> str:
    return rng.choices([name for name, _ in ETHNICITIES], cum_weights=_ETHNICITY_CUM)[0]


def full_name(rng: random.Random, sex: str, family: str | None = None) -> str:
    """A full name (family, middle, given); children take ``family``, their father's."""
    return f"{family or surname(rng)} {rng.choice(MIDDLE[sex])} {rng.choice(GIVEN[sex])}"


def fold(text: str) -> str:
    """Lower case without diacritics, for forgiving name search ("nguyen van an")."""
    decomposed = unicodedata.normalize("NFD", text.replace("Đ", "D").replace("đ", "d"))
    return " ".join(
        "".join(c for c in decomposed if not unicodedata.combining(c)).split()
    ).casefold()


# The five tone marks (dấu thanh). Two conventions are in use for where a syllable carries one
# ("Thủy" or "Thuỷ", "Hòa" or "Hoà"); the vowel marks (â, ă, ê, ô, ơ, ư) never move.
_TONES = frozenset("\u0300\u0301\u0303\u0309\u0323")


def _spelling(word: str) -> tuple[str, str]:
    """A word's letters with their vowel marks, and its tone marks wherever they sat."""
    decomposed = unicodedata.normalize("NFD", word)
    letters = "".join(c for c in decomposed if c not in _TONES)
    tones = "".join(sorted(c for c in decomposed if c in _TONES))
    return unicodedata.normalize("NFC", letters), tones


def same_name(a: str, b: str) -> bool:
    """Exact name comparison as an officer would make it.

    Case, spacing and the vowel a syllable's tone mark sits on do not count.
    """
    return [_spelling(w) for w in unicodedata.normalize("NFC", a).casefold().split()] == [
        _spelling(w) for w in unicodedata.normalize("NFC", b).casefold().split()
    ]
