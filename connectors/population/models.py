"""Wire models of the population mock that tighten the shared ones of ``schemas.population``."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import Query
from pydantic import AfterValidator, ConfigDict, model_validator

from schemas.common import IsoDate, PersonalId
from schemas.population import HOUSEHOLD_ID, VerifyRequest

WHAT_TO_SEND = (
    "send full_name or date_of_birth (or both) with id: an id alone is never checked, so that "
    "the answer cannot tell whether an id exists"
)


def _name_or_birth_required(schema: dict[str, Any]) -> None:
    # A string, not just a key: {"full_name": null} names nothing to check either.
    schema["anyOf"] = [
        {"required": [field], "properties": {field: {"type": "string"}}}
        for field in ("full_name", "date_of_birth")
    ]


class CitizenVerifyRequest(VerifyRequest):
    """``citizen-verify``'s body: an ID with a name, a birth date or both to check it against.

    With the ID alone, the yes/no said whether the ID exists (it was yes for any living
    citizen): an oracle of valid IDs for whoever may call the service. The mock refuses such a
    body (422), and the JSON Schema the hub validates with says the same (``anyOf``).
    """

    model_config = ConfigDict(json_schema_extra=_name_or_birth_required)

    # Any text was taken, and "0790-9000-1234" answered {"match": false}: a bank told its
    # customer failed the check when only the ID's form was wrong. The hub checks the form
    # (the pattern), the mock the rest (a province code, a birth year not in the future).
    id: PersonalId
    date_of_birth: IsoDate | None = None

    @model_validator(mode="after")
    def _something_to_check(self) -> CitizenVerifyRequest:
        if self.full_name is None and self.date_of_birth is None:
            raise ValueError(WHAT_TO_SEND)
        return self


def household_id_problem(value: str) -> str | None:
    """Why ``value`` is no household ID (None when it is one): what the lookups say."""
    if re.fullmatch(HOUSEHOLD_ID, value, re.ASCII):
        return None
    return f"{value!r} is not a household ID: HK and 8 digits (e.g. HK79000000)"


def _household_id(value: str | None) -> str | None:
    # GET /households/abc is a 400; GET /citizens?household_id=abc answered an empty page.
    said = None if value is None else household_id_problem(value)
    if said is not None:
        raise ValueError(said)
    return value


HouseholdIdFilter = Annotated[
    str | None,
    Query(description="Household ID: HK and 8 digits"),
    AfterValidator(_household_id),
]
