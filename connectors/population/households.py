"""Household membership of the population mock: who is in which household, and who heads it.

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

from connectors.kit import NotFoundError, UnprocessableError
from connectors.population import dataset as gen
from connectors.population.names import same_name
from connectors.population.records import CitizenRecords, Record

# Tag of the stream the numbers of new households come from (see _new_household).
_T_NEW_HOUSEHOLD = 0x40B5


class HouseholdRecords(CitizenRecords):
    """Citizen records with the households they form: members, moves and new heads."""

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
        if not same_address(address, home):
            raise UnprocessableError(
                f"household {household_id} is at {home['detail']}, commune {home['commune']}, "
                f"province {home['province']}: give its address to join it"
            )
        if citizen["household_id"] != household_id:
            citizen.update(
                household_id=household_id,
                relation_to_head=relation(citizen, head),
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
            said = relation(member, head)
            if said != member["relation_to_head"]:
                member["relation_to_head"] = said
                self._save(member, "residence")

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


def relation(person: Record, head: Record) -> str:
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


def same_address(a: Record, b: Record) -> bool:
    """The same place: province, commune, and detail but for case and spacing."""
    return (
        a["province"] == b["province"]
        and a["commune"] == b["commune"]
        and same_name(a["detail"], b["detail"])
    )
