"""Events the matching service publishes (topic matching.events, keyed by order_id)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from shared.events.registry import EventPayload, event

SERVICE = "matching"


@event(SERVICE, "mission-offered")
class MissionOffered(EventPayload):
    order_id: str
    offer_id: str
    provider_id: str
    expires_at: datetime
    district: str
    window_start: datetime
    duration_min: int
    payout_cents: int
    travel_supplement_cents: int = 0
    travel_min: float = 0.0
    scheduled_start: datetime | None = Field(
        default=None, description="the start the engine planned (inside the client's window)"
    )
    category: str | None = None


@event(SERVICE, "mission-accepted")
class MissionAccepted(EventPayload):
    order_id: str
    offer_id: str
    provider_id: str
    scheduled_start: datetime | None = Field(
        default=None, description="differs from the planned start when the provider proposed a slot"
    )


@event(SERVICE, "mission-declined")
class MissionDeclined(EventPayload):
    order_id: str
    offer_id: str
    provider_id: str
    reason: str = ""


@event(SERVICE, "mission-expired")
class MissionExpired(EventPayload):
    order_id: str
    offer_id: str
    provider_id: str


@event(SERVICE, "mission-assigned")
class MissionAssigned(EventPayload):
    order_id: str
    mission_id: str
    provider_id: str
    provider_first_name: str
    provider_rating: float | None = None
    provider_photo_ref: str | None = None
    scheduled_start: datetime
    travel_supplement_cents: int = 0


@event(SERVICE, "mission-started")
class MissionStarted(EventPayload):
    order_id: str
    mission_id: str
    provider_id: str
    started_at: datetime


@event(SERVICE, "mission-completed")
class MissionCompleted(EventPayload):
    order_id: str
    mission_id: str
    provider_id: str
    client_id: str
    category: str
    zone: str
    price_cents: int
    payout_cents: int
    travel_supplement_cents: int = 0
    worked_min: int
    travel_min: float = 0.0
    started_at: datetime
    completed_at: datetime
    is_peak: bool = False


@event(SERVICE, "mission-cancelled")
class MissionCancelled(EventPayload):
    order_id: str
    mission_id: str
    provider_id: str
    reason: str
    is_redispatched: bool = Field(
        default=False,
        description="true when the order goes back to dispatch (provider dropped out, ops reassigned); "
        "false when the order itself was cancelled",
    )


@event(SERVICE, "offer-withdrawn")
class OfferWithdrawn(EventPayload):
    """A live offer taken back before the provider answered (order cancelled, provider suspended...)."""

    order_id: str
    offer_id: str
    provider_id: str
    reason: str


@event(SERVICE, "order-unassignable")
class OrderUnassignable(EventPayload):
    order_id: str
    reason: str
