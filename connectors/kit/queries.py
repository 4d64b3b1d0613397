"""Query parameters that several mock agencies share, and the refusal of one given twice."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Query
from pydantic import AfterValidator, BeforeValidator
from starlette.datastructures import QueryParams

from schemas.common import (
    ISO_DATE,
    PERSONAL_ID_PATTERN,
    check_as_of,
    check_personal_id,
    iso_date,
)
from schemas.identifiers import COMMUNES, PROVINCES


def _cut(value: str) -> str:
    return value if len(value) <= 40 else value[:37] + "..."


def repeated_query(params: QueryParams, takes: str) -> str | None:
    """``query parameter x is given 2 times (a, b): TAKES``, for the first parameter given
    more than once; None when each is given once.

    Only the last value of such a parameter counted, silently: a record as of another day
    than the first asked, one province of two searched, ``method=GET&method=POST`` in the
    journal meaning POST alone.
    """
    for name in dict.fromkeys(params.keys()):
        values = params.getlist(name)
        if len(values) > 1:
            shown = ", ".join(_cut(v) for v in values[:5])
            return f"query parameter {name} is given {len(values)} times ({shown}): {takes}"
    return None


def _known_province(code: str | None) -> str | None:
    # A code of the 63 provinces before the 2025 merger matched nothing, and a search
    # answered an empty page (and a cursor to more empty ones) instead of saying why.
    if code is not None and code not in PROVINCES:
        raise ValueError(
            f"province {code!r} is not one of the 34 province codes in force since the 2025 "
            f"merger: {', '.join(sorted(PROVINCES))}"
        )
    return code


ProvinceFilter = Annotated[
    str | None,
    Query(pattern=r"^\d{2}$", description="Province code, two digits (one of the 34)"),
    AfterValidator(_known_province),
]


def _known_commune(code: str | None) -> str | None:
    # Five digits that name no commune (an old district's code, a typo) matched nothing, and
    # a search answered an empty page, as if the commune had no records.
    if code is not None and code not in COMMUNES:
        raise ValueError(
            f"commune {code!r} is not a commune code in force since the 2025 merger: give one "
            "of its 5-digit codes, e.g. 23701 (Phường Sài Gòn, province 79)"
        )
    return code


CommuneFilter = Annotated[
    str | None,
    Query(pattern=r"^\d{5}$", description="Commune code, five digits (since the 2025 merger)"),
    AfterValidator(_known_commune),
]


def _given_cursor(cursor: str | None) -> str | None:
    # A cursor is the position a page gave out as next_cursor. Checked here, a tampered one is
    # the same 422 InvalidRequest in every mock, and one of thousands of digits never reaches
    # int(), which refuses them (a 500).
    if cursor is not None and not (cursor.isascii() and cursor.isdigit() and len(cursor) <= 18):
        raise ValueError(
            f"cursor {_cut(cursor)!r} is not one this service gave out: send the next_cursor of "
            "the page before as it came, or no cursor for the first page"
        )
    return cursor


Cursor = Annotated[
    str | None,
    Query(description="The next_cursor of the page before; none for the first page"),
    AfterValidator(_given_cursor),
]


def _personal_id(value: str | None) -> str | None:
    # "999999999999" answered an empty page, as if that person held nothing; the lookup of
    # the same ID says it is none (400).
    return None if value is None else check_personal_id(value)


_PERSONAL_ID_QUERY = Query(
    description="Personal identification number (12 digits)",
    json_schema_extra={"pattern": PERSONAL_ID_PATTERN},
)
PersonalIdFilter = Annotated[str | None, _PERSONAL_ID_QUERY, AfterValidator(_personal_id)]
# The same, for a parameter that must be given.
PersonalIdParam = Annotated[str, _PERSONAL_ID_QUERY, AfterValidator(check_personal_id)]


DateFilter = Annotated[
    dt.date | None,
    Query(
        description="A date, YYYY-MM-DD",
        json_schema_extra={"pattern": ISO_DATE},
    ),
    BeforeValidator(iso_date),
]

# The record as it was at the end of that day (DOMAIN.md: "data valid at a point in time").
AsOf = Annotated[
    dt.date | None,
    Query(
        description="The record as it was on this date, YYYY-MM-DD (1900-01-01 to today)",
        json_schema_extra={"pattern": ISO_DATE},
    ),
    BeforeValidator(iso_date),
    AfterValidator(check_as_of),
]
