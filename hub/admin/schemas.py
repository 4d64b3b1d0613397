"""What the admin API answers of its entries: a member, subsystem, service or grant as a GET,
a list, a change (PATCH) and a creation (POST) send it.

They describe; the entries were checked when written (hub/registry/schemas.py), so these
take the stored values as they are: an answer is never refused for a value an older hub
kept. Every field is always sent, ``null`` where it is empty.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from hub.core.ids import described

_WARNINGS = Field(
    description="What was created but looks wrong, as `hub registry apply` warns of it (a "
    "member code no agency has, a service with nowhere to forward): empty when nothing does."
)


class MemberOut(BaseModel):
    id: Annotated[str, described(3)]
    name: str
    enabled: bool


class SubsystemOut(BaseModel):
    id: Annotated[str, described(4)]
    name: str
    base_url: str | None = Field(description="Where its services are forwarded; null: none.")
    enabled: bool
    quota_rps: int | None = Field(description="Calls per second; null: the hub's default.")
    quota_per_day: int | None = Field(description="Calls per day; null: the hub's default.")
    cert_sha256: str | None = Field(
        description="Its client certificate's SHA-256 (64 hex digits); null: none."
    )


class EndpointOut(BaseModel):
    method: str = Field(examples=["GET"])
    path: str = Field(examples=["/citizens/{id}"])


class ServiceOut(BaseModel):
    id: Annotated[str, described(5)]
    description: str
    base_url: str | None = Field(description="null: its provider's base_url.")
    service_type: Literal["REST", "OPENAPI"]
    endpoints: list[EndpointOut] = Field(description="Empty: every path of the provider.")
    personal_data: bool
    timeout_ms: int
    max_body_bytes: int
    request_schema: dict[str, Any] | None
    enabled: bool
    keep_bodies: bool


class GrantOut(BaseModel):
    client: Annotated[str, described(4)]
    service: Annotated[str, described(5)]
    enabled: bool


class MemberCreated(MemberOut):
    warnings: list[str] = _WARNINGS


class SubsystemCreated(SubsystemOut):
    warnings: list[str] = _WARNINGS


class ServiceCreated(ServiceOut):
    warnings: list[str] = _WARNINGS
