"""Builders of the events pricing consumes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.bus.base import EventBus, OutgoingMessage
from shared.events import to_envelope
from shared.events.envelope import Envelope
from shared.events.matching import MissionCompleted
from shared.events.registry import EventPayload


def mission_completed(**overrides: Any) -> MissionCompleted:
    data: dict[str, Any] = {
        "order_id": "o1",
        "mission_id": "m1",
        "provider_id": "p1",
        "client_id": "c1",
        "category": "cleaning",
        "zone": "paris-centre",
        "price_cents": 4800,
        "payout_cents": 3900,
        "worked_min": 90,
        "travel_min": 20.0,
        "started_at": datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
        "completed_at": datetime(2026, 11, 20, 10, 30, tzinfo=UTC),
    }
    data.update(overrides)
    return MissionCompleted(**data)


async def deliver(bus: EventBus, payload: EventPayload, envelope: Envelope | None = None) -> Envelope:
    """Publish an event as its producer's relay would; return its envelope (to redeliver it)."""
    env = envelope or to_envelope(payload)
    topic = f"{payload.service}.events"
    delivered, error = await bus.publish(
        [OutgoingMessage(topic=topic, key=env.aggregate_id, value=env.to_json())]
    )
    assert delivered == 1, error
    return env
