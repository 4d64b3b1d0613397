"""The land registry's manifest: Ministry of Agriculture and Environment, land database."""

from __future__ import annotations

from connectors.kit import Manifest, ServiceSpec
from schemas.common import Page
from schemas.land import (
    CertificateVerdict,
    CertificateVerify,
    LandTransfer,
    Parcel,
    ParcelBatch,
    ParcelBatchRequest,
    TransferResult,
)

MANIFEST = Manifest(
    name="land",
    member_id="VN/GOV/BNNMT",
    member_name="Bộ Nông nghiệp và Môi trường",
    subsystem_id="VN/GOV/BNNMT/land-registry",
    subsystem_name="Cơ sở dữ liệu quốc gia về đất đai",
    services=(
        ServiceSpec(
            code="parcel-lookup",
            method="GET",
            path="/parcels/{id}",
            description=(
                "Look up one land parcel by its 12-character GeoHash parcel ID; "
                "as_of=YYYY-MM-DD answers who held it (and its certificate) on that date."
            ),
            response_model=Parcel,
            personal_data=True,  # land users are citizens by personal ID number
            errors=(400,),  # not a parcel ID at all
        ),
        ServiceSpec(
            code="parcel-batch-lookup",
            method="POST",
            path="/parcels/batch",
            description=(
                "Look up 1 to 100 parcels by parcel ID (optionally as_of a date): the parcels "
                "found, and the IDs not found."
            ),
            request_model=ParcelBatchRequest,
            response_model=ParcelBatch,
            personal_data=True,
            # 100 IDs take about 1.6 KB, 2.4 KB pretty-printed: room for a client's layout.
            max_body_bytes=8192,
        ),
        ServiceSpec(
            code="parcel-search",
            method="GET",
            path="/parcels",
            description="Search parcels by province, commune or land user (ID number or code).",
            response_model=Page[Parcel],
            personal_data=True,
        ),
        ServiceSpec(
            code="certificate-verify",
            method="POST",
            path="/certificates/verify",
            description=(
                "Check that a land-use right certificate (code and serial) is genuine and "
                "current; answers valid yes/no and nothing about the parcel."
            ),
            request_model=CertificateVerify,
            response_model=CertificateVerdict,
        ),
        ServiceSpec(
            code="land-transfer",
            method="POST",
            path="/parcels/{id}/transfers",
            description=(
                "Register a transfer of land-use rights: both parties are checked through the "
                "hub (population or business registry), the giving party must be a current "
                "land user and the certificate current; a new certificate is issued."
            ),
            request_model=LandTransfer,
            response_model=TransferResult,
            personal_data=True,
            timeout_ms=15000,
            status_code=201,
            errors=(400, 502),  # not a parcel ID at all; a party's check through the hub failed
        ),
    ),
)
