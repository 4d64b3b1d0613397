"""Wire models of subscriptions: a provider notifying a subscriber's own service of changes.

As X-Road does push, the provider calls, as a client of the hub with its own identity and
key, a service the subscriber provides, so every notification is checked, granted and logged
as any exchange is. The population database's events (``CitizenEvent``) are what the business
registry's ``citizen-events`` service receives.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.common import PersonalId

SERVICE_ID = r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+){4}$"
CitizenEventKind = Literal["birth", "death", "residence"]
CITIZEN_EVENTS: tuple[CitizenEventKind, ...] = ("birth", "death", "residence")


class SubscriptionRequest(BaseModel):
    """What a subscriber asks for: its receiving service, and which events (all by default)."""

    model_config = ConfigDict(extra="forbid")

    service: str = Field(
        pattern=SERVICE_ID,
        max_length=400,
        description="Service id of the subscriber's own receiving service",
        examples=["VN/GOV/BTC/business-registry/citizen-events"],
    )
    path: str = Field(
        default="/events/citizens",
        pattern=r"^/[A-Za-z0-9._~/-]*$",
        max_length=200,
        description="Path of that service the events are POSTed to",
    )
    events: list[CitizenEventKind] = Field(
        default_factory=lambda: list(CITIZEN_EVENTS), min_length=1, max_length=3
    )


class Deliveries(BaseModel):
    """How the notifications of one subscription went."""

    delivered: int = 0
    failed: int = Field(0, description="Given up: refused, or still failing after every retry")
    pending: int = Field(0, description="Being sent, or waiting for a retry")
    last_error: str | None = None
    last_error_at: dt.datetime | None = None


class Subscription(BaseModel):
    """A subscription as the provider holds it."""

    id: str
    subscriber: str = Field(description="The subsystem that subscribed (its X-Road-Client)")
    service: str
    path: str
    events: list[CitizenEventKind]
    created_at: dt.datetime
    deliveries: Deliveries


class SubscriptionList(BaseModel):
    """The caller's own subscriptions."""

    items: list[Subscription]


class CitizenEvent(BaseModel):
    """One notification: a citizen was born, died or changed residence."""

    event: CitizenEventKind
    citizen_id: PersonalId
    at: dt.datetime = Field(description="When the population database recorded the change")
    seq: int = Field(description="The change's place in citizen-changes: resend-safe key")
    subscription: str


class ReceivedEvent(CitizenEvent):
    """An event as its receiver recorded it: who sent it, and when it arrived."""

    sender: str | None = None
    received_at: dt.datetime


class ReceivedEvents(BaseModel):
    """The events a receiver has recorded, oldest first."""

    items: list[ReceivedEvent]
