"""The synthetic population: citizen ``i`` of ``(seed, size)`` computed on demand.

Nothing is materialised: citizens are grouped, in index order, into households that tile
blocks of six indices (patterns such as 2+4 or 3+2+1), and a household's members come from a
``random.Random`` seeded with ``(seed, first index)``. So a lookup costs one household's
generation and any size up to ``MAX_SIZE`` starts instantly in constant memory.

- Household: a head, a spouse of the other sex when there are two or more members, children
  of the couple after that. Children take the father's family name and native place, are
  registered in the household's province, and point at both parents (``father_id``,
  ``mother_id``); spouses point at each other.
- Personal ID (DOMAIN.md): province of birth registration, century/sex digit, birth year, and
  six digits that are a seeded permutation of the index (a 4-round Feistel network over
  000000-999999), so an ID leads back to its index and IDs never collide. That is also why
  ``MAX_SIZE`` is 1,000,000.
- A record does not depend on ``size`` except that the last household may be cut short, so
  other mocks can rely on ``citizen_at(seed, DEFAULT_SIZE, i)`` for small ``i`` whatever size
  the population mock runs with.

``citizen_at`` and ``DEFAULT_SIZE`` are a public API: the business and land mocks pick their
representatives and land users with ``citizen_at(seed, size, k)`` over their own seed and
size, so they match a population mock of the same seed and size.
"""

from __future__ import annotations

import datetime as dt
import random
from functools import lru_cache
from typing import Any

from connectors.population import names
from schemas.identifiers import COMMUNES_BY_PROVINCE, PROVINCES, make_personal_id

DEFAULT_SIZE = 100_000
MAX_SIZE = 1_000_000
BLOCK = 6
# How each block of six indices splits into households (average about three people).
PATTERNS = (
    (2, 4), (3, 3), (4, 2), (1, 5), (5, 1), (6,), (2, 2, 2), (1, 2, 3), (3, 2, 1), (4, 1, 1),
    (2, 3, 1), (3, 1, 2), (1, 4, 1), (2, 1, 3),
)  # fmt: skip
# Rough population weights: Hồ Chí Minh City and Hà Nội are the big ones.
_PROVINCE_WEIGHTS = {"79": 14, "01": 9, "31": 5, "24": 4, "75": 4, "40": 4, "38": 4, "25": 4}
_PROVINCE_TABLE = tuple(code for code in PROVINCES for _ in range(_PROVINCE_WEIGHTS.get(code, 2)))
# Where people registered elsewhere temporarily live (current residence differs).
_MIGRANT_DESTINATIONS = ("79", "01", "75", "24", "48")
LAST_BIRTH_YEAR = 2024

_MASK = (1 << 64) - 1
# Tags keep the streams of different uses of the seed apart.
_T_LAYOUT, _T_SKELETON, _T_DETAIL, _T_PROVINCE, _T_ID, _T_HOUSEHOLD = range(1, 7)


def _mix(*values: int) -> int:
    """A 64-bit hash of integers (splitmix64 steps): stable across runs and platforms."""
    h = 0x9E3779B97F4A7C15
    for v in values:
        h = ((h ^ (v & _MASK)) * 0xBF58476D1CE4E5B9) & _MASK
        h ^= h >> 31
        h = (h * 0x94D049BB133111EB) & _MASK
        h ^= h >> 29
    return h


@lru_cache(maxsize=64)
def _round_tables(seed: int, tag: int) -> tuple[tuple[int, ...], ...]:
    return tuple(tuple(_mix(seed, tag, r, x) % 1000 for x in range(1000)) for r in range(4))


def permute(seed: int, tag: int, x: int) -> int:
    """A seeded bijection of 0-999999 (Feistel network on two halves of three digits)."""
    left, right = divmod(x, 1000)
    for table in _round_tables(seed, tag):
        left, right = right, (left + table[right]) % 1000
    return left * 1000 + right


def unpermute(seed: int, tag: int, y: int) -> int:
    """The inverse of ``permute``."""
    left, right = divmod(y, 1000)
    for table in reversed(_round_tables(seed, tag)):
        left, right = (right - table[left]) % 1000, left
    return left * 1000 + right


def check_size(size: int) -> int:
    if not 0 < size <= MAX_SIZE:
        raise ValueError(f"population size must be between 1 and {MAX_SIZE}, got {size}")
    return size


def household_span(seed: int, size: int, index: int) -> tuple[int, int]:
    """(first index, number of members) of the household citizen ``index`` belongs to."""
    block = index // BLOCK
    start = block * BLOCK
    for part in PATTERNS[_mix(seed, _T_LAYOUT, block) % len(PATTERNS)]:
        if index < start + part:
            return start, min(part, size - start)
        start += part
    raise AssertionError("patterns cover the block")


def household_province(seed: int, start: int) -> str:
    """Province of the household starting at ``start`` (cheap: no member is generated)."""
    return _PROVINCE_TABLE[_mix(seed, _T_PROVINCE, start) % len(_PROVINCE_TABLE)]


def household_id(seed: int, start: int) -> str:
    return f"HK{household_province(seed, start)}{permute(seed, _T_HOUSEHOLD, start):06d}"


def household_start(seed: int, size: int, value: str) -> int | None:
    """First index of the household with id ``value``, or None if there is no such household."""
    if (
        len(value) != 10
        or not value.startswith("HK")
        or not (value[2:].isascii() and value[2:].isdigit())
    ):
        return None
    start = unpermute(seed, _T_HOUSEHOLD, int(value[4:]))
    if start >= size or household_span(seed, size, start)[0] != start:
        return None
    return start if household_id(seed, start) == value else None


def skeleton(seed: int, start: int, n: int) -> list[tuple[str, str, dt.date]]:
    """(relation, sex, date of birth) of each member: enough for birth-year filters and IDs."""
    rng = random.Random(_mix(seed, _T_SKELETON, start))
    if n == 1:
        return [("head", rng.choice(("male", "female")), _date(rng, 1945 + rng.randrange(60)))]
    head_sex = "male" if rng.random() < 0.8 else "female"
    head_year = 1945 + rng.randrange(56)
    spouse_year = min(head_year + rng.randrange(-3, 6) * (1 if head_sex == "male" else -1), 2003)
    mother_year = spouse_year if head_sex == "male" else head_year
    members = [
        ("head", head_sex, _date(rng, head_year)),
        ("spouse", "female" if head_sex == "male" else "male", _date(rng, spouse_year)),
    ]
    year = mother_year + 20 + rng.randrange(12)
    for _ in range(n - 2):
        members.append(("child", rng.choice(("male", "female")), _date(rng, year)))
        year = min(year + 1 + rng.randrange(4), LAST_BIRTH_YEAR)
    return members


def _date(rng: random.Random, year: int) -> dt.date:
    year = min(year, LAST_BIRTH_YEAR)
    return dt.date(year, 1, 1) + dt.timedelta(days=rng.randrange(365))


def personal_id(seed: int, index: int, province: str, born: dt.date, sex: str) -> str:
    return make_personal_id(province, born, sex, permute(seed, _T_ID, index))


def _place(rng: random.Random, province: str) -> dict[str, Any]:
    commune = rng.choice(COMMUNES_BY_PROVINCE[province])
    return {
        "province": province,
        "commune": commune.code,
        "province_name": PROVINCES[province],
        "commune_name": commune.name,
    }


def _address(rng: random.Random, province: str) -> dict[str, Any]:
    place = _place(rng, province)
    if place["commune_name"].startswith("Phường"):
        detail = f"Số {rng.randint(1, 299)} {rng.choice(names.STREETS)}"
    else:
        # Hamlets are "ấp" in the south, "thôn" in the north and centre.
        hamlet = "Ấp" if int(province) >= 75 else "Thôn"
        detail = f"{hamlet} {rng.choice(names.HAMLETS)}"
    return {**place, "detail": detail}


@lru_cache(maxsize=4096)
def _household(seed: int, size: int, start: int) -> tuple[dict[str, Any], ...]:
    n = household_span(seed, size, start)[1]
    shape = skeleton(seed, start, n)
    rng = random.Random(_mix(seed, _T_DETAIL, start))
    province = household_province(seed, start)
    home = _address(rng, province)
    hid = household_id(seed, start)
    family = names.surname(rng)
    ethnicity = names.ethnicity(rng)
    people: list[dict[str, Any]] = []
    for offset, (relation, sex, born) in enumerate(shape):
        index = start + offset
        if relation == "child":
            father, mother = people[:2] if people[0]["sex"] == "male" else people[1::-1]
            native = father["native_place"]
            registered = province
            name = names.full_name(rng, sex, family=father["full_name"].split()[0])
        else:
            native_province = province if rng.random() < 0.75 else rng.choice(_PROVINCE_TABLE)
            native = _place(rng, native_province)
            registered = native_province
            name = names.full_name(rng, sex, family=family if sex == "male" else None)
        current = home
        if relation != "child" and rng.random() < 0.08:
            current = _address(rng, rng.choice(_MIGRANT_DESTINATIONS))
        person: dict[str, Any] = {
            "id": personal_id(seed, index, registered, born, sex),
            "full_name": name,
            "date_of_birth": born.isoformat(),
            "sex": sex,
            "ethnicity": ethnicity if relation != "spouse" or rng.random() < 0.9 else "Kinh",
            "nationality": "Việt Nam",
            "birth_registration_province": registered,
            "native_place": native,
            "permanent_address": home,
            "current_residence": current,
            "household_id": hid,
            "relation_to_head": relation,
            "father_id": father["id"] if relation == "child" else None,
            "mother_id": mother["id"] if relation == "child" else None,
            "spouse_id": None,
            "status": "alive",
            "date_of_death": None,
        }
        people.append(person)
    if n >= 2:
        people[0]["spouse_id"], people[1]["spouse_id"] = people[1]["id"], people[0]["id"]
    return tuple(people)


def household_at(seed: int, size: int, start: int) -> list[dict[str, Any]]:
    """The members of the household starting at index ``start`` (fresh copies)."""
    return [_copy(person) for person in _household(seed, size, start)]


def citizen_at(seed: int, size: int, index: int) -> dict[str, Any]:
    """Citizen ``index`` (0 <= index < size) of the population of ``seed``: the API's record."""
    check_size(size)
    if not 0 <= index < size:
        raise IndexError(f"citizen index {index} outside 0-{size - 1}")
    start, _ = household_span(seed, size, index)
    return _copy(_household(seed, size, start)[index - start])


def index_of(seed: int, size: int, value: str) -> int | None:
    """Index of the seed citizen with personal ID ``value``, or None."""
    if len(value) != 12 or not (value.isascii() and value.isdigit()):
        return None
    index = unpermute(seed, _T_ID, int(value[6:]))
    if index >= size:
        return None
    start, _ = household_span(seed, size, index)
    return index if _household(seed, size, start)[index - start]["id"] == value else None


def _copy(person: dict[str, Any]) -> dict[str, Any]:
    # Records are cached; callers get their own nested dicts to change.
    return {k: dict(v) if isinstance(v, dict) else v for k, v in person.items()}


def years_after(day: dt.date, years: int) -> dt.date:
    """The anniversary ``years`` after ``day``: 29 February's is 1 March in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return dt.date(day.year + years, 3, 1)
