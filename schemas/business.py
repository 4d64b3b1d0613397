"""Wire models of the business registry (Ministry of Finance): enterprises and branches."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from schemas.common import Address, IsoDate, Text

EnterpriseType = Literal[
    "llc-single",  # Công ty TNHH một thành viên
    "llc-multi",  # Công ty TNHH hai thành viên trở lên
    "joint-stock",  # Công ty cổ phần
    "partnership",  # Công ty hợp danh
    "private",  # Doanh nghiệp tư nhân
    "branch",  # Chi nhánh (a branch of another enterprise)
]
EnterpriseStatus = Literal["active", "suspended", "dissolving", "dissolved", "bankrupt"]

# The Vietnamese name prefix that goes with each type.
TYPE_PREFIX: dict[str, str] = {
    "llc-single": "Công ty TNHH MTV",
    "llc-multi": "Công ty TNHH",
    "joint-stock": "Công ty Cổ phần",
    "partnership": "Công ty Hợp danh",
    "private": "Doanh nghiệp tư nhân",
    "branch": "Chi nhánh",
}

CITIZEN_ID = r"^[0-9]{12}$"
ENTERPRISE_CODE = r"^[0-9]{10}(-[0-9]{3})?$"


class Representative(BaseModel):
    """The legal representative: a citizen of the population database, by ID number."""

    id: str = Field(pattern=CITIZEN_ID, examples=["079090001234"])
    full_name: str = Field(examples=["Nguyễn Văn An"])


class Enterprise(BaseModel):
    """An enterprise, or one of its branches (``type`` ``branch`` with ``parent_code``)."""

    code: str = Field(pattern=ENTERPRISE_CODE, examples=["0312345678"])
    name: str = Field(examples=["Công ty TNHH Thương mại Minh Phát"])
    type: EnterpriseType
    status: EnterpriseStatus
    head_office: Address
    registration_date: dt.date
    legal_representative: Representative
    charter_capital_vnd: int | None = None
    parent_code: str | None = None
    branches: list[str] = Field(default_factory=list)


class RepresentativeClaim(BaseModel):
    """Who the applicant says the legal representative is; checked against population."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=CITIZEN_ID, max_length=12)
    full_name: Text = Field(min_length=1, max_length=200)
    date_of_birth: IsoDate | None = None


class HeadOffice(Address):
    """The head office an application gives: an address whose detail is not blank."""

    detail: Text = Field(min_length=1, max_length=300, examples=["12 Lê Lợi"])


# A bound the JSON Schema states, so the hub refuses what the registry cannot store: without
# one, 1e30 passed the hub's check and the mock refused it as "an input string".
MAX_CAPITAL_VND = 10**18


def _capital(value: Any) -> Any:
    # pydantic parses a float of 1e30 as an integer before it compares it with the bound, and
    # fails on the parse; a number past the bound is said to be past it.
    if isinstance(value, float) and abs(value) > MAX_CAPITAL_VND:
        raise ValueError(f"must be at most {MAX_CAPITAL_VND} (got {value:g})")
    return value


class EnterpriseRegistration(BaseModel):
    """``enterprise-registration``: a new enterprise; the code is issued by the registry."""

    model_config = ConfigDict(extra="forbid")

    name: Text = Field(min_length=3, max_length=300, examples=["Công ty TNHH Minh Phát"])
    type: Literal["llc-single", "llc-multi", "joint-stock", "partnership", "private"] = "llc-multi"
    head_office: HeadOffice
    legal_representative: RepresentativeClaim
    charter_capital_vnd: (
        Annotated[int, Field(ge=0, le=MAX_CAPITAL_VND), BeforeValidator(_capital)] | None
    ) = None
