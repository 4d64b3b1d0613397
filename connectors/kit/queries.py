"""Query parameters that several mock agencies share."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query
from pydantic import AfterValidator

from schemas.identifiers import PROVINCES


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


def _given_cursor(cursor: str | None) -> str | None:
    # A cursor is the position a page gave out as next_cursor. Checked here, a tampered one is
    # the same 422 InvalidRequest in every mock, and one of thousands of digits never reaches
    # int(), which refuses them (a 500).
    if cursor is not None and not (cursor.isascii() and cursor.isdigit() and len(cursor) <= 18):
        shown = cursor if len(cursor) <= 40 else cursor[:37] + "..."
        raise ValueError(
            f"cursor {shown!r} is not one this service gave out: send the next_cursor of the "
            "page before as it came, or no cursor for the first page"
        )
    return cursor


Cursor = Annotated[
    str | None,
    Query(description="The next_cursor of the page before; none for the first page"),
    AfterValidator(_given_cursor),
]
