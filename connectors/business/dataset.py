"""The business registry's data: enterprises and branches made on demand from the seed.

``size`` is the population size (the citizens of the population mock with the same seed), so
that legal representatives are real citizens: ``citizen_at(seed, size, k)``. There are
``size // 10`` enterprises (at least 10). Enterprise ``k`` has the code
``code_for(province, shuffle(k))``, so a code maps back to its index without a table, and new
registrations take the next indices, which no seed enterprise can hold.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from connectors.business.seeded import Shuffle, rng
from connectors.business.vocabulary import (
    BRANDS,
    CAPITALS,
    CYCLE,
    SECTORS,
    STATUSES,
    TYPES,
    address,
    weighted,
)
from connectors.kit import ConflictError, Dataset, NotFoundError, Overlay, ProviderError
from connectors.population.dataset import DEFAULT_SIZE, citizen_at, index_of, years_after
from schemas import enterprise_code
from schemas.business import TYPE_PREFIX, EnterpriseRegistration
from schemas.identifiers import COMMUNES, PROVINCES

ADULT_BY = dt.date(2007, 6, 30)  # 18 by the last registration date
LAST_REGISTRATION = dt.date(2025, 6, 30)
FIRST_REGISTRATION = dt.date(2000, 1, 1)
# Records one search request examines at most before it answers with a cursor.
SCAN_BUDGET = 20_000
# How far a representative search walks from a citizen index to the next adult.
_ADULT_WALK = 64


def enterprise_count(size: int) -> int:
    """How many seed enterprises a population of ``size`` citizens has."""
    return min(max(size // 10, 10), enterprise_code.SERIAL_SPACE // 2)


def fold(text: str) -> str:
    """Lower case without diacritics, so "minh phat" finds "Minh Phát"."""
    decomposed = unicodedata.normalize("NFD", text.casefold().replace("đ", "d"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def name_key(name: str) -> str:
    """What makes two enterprise names identical: case and spacing do not count."""
    return " ".join(unicodedata.normalize("NFC", name).split()).casefold()


# Every name a seed enterprise can have, so only a registration under one of these needs the
# seed names at all (a scan of every seed enterprise, made once).
SEED_NAMES = frozenset(
    name_key(f"{TYPE_PREFIX[kind]} {sector} {brand}")
    for kind, _ in TYPES
    for sector in SECTORS
    for brand in BRANDS
)
# Enterprises whose names may be registered again by another.
_NAME_FREED = ("dissolved", "bankrupt")


def adult_at(seed: int, size: int, k: int) -> tuple[int, dict[str, Any]]:
    """The first citizen from index ``k`` on who is an adult by ``ADULT_BY`` (index, record)."""
    for step in range(_ADULT_WALK):
        index = (k + step) % size
        citizen = citizen_at(seed, size, index)
        if _is_adult(citizen):
            return index, citizen
    return k % size, citizen_at(seed, size, k % size)


def _is_adult(citizen: dict[str, Any]) -> bool:
    return dt.date.fromisoformat(str(citizen["date_of_birth"])) <= ADULT_BY


def adult_origins(seed: int, size: int, citizen_id: str) -> list[int]:
    """Every index ``k`` for which ``adult_at(seed, size, k)`` is this citizen (maybe none)."""
    x = index_of(seed, size, citizen_id)
    if x is None or not _is_adult(citizen_at(seed, size, x)):
        return []
    origins = [x]
    for step in range(1, _ADULT_WALK):
        k = (x - step) % size
        if k == x or _is_adult(citizen_at(seed, size, k)):
            break
        origins.append(k)
    return origins


class Enterprises(Dataset):
    """Seed enterprises by index, plus those registered since the start (the overlay)."""

    default_size = DEFAULT_SIZE

    def __init__(
        self, *, seed: int = 42, size: int | None = None, state_path: str | Path | None = None
    ) -> None:
        super().__init__(seed=seed, size=size, state_path=state_path)
        self.count = enterprise_count(self.size)
        self._codes = Shuffle(enterprise_code.SERIAL_SPACE, seed=seed, salt="enterprise-code")
        self._people = Shuffle(self.size, seed=seed, salt="representative")
        # code -> record, in registration order
        self._added: Overlay[str, dict[str, Any]] = self.overlay("enterprises")
        self._seed_names: dict[str, str] | None = None  # name_key -> code, made when needed
        self.reindex()

    def reindex(self) -> None:
        self._names = {name_key(r["name"]): code for code, r in self._added.items()}

    def health(self) -> dict[str, object]:
        return {**super().health(), "enterprises": self.count, "registered": len(self._added)}

    # --- seed records ---------------------------------------------------------------

    def _representative_of(self, k: int) -> tuple[str, dict[str, Any]]:
        _, person = adult_at(self.seed, self.size, self._people(k))
        return person["id"], person

    def province_of(self, k: int) -> str:
        return CYCLE[k % len(CYCLE)]

    def code_at(self, k: int) -> str:
        """The enterprise code of enterprise ``k`` (seed or registered)."""
        return enterprise_code.code_for(self.province_of(k), self._codes(k))

    def index_of(self, code: str) -> int | None:
        """The index of the seed enterprise with this 10-digit code, or None."""
        k = self._codes.inverse(enterprise_code.serial_of(code))
        return k if k < self.count and self.code_at(k) == code else None

    def enterprise_at(self, k: int) -> dict[str, Any]:
        """Seed enterprise ``k`` (0 <= k < count)."""
        return self._complete(k, self._profile(k))

    def _profile(self, k: int) -> dict[str, Any]:
        # Everything but the representative: searches by name or status read only this, as
        # making the representative costs a household of the population.
        draw = rng(self.seed, "enterprise", k)
        kind = weighted(draw, TYPES)
        code = self.code_at(k)
        branch_count = draw.choice((0, 0, 0, 0, 0, 0, 1, 2, 3))
        return {
            "code": code,
            "name": f"{TYPE_PREFIX[kind]} {draw.choice(SECTORS)} {draw.choice(BRANDS)}",
            "type": kind,
            "status": weighted(draw, STATUSES),
            "head_office": address(draw, self.province_of(k)),
            "charter_capital_vnd": draw.choice(CAPITALS) * 1_000_000,
            "parent_code": None,
            "branches": [enterprise_code.branch_code(code, b) for b in range(1, branch_count + 1)],
        }

    def _complete(self, k: int, profile: dict[str, Any]) -> dict[str, Any]:
        _, person = self._representative_of(k)
        born = dt.date.fromisoformat(str(person["date_of_birth"]))
        # The 18th birthday itself: the 28th of its month let one born on the 29th-31st
        # represent an enterprise registered a day or three before it, aged 17.
        earliest = max(FIRST_REGISTRATION, years_after(born, 18))
        span = max((LAST_REGISTRATION - earliest).days, 0)
        registered = earliest + dt.timedelta(
            days=rng(self.seed, "enterprise-registered", k).randint(0, span)
        )
        record = dict(profile)
        record["registration_date"] = registered.isoformat()
        record["legal_representative"] = {"id": person["id"], "full_name": person["full_name"]}
        return record

    def branch_of(self, parent: dict[str, Any], number: int) -> dict[str, Any]:
        """Branch ``number`` of ``parent`` (an enterprise record listing it)."""
        draw = rng(self.seed, f"branch-{parent['code']}", number)
        province = draw.choice(CYCLE)
        return {
            **parent,
            "code": enterprise_code.branch_code(parent["code"], number),
            "name": f"Chi nhánh {PROVINCES[province]} - {parent['name']}",
            "type": "branch",
            "head_office": address(draw, province),
            "parent_code": parent["code"],
            "branches": [],
        }

    # --- reads ----------------------------------------------------------------------

    def get(self, code: str) -> dict[str, Any]:
        """The enterprise or branch with this code; NotFoundError when there is none."""
        try:
            base, branch = enterprise_code.split(code)
        except enterprise_code.EnterpriseCodeError as exc:
            raise ProviderError(str(exc)) from exc
        record = self._added.get(base)
        if record is None:
            k = self.index_of(base)
            record = self.enterprise_at(k) if k is not None else None
        if record is None:
            raise NotFoundError(f"no enterprise with code {base}")
        if branch is None:
            return record
        if code not in record["branches"]:
            raise NotFoundError(f"enterprise {base} has no branch {branch:03d}")
        return self.branch_of(record, branch)

    def records(self, start: int = 0) -> Iterator[tuple[int, dict[str, Any]]]:
        """(position, record) of every enterprise from ``start`` on: seed, then registered.

        Seed records come as profiles, without ``legal_representative`` (see ``_profile``).
        """
        for k in range(start, self.count):
            yield k, self._profile(k)
        for offset, record in enumerate(list(self._added.values())[max(start - self.count, 0) :]):
            yield max(start, self.count) + offset, record

    def search(
        self,
        *,
        name: str | None = None,
        province: str | None = None,
        status: str | None = None,
        representative_id: str | None = None,
        limit: int = 20,
        cursor: int = 0,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Enterprises matching every filter given, from position ``cursor``; (page, next)."""
        wanted = fold(name) if name else None

        def matches(record: dict[str, Any]) -> bool:
            return (
                (wanted is None or wanted in fold(record["name"]))
                and (province is None or record["head_office"]["province"] == province)
                and (status is None or record["status"] == status)
            )

        items: list[dict[str, Any]] = []
        for examined, (position, record) in enumerate(
            self._candidates(cursor, province, representative_id)
        ):
            if examined == SCAN_BUDGET:
                # A page may come back short (even empty) with a cursor: the scan goes on from
                # there, and no single request walks a million records.
                return items, position
            if not matches(record):
                continue
            if "legal_representative" not in record:
                record = self._complete(position, record)
            if (
                representative_id is not None
                and record["legal_representative"]["id"] != representative_id
            ):
                continue
            if len(items) == limit:
                return items, position
            items.append(record)
        return items, None

    def _candidates(
        self, start: int, province: str | None, representative_id: str | None
    ) -> Iterator[tuple[int, dict[str, Any]]]:
        # Narrow the scan where the layout allows: by representative through adult_origins,
        # by province through the province cycle; registered enterprises are always scanned.
        if representative_id is not None:
            for k in self._represented_by(representative_id):
                if k >= start:
                    yield k, self._profile(k)
        elif province is not None:
            slots = [i for i, p in enumerate(CYCLE) if p == province]
            base = start - start % len(CYCLE)
            for block in range(base, self.count, len(CYCLE)):
                for slot in slots:
                    k = block + slot
                    if start <= k < self.count:
                        yield k, self._profile(k)
        else:
            yield from ((k, r) for k, r in self.records(start) if k < self.count)
        yield from ((k, r) for k, r in self.records(max(start, self.count)))

    def _represented_by(self, citizen_id: str) -> list[int]:
        # Enterprise k's representative is the first adult from citizen shuffle(k) on, so
        # the enterprises a citizen represents start their walk at one of adult_origins().
        found = []
        # shuffle(k) is taken modulo size: under 10 citizens the 10 seed enterprises share
        # them, and every k of the same remainder starts where the inverse does.
        for origin in adult_origins(self.seed, self.size, citizen_id):
            for k in range(self._people.inverse(origin), self.count, self.size):
                if self._representative_of(k)[0] == citizen_id:
                    found.append(k)
        return sorted(found)

    # --- writes ---------------------------------------------------------------------

    def holder_of(self, name: str) -> str | None:
        """The code of the enterprise whose name is identical to ``name``, if one holds it.

        Dissolved and bankrupt enterprises hold their names no more.
        """
        key = name_key(name)
        if key in self._names:
            return self._names[key]
        if key not in SEED_NAMES:
            return None
        if self._seed_names is None:
            self._seed_names = {}
            for k in range(self.count):
                profile = self._profile(k)
                if profile["status"] not in _NAME_FREED:
                    self._seed_names.setdefault(name_key(profile["name"]), profile["code"])
        return self._seed_names.get(key)

    def register(self, request: EnterpriseRegistration, *, today: dt.date) -> dict[str, Any]:
        """Add an enterprise with a newly issued code (the representative is already checked)."""
        holder = self.holder_of(request.name)
        if holder is not None:
            raise ConflictError(
                f"enterprise {holder} is already registered as {self.get(holder)['name']!r}: "
                "the Law on Enterprises forbids an identical name; choose another"
            )
        k = self.count + len(self._added)
        if k >= enterprise_code.SERIAL_SPACE:
            raise ProviderError("the registry has no enterprise codes left to issue")
        province = request.head_office.province
        code = enterprise_code.code_for(province, self._codes(k))
        office = request.head_office.model_dump()
        # Names from the codes, as every seed record has them: the client's own could say
        # province 79 is Hà Nội, and none at all left commune_name empty.
        office["province_name"] = PROVINCES[province]
        office["commune_name"] = COMMUNES[request.head_office.commune].name
        record: dict[str, Any] = {
            "code": code,
            "name": request.name,
            "type": request.type,
            "status": "active",
            "head_office": office,
            "registration_date": today.isoformat(),
            "legal_representative": {
                "id": request.legal_representative.id,
                "full_name": request.legal_representative.full_name,
            },
            "charter_capital_vnd": request.charter_capital_vnd,
            "parent_code": None,
            "branches": [],
        }
        self._added[code] = record
        self._names[name_key(record["name"])] = code
        return record
