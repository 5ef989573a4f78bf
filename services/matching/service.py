"""Use cases of offers and missions: load, decide (domain), persist, stage events, commit once."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError

from services.matching import planner
from services.matching.config import MatchingSettings
from services.matching.domain import (
    MissionStatus,
    OfferStatus,
    OrderState,
    fits_window,
    is_booked_later,
    is_peak,
    latest_start,
    move_mission,
    move_offer,
    overlaps,
    start_code_matches,
    worked_minutes,
)
from services.matching.errors import (
    MissionNotFound,
    OfferNotFound,
    ProviderNotFound,
    ProviderUnavailable,
    WrongStartCode,
)
from services.matching.lifecycle import (
    cancel_mission_step,
    decline_offer_step,
    expire_offer,
    is_dispatchable,
    make_offer,
    record_decision,
    why_cannot_accept,
    withdraw_offer,
)
from services.matching.models import AuditEntry, Mission, Offer, Order
from services.matching.repository import MatchingRepository
from shared.auth import Principal
from shared.db import Database, UnitOfWork
from shared.errors import Conflict, IllegalTransition, Invalid
from shared.events.matching import (
    MissionAccepted,
    MissionAssigned,
    MissionCompleted,
    MissionStarted,
)
from shared.ids import new_id


class MatchingService:
    """The provider's and ops' use cases on offers and missions."""

    def __init__(self, database: Database, settings: MatchingSettings, clock: Callable[[], datetime]) -> None:
        self.database = database
        self.settings = settings
        self.clock = clock

    # offers
    async def _own_offer(self, repo: MatchingRepository, offer_id: str, provider_id: str) -> Offer:
        offer = await repo.offer(offer_id)
        if offer is None or offer.provider_id != provider_id:
            raise OfferNotFound(offer_id)
        return offer

    async def _lapse_if_late(
        self, uow: UnitOfWork, repo: MatchingRepository, offer: Offer, now: datetime
    ) -> None:
        """An answer after the deadline finds the offer expired: record the lapse, then refuse."""
        if offer.status == OfferStatus.pending.value and offer.expires_at <= now:
            await expire_offer(uow, repo, offer, now)
            await uow.commit()
            raise IllegalTransition("offer", OfferStatus.expired.value, "answer")

    async def accept_offer(
        self, offer_id: str, provider_id: str, start_at: datetime | None = None
    ) -> Mission:
        """Accept an offer: it becomes a mission, pinned to this provider."""
        mission, _ = await self.accept_offer_with_order(offer_id, provider_id, start_at)
        return mission

    async def accept_offer_with_order(
        self, offer_id: str, provider_id: str, start_at: datetime | None = None
    ) -> tuple[Mission, Order]:
        """Accept an offer; return the mission and its order as committed (no second read)."""
        now = self.clock()
        async with self.database.unit_of_work() as uow:
            repo = MatchingRepository(uow.session)
            offer = await self._own_offer(repo, offer_id, provider_id)
            move_offer(offer.status, "accept")
            # Locked before the order, as the provider events' handlers do: a suspension or
            # going off duty either waits for this accept or is seen by it.
            provider = await repo.provider(provider_id, for_update=True)
            await self._lapse_if_late(uow, repo, offer, now)
            order = await repo.order(offer.order_id, for_update=True)
            if order is None or order.status != OrderState.offered.value:
                raise Conflict("the order is no longer open")
            refusal = why_cannot_accept(provider, offer, order)
            if refusal is not None:
                # Withdrawn as the event's handler would have: the order goes back to the pool.
                await withdraw_offer(uow, repo, offer, now, refusal, to_pool=True)
                await uow.commit()
                raise ProviderUnavailable(
                    f"you cannot take this offer any more ({refusal}); it has been withdrawn"
                )
            start = start_at or offer.scheduled_start
            if start_at is not None:
                await self._check_slot(repo, order, provider_id, start_at, now)
            if not await repo.move_offer(offer.id, OfferStatus.pending, OfferStatus.accepted, now):
                await uow.session.refresh(offer)
                raise IllegalTransition("offer", offer.status, "accept")
            mission = Mission(
                id=new_id(),
                order_id=order.order_id,
                provider_id=provider_id,
                offer_id=offer.id,
                status=MissionStatus.assigned.value,
                scheduled_start=start,
                duration_min=order.duration_min,
                travel_min=offer.travel_min,
                travel_supplement_cents=offer.travel_supplement_cents,
                created_at=now,
                reason="",
            )
            repo.add(mission)
            order.status = OrderState.assigned.value
            uow.add_event(
                MissionAccepted(
                    order_id=order.order_id,
                    offer_id=offer.id,
                    provider_id=provider_id,
                    scheduled_start=start,
                )
            )
            uow.add_event(
                MissionAssigned(
                    order_id=order.order_id,
                    mission_id=mission.id,
                    provider_id=provider_id,
                    provider_first_name=provider.first_name if provider else "",
                    provider_rating=provider.rating_average if provider else None,
                    provider_photo_ref=provider.photo_ref if provider else None,
                    scheduled_start=start,
                    travel_supplement_cents=offer.travel_supplement_cents,
                )
            )
            try:
                await uow.session.flush()
            except IntegrityError as exc:  # another mission holds this order already
                raise Conflict("the order already has a provider") from exc
            await uow.commit()
            return mission, order

    async def _check_slot(
        self, repo: MatchingRepository, order: Order, provider_id: str, start_at: datetime, now: datetime
    ) -> None:
        """Refuse a proposed slot outside the client's window or clashing with the provider's missions."""
        if not is_booked_later(order.window_start, now, self.settings.booked_later_after_min):
            raise Conflict("only an order booked for later can be moved to another slot")
        if not fits_window(start_at, order.duration_min, order.window_start, order.window_end):
            latest = latest_start(order.window_start, order.window_end, order.duration_min)
            raise Invalid(
                f"the {order.duration_min}-minute job must start and finish inside the client's window "
                f"{order.window_start.isoformat()} – {order.window_end.isoformat()}: "
                f"start between {order.window_start.isoformat()} and {latest.isoformat()}",
                field="start_at",
            )
        if start_at <= now:
            raise Invalid("the start must be in the future", field="start_at")
        await self._check_calendar(repo, order, provider_id, start_at, whose="your")

    async def _check_calendar(
        self, repo: MatchingRepository, order: Order, provider_id: str, start_at: datetime, *, whose: str
    ) -> None:
        """Refuse a start that clashes with the provider's missions, counting travel between them."""
        held = await repo.missions(provider_id, [MissionStatus.assigned.value, MissionStatus.started.value])
        places = await repo.orders_by_id([m.order_id for m in held])
        travel = planner.travel_model(self.settings)
        for mission in held:
            # Count the travel between the two places on top of each mission's own time.
            place = places.get(mission.order_id, order)
            gap = timedelta(minutes=travel.minutes(place.lat, place.lng, order.lat, order.lng, order.zone))
            mission_end = mission.scheduled_start + timedelta(minutes=mission.duration_min)
            end = start_at + timedelta(minutes=order.duration_min)
            if overlaps(start_at - gap, end + gap, mission.scheduled_start, mission_end):
                raise Conflict(
                    f"the slot overlaps {whose} mission {mission.id}, counting travel between them"
                )

    async def decline_offer(self, offer_id: str, provider_id: str, reason: str) -> Offer:
        """Decline an offer; never penalised, the order goes back to the pool without you."""
        now = self.clock()
        async with self.database.unit_of_work() as uow:
            repo = MatchingRepository(uow.session)
            offer = await self._own_offer(repo, offer_id, provider_id)
            move_offer(offer.status, "decline")
            await self._lapse_if_late(uow, repo, offer, now)
            if not await decline_offer_step(uow, repo, offer, now, reason):
                await uow.session.refresh(offer)
                raise IllegalTransition("offer", offer.status, "decline")
            await uow.commit()
            await uow.session.refresh(offer)
            return offer

    async def list_offers(self, provider_id: str, statuses: list[str]) -> list[tuple[Offer, Order | None]]:
        """Return a provider's offers with their orders."""
        async with self.database.unit_of_work() as uow:
            repo = MatchingRepository(uow.session)
            return await _with_orders(repo, await repo.offers_of(provider_id, statuses))

    async def get_offer(self, offer_id: str, provider_id: str) -> tuple[Offer, Order | None]:
        """Return one of the provider's offers."""
        async with self.database.unit_of_work() as uow:
            repo = MatchingRepository(uow.session)
            offer = await self._own_offer(repo, offer_id, provider_id)
            order = await repo.order(offer.order_id)
            repo.detach()
            return offer, order

    # missions
    async def _mission_for(self, repo: MatchingRepository, mission_id: str, principal: Principal) -> Mission:
        mission = await repo.mission(mission_id)
        if mission is None or (not principal.is_ops and mission.provider_id != principal.subject):
            raise MissionNotFound(mission_id)
        return mission

    async def get_mission(self, mission_id: str, principal: Principal) -> tuple[Mission, Order | None]:
        """Return a mission the caller may see."""
        async with self.database.unit_of_work() as uow:
            repo = MatchingRepository(uow.session)
            mission = await self._mission_for(repo, mission_id, principal)
            order = await repo.order(mission.order_id)
            repo.detach()
            return mission, order

    async def list_missions(
        self, provider_id: str | None, statuses: list[str] | None
    ) -> list[tuple[Mission, Order | None]]:
        """Return missions (a provider's own, or all for ops) with their orders."""
        async with self.database.unit_of_work() as uow:
            repo = MatchingRepository(uow.session)
            return await _with_orders(repo, await repo.missions(provider_id, statuses))

    async def start_mission(self, mission_id: str, provider_id: str, code: str) -> Mission:
        """Start a mission with the client's start code."""
        now = self.clock()
        async with self.database.unit_of_work() as uow:
            repo = MatchingRepository(uow.session)
            mission = await repo.mission(mission_id, for_update=True)
            if mission is None or mission.provider_id != provider_id:
                raise MissionNotFound(mission_id)
            target = move_mission(mission.status, "start")
            order = await repo.order(mission.order_id, for_update=True)
            if order is None or not start_code_matches(order.order_id, code, order.start_code_hash):
                raise WrongStartCode()
            if not await repo.move_mission(mission.id, mission.status, target, {"started_at": now}):
                await uow.session.refresh(mission)
                raise IllegalTransition("mission", mission.status, "start")
            order.status = OrderState.started.value
            uow.add_event(
                MissionStarted(
                    order_id=order.order_id, mission_id=mission.id, provider_id=provider_id, started_at=now
                )
            )
            await uow.commit()
            await uow.session.refresh(mission)
            return mission

    async def complete_mission(self, mission_id: str, provider_id: str) -> Mission:
        """Complete a started mission: pricing records the payout from the event."""
        now = self.clock()
        async with self.database.unit_of_work() as uow:
            repo = MatchingRepository(uow.session)
            mission = await repo.mission(mission_id, for_update=True)
            if mission is None or mission.provider_id != provider_id:
                raise MissionNotFound(mission_id)
            target = move_mission(mission.status, "complete")
            order = await repo.order(mission.order_id, for_update=True)
            if order is None or mission.started_at is None:
                raise Conflict("the mission has no order or start")
            if not await repo.move_mission(mission.id, mission.status, target, {"completed_at": now}):
                await uow.session.refresh(mission)
                raise IllegalTransition("mission", mission.status, "complete")
            order.status = OrderState.completed.value
            order.closed_at = now
            uow.add_event(
                MissionCompleted(
                    order_id=order.order_id,
                    mission_id=mission.id,
                    provider_id=provider_id,
                    client_id=order.client_id,
                    category=order.category,
                    zone=order.zone,
                    price_cents=order.price_cents,
                    payout_cents=order.payout_cents,
                    travel_supplement_cents=mission.travel_supplement_cents,
                    worked_min=worked_minutes(mission.started_at, now),
                    travel_min=mission.travel_min,
                    started_at=mission.started_at,
                    completed_at=now,
                    is_peak=is_peak(mission.started_at, self.settings.time_zone, self.settings.peak_hours),
                )
            )
            await uow.commit()
            await uow.session.refresh(mission)
            return mission

    async def drop_mission(self, mission_id: str, provider_id: str, reason: str) -> Mission:
        """Give back a mission not yet started: the order is dispatched again without you."""
        now = self.clock()
        async with self.database.unit_of_work() as uow:
            repo = MatchingRepository(uow.session)
            mission = await repo.mission(mission_id, for_update=True)
            if mission is None or mission.provider_id != provider_id:
                raise MissionNotFound(mission_id)
            await cancel_mission_step(
                uow,
                repo,
                mission,
                now,
                f"provider cancelled: {reason}".rstrip(": "),
                action="drop",
                is_redispatched=True,
            )
            await uow.commit()
            await uow.session.refresh(mission)
            return mission

    async def reassign_mission(
        self, mission_id: str, actor: str, reason: str, provider_id: str | None
    ) -> dict[str, Any]:
        """Ops: take a mission from its provider by hand (audited); offer it to another or re-pool it."""
        now = self.clock()
        async with self.database.unit_of_work() as uow:
            repo = MatchingRepository(uow.session)
            mission = await repo.mission(mission_id, for_update=True)
            if mission is None:
                raise MissionNotFound(mission_id)
            move_mission(mission.status, "reassign")
            order = await repo.order(mission.order_id, for_update=True)
            if order is None:
                raise MissionNotFound(mission_id)
            if provider_id is not None:
                target = await repo.provider(provider_id)
                if target is None:
                    raise ProviderNotFound(provider_id)
                if provider_id == mission.provider_id:
                    raise Invalid("choose a different provider", field="provider_id")
                if not is_dispatchable(target, order.category):
                    raise ProviderUnavailable(
                        f"provider {provider_id} is not active and qualified for {order.category}"
                    )
                if await repo.live_offers(provider_id):
                    raise ProviderUnavailable(f"provider {provider_id} already has a live offer")
                # By hand or not, a provider never holds two missions at once.
                await self._check_calendar(
                    repo, order, provider_id, mission.scheduled_start, whose=f"provider {provider_id}'s"
                )
            await cancel_mission_step(
                uow,
                repo,
                mission,
                now,
                f"reassigned by ops: {reason}",
                action="reassign",
                is_redispatched=True,
            )
            offer_id = None
            if provider_id is not None:
                offer = make_offer(
                    uow,
                    repo,
                    order,
                    provider_id,
                    now=now,
                    ttl_s=self.settings.offer_ttl_s,
                    start_at=mission.scheduled_start,
                    travel_min=0.0,
                    supplement_cents=mission.travel_supplement_cents,
                    batch_id="ops",
                )
                offer_id = offer.id
                record_decision(
                    repo,
                    order.order_id,
                    batch_id="ops",
                    now=now,
                    provider_id=provider_id,
                    summary=f"Reassigned by hand by {actor}: {reason}.",
                    details={
                        "outcome": "reassigned",
                        "actor": actor,
                        "reason": reason,
                        "from_provider_id": mission.provider_id,
                    },
                )
            repo.add(
                AuditEntry(
                    at=now,
                    actor=actor,
                    action="mission.reassign",
                    subject_id=mission.id,
                    reason=reason,
                    details={
                        "order_id": order.order_id,
                        "from_provider_id": mission.provider_id,
                        "to_provider_id": provider_id,
                        "offer_id": offer_id,
                    },
                )
            )
            try:
                await uow.session.flush()
            except IntegrityError as exc:
                raise ProviderUnavailable("the provider was just given another offer") from exc
            await uow.commit()
            return {
                "mission_id": mission.id,
                "status": MissionStatus.cancelled.value,
                "order_id": order.order_id,
                "offer_id": offer_id,
                "to_provider_id": provider_id,
            }


R = TypeVar("R", Offer, Mission)


async def _with_orders(repo: MatchingRepository, rows: Sequence[R]) -> list[tuple[R, Order | None]]:
    """Pair offers or missions with their orders (one query), detached for the views."""
    orders = await repo.orders_by_id([row.order_id for row in rows])
    repo.detach()
    return [(row, orders.get(row.order_id)) for row in rows]
