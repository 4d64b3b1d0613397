"""The business registry's manifest: Ministry of Finance, enterprise registration system."""

from __future__ import annotations

from connectors.kit import Manifest, ServiceSpec
from schemas.business import Enterprise, EnterpriseRegistration
from schemas.common import Page
from schemas.subscriptions import CitizenEvent, ReceivedEvent, ReceivedEvents

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
        # The receiving end of a population subscription: a legal representative who died
        # matters to the registry (connectors.kit.subscriptions).
        ServiceSpec(
            code="citizen-events",
            method="POST",
            path="/events/citizens",
            description=(
                "Receive a population event (birth, death, residence) of a subscription: the "
                "population database calls it through the hub."
            ),
            request_model=CitizenEvent,
            response_model=ReceivedEvent,
            personal_data=True,
            max_body_bytes=4096,
        ),
        ServiceSpec(
            code="citizen-events-received",
            method="GET",
            path="/events/citizens",
            description="The population events received, oldest first, by citizen or kind.",
            response_model=ReceivedEvents,
            personal_data=True,
        ),
    ),
)
