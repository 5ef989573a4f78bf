"""Builders and a harness for matching's tests: events in, batches by hand, events out."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from services.matching.app import MatchingComponent
from services.matching.config import MatchingSettings
from services.matching.dispatch import BatchReport
from shared.app import create_app
from shared.bus.base import EventBus, OutgoingMessage
from shared.bus.memory import InMemoryBus
from shared.config import PlatformSettings
from shared.db import Database, wait_for
from shared.events import registry, to_envelope
from shared.events.envelope import Envelope
from shared.events.orders import OrderCancelled, OrderConfirmed
from shared.events.providers import (
    AvailabilityChanged,
    ProviderActivated,
    ProviderSuspended,
    WeeklySlot,
)
from shared.events.registry import EventPayload
from shared.outbox import OutboxRow
from shared.testing import Tokens, running_app

T0 = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)  # a Thursday
PARIS = (48.8566, 2.3522)


class FakeClock:
    """A clock tests move by hand."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def start_code_hash(order_id: str, code: str) -> str:
    return hashlib.sha256(f"{order_id}:{code}".encode()).hexdigest()


def provider_activated(provider_id: str, **overrides: Any) -> ProviderActivated:
    fields: dict[str, Any] = {
        "provider_id": provider_id,
        "first_name": f"Name-{provider_id}",
        "categories": ["cleaning"],
        "home_lat": PARIS[0],
        "home_lng": PARIS[1],
        "postcode": "75004",
        "travel_radius_km": 10.0,
        "weekly_hours_target": 30.0,
        "photo_ref": f"photos/{provider_id}.jpg",
    }
    fields.update(overrides)
    return ProviderActivated(**fields)


def on_duty(
    provider_id: str, is_on: bool = True, schedule: list[WeeklySlot] | None = None
) -> AvailabilityChanged:
    return AvailabilityChanged(provider_id=provider_id, on_duty=is_on, weekly_schedule=schedule or [])


def all_week() -> list[WeeklySlot]:
    return [WeeklySlot(weekday=d, start="00:00", end="23:59") for d in range(7)]


def suspended(provider_id: str) -> ProviderSuspended:
    return ProviderSuspended(provider_id=provider_id, status="suspended", reason="documents expired")


def order_confirmed(order_id: str | None = None, now: datetime = T0, **overrides: Any) -> OrderConfirmed:
    order_id = order_id or uuid.uuid4().hex
    fields: dict[str, Any] = {
        "order_id": order_id,
        "client_id": "client-1",
        "category": "cleaning",
        "zone": "paris",
        "postcode": "75011",
        "district": "Paris 11e",
        "lat": PARIS[0] + 0.01,
        "lng": PARIS[1] + 0.01,
        "address": "12 rue Oberkampf, 75011 Paris",
        "access_notes": "code 1234B",
        # A window orders accepts: start from +30 min, finish by +3 h 30 (latest start +1 h 30).
        "window_start": now + timedelta(minutes=30),
        "window_end": now + timedelta(minutes=210),
        "duration_min": 120,
        "dispatch_deadline": now + timedelta(minutes=30),
        "price_cents": 6000,
        "payout_cents": 4200,
        "quote_id": "q-1",
        "grid_version": 1,
        "start_code_hash": start_code_hash(order_id, "123456"),
    }
    fields.update(overrides)
    return OrderConfirmed(**fields)


def order_cancelled(order_id: str) -> OrderCancelled:
    return OrderCancelled(order_id=order_id, cancelled_by="client", reason="changed my mind")


async def publish(bus: EventBus, *payloads: EventPayload) -> None:
    """Publish events as their producing service would (outbox relay path)."""
    messages = []
    for payload in payloads:
        envelope = to_envelope(payload)
        kind = registry.kind(envelope.type, envelope.version)
        messages.append(
            OutgoingMessage(topic=kind.topic, key=envelope.aggregate_id, value=envelope.to_json())
        )
    delivered, error = await bus.publish(messages)
    assert delivered == len(messages), error


@dataclass
class Harness:
    """A running matching app on SQLite with the in-memory bus and a fake clock."""

    app: FastAPI
    client: httpx.AsyncClient
    bus: InMemoryBus
    component: MatchingComponent
    clock: FakeClock
    tokens: Tokens

    async def given(self, *payloads: EventPayload) -> None:
        """Publish events and wait until matching has handled them."""
        await publish(self.bus, *payloads)
        await self.bus.drain()

    async def batch(self) -> BatchReport:
        """Run one dispatch batch now and let the relay publish its events."""
        report = await self.component.dispatcher.run_batch()
        await self.flush()
        return report

    async def flush(self) -> None:
        """Wait until the outbox relay has published everything committed so far."""

        async def is_published() -> bool:
            async with self.component.database.unit_of_work() as uow:
                pending = await uow.session.scalar(
                    select(func.count()).select_from(OutboxRow).where(OutboxRow.published_at.is_(None))
                )
            return pending == 0

        for relay in self.app.state.relays:
            relay.wake()
        await wait_for(is_published)
        await self.bus.drain()

    async def events(self, type_: str | None = None) -> list[Envelope]:
        """Return matching's published events (optionally of one type), after a flush."""
        await self.flush()
        found = [Envelope.from_json(m.value) for m in self.bus.messages("matching.events")]
        return [e for e in found if type_ is None or e.type == type_]

    def provider(self, provider_id: str) -> dict[str, str]:
        return self.tokens.provider(provider_id)

    def ops(self) -> dict[str, str]:
        return self.tokens.ops()

    async def live_offer(self, provider_id: str) -> dict[str, Any] | None:
        response = await self.client.get("/v1/offers", headers=self.provider(provider_id))
        assert response.status_code == 200, response.text
        offers: list[dict[str, Any]] = response.json()
        return offers[0] if offers else None


async def two_providers_one_order(h: Harness) -> None:
    """Two providers on duty, p1 nearer than p2 to one order `o1`; no batch yet."""
    await h.given(
        provider_activated("p1"),
        on_duty("p1"),
        provider_activated("p2", home_lat=48.80, home_lng=2.30),
        on_duty("p2"),
        order_confirmed("o1", now=h.clock.now),
    )


async def offered_to_p1(h: Harness) -> dict[str, Any]:
    """Two providers on duty, one order `o1`, a batch: p1 (the nearer) holds the live offer."""
    await two_providers_one_order(h)
    await h.batch()
    offer = await h.live_offer("p1")
    assert offer is not None and offer["order_id"] == "o1"
    return offer


@asynccontextmanager
async def matching_harness(
    settings: PlatformSettings,
    *,
    matching: MatchingSettings | None = None,
    database: Database | None = None,
    bus: InMemoryBus | None = None,
) -> AsyncIterator[Harness]:
    """Run matching alone, with the dispatch loop off unless the settings turn it on."""
    clock = FakeClock()
    component = MatchingComponent(settings, database, matching or MatchingSettings(is_dispatch_enabled=False))
    component.clock = clock
    the_bus = bus or InMemoryBus()
    app = create_app([component], settings, bus=the_bus)
    async with running_app(app) as client:
        yield Harness(app, client, the_bus, component, clock, Tokens())


async def second_offer_after_a_far_mission(h: Harness) -> tuple[dict[str, Any], datetime]:
    """p1 (on a weekly schedule) holds a one-hour mission tomorrow about 10 km from a second
    order booked for the hours after it; return p1's live offer of that second order and when
    the mission ends (for slot proposals that must count the travel between them)."""
    start = h.clock.now + timedelta(days=1)
    booked: dict[str, Any] = {"duration_min": 60, "dispatch_deadline": start - timedelta(hours=2)}
    await h.given(
        provider_activated("p1"),
        on_duty("p1", False, all_week()),
        order_confirmed("o1", now=h.clock.now, window_start=start, window_end=start + timedelta(hours=1),
                        lat=48.80, lng=2.25, **booked),
    )
    await h.batch()
    first = await h.live_offer("p1")
    assert first is not None
    accepted = await h.client.post(f"/v1/offers/{first['id']}/accept", headers=h.provider("p1"))
    assert accepted.status_code == 200, accepted.text
    await h.given(
        order_confirmed("o2", now=h.clock.now, window_start=start + timedelta(hours=1),
                        window_end=start + timedelta(hours=6), **booked)
    )
    await h.batch()
    second = await h.live_offer("p1")
    assert second is not None and second["order_id"] == "o2"
    return second, datetime.fromisoformat(first["scheduled_start"]) + timedelta(minutes=60)
