"""The population mock's state: the seed population plus the writes made since start.

Writes (births, deaths, residence changes) are kept in an overlay of full records by ID, and
each appends to the changes feed; both are kit overlays, so ``hub mock --state FILE`` keeps
them (and the stream new ID serials come from) across restarts, and ``reset()`` drops them
all. Searches scan the seed population lazily, household by household, skipping whole
households on the cheap filters (province, birth year, born before) before generating names.

A household's members are its living citizens whose ``household_id`` names it, and they all
have its address (the head's), because membership only changes with the address:

- a birth joins the mother's household (the father's when no mother is given);
- a permanent residence at another address leaves the household for the one given by
  ``household_id`` at that address, or else for a new household there that the person heads
  (a new ID in the seed's format, ``HK`` + province + six digits);
- a death leaves the household (residence deregistration); the record keeps the household
  it was last in. It may not come before a child's birth (a father's, not more than 300 days
  before), as a birth may not come after a parent's death.

A household left without its head is headed by its eldest member (an adult whenever one is
left), and each member's ``relation_to_head`` is recomputed against the new head; each record
that changes so is a ``residence`` entry of the changes feed.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from connectors.kit import (
    ConflictError,
    Dataset,
    NotFoundError,
    Overlay,
    ProviderError,
    UnprocessableError,
)
from connectors.population import dataset as gen
from connectors.population.models import household_id_problem
from connectors.population.names import fold, same_name
from schemas.identifiers import (
    COMMUNES,
    PERSONAL_ID_FORM,
    PROVINCES,
    is_valid_personal_id,
    make_personal_id,
)
from schemas.population import (
    BirthRegistration,
    DeathRegistration,
    ResidenceRegistration,
    VerifyRequest,
)

Record = dict[str, Any]
# Seed positions one search request may scan before it answers with what it has and a cursor,
# so a rare name over a million citizens costs several short requests, not one long one.
SCAN_BUDGET = 25_000
# Tag of the stream the numbers of new households come from (see PopulationData._new_household).
_T_NEW_HOUSEHOLD = 0x40B5


class PopulationData(Dataset):
    """Citizens and households of one population mock."""

    default_size = gen.DEFAULT_SIZE
    max_size = gen.MAX_SIZE

    def __init__(
        self, *, seed: int = 42, size: int | None = None, state_path: str | Path | None = None
    ) -> None:
        super().__init__(seed=seed, size=size, state_path=state_path)
        self.records: Overlay[str, Record] = self.overlay("citizens")  # changed or new, by ID
        self.changes: Overlay[int, Record] = self.overlay("changes")  # the feed, by seq
        self.serials: Overlay[str, Any] = self.overlay("serials")  # "rng": the stream's state
        # households formed since start (by a move), by ID: {"address": ..., "formed_by": ID}
        self.households: Overlay[str, Record] = self.overlay("households")
        self.reindex()

    def reindex(self) -> None:
        self.changed_index: dict[int, str] = {}  # seed index -> ID of a changed seed citizen
        self.born: list[str] = []  # IDs of citizens registered since start, in order
        self.born_at: dict[str, int] = {}  # ID of a citizen registered since -> place in born
        # household ID -> IDs of citizens in it who were not in the seed (newborns, movers)
        self.joined: dict[str, list[str]] = {}
        self.children: dict[str, list[str]] = {}  # parent ID -> IDs of children born since
        for citizen_id, record in self.records.items():
            index = gen.index_of(self.seed, self.size, citizen_id)
            if index is not None:
                self.changed_index[index] = citizen_id
            else:  # new IDs never collide with seed ones (_new_id)
                self.born_at[citizen_id] = len(self.born)
                self.born.append(citizen_id)
                for parent_id in (record["father_id"], record["mother_id"]):
                    if parent_id is not None:
                        self.children.setdefault(parent_id, []).append(citizen_id)
            if record["household_id"] != self._seed_household(citizen_id):
                self.joined.setdefault(record["household_id"], []).append(citizen_id)
        # Serials of new IDs come from their own seeded stream, so replays issue the same IDs.
        self.rng = random.Random(gen._mix(self.seed, 0xB127))
        if "rng" in self.serials:
            version, internal, gauss = self.serials["rng"]
            self.rng.setstate((version, tuple(internal), gauss))

    def health(self) -> dict[str, object]:
        return {**super().health(), "writes": len(self.changes)}

    # Reads

    def find(self, citizen_id: str) -> Record | None:
        if citizen_id in self.records:
            return dict(self.records[citizen_id])
        index = gen.index_of(self.seed, self.size, citizen_id)
        return None if index is None else gen.citizen_at(self.seed, self.size, index)

    def get(self, citizen_id: str) -> Record:
        if not is_valid_personal_id(citizen_id):  # no citizen could hold it: not "no data"
            raise ProviderError(
                f"{citizen_id!r} is not a personal identification number: {PERSONAL_ID_FORM}"
            )
        citizen = self.find(citizen_id)
        if citizen is None:
            raise NotFoundError(f"no citizen with id {citizen_id}")
        return citizen

    def verify(self, request: VerifyRequest) -> bool:
        citizen = self.find(request.id)
        if citizen is None or citizen["status"] != "alive":
            return False
        if request.full_name is not None and not same_name(request.full_name, citizen["full_name"]):
            return False
        born = request.date_of_birth
        return born is None or born.isoformat() == citizen["date_of_birth"]

    def household(self, household_id: str) -> Record:
        said = household_id_problem(household_id)
        if said is not None:
            raise ProviderError(said)
        members = self._members(household_id)
        if not members:
            raise NotFoundError(
                f"household {household_id} has no living members: each has moved away or died"
            )
        head = members[0]
        return {
            "id": household_id,
            "head_id": head["id"],
            "address": head["permanent_address"],
            "members": [
                {k: m[k] for k in ("id", "full_name", "relation_to_head")} for m in members
            ],
        }

    def search(
        self,
        *,
        province: str | None = None,
        name: str | None = None,
        birth_year: int | None = None,
        born_before: dt.date | None = None,
        status: str | None = None,
        household_id: str | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> tuple[list[Record], str | None]:
        """Citizens matching every filter given, in index order, and the next page's cursor."""
        position = _position(cursor)
        wanted = fold(name) if name else None
        before = None if born_before is None else born_before.isoformat()

        def matches(person: Record) -> bool:
            return (
                (province is None or person["permanent_address"]["province"] == province)
                and (birth_year is None or person["date_of_birth"][:4] == str(birth_year))
                and (before is None or person["date_of_birth"] < before)
                and (status is None or person["status"] == status)
                and (wanted is None or wanted in fold(person["full_name"]))
            )

        if household_id is not None:
            # Members in index order, the cursor a member's index: a member who dies or
            # moves between pages shifts nobody else (offset paging over the living skipped one).
            members = sorted(
                (self._index(p["id"]), p) for p in self._household_members(household_id)
            )
            hits = [(at, p) for at, p in members if at >= position and matches(p)]
            more = len(hits) > limit
            return [p for _, p in hits[:limit]], str(hits[limit][0]) if more else None

        items: list[Record] = []
        for at, person in self._scan(position, province, birth_year, born_before):
            if at < 0:  # budget spent: resume here next time
                return items, str(-at)
            if matches(person):
                # A full page answers a cursor only once one more match is found, as the
                # business and land searches do: the last page says there is no more.
                if len(items) == limit:
                    return items, str(at)
                items.append(person)
        return items, None

    def changes_since(
        self, since: dt.datetime | None, *, limit: int, cursor: str | None
    ) -> tuple[list[Record], str | None]:
        after = _position(cursor)
        hits = [
            c
            for c in self.changes.values()
            if c["seq"] > after and (since is None or dt.datetime.fromisoformat(c["at"]) >= since)
        ]
        page = hits[:limit]
        return page, str(page[-1]["seq"]) if len(hits) > limit else None

    # Writes

    def register_birth(self, request: BirthRegistration) -> Record:
        parents = {}
        for role, sex in (("father_id", "male"), ("mother_id", "female")):
            parent_id = getattr(request, role)
            if parent_id is None:
                continue
            parent = self.find(parent_id)
            if parent is None:
                raise UnprocessableError(f"{role}: no citizen with id {parent_id}")
            if parent["sex"] != sex:
                raise UnprocessableError(f"{role}: citizen {parent_id} is not {sex}")
            parents[role] = parent
        if not parents:
            raise UnprocessableError("give father_id or mother_id: a birth joins a household")
        today = dt.date.today()
        born = request.date_of_birth
        if born > today:
            raise UnprocessableError("date_of_birth is in the future")
        if born.year < 1900:
            # The ID's century digit starts at 1900 (make_personal_id raised: a 500).
            raise UnprocessableError("date_of_birth: a birth registered now is in 1900 or later")
        for role, parent in parents.items():
            parent_born = dt.date.fromisoformat(parent["date_of_birth"])
            if born < gen.years_after(parent_born, MIN_PARENT_AGE):
                raise UnprocessableError(
                    f"{role}: citizen {parent['id']}, born {parent_born}, would be under "
                    f"{MIN_PARENT_AGE} at this birth on {born}"
                )
            died = parent.get("date_of_death")
            if died and dt.date.fromisoformat(died) + _GRACE[role] < born:
                raise UnprocessableError(
                    f"{role}: citizen {parent['id']} died on {died}, before this birth on {born}"
                )
        registered = self._registered_birth(request)
        if registered is not None:
            role = "mother" if request.mother_id else "father"
            raise ConflictError(
                f"this birth is already registered: citizen {registered['id']} "
                f"({registered['full_name']}, born {registered['date_of_birth']} to {role} "
                f"{request.mother_id or request.father_id})"
            )
        home = parents.get("mother_id") or parents["father_id"]
        province = request.birth_registration_province or home["permanent_address"]["province"]
        if province not in PROVINCES:
            raise UnprocessableError(f"unknown province code {province}")
        child_id = self._new_id(province, request.date_of_birth, request.sex)
        lineage = parents.get("father_id") or home
        child: Record = {
            "id": child_id,
            "full_name": request.full_name,
            "date_of_birth": request.date_of_birth.isoformat(),
            "sex": request.sex,
            "ethnicity": request.ethnicity or lineage["ethnicity"],
            "nationality": request.nationality,
            "birth_registration_province": province,
            "native_place": dict(lineage["native_place"]),
            "permanent_address": dict(home["permanent_address"]),
            "current_residence": dict(home["permanent_address"]),
            "household_id": home["household_id"],
            "relation_to_head": "other",  # set below, against the household's head
            "father_id": request.father_id,
            "mother_id": request.mother_id,
            "spouse_id": None,
            "status": "alive",
            "date_of_death": None,
        }
        members = self._household_members(child["household_id"])
        if members and members[0]["relation_to_head"] == "head":
            child["relation_to_head"] = _relation(child, members[0])
        # else the household has no head left: _settle gives it one and the relations
        with self.atomic():
            self.records[child_id] = child
            self.serials["rng"] = self.rng.getstate()
            self._log("birth", child_id)
            self.born_at[child_id] = len(self.born)
            self.born.append(child_id)
            self.joined.setdefault(child["household_id"], []).append(child_id)
            for parent in parents.values():
                self.children.setdefault(parent["id"], []).append(child_id)
            self._settle(child["household_id"])  # a household whose members had all left
        return dict(self.records[child_id])

    def register_death(self, request: DeathRegistration) -> Record:
        citizen = self.get(request.id)
        if citizen["status"] == "deceased":
            raise ConflictError(f"citizen {request.id} is already registered as deceased")
        if not citizen["date_of_birth"] <= request.date_of_death.isoformat() <= _today():
            raise UnprocessableError("date_of_death must be between the birth and today")
        self._check_death_after_births(citizen["id"], request.date_of_death)
        citizen.update(status="deceased", date_of_death=request.date_of_death.isoformat())
        with self.atomic():
            saved = self._save(citizen, "death")
            self._settle(citizen["household_id"])
        return saved

    def register_residence(self, request: ResidenceRegistration) -> Record:
        citizen = self.get(request.id)
        if citizen["status"] == "deceased":
            raise ConflictError(f"citizen {request.id} is deceased")
        place = request.address
        commune = COMMUNES.get(place.commune)
        if commune is None or commune.province != place.province:
            raise UnprocessableError(
                f"commune {place.commune} is not a commune of province {place.province}"
            )
        address = {
            "province": place.province,
            "commune": place.commune,
            "province_name": PROVINCES[place.province],
            "commune_name": commune.name,
            "detail": place.detail,
        }
        if request.household_id is not None and request.kind != "permanent":
            raise UnprocessableError(
                "household_id: only a permanent residence joins a household; leave it out"
            )
        citizen["current_residence"] = address
        left = citizen["household_id"]
        with self.atomic():
            if request.household_id is not None:
                self._join(citizen, request.household_id, address)
            elif request.kind == "permanent" and not _same_address(
                address, citizen["permanent_address"]
            ):
                citizen.update(
                    household_id=self._new_household(address, citizen["id"]),
                    relation_to_head="head",
                    permanent_address=dict(address),
                )
            saved = self._save(citizen, "residence")
            if citizen["household_id"] != left:
                self._rehouse(citizen["id"], left, citizen["household_id"])
                self._settle(left)
        return saved

    # Households

    def _join(self, citizen: Record, household_id: str, address: Record) -> None:
        """Move ``citizen`` (in memory) into an existing household at ``address``."""
        try:
            members = self._members(household_id)
        except NotFoundError:
            raise UnprocessableError(f"household_id: no household with id {household_id}") from None
        if not members:
            raise UnprocessableError(
                f"household {household_id} has no living members: leave household_id out to "
                "form a new household at this address"
            )
        head = members[0]
        home = head["permanent_address"]
        if not _same_address(address, home):
            raise UnprocessableError(
                f"household {household_id} is at {home['detail']}, commune {home['commune']}, "
                f"province {home['province']}: give its address to join it"
            )
        if citizen["household_id"] != household_id:
            citizen.update(
                household_id=household_id,
                relation_to_head=_relation(citizen, head),
                permanent_address=dict(home),
            )

    def _new_household(self, address: Record, founder_id: str) -> str:
        """Register a new household at ``address``: its ID, unlike any seed or earlier one."""
        k = len(self.households)
        while True:
            household_id = (
                f"HK{address['province']}{gen.permute(self.seed, _T_NEW_HOUSEHOLD, k):06d}"
            )
            if (
                household_id not in self.households
                and gen.household_start(self.seed, self.size, household_id) is None
            ):
                break
            k += 1
        self.households[household_id] = {"address": dict(address), "formed_by": founder_id}
        return household_id

    def _rehouse(self, citizen_id: str, left: str, joined: str) -> None:
        if citizen_id in self.joined.get(left, ()):
            self.joined[left].remove(citizen_id)
        if joined != self._seed_household(citizen_id):
            self.joined.setdefault(joined, []).append(citizen_id)

    def _settle(self, household_id: str) -> None:
        """Give a household that lost its head a new one: its eldest member."""
        members = self._household_members(household_id)
        if not members or members[0]["relation_to_head"] == "head":
            return
        head = min(members, key=lambda m: m["date_of_birth"])
        for member in members:
            relation = _relation(member, head)
            if relation != member["relation_to_head"]:
                member["relation_to_head"] = relation
                self._save(member, "residence")

    def _seed_household(self, citizen_id: str) -> str | None:
        index = gen.index_of(self.seed, self.size, citizen_id)
        if index is None:
            return None
        return gen.household_id(self.seed, gen.household_span(self.seed, self.size, index)[0])

    def _household_members(self, household_id: str) -> list[Record]:
        try:
            return self._members(household_id)
        except NotFoundError:
            return []

    def _members(self, household_id: str) -> list[Record]:
        """The living members of a household now, head first (NotFoundError if it never was)."""
        start = gen.household_start(self.seed, self.size, household_id)
        if start is None and household_id not in self.households:
            raise NotFoundError(f"no household with id {household_id}")
        seed = gen.household_at(self.seed, self.size, start) if start is not None else []
        people = [self._current(p) for p in seed]
        people += [dict(self.records[i]) for i in self.joined.get(household_id, [])]
        members = [
            p for p in people if p["household_id"] == household_id and p["status"] == "alive"
        ]
        return sorted(members, key=lambda p: p["relation_to_head"] != "head")

    # Births

    def _children_of(self, parent_id: str) -> list[Record]:
        """The children of a citizen: those of the seed household, then those born since."""
        index = gen.index_of(self.seed, self.size, parent_id)
        seed = []
        if index is not None:
            start, _ = gen.household_span(self.seed, self.size, index)
            seed = [
                child
                for child in gen.household_at(self.seed, self.size, start)
                if parent_id in (child["father_id"], child["mother_id"])
            ]
        return seed + [dict(self.records[i]) for i in self.children.get(parent_id, [])]

    def _check_death_after_births(self, citizen_id: str, died: dt.date) -> None:
        """Refuse a death dated before a child's birth, as a birth after it is refused."""
        for child in self._children_of(citizen_id):
            role = "father_id" if child["father_id"] == citizen_id else "mother_id"
            born = dt.date.fromisoformat(child["date_of_birth"])
            if died + _GRACE[role] < born:
                before = "more than 300 days before" if _GRACE[role] else "before"
                raise UnprocessableError(
                    f"date_of_death {died} is {before} the birth of citizen {child['id']} on "
                    f"{born}, whose {role[:-3]} this citizen is"
                )

    def _registered_birth(self, request: BirthRegistration) -> Record | None:
        """The citizen of this birth if it is registered: same name, birth date and mother.

        Twins have names of their own. Without a mother, the father's children are compared.
        """
        role = "mother_id" if request.mother_id else "father_id"
        parent_id = getattr(request, role)
        born = request.date_of_birth.isoformat()
        for child in self._children_of(parent_id):
            if (
                child[role] == parent_id
                and child["date_of_birth"] == born
                and same_name(child["full_name"], request.full_name)
            ):
                return dict(child)
        return None

    # Internals

    def _current(self, person: Record) -> Record:
        return dict(self.records.get(person["id"], person))

    def _index(self, citizen_id: str) -> int:
        """A citizen's place in index order, where ``_scan`` finds them: seed, then births."""
        index = gen.index_of(self.seed, self.size, citizen_id)
        return self.size + self.born_at[citizen_id] if index is None else index

    def _scan(
        self,
        position: int,
        province: str | None,
        birth_year: int | None,
        born_before: dt.date | None = None,
    ) -> Iterator[tuple[int, Record]]:
        """(position, citizen) from ``position`` on; (-position, {}) when the budget is spent."""
        seed, size = self.seed, self.size
        budget_end = position + SCAN_BUDGET
        while position < size:
            if position >= budget_end:
                yield -position, {}
                return
            start, n = gen.household_span(seed, size, position)
            changed = any(i in self.changed_index for i in range(start, start + n))
            # Skip households the cheap filters rule out, unless a write changed a member.
            if not changed and (
                (province is not None and gen.household_province(seed, start) != province)
                or (
                    birth_year is not None
                    and all(born.year != birth_year for _, _, born in gen.skeleton(seed, start, n))
                )
                or (
                    born_before is not None
                    and all(born >= born_before for _, _, born in gen.skeleton(seed, start, n))
                )
            ):
                position = start + n
                continue
            people = gen.household_at(seed, size, start)
            for offset in range(position - start, n):
                yield start + offset, self._current(people[offset])
            position = start + n
        for k in range(position - size, len(self.born)):
            yield size + k, dict(self.records[self.born[k]])

    def _new_id(self, province: str, born: dt.date, sex: str) -> str:
        while True:
            candidate = make_personal_id(province, born, sex, self.rng.randrange(1_000_000))
            if self.find(candidate) is None:
                assert is_valid_personal_id(candidate, born, sex)
                return candidate

    def _save(self, citizen: Record, kind: str) -> Record:
        index = gen.index_of(self.seed, self.size, citizen["id"])
        if index is not None:
            self.changed_index[index] = citizen["id"]
        with self.atomic():
            self.records[citizen["id"]] = citizen
            self._log(kind, citizen["id"])
        return dict(citizen)

    def _log(self, kind: str, citizen_id: str) -> None:
        seq = len(self.changes) + 1
        self.changes[seq] = {
            "seq": seq,
            "at": dt.datetime.now(dt.UTC).isoformat(),
            "kind": kind,
            "citizen_id": citizen_id,
        }


def _relation(person: Record, head: Record) -> str:
    """What ``person`` is to the head of their household."""
    if person["id"] == head["id"]:
        return "head"
    if head["id"] == person["spouse_id"] or person["id"] == head["spouse_id"]:
        return "spouse"
    if head["id"] in (person["father_id"], person["mother_id"]):
        return "child"
    if person["id"] in (head["father_id"], head["mother_id"]):
        return "parent"
    return "other"


def _same_address(a: Record, b: Record) -> bool:
    """The same place: province, commune, and detail but for case and spacing."""
    return (
        a["province"] == b["province"]
        and a["commune"] == b["commune"]
        and same_name(a["detail"], b["detail"])
    )


def _position(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not (cursor.isascii() and cursor.isdigit()):
        raise UnprocessableError(f"cursor {cursor!r} is not one this service gave out")
    return int(cursor)


def _today() -> str:
    return dt.date.today().isoformat()


MIN_PARENT_AGE = 12  # years: younger parents are a data error, not a registration
# How long before a birth each parent may have died: a father before the birth, not before
# the conception.
_GRACE = {"father_id": dt.timedelta(days=300), "mother_id": dt.timedelta(0)}
