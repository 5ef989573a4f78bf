"""Events the pricing service publishes (topic pricing.events)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from shared.events.registry import EventPayload, event

SERVICE = "pricing"


class PayoutChange(EventPayload):
    category: str
    zone: str
    old_payout_cents_per_hour: int
    new_payout_cents_per_hour: int


@event(SERVICE, "grid-published")
class GridPublished(EventPayload):
    grid_id: str
    version: int
    published_by: str
    published_at: datetime
    effective_at: datetime = Field(description="later than published_at when payouts go down")
    payout_decreases: list[PayoutChange] = Field(default_factory=list)


@event(SERVICE, "payout-recorded")
class PayoutRecorded(EventPayload):
    entry_id: str
    provider_id: str
    kind: str = Field(description="mission | cancellation | bonus | travel_supplement")
    amount_cents: int
    order_id: str | None = None
    mission_id: str | None = None

    def aggregate_key(self) -> str:
        return self.provider_id
