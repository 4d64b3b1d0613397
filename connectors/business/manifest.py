"""The business registry's manifest: Ministry of Finance, enterprise registration system."""

from __future__ import annotations

from connectors.kit import Manifest, ServiceSpec
from schemas.business import Enterprise, EnterpriseRegistration
from schemas.common import Page

MANIFEST = Manifest(
    name="business",
    member_id="VN/GOV/BTC",
    member_name="Bộ Tài chính",
    subsystem_id="VN/GOV/BTC/business-registry",
    subsystem_name="Cơ sở dữ liệu quốc gia về đăng ký doanh nghiệp",
    services=(
        ServiceSpec(
            code="enterprise-lookup",
            method="GET",
            path="/enterprises/{code}",
            description="Look up one enterprise or branch by enterprise code (0101234567[-001]).",
            response_model=Enterprise,
            personal_data=True,  # names the legal representative by personal ID number
            errors=(400,),  # not an enterprise code at all
        ),
        ServiceSpec(
            code="enterprise-search",
            method="GET",
            path="/enterprises",
            description="Search enterprises by name, province, status or legal representative.",
            response_model=Page[Enterprise],
            personal_data=True,
        ),
        ServiceSpec(
            code="enterprise-registration",
            method="POST",
            path="/enterprises",
            description=(
                "Register an enterprise: the legal representative is verified against the "
                "population database through the hub, then a new enterprise code is issued."
            ),
            request_model=EnterpriseRegistration,
            response_model=Enterprise,
            personal_data=True,
            timeout_ms=10000,
            status_code=201,
            errors=(409, 502),  # a name already taken; the population check failed
        ),
    ),
)
