"""The land registry's data: parcels, land users and certificates made on demand from the seed.

``size`` is the population size, as for the business registry, so land users are citizens of
the population mock (``citizen_at(seed, size, k)``) and enterprises of the business mock with
the same seed and size. There are ``size // 2`` parcels (at least 10).

Layout, chosen so every lookup is O(1) and every search walks only its candidates:

- parcel ``i`` lies in province ``PROVINCE_LIST[i % 34]``; ``j = i // 34`` picks the commune
  (``j % n``, of the province's ``n`` communes) and ``m = j // n`` the sheet and number, so
  (commune, sheet, number) is unique and a commune's parcels are an arithmetic progression;
- the parcel ID is the GeoHash of a point near its commune's centre whose lowest 11 bits of
  latitude and of longitude carry ``i`` (moving the point less than 80 m), so an ID decodes
  back to ``i``;
- certificate ``c`` (``c = i`` for the seed ones, then one more per transfer) has the number
  ``shuffle(c)`` inside its code, so a code leads back to ``c``; a seed certificate is issued
  on or after its citizen users' 18th birthdays (land users are adults).

History (``as_of``): each transfer's certificate is kept with the land users it named, issued
on the day of the transfer; a parcel as of a day is the seed record with the transfers issued
on or before that day applied in order. The seed record stands for every day before the first
transfer the registry recorded (its certificate, issued in 2024-2025 on the Circular 10/2024
form, included): the mock has no older history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from connectors.business.dataset import Enterprises, adult_at, adult_origins, fold
from connectors.business.seeded import Shuffle, rng
from connectors.kit import Dataset, NotFoundError, Overlay, ProviderError, UnprocessableError
from connectors.population.dataset import DEFAULT_SIZE, years_after
from schemas import land_ids
from schemas.identifiers import COMMUNES, COMMUNES_BY_PROVINCE, PROVINCES
from schemas.land import LAND_USES, CertificateVerify, LandTransfer

PROVINCE_LIST = tuple(PROVINCES)
PER_SHEET = 250
_LOW_BITS = 11
_LOW_MASK = (1 << _LOW_BITS) - 1
MAX_PARCELS = 1 << (2 * _LOW_BITS)
_SPREAD = 0.03  # degrees around the commune centre (about 3 km)
_MARGIN = 0.002  # degrees kept clear of the province box, more than the index bits move
# Land-use mix of wards (urban) and rural communes: (code, weight).
_URBAN = (("ODT", 55), ("TMD", 10), ("SKC", 5), ("CLN", 10), ("HNK", 12), ("NTS", 8))
_RURAL = (
    ("ONT", 30),
    ("LUC", 25),
    ("LUK", 8),
    ("CLN", 15),
    ("HNK", 10),
    ("RSX", 5),
    ("NTS", 5),
    ("SKC", 2),
)
_AREA = {
    "ODT": (40, 300),
    "ONT": (100, 1000),
    "LUC": (500, 5000),
    "LUK": (300, 3000),
    "HNK": (200, 3000),
    "CLN": (300, 10000),
    "RSX": (5000, 100000),
    "NTS": (1000, 20000),
    "TMD": (200, 20000),
    "SKC": (1000, 50000),
}
FIRST_ISSUE = dt.date(2024, 8, 1)  # Circular 10/2024 certificates
LAST_ISSUE = dt.date(2025, 6, 30)


def parcel_count(size: int) -> int:
    return min(max(size // 2, 10), MAX_PARCELS)


def _commune_centre(seed: int, commune: str, province: str) -> tuple[float, float]:
    min_lat, min_lon, max_lat, max_lon = land_ids.PROVINCE_BOUNDS[province]
    draw = rng(seed, "commune-centre", int(commune))
    pad = _SPREAD + _MARGIN
    return draw.uniform(min_lat + pad, max_lat - pad), draw.uniform(min_lon + pad, max_lon - pad)


class Parcels(Dataset):
    """Seed parcels by index, with transfers (new users, new certificates) in an overlay."""

    default_size = DEFAULT_SIZE

    def __init__(
        self, *, seed: int = 42, size: int | None = None, state_path: str | Path | None = None
    ) -> None:
        super().__init__(seed=seed, size=size, state_path=state_path)
        self.count = parcel_count(self.size)
        self.enterprises = Enterprises(seed=seed, size=self.size)
        self._people = Shuffle(self.size, seed=seed, salt="land-user")
        self._certs = Shuffle(land_ids.CERTIFICATE_NUMBER_SPACE, seed=seed, salt="certificate")
        self._serials = Shuffle(land_ids.SERIAL_NUMBER_SPACE, seed=seed, salt="serial")
        self._mask = rng(seed, "parcel-mask", 0).randrange(MAX_PARCELS)
        self._offset = rng(seed, "parcel-enterprise", 0).randrange(self.enterprises.count)
        # parcel -> its users and certificate now
        self._changed: Overlay[int, dict[str, Any]] = self.overlay("parcels")
        # certificate number -> {"parcel": index, "certificate": ...}; one per transfer
        self._issued: Overlay[int, dict[str, Any]] = self.overlay("certificates")
        self.reindex()

    def reindex(self) -> None:
        self._by_user: dict[str, set[int]] = {}  # land user -> parcels changed to them
        for i, change in self._changed.items():
            for user in change["land_users"]:
                self._by_user.setdefault(user["id"], set()).add(i)
        self._history: dict[int, list[int]] = {}  # parcel -> its transfers' certificates, in order
        for c, issued in self._issued.items():
            self._history.setdefault(issued["parcel"], []).append(c)

    @property
    def _transfers(self) -> int:
        return len(self._issued)

    def health(self) -> dict[str, object]:
        return {**super().health(), "parcels": self.count, "transfers": self._transfers}

    # --- layout ---------------------------------------------------------------------

    def place_of(self, i: int) -> tuple[str, str, int, int]:
        """(province, commune, sheet, number) of parcel ``i``."""
        province = PROVINCE_LIST[i % len(PROVINCE_LIST)]
        communes = COMMUNES_BY_PROVINCE[province]
        j = i // len(PROVINCE_LIST)
        m = j // len(communes)
        return province, communes[j % len(communes)].code, 1 + m // PER_SHEET, 1 + m % PER_SHEET

    def parcel_id(self, i: int) -> str:
        province, commune, _, _ = self.place_of(i)
        lat0, lon0 = _commune_centre(self.seed, commune, province)
        draw = rng(self.seed, "parcel-point", i)
        lat = lat0 + draw.uniform(-_SPREAD, _SPREAD)
        lon = lon0 + draw.uniform(-_SPREAD, _SPREAD)
        lat_bits, lon_bits = land_ids.cell(lat, lon)
        key = i ^ self._mask
        lat_bits = (lat_bits & ~_LOW_MASK) | (key & _LOW_MASK)
        lon_bits = (lon_bits & ~_LOW_MASK) | (key >> _LOW_BITS)
        return land_ids.from_cell(lat_bits, lon_bits)

    def index_of(self, parcel_id: str) -> int | None:
        """The index of the parcel with this ID, or None."""
        if not land_ids.is_parcel_id(parcel_id):
            return None
        lat_bits, lon_bits = land_ids.cell_of(parcel_id)
        i = ((lat_bits & _LOW_MASK) | ((lon_bits & _LOW_MASK) << _LOW_BITS)) ^ self._mask
        return i if i < self.count and self.parcel_id(i) == parcel_id else None

    # --- seed records ---------------------------------------------------------------

    def certificate(self, c: int, province: str, issued: dt.date) -> dict[str, Any]:
        """Certificate number ``c`` of a parcel in ``province``, issued on ``issued``."""
        letters = rng(self.seed, "serial-letters", c).randrange(676)
        return {
            "code": land_ids.certificate_code(province, issued.year, self._certs(c)),
            "serial": land_ids.certificate_serial(letters, self._serials(c)),
            "issued_on": issued.isoformat(),
        }

    def _seed_users(self, i: int, draw: Any, land_use: str) -> tuple[list[dict[str, str]], dt.date]:
        """The land users of parcel ``i``, and the first day on which all of them are 18."""
        if land_use in ("TMD", "SKC") or draw.random() < 0.03:
            k = (i + self._offset) % self.enterprises.count
            return [{"kind": "enterprise", "id": self.enterprises.code_at(k)}], FIRST_ISSUE
        people = [adult_at(self.seed, self.size, self._people(i))[1]]
        if draw.random() < 0.35:  # held jointly, typically by a couple
            _, other = adult_at(self.seed, self.size, self._people(i + self.count))
            if other["id"] != people[0]["id"]:
                people.append(other)
        of_age = max(years_after(dt.date.fromisoformat(p["date_of_birth"]), 18) for p in people)
        return [{"kind": "citizen", "id": p["id"]} for p in people], of_age

    def seed_parcel(self, i: int) -> dict[str, Any]:
        """Parcel ``i`` (0 <= i < count) as the seed made it."""
        province, commune, sheet, number = self.place_of(i)
        draw = rng(self.seed, "parcel", i)
        commune_name = COMMUNES[commune].name
        table = _URBAN if commune_name.startswith("Phường") else _RURAL
        land_use = draw.choices([c for c, _ in table], weights=[w for _, w in table])[0]
        low, high = _AREA[land_use]
        issued = FIRST_ISSUE + dt.timedelta(days=draw.randint(0, (LAST_ISSUE - FIRST_ISSUE).days))
        area = round(draw.uniform(low, high), 1)
        users, of_age = self._seed_users(i, draw, land_use)
        if issued < of_age:
            # Users are adults by the last issue date, not the first: a certificate named one
            # aged 17. Issue it from their 18th birthday on, as a business registration waits
            # for its representative's.
            span = max((LAST_ISSUE - of_age).days, 0)
            issued = of_age + dt.timedelta(days=rng(self.seed, "parcel-issued", i).randint(0, span))
        return {
            "id": self.parcel_id(i),
            "province": province,
            "commune": commune,
            "sheet": sheet,
            "number": number,
            "area_m2": area,
            "land_use": land_use,
            "land_use_name": LAND_USES[land_use],
            "address": f"Thửa {number}, tờ bản đồ {sheet}, {commune_name}, {PROVINCES[province]}",
            "land_users": users,
            "certificate": self.certificate(i, province, issued),
        }

    def parcel_at(self, i: int) -> dict[str, Any]:
        """Parcel ``i`` as it is now (seed record with any transfer applied)."""
        record = self.seed_parcel(i)
        record.update(self._changed.get(i, {}))
        return record

    def parcel_on(self, i: int, day: dt.date) -> dict[str, Any]:
        """Parcel ``i`` as it was at the end of ``day``: the transfers issued by then applied."""
        record = self.seed_parcel(i)
        for c in self._history.get(i, []):
            issued = self._issued[c]
            if issued["certificate"]["issued_on"] > day.isoformat():
                break
            # A state file written before transfers kept their users holds the latest only.
            users = issued.get("land_users", self._changed[i]["land_users"])
            record.update(land_users=users, certificate=issued["certificate"])
        return record

    # --- reads ----------------------------------------------------------------------

    def get(self, parcel_id: str, *, as_of: dt.date | None = None) -> dict[str, Any]:
        if not land_ids.is_parcel_id(parcel_id):  # no parcel could have it: not "no data"
            raise ProviderError(
                f"{parcel_id!r} is not a parcel ID: 12 GeoHash characters ({land_ids.BASE32})"
            )
        i = self.index_of(parcel_id)
        if i is None:
            raise NotFoundError(f"no parcel with ID {parcel_id}")
        return self.parcel_at(i) if as_of is None else self.parcel_on(i, as_of)

    def batch(self, ids: list[str], *, as_of: dt.date | None = None) -> dict[str, Any]:
        """The parcels of ``ids`` found (each once, in the order asked) and the IDs not found.

        The IDs are checked already (the request model): one no parcel could have refused
        the whole request, as the single lookup's 400 does.
        """
        items, not_found = [], []
        for parcel_id in dict.fromkeys(ids):
            i = self.index_of(parcel_id)
            if i is None:
                not_found.append(parcel_id)
            else:
                items.append(self.parcel_at(i) if as_of is None else self.parcel_on(i, as_of))
        return {"items": items, "not_found": not_found}

    def search(
        self,
        *,
        province: str | None = None,
        commune: str | None = None,
        land_user: str | None = None,
        limit: int = 20,
        cursor: int = 0,
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Parcels matching every filter given, from index ``cursor`` on; (page, next)."""
        if commune is not None:
            place = COMMUNES.get(commune)
            if place is None or (province is not None and place.province != province):
                return [], None
            province = place.province
        items: list[dict[str, Any]] = []
        for i in self._candidates(cursor, province, commune, land_user):
            record = self.parcel_at(i)
            if (
                (province is None or record["province"] == province)
                and (commune is None or record["commune"] == commune)
                and (land_user is None or any(u["id"] == land_user for u in record["land_users"]))
            ):
                if len(items) == limit:
                    return items, i
                items.append(record)
        return items, None

    def _candidates(
        self, start: int, province: str | None, commune: str | None, land_user: str | None
    ) -> Iterator[int]:
        if land_user is not None:
            yield from (i for i in sorted(self._parcels_of(land_user)) if i >= start)
            return
        if province is None:
            yield from range(start, self.count)
            return
        step = len(PROVINCE_LIST)
        first = PROVINCE_LIST.index(province)
        if commune is not None:
            communes = [c.code for c in COMMUNES_BY_PROVINCE[province]]
            first += step * communes.index(commune)
            step *= len(communes)
        begin = first if start <= first else first + -(-(start - first) // step) * step
        yield from range(begin, self.count, step)

    def _parcels_of(self, land_user: str) -> set[int]:
        found = set(self._by_user.get(land_user, ()))
        if len(land_user) == 12:
            found.update(self._held_by_citizen(land_user))
        elif len(land_user) == 10 and land_user.isascii() and land_user.isdigit():
            k = self.enterprises.index_of(land_user)
            if k is None:
                return found
            first = (k - self._offset) % self.enterprises.count
            found.update(range(first, self.count, self.enterprises.count))
        return found

    def _held_by_citizen(self, citizen_id: str) -> set[int]:
        # Parcel i's users walk to the first adult from shuffle(i) (first user) and
        # shuffle(i + count) (joint user); invert both from where such a walk could start.
        # shuffle is taken modulo size, which 2 * count passes under 20 citizens: every t of
        # the inverse's remainder is then one.
        found = set()
        for origin in adult_origins(self.seed, self.size, citizen_id):
            for t in range(self._people.inverse(origin), 2 * self.count, self.size):
                found.add(t % self.count)
        return found

    def verify_certificate(self, claim: CertificateVerify) -> tuple[bool, str]:
        """(valid, status) of a certificate claim: current, superseded, mismatch, unknown."""
        if not (
            land_ids.is_certificate_code(claim.code)
            and land_ids.is_certificate_serial(claim.serial)
        ):
            return False, "unknown"
        c = self._certs.inverse(land_ids.certificate_number(claim.code))
        if c < self.count:
            i, issued = c, self.seed_parcel(c)["certificate"]
        elif c in self._issued:
            i, issued = self._issued[c]["parcel"], self._issued[c]["certificate"]
        else:
            return False, "unknown"
        if issued["code"] != claim.code:
            return False, "unknown"
        if issued["serial"] != claim.serial:
            return False, "mismatch"
        if claim.parcel_id is not None and claim.parcel_id != self.parcel_id(i):
            return False, "mismatch"
        if self.parcel_at(i)["certificate"]["code"] != claim.code:
            return False, "superseded"
        return True, "current"

    # --- writes ---------------------------------------------------------------------

    def check_transfer(self, parcel: dict[str, Any], request: LandTransfer) -> None:
        """Refuse (422) a transfer the registry's own records contradict."""
        current = parcel["certificate"]
        given = request.certificate
        if (given.code, given.serial) != (current["code"], current["serial"]):
            raise UnprocessableError(
                f"certificate {given.code} / {given.serial} is not the current certificate of "
                f"parcel {parcel['id']}"
            )
        users = {(u["kind"], u["id"]) for u in parcel["land_users"]}
        for party in request.from_:
            if (party.kind, party.id) not in users:
                raise UnprocessableError(
                    f"{party.kind} {party.id} is not a current land user of parcel {parcel['id']}"
                )
        givers = {(p.kind, p.id) for p in request.from_}
        for party in request.to:
            if (party.kind, party.id) in givers:
                raise UnprocessableError(
                    f"{party.kind} {party.id} is on both sides of the transfer"
                )

    def transfer(
        self, parcel_id: str, request: LandTransfer, *, today: dt.date
    ) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """Apply a checked transfer: (transfer id, parcel now, previous certificate)."""
        i = self.index_of(parcel_id)
        if i is None:
            raise NotFoundError(f"no parcel with ID {parcel_id}")
        before = self.parcel_at(i)
        self.check_transfer(before, request)
        givers = {(p.kind, p.id) for p in request.from_}
        users = [u for u in before["land_users"] if (u["kind"], u["id"]) not in givers]
        for party in request.to:
            if all(u["id"] != party.id for u in users):
                users.append({"kind": party.kind, "id": party.id})
        c = self.count + len(self._issued)
        certificate = self.certificate(c, before["province"], today)
        with self.atomic():
            self._issued[c] = {"parcel": i, "certificate": certificate, "land_users": users}
            self._changed[i] = {"land_users": users, "certificate": certificate}
        for user in users:
            self._by_user.setdefault(user["id"], set()).add(i)
        self._history.setdefault(i, []).append(c)
        transfer_id = f"BD-{today:%Y%m%d}-{self._transfers:06d}"
        previous = {
            "code": before["certificate"]["code"],
            "serial": before["certificate"]["serial"],
        }
        return transfer_id, self.parcel_at(i), previous


def same_name(a: str, b: str) -> bool:
    """Names compared without case, diacritics or extra spaces."""
    return " ".join(fold(a).split()) == " ".join(fold(b).split())
