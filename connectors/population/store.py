"""The population mock's services: lookups, searches and the changes feed, and registrations.

The records and their overlays are ``records.py``'s, household membership ``households.py``'s,
and what a registration must satisfy ``rules.py``'s; this class answers the services with them.
"""

from __future__ import annotations

import datetime as dt

from connectors.kit import ConflictError, NotFoundError, ProviderError, UnprocessableError
from connectors.population import rules
from connectors.population.households import HouseholdRecords, relation, same_address
from connectors.population.models import household_id_problem
from connectors.population.names import fold, same_name
from connectors.population.records import Record
from schemas.identifiers import PERSONAL_ID_FORM, is_valid_personal_id, province_problem
from schemas.population import (
    BirthRegistration,
    DeathRegistration,
    ResidenceRegistration,
    VerifyRequest,
)


class PopulationData(HouseholdRecords):
    """Citizens and households of one population mock."""

    # A state file records this class's module and name (``Dataset``'s owner): moved, it
    # would refuse the files written before.

    # Reads

    def get(self, citizen_id: str, *, as_of: dt.date | None = None) -> Record:
        if not is_valid_personal_id(citizen_id):  # no citizen could hold it: not "no data"
            raise ProviderError(
                f"{citizen_id!r} is not a personal identification number: {PERSONAL_ID_FORM}"
            )
        citizen = self.find(citizen_id)
        if citizen is None:
            raise NotFoundError(f"no citizen with id {citizen_id}")
        return citizen if as_of is None else self.as_of(citizen, as_of)

    def batch(self, ids: list[str], *, as_of: dt.date | None = None) -> Record:
        """The citizens of ``ids`` found (each once, in the order asked) and those not found.

        The IDs are checked already (the request model): one no citizen could hold refused
        the whole request, as the single lookup's 400 does.
        """
        items: list[Record] = []
        not_found: list[str] = []
        for citizen_id in dict.fromkeys(ids):
            try:
                items.append(self.get(citizen_id, as_of=as_of))
            except NotFoundError:  # none, or not yet born on as_of
                not_found.append(citizen_id)
        return {"items": items, "not_found": not_found}

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
        rules.check_birth(request.date_of_birth, parents)
        home = parents.get("mother_id") or parents["father_id"]
        registered = rules.registered_birth(request, self._children_of(home["id"]))
        if registered is not None:
            role = "mother" if request.mother_id else "father"
            raise ConflictError(
                f"this birth is already registered: citizen {registered['id']} "
                f"({registered['full_name']}, born {registered['date_of_birth']} to {role} "
                f"{request.mother_id or request.father_id})"
            )
        province = request.birth_registration_province or home["permanent_address"]["province"]
        said = province_problem(province)
        if said is not None:
            raise UnprocessableError(said)
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
            child["relation_to_head"] = relation(child, members[0])
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
        rules.check_death(citizen, request.date_of_death, self._children_of(citizen["id"]))
        citizen.update(status="deceased", date_of_death=request.date_of_death.isoformat())
        with self.atomic():
            saved = self._save(citizen, "death")
            self._settle(citizen["household_id"])
        return saved

    def register_residence(self, request: ResidenceRegistration) -> Record:
        citizen = self.get(request.id)
        if citizen["status"] == "deceased":
            raise ConflictError(f"citizen {request.id} is deceased")
        address = rules.residence_address(request.address)
        if request.household_id is not None and request.kind != "permanent":
            raise UnprocessableError(
                "household_id: only a permanent residence joins a household; leave it out"
            )
        citizen["current_residence"] = address
        left = citizen["household_id"]
        with self.atomic():
            if request.household_id is not None:
                self._join(citizen, request.household_id, address)
            elif request.kind == "permanent" and not same_address(
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


def _position(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not (cursor.isascii() and cursor.isdigit()):
        raise UnprocessableError(f"cursor {cursor!r} is not one this service gave out")
    return int(cursor)
