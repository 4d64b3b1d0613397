"""What a birth, death or residence registration must satisfy, and how each is refused."""

from __future__ import annotations

import datetime as dt

from connectors.kit import UnprocessableError
from connectors.population import dataset as gen
from connectors.population.names import same_name
from connectors.population.records import Record
from schemas.identifiers import COMMUNES, PROVINCES
from schemas.population import BirthRegistration, NewAddress

MIN_PARENT_AGE = 12  # years: younger parents are a data error, not a registration
# How long before a birth each parent may have died: a father before the birth, not before
# the conception.
GRACE = {"father_id": dt.timedelta(days=300), "mother_id": dt.timedelta(0)}


def check_birth(born: dt.date, parents: dict[str, Record]) -> None:
    """Refuse a birth date in the future, before 1900, or that its parents could not have."""
    if born > dt.date.today():
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
        if died and dt.date.fromisoformat(died) + GRACE[role] < born:
            raise UnprocessableError(
                f"{role}: citizen {parent['id']} died on {died}, before this birth on {born}"
            )


def registered_birth(request: BirthRegistration, children: list[Record]) -> Record | None:
    """The citizen of this birth among a parent's ``children``: same name, birth date, parent.

    ``children`` are the mother's, or the father's without a mother. Twins have names of their
    own.
    """
    role = "mother_id" if request.mother_id else "father_id"
    parent_id = getattr(request, role)
    born = request.date_of_birth.isoformat()
    for child in children:
        if (
            child[role] == parent_id
            and child["date_of_birth"] == born
            and same_name(child["full_name"], request.full_name)
        ):
            return dict(child)
    return None


def check_death(citizen: Record, died: dt.date, children: list[Record]) -> None:
    """Refuse a death outside birth to today, or before a child's birth (as a birth after it)."""
    if not citizen["date_of_birth"] <= died.isoformat() <= dt.date.today().isoformat():
        raise UnprocessableError("date_of_death must be between the birth and today")
    citizen_id = citizen["id"]
    for child in children:
        role = "father_id" if child["father_id"] == citizen_id else "mother_id"
        born = dt.date.fromisoformat(child["date_of_birth"])
        if died + GRACE[role] < born:
            before = "more than 300 days before" if GRACE[role] else "before"
            raise UnprocessableError(
                f"date_of_death {died} is {before} the birth of citizen {child['id']} on "
                f"{born}, whose {role[:-3]} this citizen is"
            )


def residence_address(place: NewAddress) -> Record:
    """The address record of a residence registration's place, refused if its units differ."""
    commune = COMMUNES.get(place.commune)
    if commune is None or commune.province != place.province:
        raise UnprocessableError(
            f"commune {place.commune} is not a commune of province {place.province}"
        )
    return {
        "province": place.province,
        "commune": place.commune,
        "province_name": PROVINCES[place.province],
        "commune_name": commune.name,
        "detail": place.detail,
    }
