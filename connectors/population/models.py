"""Wire models of the population mock that tighten the shared ones of ``schemas.population``."""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, Field, model_validator

from schemas.population import VerifyRequest

# [0-9], not \d: the hub's validator runs the pattern with Python's re, where \d also takes
# other scripts' digits; maxLength stops the "\n" that Python's $ lets through at the end.
ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
WHAT_TO_SEND = (
    "send full_name or date_of_birth (or both) with id: an id alone is never checked, so that "
    "the answer cannot tell whether an id exists"
)


def _iso_date(value: Any) -> Any:
    # pydantic alone takes a timestamp (0 is 1970-01-01) or a datetime string for a date, and
    # explains a wrong one in its own terms; the hub's schema allows YYYY-MM-DD only.
    if value is None or isinstance(value, dt.date):
        return value
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise ValueError(
            f"date_of_birth must be an ISO date, YYYY-MM-DD such as 1990-05-17 (got {value!r})"
        )
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"date_of_birth {value} is not a date of the calendar ({exc})") from None


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

    date_of_birth: (
        Annotated[
            dt.date,
            BeforeValidator(_iso_date),
            Field(json_schema_extra={"pattern": ISO_DATE, "maxLength": 10}),
        ]
        | None
    ) = None

    @model_validator(mode="after")
    def _something_to_check(self) -> CitizenVerifyRequest:
        if self.full_name is None and self.date_of_birth is None:
            raise ValueError(WHAT_TO_SEND)
        return self
