"""Wire models every agency shares: list pages, the "no data" body, places and addresses.

Circular 13/2017 asks that "no data" be distinct from "not permitted": a provider says
"no data" itself, as a 404 with a ``NotFound`` body; "not permitted" is the hub's 403.
"""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

T = TypeVar("T")

# A name or other text of a write request: stripped before its length is checked, so with
# min_length=1 one of spaces alone is refused ("   " was stored as a newborn's name).
Text = Annotated[str, StringConstraints(strip_whitespace=True)]


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
