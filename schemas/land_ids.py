"""Land identifiers: the 12-character GeoHash parcel ID, certificate codes and serials.

- Parcel ID (2025 guidance): the 12-character GeoHash of a point inside the parcel.
- Certificate code (Circular 10/2024/TT-BTNMT): 12 characters. Ours are digits: province (2),
  year of issue (2), a 7-digit number, and a Luhn check digit, so a mistyped code is caught.
- Certificate serial: two letters and eight digits, e.g. ``AK01234567``.

GeoHash is written out here rather than taken from a package because the land dataset needs
the raw cell bits (``cell_of`` / ``from_cell``) to turn a parcel ID back into its index, which
the GeoHash packages do not expose.
"""

from __future__ import annotations

import re
import string

from stdnum import luhn

BASE32 = "0123456789bcdefghjkmnpqrstuvwxyz"
_DECODE = {c: i for i, c in enumerate(BASE32)}
PARCEL_ID_LENGTH = 12
CELL_BITS = PARCEL_ID_LENGTH * 5 // 2  # 30 bits of latitude and 30 of longitude
# Used with fullmatch: "$" also matches before a final "\n", and "w7dytcbw9u29\n" got through.
PARCEL_ID_RE = re.compile(rf"[{BASE32}]{{{PARCEL_ID_LENGTH}}}")
CERTIFICATE_CODE_RE = re.compile(r"[0-9]{12}")
CERTIFICATE_SERIAL_RE = re.compile(r"[A-Z]{2}[0-9]{8}")
CERTIFICATE_NUMBER_SPACE = 10_000_000
SERIAL_NUMBER_SPACE = 100_000_000

# Approximate bounding boxes (min_lat, min_lon, max_lat, max_lon) of the 34 provinces since
# 1 July 2025. Synthetic parcels are placed inside these, so IDs decode to the right region.
PROVINCE_BOUNDS: dict[str, tuple[float, float, float, float]] = {
    "01": (20.56, 105.28, 21.39, 106.02),  # Hà Nội
    "04": (22.30, 105.27, 23.12, 106.83),  # Cao Bằng
    "08": (21.50, 104.50, 23.39, 105.60),  # Tuyên Quang
    "11": (20.90, 102.14, 22.55, 103.60),  # Điện Biên
    "12": (21.70, 102.30, 22.80, 103.98),  # Lai Châu
    "14": (20.60, 103.18, 22.03, 105.03),  # Sơn La
    "15": (21.30, 103.50, 22.85, 105.10),  # Lào Cai
    "19": (21.30, 105.50, 22.75, 106.25),  # Thái Nguyên
    "20": (21.30, 106.10, 22.45, 107.35),  # Lạng Sơn
    "22": (20.70, 106.40, 21.70, 108.10),  # Quảng Ninh
    "24": (21.00, 105.90, 21.60, 107.00),  # Bắc Ninh
    "25": (20.30, 104.80, 21.70, 105.80),  # Phú Thọ
    "31": (20.60, 106.00, 21.25, 107.10),  # Hải Phòng
    "33": (20.30, 105.90, 21.00, 106.65),  # Hưng Yên
    "37": (19.90, 105.55, 20.70, 106.55),  # Ninh Bình
    "38": (19.30, 104.35, 20.70, 106.10),  # Thanh Hóa
    "40": (18.55, 103.85, 20.00, 105.80),  # Nghệ An
    "42": (17.90, 105.10, 18.80, 106.50),  # Hà Tĩnh
    "44": (16.30, 105.60, 18.10, 107.40),  # Quảng Trị
    "46": (15.98, 107.00, 16.75, 108.20),  # Huế
    "48": (14.95, 107.20, 16.25, 108.75),  # Đà Nẵng
    "51": (13.90, 107.35, 15.45, 109.10),  # Quảng Ngãi
    "52": (12.90, 107.40, 14.70, 109.30),  # Gia Lai
    "56": (11.30, 108.65, 12.90, 109.45),  # Khánh Hòa
    "66": (12.10, 107.50, 13.75, 109.45),  # Đắk Lắk
    "68": (10.55, 107.20, 12.50, 109.00),  # Lâm Đồng
    "75": (10.50, 106.40, 12.30, 107.60),  # Đồng Nai
    "79": (10.30, 106.35, 11.50, 107.60),  # Hồ Chí Minh City
    "80": (10.35, 105.50, 11.60, 106.80),  # Tây Ninh
    "82": (10.20, 105.50, 11.00, 106.80),  # Đồng Tháp
    "86": (9.50, 105.80, 10.35, 106.80),  # Vĩnh Long
    "91": (9.60, 103.80, 10.95, 105.60),  # An Giang
    "92": (9.20, 105.30, 10.30, 106.30),  # Cần Thơ
    "96": (8.55, 104.70, 9.60, 105.85),  # Cà Mau
}


# --- GeoHash ---------------------------------------------------------------------------


def cell(lat: float, lon: float) -> tuple[int, int]:
    """The (latitude, longitude) bits of the 12-character GeoHash cell holding a point."""
    size = 1 << CELL_BITS
    lat_bits = min(int((lat + 90.0) / 180.0 * size), size - 1)
    lon_bits = min(int((lon + 180.0) / 360.0 * size), size - 1)
    return lat_bits, lon_bits


def from_cell(lat_bits: int, lon_bits: int) -> str:
    """The 12-character GeoHash of a cell given by its latitude and longitude bits."""
    value = 0
    for i in range(CELL_BITS - 1, -1, -1):  # longitude first, most significant bit first
        value = (value << 2) | (((lon_bits >> i) & 1) << 1) | ((lat_bits >> i) & 1)
    return "".join(BASE32[(value >> (5 * k)) & 31] for k in range(PARCEL_ID_LENGTH - 1, -1, -1))


def cell_of(geohash: str) -> tuple[int, int]:
    """The (latitude, longitude) bits of a 12-character GeoHash (inverse of ``from_cell``)."""
    value = 0
    for ch in geohash:
        value = (value << 5) | _DECODE[ch]
    lat_bits = lon_bits = 0
    for i in range(CELL_BITS - 1, -1, -1):
        lon_bits = (lon_bits << 1) | ((value >> (2 * i + 1)) & 1)
        lat_bits = (lat_bits << 1) | ((value >> (2 * i)) & 1)
    return lat_bits, lon_bits


def encode(lat: float, lon: float) -> str:
    """The 12-character GeoHash of a point."""
    return from_cell(*cell(lat, lon))


def decode(geohash: str) -> tuple[float, float]:
    """The centre (lat, lon) of a 12-character GeoHash cell."""
    lat_bits, lon_bits = cell_of(geohash)
    size = 1 << CELL_BITS
    return (lat_bits + 0.5) / size * 180.0 - 90.0, (lon_bits + 0.5) / size * 360.0 - 180.0


def is_parcel_id(value: str) -> bool:
    """Whether ``value`` has the shape of a parcel ID (12 GeoHash characters)."""
    return PARCEL_ID_RE.fullmatch(value) is not None


# --- Certificates ----------------------------------------------------------------------


def certificate_code(province: str, year: int, number: int) -> str:
    """The 12-character certificate code: province, 2-digit year, 7-digit number, check."""
    if not 0 <= number < CERTIFICATE_NUMBER_SPACE:
        raise ValueError(f"certificate number {number} is outside [0, 10^7)")
    body = f"{province}{year % 100:02d}{number:07d}"
    return body + luhn.calc_check_digit(body)


def is_certificate_code(code: str) -> bool:
    """Whether ``code`` is 12 digits whose last is the Luhn check digit of the rest."""
    return CERTIFICATE_CODE_RE.fullmatch(code) is not None and luhn.is_valid(code)


def certificate_number(code: str) -> int:
    """The 7-digit number inside a certificate code."""
    return int(code[4:11])


def certificate_serial(letters: int, number: int) -> str:
    """A serial: two letters (``letters`` in [0, 676)) and eight digits."""
    first, second = divmod(letters % 676, 26)
    upper = string.ascii_uppercase
    return f"{upper[first]}{upper[second]}{number % SERIAL_NUMBER_SPACE:08d}"


def is_certificate_serial(serial: str) -> bool:
    """Whether ``serial`` is two capital letters and eight digits."""
    return CERTIFICATE_SERIAL_RE.fullmatch(serial) is not None
