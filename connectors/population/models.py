"""Wire models of the population mock that tighten the shared ones of ``schemas.population``."""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, model_validator

from schemas.common import IsoDate
from schemas.population import VerifyRequest

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

    date_of_birth: IsoDate | None = None

    @model_validator(mode="after")
    def _something_to_check(self) -> CitizenVerifyRequest:
        if self.full_name is None and self.date_of_birth is None:
            raise ValueError(WHAT_TO_SEND)
        return self
