"""Steps shared by several use cases, inside the caller's unit of work (never commits).

Each step moves one offer or mission with a compare-and-set, so that two
transactions racing for the same row cannot both win, and stages its event.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime, timedelta

from services.matching.domain import MissionStatus, OfferStatus, OrderState, as_utc, move_mission
from services.matching.models import Decision, Mission, Offer, Order, Provider
from services.matching.planner import is_scheduled
from services.matching.repository import MatchingRepository
from shared.db import UnitOfWork
from shared.errors import IllegalTransition
from shared.events.matching import (
    MissionCancelled,
    MissionDeclined,
    MissionExpired,
    MissionOffered,
    OfferWithdrawn,
)
from shared.ids import new_id

OFF_DUTY = "provider went off duty"


def offer_expiry(now: datetime, ttl_s: float, dispatch_deadline: datetime) -> datetime:
    """Return when a new offer lapses: after its lifetime, or at the order's deadline if sooner."""
    expires = now + timedelta(seconds=ttl_s)
    return min(expires, dispatch_deadline) if dispatch_deadline > now else expires



def back_to_pool(order: Order) -> None:
    """Put an order back in the dispatch pool if it is still waiting for a provider."""
    if order.status in (OrderState.offered.value, OrderState.assigned.value):
        order.status = OrderState.pool.value


async def expire_offer(uow: UnitOfWork, repo: MatchingRepository, offer: Offer, now: datetime) -> bool:
    """Lapse a pending offer: the order goes back to the pool without that provider."""
    order = await repo.order(offer.order_id, for_update=True)
    if not await repo.move_offer(offer.id, OfferStatus.pending, OfferStatus.expired, now, "lapsed"):
        return False
    await repo.exclude(offer.order_id, offer.provider_id, "expired", "", now)
    if order is not None:
        back_to_pool(order)
    uow.add_event(MissionExpired(order_id=offer.order_id, offer_id=offer.id, provider_id=offer.provider_id))
    return True


async def decline_offer_step(
    uow: UnitOfWork, repo: MatchingRepository, offer: Offer, now: datetime, reason: str
) -> bool:
    """Record a decline: never penalised, the order simply leaves this provider out."""
    order = await repo.order(offer.order_id, for_update=True)
    if not await repo.move_offer(offer.id, OfferStatus.pending, OfferStatus.declined, now, reason):
        return False
    await repo.exclude(offer.order_id, offer.provider_id, "declined", reason, now)
    if order is not None:
        back_to_pool(order)
    uow.add_event(
        MissionDeclined(
            order_id=offer.order_id, offer_id=offer.id, provider_id=offer.provider_id, reason=reason
        )
    )
    return True


async def withdraw_offer(
    uow: UnitOfWork, repo: MatchingRepository, offer: Offer, now: datetime, reason: str, *, to_pool: bool
) -> bool:
    """Take back a live offer; the order returns to the pool unless it is itself closed."""
    order = await repo.order(offer.order_id, for_update=True)
    if not await repo.move_offer(offer.id, OfferStatus.pending, OfferStatus.withdrawn, now, reason):
        return False
    if to_pool and order is not None:
        back_to_pool(order)
    uow.add_event(
        OfferWithdrawn(
            order_id=offer.order_id, offer_id=offer.id, provider_id=offer.provider_id, reason=reason
        )
    )
    return True


async def cancel_mission_step(
    uow: UnitOfWork,
    repo: MatchingRepository,
    mission: Mission,
    now: datetime,
    reason: str,
    *,
    action: str,
    is_redispatched: bool,
) -> None:
    """Cancel a held mission; when re-dispatched its provider is left out of that order."""
    order = await repo.order(mission.order_id, for_update=True)
    target = move_mission(mission.status, action)
    if not await repo.move_mission(
        mission.id, mission.status, target, {"cancelled_at": now, "reason": reason}
    ):
        fresh = await repo.mission(mission.id)
        current = fresh.status if fresh else "unknown"
        raise IllegalTransition("mission", current, action)
    if is_redispatched:
        await repo.exclude(mission.order_id, mission.provider_id, "dropped", reason, now)
        if order is not None:
            back_to_pool(order)
    uow.add_event(
        MissionCancelled(
            order_id=mission.order_id,
            mission_id=mission.id,
            provider_id=mission.provider_id,
            reason=reason,
            is_redispatched=is_redispatched,
        )
    )


async def drop_provider(
    uow: UnitOfWork,
    repo: MatchingRepository,
    provider_id: str,
    now: datetime,
    reason: str,
    categories: set[str] | None = None,
) -> None:
    """A provider can no longer be dispatched (for `categories`, or at all): re-dispatch their work.

    Their live offer is withdrawn and their missions not yet started are
    cancelled and re-dispatched; a started mission is left to finish.
    """
    for offer in await repo.live_offers(provider_id):
        order = await repo.order(offer.order_id)
        if categories is None or (order is not None and order.category in categories):
            await withdraw_offer(uow, repo, offer, now, reason, to_pool=True)
    for mission in await repo.missions(provider_id, [MissionStatus.assigned.value]):
        order = await repo.order(mission.order_id)
        if categories is None or (order is not None and order.category in categories):
            await cancel_mission_step(uow, repo, mission, now, reason, action="drop", is_redispatched=True)


async def withdraw_off_duty_offers(
    uow: UnitOfWork, repo: MatchingRepository, provider: Provider, now: datetime
) -> int:
    """Withdraw the live offers of a provider now off duty; return how many.

    Neither a decline nor a lapse: the provider is not left out of the order, which
    goes back to the pool for the next batch. An offer whose mission lies inside
    the provider's weekly schedule stays: they are still a candidate for that slot
    (offers for later slots are made on the schedule, on duty or not). Missions
    already accepted are commitments and are not touched.
    """
    count = 0
    for offer in await repo.live_offers(provider.provider_id):
        order = await repo.order(offer.order_id)
        duration = order.duration_min if order is not None else 0
        if not is_off_duty_for(provider, offer, duration):
            continue
        count += await withdraw_offer(uow, repo, offer, now, OFF_DUTY, to_pool=True)
    return count


def is_off_duty_for(provider: Provider, offer: Offer, duration_min: int) -> bool:
    """Say whether an off-duty provider's offer lies outside their weekly schedule (not theirs to keep)."""
    if provider.is_on_duty:
        return False
    return not is_scheduled(provider.weekly_schedule, as_utc(offer.scheduled_start), duration_min)


def why_cannot_accept(provider: Provider | None, offer: Offer, order: Order) -> str | None:
    """Return why a provider may no longer take an offer (matching's read model), or None.

    The same rules that withdraw offers when a provider event arrives: an offer made
    by a batch that read the provider before the event can still be live.
    """
    if provider is None or provider.status != "active":
        status = provider.status if provider is not None else "unknown"
        return f"provider {status}"
    if order.category not in provider.categories:
        return f"provider no longer qualified for {order.category}"
    if is_off_duty_for(provider, offer, order.duration_min):
        return OFF_DUTY
    return None


def make_offer(
    uow: UnitOfWork,
    repo: MatchingRepository,
    order: Order,
    provider_id: str,
    *,
    now: datetime,
    ttl_s: int,
    start_at: datetime,
    travel_min: float,
    supplement_cents: int,
    batch_id: str,
) -> Offer:
    """Stage a new pending offer and its event; the unique indexes refuse a second live one."""
    offer = Offer(
        id=new_id(),
        order_id=order.order_id,
        provider_id=provider_id,
        status=OfferStatus.pending.value,
        zone=order.zone,
        created_at=now,
        expires_at=offer_expiry(now, ttl_s, order.dispatch_deadline),
        scheduled_start=start_at,
        travel_min=round(travel_min, 2),
        travel_supplement_cents=supplement_cents,
        batch_id=batch_id,
    )
    repo.add(offer)
    order.status = OrderState.offered.value
    uow.add_event(
        MissionOffered(
            order_id=order.order_id,
            offer_id=offer.id,
            provider_id=provider_id,
            expires_at=offer.expires_at,
            district=order.district,
            window_start=order.window_start,
            duration_min=order.duration_min,
            payout_cents=order.payout_cents,
            travel_supplement_cents=supplement_cents,
            travel_min=offer.travel_min,
            scheduled_start=start_at,
            category=order.category,
        )
    )
    return offer


def record_decision(
    repo: MatchingRepository,
    order_id: str,
    *,
    batch_id: str,
    now: datetime,
    provider_id: str | None,
    summary: str,
    details: dict[str, object],
) -> None:
    """Keep what was decided for an order and why."""
    repo.add(
        Decision(
            id=f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}",  # sorts in the order made
            order_id=order_id,
            batch_id=batch_id,
            decided_at=now,
            provider_id=provider_id,
            summary=summary,
            details=details,
        )
    )


def is_dispatchable(provider: Provider | None, category: str) -> bool:
    """Say whether a provider may receive offers for a category now."""
    return provider is not None and provider.status == "active" and category in provider.categories
