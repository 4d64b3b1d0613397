"""Wire models of the land registry (Ministry of Agriculture and Environment)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from schemas import land_ids
from schemas.common import BATCH_MAX, COMMUNE_CODE, PROVINCE_CODE, AsOfDate, Batch, Text

LandUserKind = Literal["citizen", "enterprise"]

# Land-use purpose codes of the cadastral records (Vietnamese codes and names).
LAND_USES: dict[str, str] = {
    "ODT": "Đất ở tại đô thị",
    "ONT": "Đất ở tại nông thôn",
    "LUC": "Đất chuyên trồng lúa",
    "LUK": "Đất trồng lúa còn lại",
    "HNK": "Đất trồng cây hằng năm khác",
    "CLN": "Đất trồng cây lâu năm",
    "RSX": "Đất rừng sản xuất",
    "NTS": "Đất nuôi trồng thủy sản",
    "TMD": "Đất thương mại, dịch vụ",
    "SKC": "Đất cơ sở sản xuất phi nông nghiệp",
}

# [0-9], not \d: the hub runs these with Python's re, where \d takes other scripts' digits.
PARCEL_ID = r"^[0-9b-hjkmnp-z]{12}$"
CERTIFICATE_CODE = r"^[0-9]{12}$"
CERTIFICATE_SERIAL = r"^[A-Z]{2}[0-9]{8}$"


# A certificate code, serial or parcel ID no certificate or parcel could have is refused (422)
# with what one looks like: "7924-1234567-0", or one digit mistyped, was answered
# {"valid": false, "status": "unknown"}, as if the certificate were forged.
def _certificate_code(value: str) -> str:
    if not land_ids.CERTIFICATE_CODE_RE.fullmatch(value):
        raise ValueError(
            f"{value!r} is not a certificate code: it must be 12 digits (e.g. 792412345670)"
        )
    if not land_ids.is_certificate_code(value):
        raise ValueError(
            f"{value!r} is not a certificate code: its check digit (the last) does not match "
            "the eleven before it; one of them is mistyped"
        )
    return value


def _certificate_serial(value: str) -> str:
    if not land_ids.is_certificate_serial(value):
        raise ValueError(
            f"{value!r} is not a certificate serial: two capital letters and eight digits "
            "(e.g. AK01234567)"
        )
    return value


def _parcel_id(value: str) -> str:
    if not land_ids.is_parcel_id(value):
        raise ValueError(f"{value!r} is not a parcel ID: 12 GeoHash characters ({land_ids.BASE32})")
    return value


CertificateCode = Annotated[
    str,
    Field(json_schema_extra={"pattern": CERTIFICATE_CODE, "maxLength": 12}),
    AfterValidator(_certificate_code),
]
CertificateSerial = Annotated[
    str,
    Field(json_schema_extra={"pattern": CERTIFICATE_SERIAL, "maxLength": 10}),
    AfterValidator(_certificate_serial),
]
ParcelId = Annotated[
    str,
    Field(json_schema_extra={"pattern": PARCEL_ID, "maxLength": 12}),
    AfterValidator(_parcel_id),
]


class LandUser(BaseModel):
    """A land user: a citizen by personal ID number or an enterprise by enterprise code."""

    kind: LandUserKind
    id: str


class CertificateRef(BaseModel):
    """What identifies a land-use right certificate: its code and its serial."""

    model_config = ConfigDict(extra="forbid")

    code: CertificateCode = Field(examples=["792412345670"])
    serial: CertificateSerial = Field(examples=["AK01234567"])


class Certificate(CertificateRef):
    """The certificate currently issued for a parcel."""

    issued_on: dt.date


class Parcel(BaseModel):
    """A land parcel: commune + map sheet + number, and its nationwide GeoHash ID."""

    id: str = Field(pattern=PARCEL_ID, examples=["w3gvk1td8f2q"])
    province: str = Field(pattern=PROVINCE_CODE)
    commune: str = Field(pattern=COMMUNE_CODE)
    sheet: int = Field(ge=1)
    number: int = Field(ge=1)
    area_m2: float = Field(gt=0)
    land_use: str = Field(examples=["ODT"])
    land_use_name: str
    address: str
    land_users: list[LandUser]
    certificate: Certificate


class ParcelBatchRequest(BaseModel):
    """``parcel-batch-lookup``: up to 100 parcel IDs, optionally as of a date."""

    model_config = ConfigDict(extra="forbid")

    ids: list[ParcelId] = Field(min_length=1, max_length=BATCH_MAX)
    as_of: AsOfDate | None = None


class ParcelBatch(Batch[Parcel]):
    """The answer of ``parcel-batch-lookup``."""


class CertificateVerify(BaseModel):
    """``certificate-verify``: is this certificate genuine and current (for that parcel)?"""

    model_config = ConfigDict(extra="forbid")

    code: CertificateCode
    serial: CertificateSerial
    parcel_id: ParcelId | None = None


class CertificateVerdict(BaseModel):
    """The answer to ``certificate-verify``; it discloses nothing about the parcel."""

    valid: bool
    status: Literal["current", "superseded", "mismatch", "unknown"]


class Party(BaseModel):
    """One side of a transfer, as the applicant declares it; checked through the hub."""

    model_config = ConfigDict(extra="forbid")

    kind: LandUserKind
    id: str = Field(min_length=1, max_length=20)
    name: Text = Field(min_length=1, max_length=300)


def _one_or_many_schema(schema: dict[str, Any]) -> None:
    # The request schema the hub validates with must accept what the model accepts: one
    # party or a list of them.
    for name in ("from", "to"):
        prop = schema["properties"][name]
        schema["properties"][name] = {"anyOf": [prop["items"], prop], "title": prop.get("title")}


class LandTransfer(BaseModel):
    """``land-transfer``: the current users hand the parcel to new users.

    ``from`` and ``to`` each take one party or a list of parties.
    """

    model_config = ConfigDict(
        extra="forbid", populate_by_name=True, json_schema_extra=_one_or_many_schema
    )

    from_: list[Party] = Field(alias="from", min_length=1, max_length=10)
    to: list[Party] = Field(min_length=1, max_length=10)
    certificate: CertificateRef

    @field_validator("from_", "to", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, dict) else value


class TransferResult(BaseModel):
    """The registered transfer: the parcel as it now is, with its new certificate."""

    transfer_id: str
    parcel: Parcel
    previous_certificate: CertificateRef
