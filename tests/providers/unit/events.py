"""Helpers to feed consumed events into the in-memory bus."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from shared.bus.base import OutgoingMessage
from shared.bus.memory import InMemoryBus
from shared.events import Envelope, to_envelope
from shared.events.matching import MissionCompleted
from shared.events.orders import RatingRevealed
from shared.events.registry import EventPayload, topic_for


def mission_completed(provider_id: str, mission_id: str, at: datetime, **overrides: Any) -> MissionCompleted:
    fields: dict[str, Any] = {
        "order_id": f"o-{mission_id}",
        "mission_id": mission_id,
        "provider_id": provider_id,
        "client_id": "c1",
        "category": "cleaning",
        "zone": "lyon",
        "price_cents": 6000,
        "payout_cents": 4500,
        "worked_min": 120,
        "started_at": at - timedelta(hours=2),
        "completed_at": at,
    }
    fields.update(overrides)
    return MissionCompleted(**fields)


def rating(provider_id: str, rating_id: str, score: int, rater_role: str = "client") -> RatingRevealed:
    return RatingRevealed(
        rating_id=rating_id,
        order_id=f"o-{rating_id}",
        rater_role=rater_role,
        provider_id=provider_id,
        client_id="c1",
        score=score,
    )


async def deliver(
    bus: InMemoryBus, payload: EventPayload, *, times: int = 1, at: datetime | None = None
) -> Envelope:
    """Publish one envelope `times` times (a redelivery keeps its event id) and wait for consumers."""
    envelope = to_envelope(payload)
    if at is not None:
        envelope = envelope.model_copy(update={"occurred_at": at})
    topic = topic_for(payload.service)
    for _ in range(times):
        await bus.publish([OutgoingMessage(topic=topic, key=envelope.aggregate_id, value=envelope.to_json())])
    await bus.drain()
    return envelope
