"""Wire models every agency shares: list pages, the "no data" body, places and addresses.

Circular 13/2017 asks that "no data" be distinct from "not permitted": a provider says
"no data" itself, as a 404 with a ``NotFound`` body; "not permitted" is the hub's 403.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Annotated, Any, Generic, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
)

from schemas.identifiers import PERSONAL_ID_FORM, is_valid_personal_id

T = TypeVar("T")


def _nfc(value: Any) -> Any:
    # Vietnamese typed on some keyboards arrives decomposed (NFD); stored so, a name equalled
    # its NFC twin nowhere but on screen, and a card was refused for a citizen's own name.
    return unicodedata.normalize("NFC", value) if isinstance(value, str) else value


# A name or other text of a write request: in NFC, stripped before its length is checked,
# so with min_length=1 one of spaces alone is refused ("   " was stored as a newborn's name).
Text = Annotated[str, StringConstraints(strip_whitespace=True), BeforeValidator(_nfc)]

# [0-9], not \d: the hub's validator runs the pattern with Python's re, where \d also takes
# other scripts' digits; maxLength stops the "\n" that Python's $ lets through at the end.
ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
# Province (2 digits) and commune (5 digits) codes: with a maxLength each, as "$" takes "79\n".
PROVINCE_CODE = r"^[0-9]{2}$"
COMMUNE_CODE = r"^[0-9]{5}$"
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def iso_date(value: Any, info: ValidationInfo) -> Any:
    """A ``BeforeValidator``: YYYY-MM-DD only, refused in one sentence otherwise.

    pydantic alone takes a number for a Unix time (0 is 1970-01-01) or a datetime string for
    a date, and explains a wrong one in its own terms ("20240101": "Datetimes provided to
    dates should have zero time"); the hub's schema allows YYYY-MM-DD only. A query
    parameter has no field name here: its sentence starts with what is wrong, and the kit
    puts the parameter's name before it.
    """
    if value is None or isinstance(value, dt.date):
        return value
    name = f"{info.field_name} " if info.field_name else ""
    if not isinstance(value, str) or not _ISO_DATE.fullmatch(value):
        raise ValueError(
            f"{name}must be an ISO date, YYYY-MM-DD such as 1990-05-17 (got {value!r})"
        )
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{name}{value} is not a date of the calendar ({exc})") from None


# A date in a request: YYYY-MM-DD only, for the mock and, through the JSON Schema, the hub.
IsoDate = Annotated[
    dt.date,
    BeforeValidator(iso_date),
    Field(json_schema_extra={"pattern": ISO_DATE, "maxLength": 10}),
]


# The earliest date a point-in-time read (``as_of``) may ask about: the registers hold no
# record older than that, and a typo such as 0202-05-17 should say so, not answer "no data".
EARLIEST_AS_OF = dt.date(1900, 1, 1)
BATCH_MAX = 100  # identifiers one batch lookup takes


def check_as_of(value: dt.date | None) -> dt.date | None:
    """``value`` if a register can answer as of that day, else a ValueError saying what to send.

    Today is the later of the local and the UTC date, so the day a write was made (the UTC
    date the mocks record it under) is never refused as a day to come.
    """
    if value is None:
        return value
    today = max(dt.date.today(), dt.datetime.now(dt.UTC).date())
    if value > today:
        raise ValueError(
            f"{value} is in the future: give a date from {EARLIEST_AS_OF} to today ({today}), "
            "or leave as_of out for the record as it is now"
        )
    if value < EARLIEST_AS_OF:
        raise ValueError(
            f"{value} is before {EARLIEST_AS_OF}, older than any record the register holds: "
            f"give a date from {EARLIEST_AS_OF} to today ({today}), as YYYY-MM-DD"
        )
    return value


# ``as_of`` in a request body: the record as it was at the end of that day.
AsOfDate = Annotated[IsoDate, AfterValidator(check_as_of)]


class Batch(BaseModel, Generic[T]):
    """A batch lookup's answer: the records found, in the order asked, and the IDs not found.

    An ID asked twice is answered once; an ID no record could have is refused with the whole
    request (422), as the single lookup refuses it, so ``not_found`` only holds well-formed
    IDs the register has no record for (on ``as_of``, when given).
    """

    items: list[T]
    not_found: list[str]


def check_personal_id(value: str) -> str:
    """``value`` if it is a personal identification number, else a ValueError saying why.

    "999999999999" (province 99), a birth year to come, or digits of another script (which
    "\\d" takes) are no one's: a request naming one says so, not "no data".
    """
    if not is_valid_personal_id(value):
        raise ValueError(f"{value!r} is not a personal identification number: {PERSONAL_ID_FORM}")
    return value


# A personal ID number in a request: the hub checks its form (the schema's pattern), the mock
# the rest too (a province code, a birth year not in the future).
PERSONAL_ID_PATTERN = "^[0-9]{12}$"
PersonalId = Annotated[
    str,
    Field(json_schema_extra={"pattern": PERSONAL_ID_PATTERN, "maxLength": 12}),
    AfterValidator(check_personal_id),
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

    province: str = Field(pattern=PROVINCE_CODE, max_length=2, examples=["79"])
    commune: str = Field(pattern=COMMUNE_CODE, max_length=5, examples=["26734"])
    province_name: str | None = None
    commune_name: str | None = None


class Address(Place):
    """A postal address: a place plus the house number and street or hamlet."""

    detail: str = Field(examples=["12 Lê Lợi"])
