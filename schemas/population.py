"""Wire models of the national population database (Bộ Công an): citizens and households.

Field names SPEC section 9 fixes: ``id``, ``full_name``, ``date_of_birth``, ``sex``,
``permanent_address`` (``province``, ``commune``, ``detail``), ``household_id``,
``father_id``, ``mother_id``; the rest follow DOMAIN.md's citizen record.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.common import (
    BATCH_MAX,
    COMMUNE_CODE,
    PROVINCE_CODE,
    Address,
    AsOfDate,
    Batch,
    IsoDate,
    Page,
    PersonalId,
    Place,
    Text,
)

PERSONAL_ID = r"^[0-9]{12}$"
HOUSEHOLD_ID = r"^HK[0-9]{8}$"  # HK, the province code, six digits
Sex = Literal["male", "female"]
Relation = Literal["head", "spouse", "child", "parent", "other"]


class Citizen(BaseModel):
    """A citizen as the population database holds them."""

    id: str = Field(pattern=PERSONAL_ID, description="Personal identification number (12 digits)")
    full_name: str
    date_of_birth: dt.date
    sex: Sex
    ethnicity: str = Field(examples=["Kinh"])
    nationality: str = Field(examples=["Việt Nam"])
    birth_registration_province: str = Field(pattern=PROVINCE_CODE, examples=["79"])
    native_place: Place
    permanent_address: Address
    current_residence: Address
    household_id: str
    relation_to_head: Relation
    father_id: str | None = None
    mother_id: str | None = None
    spouse_id: str | None = None
    status: Literal["alive", "deceased"] = "alive"
    date_of_death: dt.date | None = None


class CitizenPage(Page[Citizen]):
    """A page of ``citizen-search``."""


class CitizenBatchRequest(BaseModel):
    """``citizen-batch-lookup``: up to 100 personal ID numbers, optionally as of a date."""

    model_config = ConfigDict(extra="forbid")

    ids: list[PersonalId] = Field(min_length=1, max_length=BATCH_MAX)
    as_of: AsOfDate | None = None


class CitizenBatch(Batch[Citizen]):
    """The answer of ``citizen-batch-lookup``."""


class HouseholdMember(BaseModel):
    id: str
    full_name: str
    relation_to_head: Relation


class Household(BaseModel):
    """A household (hộ gia đình): its head, its address and its members."""

    id: str
    head_id: str
    address: Address
    members: list[HouseholdMember]


class VerifyRequest(BaseModel):
    """``citizen-verify``: does this ID belong to someone with this name and birth date?"""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=32)
    full_name: str | None = Field(default=None, max_length=200)
    date_of_birth: dt.date | None = None


class VerifyResult(BaseModel):
    """Yes or no, and nothing else about the person."""

    match: bool


class BirthRegistration(BaseModel):
    """``birth-registration``: register a newborn; at least one parent must be a citizen."""

    model_config = ConfigDict(extra="forbid")

    full_name: Text = Field(min_length=1, max_length=200)
    date_of_birth: IsoDate
    sex: Sex
    father_id: PersonalId | None = None
    mother_id: PersonalId | None = None
    birth_registration_province: str | None = Field(
        default=None,
        pattern=PROVINCE_CODE,
        max_length=2,
        description="Province registering the birth; defaults to the parents' household's",
    )
    ethnicity: Text | None = Field(default=None, min_length=1, max_length=100)
    nationality: Text = Field(default="Việt Nam", min_length=1, max_length=100)


class DeathRegistration(BaseModel):
    """``death-registration``: record a citizen's death."""

    model_config = ConfigDict(extra="forbid")

    id: PersonalId
    date_of_death: IsoDate
    place_of_death: Text | None = Field(default=None, min_length=1, max_length=300)


class NewAddress(BaseModel):
    model_config = ConfigDict(extra="forbid")

    province: str = Field(pattern=PROVINCE_CODE, max_length=2)
    commune: str = Field(pattern=COMMUNE_CODE, max_length=5)
    detail: Text = Field(min_length=1, max_length=300)


class ResidenceRegistration(BaseModel):
    """``residence-registration``: permanent (moves the record) or temporary residence.

    A permanent residence at another address leaves the household: the person joins the
    household ``household_id`` at that address, or without one heads a new household there.
    """

    model_config = ConfigDict(extra="forbid")

    id: PersonalId
    kind: Literal["permanent", "temporary"]
    address: NewAddress
    household_id: str | None = Field(
        default=None,
        pattern=HOUSEHOLD_ID,
        max_length=10,
        description="Permanent only: the household at the address to join",
    )


class Change(BaseModel):
    """One entry of the changes feed: which citizen changed, how, and when."""

    seq: int
    at: dt.datetime
    kind: Literal["birth", "death", "residence"]
    citizen_id: str


class ChangePage(Page[Change]):
    """A page of ``citizen-changes``."""
