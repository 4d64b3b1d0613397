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
