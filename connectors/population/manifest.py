"""The population connector's manifest: Bộ Công an's national population database."""

from __future__ import annotations

from connectors.kit import Manifest, ServiceSpec
from connectors.population.models import CitizenVerifyRequest
from schemas.population import (
    BirthRegistration,
    ChangePage,
    Citizen,
    CitizenBatch,
    CitizenBatchRequest,
    CitizenPage,
    DeathRegistration,
    Household,
    ResidenceRegistration,
    VerifyResult,
)
from schemas.subscriptions import Subscription, SubscriptionList, SubscriptionRequest

manifest = Manifest(
    name="population",
    member_id="VN/GOV/BCA",
    member_name="Bộ Công an",
    subsystem_id="VN/GOV/BCA/population",
    subsystem_name="Cơ sở dữ liệu quốc gia về dân cư",
    services=(
        ServiceSpec(
            code="citizen-lookup",
            method="GET",
            path="/citizens/{id}",
            response_model=Citizen,
            personal_data=True,
            errors=(400,),  # not a personal identification number at all
            description=(
                "Look up one citizen by personal identification number; as_of=YYYY-MM-DD "
                "answers the record as it was on that date."
            ),
        ),
        ServiceSpec(
            code="citizen-batch-lookup",
            method="POST",
            path="/citizens/batch",
            request_model=CitizenBatchRequest,
            response_model=CitizenBatch,
            personal_data=True,
            # 100 IDs take about 1.6 KB, 2.4 KB pretty-printed: room for a client's layout.
            max_body_bytes=8192,
            description=(
                "Look up 1 to 100 citizens by personal identification number (optionally "
                "as_of a date): the citizens found, and the IDs not found."
            ),
        ),
        ServiceSpec(
            code="citizen-search",
            method="GET",
            path="/citizens",
            response_model=CitizenPage,
            personal_data=True,
            description="Search citizens by province, name, birth date, status or household.",
        ),
        ServiceSpec(
            code="citizen-verify",
            method="POST",
            path="/citizens/verify",
            request_model=CitizenVerifyRequest,
            response_model=VerifyResult,
            personal_data=True,
            max_body_bytes=4096,
            description="Check an ID number against a name and birth date: yes or no only.",
        ),
        ServiceSpec(
            code="household-lookup",
            method="GET",
            path="/households/{id}",
            response_model=Household,
            personal_data=True,
            errors=(400,),  # not a household ID at all
            description="Look up a household and its members.",
        ),
        ServiceSpec(
            code="birth-registration",
            method="POST",
            path="/births",
            request_model=BirthRegistration,
            response_model=Citizen,
            personal_data=True,
            status_code=201,
            errors=(409,),  # the same birth is registered already
            description="Register a birth: issue a personal ID and add the child to a household.",
        ),
        ServiceSpec(
            code="death-registration",
            method="POST",
            path="/deaths",
            request_model=DeathRegistration,
            response_model=Citizen,
            personal_data=True,
            errors=(409,),  # already registered as deceased
            description="Register a citizen's death.",
        ),
        ServiceSpec(
            code="residence-registration",
            method="POST",
            path="/residences",
            request_model=ResidenceRegistration,
            response_model=Citizen,
            personal_data=True,
            errors=(409,),  # the citizen is deceased
            description="Register a permanent or temporary residence.",
        ),
        ServiceSpec(
            code="citizen-changes",
            method="GET",
            path="/citizens/changes",
            response_model=ChangePage,
            personal_data=True,
            description="Citizens changed since a time (births, deaths, residence).",
        ),
        # Subscriptions: the database calls the subscriber's own service through the hub
        # at each change (connectors.kit.subscriptions). No personal data in them.
        ServiceSpec(
            code="citizen-subscribe",
            method="POST",
            path="/subscriptions",
            request_model=SubscriptionRequest,
            response_model=Subscription,
            status_code=201,
            max_body_bytes=4096,
            errors=(409,),  # the mock runs without a hub: it could deliver nothing
            description=(
                "Subscribe to births, deaths and residence changes: each is POSTed to a "
                "service of the caller's own, through the hub."
            ),
        ),
        ServiceSpec(
            code="citizen-subscriptions",
            method="GET",
            path="/subscriptions",
            response_model=SubscriptionList,
            description="The caller's own subscriptions, with how their deliveries went.",
        ),
        ServiceSpec(
            code="citizen-unsubscribe",
            method="DELETE",
            path="/subscriptions/{id}",
            response_model=Subscription,
            description="Cancel one of the caller's subscriptions.",
        ),
    ),
)
