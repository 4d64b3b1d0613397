"""Citizen records of the population mock: the seed population plus the writes since start.

Writes (births, deaths, residence changes) are kept in an overlay of full records by ID, and
each appends to the changes feed; a write that changes a record keeps the record as it was
before in the history overlay, under the (UTC) day of the change. All are kit overlays, so
``hub mock --state FILE`` keeps them (and the stream new ID serials come from) across
restarts, and ``reset()`` drops them all. Scans go over the seed population lazily, household
by household, skipping whole households on the cheap filters (province, birth year, born
before) before generating names.

A record as of a day (``as_of``), by these rules:

- nobody is registered before their date of birth (the seed population's and newborns' alike):
  the lookup answers "no data", saying so;
- the address, household and relations are the record's before the first change made after
  that day (the history); a seed citizen has no history before the mock started, so their
  seed record stands from their birth until the first write;
- status and date of death follow the date of death registered (the fact, not the day it was
  registered): deceased from that date on, alive before it.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from connectors.kit import Dataset, NotFoundError, Overlay
from connectors.population import dataset as gen
from schemas.identifiers import is_valid_personal_id, make_personal_id

Record = dict[str, Any]
# Seed positions one search request may scan before it answers with what it has and a cursor,
# so a rare name over a million citizens costs several short requests, not one long one.
SCAN_BUDGET = 25_000


class CitizenRecords(Dataset):
    """The citizens of one population mock, seed and written, and the feed of their changes."""

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
        # citizen ID -> [{"on": day of a change, "before": the record before it}], oldest first
        self.history: Overlay[str, list[Record]] = self.overlay("history")
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

    def find(self, citizen_id: str) -> Record | None:
        if citizen_id in self.records:
            return dict(self.records[citizen_id])
        index = gen.index_of(self.seed, self.size, citizen_id)
        return None if index is None else gen.citizen_at(self.seed, self.size, index)

    def as_of(self, citizen: Record, day: dt.date) -> Record:
        """``citizen`` (as now) as they were at the end of ``day`` (the module's rules)."""
        when = day.isoformat()
        born = citizen["date_of_birth"]
        if born > when:
            raise NotFoundError(
                f"citizen {citizen['id']} was not yet registered on {when}: born {born}"
            )
        then = next(
            (e["before"] for e in self.history.get(citizen["id"], []) if e["on"] > when), citizen
        )
        died = citizen["date_of_death"]
        if died is not None and died <= when:
            return {**then, "status": "deceased", "date_of_death": died}
        return {**then, "status": "alive", "date_of_death": None}

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

    def _seed_household(self, citizen_id: str) -> str | None:
        index = gen.index_of(self.seed, self.size, citizen_id)
        if index is None:
            return None
        return gen.household_id(self.seed, gen.household_span(self.seed, self.size, index)[0])

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
        before = self.find(citizen["id"])
        with self.atomic():
            if before is not None:
                day = dt.datetime.now(dt.UTC).date().isoformat()
                kept = self.history.get(citizen["id"], [])
                # Reassigned, not appended to: the overlay writes the state file on a set.
                self.history[citizen["id"]] = [*kept, {"on": day, "before": before}]
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
