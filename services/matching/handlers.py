"""Event handlers: keep the provider and order read models, react to cancellations and drop-outs.

Each handler runs in the EventRouter's transaction, beside the inbox row that
makes it idempotent; a replayed event is skipped before it gets here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.matching.domain import OrderState, as_utc
from services.matching.lifecycle import (
    cancel_mission_step,
    drop_provider,
    withdraw_off_duty_offers,
    withdraw_offer,
)
from services.matching.models import DutyPeriod, Order, Provider
from services.matching.repository import MatchingRepository
from shared.db import Database, UnitOfWork
from shared.events.envelope import Envelope
from shared.events.orders import OrderCancelled, OrderConfirmed, OrderUnfulfilled
from shared.events.providers import (
    AvailabilityChanged,
    PositionUpdated,
    ProviderActivated,
    ProviderSuspended,
    QualificationsChanged,
    ReputationChanged,
)
from shared.inbox import EventRouter

Clock = Callable[[], datetime]
CLOSED = (OrderState.cancelled.value, OrderState.completed.value, OrderState.unassignable.value)


async def _provider_row(repo: MatchingRepository, provider_id: str, now: datetime) -> Provider:
    """Return the provider's row, creating an undispatchable placeholder for an early event."""
    provider = await repo.provider(provider_id, for_update=True)
    if provider is None:
        provider = Provider(provider_id=provider_id, status="unknown", categories=[], weekly_schedule=[])
        repo.add(provider)
    provider.updated_at = now
    return provider


def build_router(database: Database, clock: Clock) -> EventRouter:
    """Return the idempotent router of every event matching consumes."""
    router = EventRouter(database, consumer="matching")

    async def provider_activated(uow: UnitOfWork, event: ProviderActivated, _: Envelope) -> None:
        repo = MatchingRepository(uow.session)
        provider = await _provider_row(repo, event.provider_id, clock())
        provider.status = "active"
        provider.first_name = event.first_name
        provider.photo_ref = event.photo_ref
        provider.categories = sorted(set(event.categories))
        provider.home_lat, provider.home_lng = event.home_lat, event.home_lng
        if provider.position_at is None:
            provider.lat, provider.lng = event.home_lat, event.home_lng
        provider.postcode = event.postcode
        provider.travel_radius_km = event.travel_radius_km
        provider.weekly_hours_target = event.weekly_hours_target

    async def provider_suspended(uow: UnitOfWork, event: ProviderSuspended, _: Envelope) -> None:
        repo = MatchingRepository(uow.session)
        now = clock()
        provider = await _provider_row(repo, event.provider_id, now)
        provider.status = event.status
        await drop_provider(uow, repo, event.provider_id, now, f"provider {event.status}: {event.reason}")

    async def qualifications_changed(uow: UnitOfWork, event: QualificationsChanged, _: Envelope) -> None:
        repo = MatchingRepository(uow.session)
        now = clock()
        provider = await _provider_row(repo, event.provider_id, now)
        provider.categories = sorted(set(event.categories))
        provider.status = event.status
        if event.status != "active":
            await drop_provider(uow, repo, event.provider_id, now, f"provider {event.status}")
            return
        lost = set(event.lapsed) - set(event.categories)
        if lost:
            reason = f"qualification lapsed: {', '.join(sorted(lost))}"
            await drop_provider(uow, repo, event.provider_id, now, reason, categories=lost)

    async def availability_changed(uow: UnitOfWork, event: AvailabilityChanged, envelope: Envelope) -> None:
        repo = MatchingRepository(uow.session)
        now = clock()
        provider = await _provider_row(repo, event.provider_id, now)
        provider.is_on_duty = event.on_duty
        provider.weekly_schedule = [slot.model_dump() for slot in event.weekly_schedule]
        if event.travel_radius_km is not None:
            provider.travel_radius_km = event.travel_radius_km
        if event.weekly_hours_target is not None:
            provider.weekly_hours_target = event.weekly_hours_target
        period = await repo.open_duty_period(event.provider_id)
        at = envelope.occurred_at
        if event.on_duty and period is None:
            repo.add(DutyPeriod(provider_id=event.provider_id, started_at=at))
        elif not event.on_duty and period is not None:
            period.ended_at = max(at, period.started_at)
        if not event.on_duty:
            # Off duty (or a schedule change while off duty): an offer the provider can no
            # longer take must not hold its order until it lapses.
            await withdraw_off_duty_offers(uow, repo, provider, now)

    async def position_updated(uow: UnitOfWork, event: PositionUpdated, _: Envelope) -> None:
        repo = MatchingRepository(uow.session)
        provider = await _provider_row(repo, event.provider_id, clock())
        if provider.position_at is None or event.recorded_at >= provider.position_at:
            provider.lat, provider.lng = event.lat, event.lng
            provider.position_at = event.recorded_at

    async def reputation_changed(uow: UnitOfWork, event: ReputationChanged, _: Envelope) -> None:
        repo = MatchingRepository(uow.session)
        provider = await _provider_row(repo, event.provider_id, clock())
        provider.rating_average = event.rating_average
        provider.rating_count = event.rating_count

    async def order_confirmed(uow: UnitOfWork, event: OrderConfirmed, envelope: Envelope) -> None:
        await orders_confirmed(uow, [(event, envelope)])

    async def orders_confirmed(uow: UnitOfWork, run: list[tuple[OrderConfirmed, Envelope]]) -> None:
        # A run of confirmations in a batch: one look-up for all instead of one each.
        repo = MatchingRepository(uow.session)
        known = set(await repo.orders_by_id([event.order_id for event, _ in run]))
        for event, _ in run:
            if event.order_id in known:
                continue  # a second confirmation of the same order changes nothing
            known.add(event.order_id)
            repo.add(
                Order(
                    order_id=event.order_id,
                    status=OrderState.pool.value,
                    confirmed_at=clock(),
                    last_reason="",
                    **_order_fields(event),
                )
            )

    async def order_cancelled(uow: UnitOfWork, event: OrderCancelled, _: Envelope) -> None:
        repo = MatchingRepository(uow.session)
        now = clock()
        order = await repo.order(event.order_id, for_update=True)
        if order is None or order.status in CLOSED:
            return
        reason = f"order cancelled by {event.cancelled_by}: {event.reason}"
        offer = await repo.live_offer_for_order(order.order_id)
        if offer is not None:
            await withdraw_offer(uow, repo, offer, now, reason, to_pool=False)
        mission = await repo.held_mission_for_order(order.order_id)
        if mission is not None:
            await cancel_mission_step(uow, repo, mission, now, reason, action="cancel", is_redispatched=False)
        order.status = OrderState.cancelled.value
        order.closed_at = now
        order.last_reason = reason

    async def order_unfulfilled(uow: UnitOfWork, event: OrderUnfulfilled, _: Envelope) -> None:
        repo = MatchingRepository(uow.session)
        order = await repo.order(event.order_id, for_update=True)
        if order is None or order.status in CLOSED:
            return
        if order.status in (OrderState.pool.value, OrderState.offered.value):
            offer = await repo.live_offer_for_order(order.order_id)
            if offer is not None:
                await withdraw_offer(uow, repo, offer, clock(), "order unfulfilled", to_pool=False)
            order.status = OrderState.unassignable.value
            order.closed_at = clock()

    router.add(ProviderActivated, provider_activated)
    router.add(ProviderSuspended, provider_suspended)
    router.add(QualificationsChanged, qualifications_changed)
    router.add(AvailabilityChanged, availability_changed)
    router.add(PositionUpdated, position_updated)
    router.add(ReputationChanged, reputation_changed)
    router.add(OrderConfirmed, order_confirmed, many=orders_confirmed)
    router.add(OrderCancelled, order_cancelled)
    router.add(OrderUnfulfilled, order_unfulfilled)
    return router


def _order_fields(event: OrderConfirmed) -> dict[str, Any]:
    """Return the read-model columns copied from an order-confirmed event."""
    return {
        "client_id": event.client_id,
        "category": event.category,
        "zone": event.zone,
        "postcode": event.postcode,
        "district": event.district,
        "lat": event.lat,
        "lng": event.lng,
        "address": event.address,
        "access_notes": event.access_notes,
        "window_start": as_utc(event.window_start),
        "window_end": as_utc(event.window_end),
        "duration_min": event.duration_min,
        "dispatch_deadline": as_utc(event.dispatch_deadline),
        "price_cents": event.price_cents,
        "payout_cents": event.payout_cents,
        "start_code_hash": event.start_code_hash,
        "preferred_provider_id": event.preferred_provider_id,
    }
