"""What the business registry's seed enterprises are made of: their kinds, statuses,
sectors and brands, their capital, the provinces they cluster in, and their addresses
(connectors/business/dataset.py draws from these)."""

from __future__ import annotations

from typing import Any

from schemas.identifiers import COMMUNES_BY_PROVINCE, PROVINCES

# Enterprises cluster in the big cities: each province appears this many times in the cycle
# that assigns head-office provinces (index k is in province CYCLE[k % len(CYCLE)]).
_WEIGHTS = {"79": 30, "01": 20, "48": 4, "31": 4, "75": 4, "92": 3, "24": 3, "56": 2}
CYCLE = tuple(p for p in PROVINCES for _ in range(_WEIGHTS.get(p, 1)))
Weights = tuple[tuple[str, int], ...]
TYPES: Weights = (
    ("llc-single", 35),
    ("llc-multi", 30),
    ("joint-stock", 20),
    ("private", 12),
    ("partnership", 3),
)
STATUSES: Weights = (
    ("active", 80),
    ("suspended", 8),
    ("dissolving", 4),
    ("dissolved", 7),
    ("bankrupt", 1),
)
SECTORS = (
    "Thương mại",
    "Xây dựng",
    "Đầu tư",
    "Công nghệ",
    "Sản xuất",
    "Vận tải",
    "Du lịch",
    "Thực phẩm",
    "Nông sản",
    "Dược phẩm",
    "Bất động sản",
    "Giáo dục",
    "Cơ khí",
    "May mặc",
    "Xuất nhập khẩu",
    "Phần mềm",
    "Thủy sản",
    "Dịch vụ",
)
BRANDS = (
    "Minh Phát",
    "Hoàng Long",
    "An Phú",
    "Thành Công",
    "Việt Tiến",
    "Phú Thịnh",
    "Sao Mai",
    "Hưng Thịnh",
    "Đại Việt",
    "Tân Tiến",
    "Bình Minh",
    "Kim Long",
    "Phúc An",
    "Hải Đăng",
    "Trường Sơn",
    "Hồng Hà",
    "Nam Việt",
    "Thiên Phúc",
    "Hòa Bình",
    "Quang Minh",
    "Đông Á",
    "Cửu Long",
    "Tây Nguyên",
    "Bảo Ngọc",
    "Gia Huy",
    "Lộc Phát",
    "Thịnh Vượng",
    "Ánh Dương",
)
STREETS = (
    "Lê Lợi",
    "Nguyễn Huệ",
    "Trần Hưng Đạo",
    "Lý Thường Kiệt",
    "Hai Bà Trưng",
    "Điện Biên Phủ",
    "Nguyễn Trãi",
    "Lê Duẩn",
    "Quang Trung",
    "Phan Chu Trinh",
    "Hùng Vương",
    "Võ Văn Kiệt",
)
CAPITALS = (100, 500, 1_000, 2_000, 5_000, 10_000, 50_000, 200_000)  # million VND


def weighted(draw: Any, table: Weights) -> str:
    return draw.choices([v for v, _ in table], weights=[w for _, w in table])[0]


def street_address(draw: Any, commune: str) -> str:
    """A house number and street (wards) or hamlet (rural communes)."""
    if commune.startswith("Phường"):
        return f"Số {draw.randint(1, 399)} {draw.choice(STREETS)}"
    return f"Thôn {draw.randint(1, 12)}"


def address(draw: Any, province: str) -> dict[str, Any]:
    commune = draw.choice(COMMUNES_BY_PROVINCE[province])
    return {
        "province": province,
        "commune": commune.code,
        "province_name": PROVINCES[province],
        "commune_name": commune.name,
        "detail": street_address(draw, commune.name),
    }
