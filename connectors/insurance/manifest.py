"""The insurance connector's manifest: Vietnam Social Security's health-insurance cards."""

from __future__ import annotations

from connectors.kit import Manifest, ServiceSpec
from schemas.insurance import Card, CardIssue, CardPage

manifest = Manifest(
    name="insurance",
    member_id="VN/GOV/BHXH",
    member_name="Bảo hiểm xã hội Việt Nam",
    subsystem_id="VN/GOV/BHXH/health-insurance",
    subsystem_name="Cơ sở dữ liệu quốc gia về bảo hiểm",
    services=(
        ServiceSpec(
            code="card-issue",
            method="POST",
            path="/cards",
            request_model=CardIssue,
            response_model=Card,
            personal_data=True,
            status_code=201,
            errors=(409,),  # the holder already has a card
            max_body_bytes=4096,
            description="Issue a health-insurance card to a citizen (e.g. a newborn).",
        ),
        ServiceSpec(
            code="card-lookup",
            method="GET",
            path="/cards/{code}",
            response_model=Card,
            personal_data=True,
            errors=(400,),  # not a card code at all
            description="Look up a health-insurance card by its 15-character code.",
        ),
        ServiceSpec(
            code="card-search",
            method="GET",
            path="/cards",
            response_model=CardPage,
            personal_data=True,
            description="The health-insurance cards of a holder (by personal ID).",
        ),
    ),
)
