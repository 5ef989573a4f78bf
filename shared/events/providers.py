"""Events the providers service publishes (topic providers.events, keyed by provider_id)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from shared.events.registry import EventPayload, event

SERVICE = "providers"


class WeeklySlot(EventPayload):
    """A recurring slot of a weekly schedule, Europe/Paris local time."""

    weekday: int = Field(ge=0, le=6, description="0 = Monday")
    start: str = Field(pattern=r"^\d{2}:\d{2}$")
    end: str = Field(pattern=r"^\d{2}:\d{2}$")


@event(SERVICE, "provider-activated")
class ProviderActivated(EventPayload):
    provider_id: str
    first_name: str
    categories: list[str]
    home_lat: float
    home_lng: float
    postcode: str
    travel_radius_km: float
    weekly_hours_target: float
    photo_ref: str | None = None


@event(SERVICE, "provider-suspended")
class ProviderSuspended(EventPayload):
    """The provider may no longer be dispatched (suspended or offboarded)."""

    provider_id: str
    status: str = Field(description="suspended | offboarded")
    reason: str


@event(SERVICE, "qualifications-changed")
class QualificationsChanged(EventPayload):
    provider_id: str
    status: str = Field(description="the provider's lifecycle state after the change")
    categories: list[str] = Field(description="categories the provider is qualified for now")
    lapsed: list[str] = Field(default_factory=list, description="categories lost by this change")
    reason: str = ""


@event(SERVICE, "availability-changed")
class AvailabilityChanged(EventPayload):
    provider_id: str
    on_duty: bool
    weekly_schedule: list[WeeklySlot] = Field(default_factory=list)
    travel_radius_km: float | None = None
    weekly_hours_target: float | None = None


@event(SERVICE, "position-updated")
class PositionUpdated(EventPayload):
    provider_id: str
    lat: float
    lng: float
    recorded_at: datetime


@event(SERVICE, "bonus-awarded")
class BonusAwarded(EventPayload):
    provider_id: str
    award_id: str
    rule_id: str
    period: str = Field(description="e.g. 2026-11")
    amount_cents: int = Field(ge=0)


@event(SERVICE, "reputation-changed")
class ReputationChanged(EventPayload):
    provider_id: str
    rating_average: float | None
    rating_count: int
