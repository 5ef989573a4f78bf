"""Events the orders service publishes (topic orders.events, keyed by order_id)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from shared.events.registry import EventPayload, event

SERVICE = "orders"


@event(SERVICE, "order-confirmed")
class OrderConfirmed(EventPayload):
    """A client confirmed an order; what matching needs to dispatch it."""

    order_id: str
    client_id: str
    category: str
    zone: str
    postcode: str
    district: str = Field(description="commune or district shown before acceptance")
    lat: float
    lng: float
    address: str = Field(description="shown to the provider only once the offer is accepted")
    access_notes: str = ""
    window_start: datetime
    window_end: datetime
    duration_min: int = Field(gt=0)
    dispatch_deadline: datetime = Field(description="past it, matching gives up")
    price_cents: int
    payout_cents: int
    quote_id: str
    grid_version: int
    start_code_hash: str = Field(description="sha256 hex of the start code the client holds")
    preferred_provider_id: str | None = None
    series_id: str | None = None


@event(SERVICE, "order-cancelled")
class OrderCancelled(EventPayload):
    order_id: str
    cancelled_by: str = Field(description="client | ops")
    reason: str
    fee_cents: int = 0
    provider_share_cents: int = 0
    provider_id: str | None = None


@event(SERVICE, "order-unfulfilled")
class OrderUnfulfilled(EventPayload):
    order_id: str
    client_id: str
    reason: str


@event(SERVICE, "rating-revealed")
class RatingRevealed(EventPayload):
    rating_id: str
    order_id: str
    rater_role: str = Field(description="client | provider")
    provider_id: str
    client_id: str
    score: int = Field(ge=1, le=5)
    comment: str = ""

    def aggregate_key(self) -> str:
        return self.order_id


@event(SERVICE, "dispute-resolved")
class DisputeResolved(EventPayload):
    dispute_id: str
    order_id: str
    outcome: str = Field(description="refund | partial_refund | rejected")
    refund_cents: int = 0
    provider_id: str | None = None

    def aggregate_key(self) -> str:
        return self.order_id
