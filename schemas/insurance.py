"""Wire models of Vietnam Social Security's health-insurance cards (thẻ BHYT).

A card code has 15 characters: the beneficiary group (2 letters, e.g. ``TE`` children under
six, ``GD`` households), the benefit level (1 digit), the province (2 digits), and the last
ten digits of the social-insurance number, which since 2025 is the personal ID number.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from schemas.common import PROVINCE_CODE, IsoDate, Page, PersonalId, Text

CARD_CODE = r"^[A-Z]{2}[0-9]{13}$"


class CardIssue(BaseModel):
    """``card-issue``: issue a card to a citizen (a newborn: name and birth date too)."""

    model_config = ConfigDict(extra="forbid")

    holder_id: PersonalId
    full_name: Text | None = Field(default=None, min_length=1, max_length=200)
    date_of_birth: IsoDate | None = None
    province: str | None = Field(default=None, pattern=PROVINCE_CODE, max_length=2)


class Card(BaseModel):
    """A health-insurance card."""

    code: str = Field(pattern=CARD_CODE, examples=["TE1799225012345"])
    holder_id: str
    social_insurance_number: str
    full_name: str
    date_of_birth: dt.date
    beneficiary_group: str
    benefit_level: int
    province: str
    initial_facility: str
    valid_from: dt.date
    valid_to: dt.date


class CardPage(Page[Card]):
    """A page of ``card-search``."""
