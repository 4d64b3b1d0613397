"""Wire models every agency shares: list pages, the "no data" body, places and addresses.

Circular 13/2017 asks that "no data" be distinct from "not permitted": a provider says
"no data" itself, as a 404 with a ``NotFound`` body; "not permitted" is the hub's 403.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
)

T = TypeVar("T")

# A name or other text of a write request: stripped before its length is checked, so with
# min_length=1 one of spaces alone is refused ("   " was stored as a newborn's name).
Text = Annotated[str, StringConstraints(strip_whitespace=True)]

# [0-9], not \d: the hub's validator runs the pattern with Python's re, where \d also takes
# other scripts' digits; maxLength stops the "\n" that Python's $ lets through at the end.
ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _iso_date(value: Any, info: ValidationInfo) -> Any:
    # pydantic alone takes a number for a Unix time (0 is 1970-01-01) or a datetime string
    # for a date, and explains a wrong one in its own terms ("20240101": "Datetimes provided
    # to dates should have zero time"); the hub's schema allows YYYY-MM-DD only.
    if value is None or isinstance(value, dt.date):
        return value
    name = info.field_name or "date"
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise ValueError(
            f"{name} must be an ISO date, YYYY-MM-DD such as 1990-05-17 (got {value!r})"
        )
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{name} {value} is not a date of the calendar ({exc})") from None


# A date in a request: YYYY-MM-DD only, for the mock and, through the JSON Schema, the hub.
IsoDate = Annotated[
    dt.date,
    BeforeValidator(_iso_date),
    Field(json_schema_extra={"pattern": ISO_DATE, "maxLength": 10}),
]


class Page(BaseModel, Generic[T]):
    """One page of a list: ``next_cursor`` is opaque; pass it back as ``cursor`` for more."""

    items: list[T]
    next_cursor: str | None = None


class Problem(BaseModel):
    """The JSON body of a provider's own error answer (not the hub's)."""

    type: str = Field(examples=["NotFound"])
    message: str


class NotFound(Problem):
    """The "no data" answer: the record asked for does not exist."""

    type: str = "NotFound"


class Place(BaseModel):
    """A province and commune (post-2025 two-level units), by code with names for people."""

    model_config = ConfigDict(extra="forbid")

    province: str = Field(pattern=r"^\d{2}$", examples=["79"])
    commune: str = Field(pattern=r"^\d{5}$", examples=["26734"])
    province_name: str | None = None
    commune_name: str | None = None


class Address(Place):
    """A postal address: a place plus the house number and street or hamlet."""

    detail: str = Field(examples=["12 Lê Lợi"])
