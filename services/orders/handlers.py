"""Handlers of the events orders consumes: matching's mission lifecycle and provider positions;
and the safety net for the one event that must not be missed, `order-unassignable`.

Each runs inside the inbox's transaction (shared.inbox.EventRouter): a redelivered event id
is skipped there; an event that no longer fits the order's state is ignored here (logged),
so a duplicate with a new id changes nothing either.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import structlog

from services.orders import domain
from services.orders.domain import OrderAction, OrderStatus
from services.orders.models import Order
from services.orders.repository import OrdersRepository
from services.orders.service import record_transition
from shared.db import Database, UnitOfWork
from shared.events.matching import (
    MissionAssigned,
    MissionCancelled,
    MissionCompleted,
    MissionStarted,
    OrderUnassignable,
)
from shared.events.orders import OrderUnfulfilled
from shared.events.providers import PositionUpdated

log = structlog.get_logger(__name__)

SAFETY_NET_REASON = "no provider found in time (orders' safety net)"


class EventHandlers:
    """Move orders along matching's mission lifecycle; keep positions of providers on the way."""

    def __init__(
        self, clock: Callable[[], datetime], position_lead: timedelta = timedelta(minutes=90)
    ) -> None:
        self.clock = clock
        self.position_lead = position_lead

    async def _order_for_event(self, uow: UnitOfWork, order_id: str, event: str) -> Order | None:
        order = await OrdersRepository(uow.session).get_order(order_id, lock=True)
        if order is None:
            log.warning("event_for_unknown_order", order_id=order_id, type=event)
        return order

    async def on_mission_assigned(self, uow: UnitOfWork, p: MissionAssigned, _: Any) -> None:
        """Assigned: show the provider's public profile and the start code to the client."""
        order = await self._order_for_event(uow, p.order_id, "mission-assigned")
        if order is not None:
            await self._assign(uow, order, p)

    async def on_missions_assigned(self, uow: UnitOfWork, run: list[tuple[MissionAssigned, Any]]) -> None:
        """A run of `mission-assigned` (a consumer batch): the orders read in one query."""
        orders = await OrdersRepository(uow.session).get_orders([p.order_id for p, _ in run], lock=True)
        for p, _ in run:
            order = orders.get(p.order_id)
            if order is None:
                log.warning("event_for_unknown_order", order_id=p.order_id, type="mission-assigned")
                continue
            await self._assign(uow, order, p)

    async def _assign(self, uow: UnitOfWork, order: Order, p: MissionAssigned) -> None:
        if not domain.can(OrderStatus(order.status), OrderAction.assign):
            log.info("mission_assigned_ignored", order_id=order.id, status=order.status)
            return
        now = self.clock()
        record_transition(
            uow, order, OrderStatus.assigned, now=now, actor="matching",
            reason=f"{p.provider_first_name} will do it",
        )
        order.provider_id = p.provider_id
        order.mission_id = p.mission_id
        order.provider_first_name = p.provider_first_name
        order.provider_rating = p.provider_rating
        order.provider_photo_ref = p.provider_photo_ref
        if order.series_id is not None:
            series = await OrdersRepository(uow.session).get_series(order.series_id, lock=True)
            if series is not None:
                series.last_provider_id = p.provider_id

    async def on_mission_started(self, uow: UnitOfWork, p: MissionStarted, _: Any) -> None:
        """Started: in progress; the provider's position is no longer shown nor kept."""
        order = await self._order_for_event(uow, p.order_id, "mission-started")
        if order is None:
            return
        if not domain.can(OrderStatus(order.status), OrderAction.start) or order.mission_id != p.mission_id:
            log.info("mission_started_ignored", order_id=order.id, status=order.status)
            return
        record_transition(uow, order, OrderStatus.in_progress, now=self.clock(), actor="matching",
                          reason="the provider has started")
        order.started_at = p.started_at
        order.provider_lat = order.provider_lng = None
        order.provider_position_at = None

    async def on_mission_completed(self, uow: UnitOfWork, p: MissionCompleted, _: Any) -> None:
        """Completed: the rating window opens."""
        order = await self._order_for_event(uow, p.order_id, "mission-completed")
        if order is None:
            return
        status = OrderStatus(order.status)
        if order.mission_id != p.mission_id or status not in (
            OrderStatus.assigned, OrderStatus.in_progress
        ):
            log.info("mission_completed_ignored", order_id=order.id, status=order.status)
            return
        now = self.clock()
        if status is OrderStatus.assigned:  # the start event was lost or is late: apply it first
            record_transition(uow, order, OrderStatus.in_progress, now=now, actor="matching",
                              reason="the provider has started")
            order.started_at = p.started_at
        record_transition(uow, order, OrderStatus.completed, now=now, actor="matching",
                          reason="the mission is completed")
        order.completed_at = p.completed_at
        order.provider_lat = order.provider_lng = None
        order.provider_position_at = None

    async def on_order_unassignable(self, uow: UnitOfWork, p: OrderUnassignable, _: Any) -> None:
        """Nobody could take it: unfulfilled, `order-unfulfilled` out, the client is told."""
        order = await self._order_for_event(uow, p.order_id, "order-unassignable")
        if order is not None:
            self.give_up_unassigned(uow, order, p.reason, actor="matching")

    def give_up_unassigned(self, uow: UnitOfWork, order: Order, reason: str, *, actor: str,
                           told: str | None = None) -> bool:
        """Give up a locked order still waiting for a provider; say whether it was.

        Anything but `confirmed` is left alone: the order was assigned or cancelled meanwhile,
        or matching and orders' own safety net both gave it up and the second one is late.
        """
        if OrderStatus(order.status) is not OrderStatus.confirmed:
            log.info("order_unassignable_ignored", order_id=order.id, status=order.status, actor=actor)
            return False
        self._give_up(uow, order, reason, actor=actor, told=told)
        return True

    def _give_up(self, uow: UnitOfWork, order: Order, reason: str, *, actor: str = "matching",
                 told: str | None = None) -> None:
        """Mark unfulfilled: history (`told` to the client), position dropped, `order-unfulfilled` out."""
        record_transition(uow, order, OrderStatus.unfulfilled, now=self.clock(), actor=actor,
                          reason=told or f"no provider could take it: {reason}")
        order.provider_lat = order.provider_lng = None
        order.provider_position_at = None
        uow.add_event(OrderUnfulfilled(order_id=order.id, client_id=order.client_id, reason=reason))

    async def on_mission_cancelled(self, uow: UnitOfWork, p: MissionCancelled, _: Any) -> None:
        """Matching cancelled the mission on the provider's side.

        Before the start the order goes back to `confirmed` (matching dispatches it again
        until its deadline); after the start it is `unfulfilled`. A cancellation that follows
        our own `order-cancelled` finds the order already cancelled and changes nothing.
        """
        order = await self._order_for_event(uow, p.order_id, "mission-cancelled")
        if order is None:
            return
        status = OrderStatus(order.status)
        if order.mission_id != p.mission_id or status.is_final:
            return
        if status is OrderStatus.assigned:
            record_transition(uow, order, OrderStatus.confirmed, now=self.clock(), actor="matching",
                              reason="the provider withdrew; we are finding another one")
            order.provider_id = order.mission_id = None
            order.provider_first_name = order.provider_photo_ref = None
            order.provider_rating = None
            order.provider_lat = order.provider_lng = None
            order.provider_position_at = None
        elif status is OrderStatus.in_progress:
            self._give_up(uow, order, f"the mission was cancelled after it started: {p.reason}")

    async def on_position_updated(self, uow: UnitOfWork, p: PositionUpdated, _: Any) -> None:
        """Keep the provider's last position only on the order they are on their way to now.

        Reads check the same rule again (repository), as the provider's orders move on.
        """
        repo = OrdersRepository(uow.session)
        visits = (await repo.provider_visits({p.provider_id}))[p.provider_id]
        now = self.clock()
        following = domain.order_following_provider(visits, now=now, lead=self.position_lead)
        if following is not None and domain.is_position_shown(
            following, p.recorded_at, visits, now=now, lead=self.position_lead
        ):
            await repo.set_provider_position(following, p.lat, p.lng, p.recorded_at)


class DispatchSafetyNet:
    """Give up orders still `confirmed` well past their dispatch deadline (periodic job).

    Matching gives up an order it cannot place with `order-unassignable`; if that event is
    lost or matching is down, the order would wait in `confirmed` forever and its client
    with it. The grace delay lets matching's own event win in the normal case.
    """

    def __init__(self, database: Database, handlers: EventHandlers, grace: timedelta,
                 clock: Callable[[], datetime], batch: int = 100) -> None:
        self.database = database
        self.handlers = handlers
        self.grace = grace
        self.clock = clock
        self.batch = batch

    async def give_up_stuck_orders(self) -> int:
        """Mark unfulfilled the confirmed orders past deadline + grace, one batch per transaction."""
        given_up = 0
        while True:
            async with self.database.unit_of_work() as uow:
                stuck = await OrdersRepository(uow.session).stuck_confirmed_orders(
                    self.clock() - self.grace, self.batch
                )
                in_batch = sum(
                    self.handlers.give_up_unassigned(
                        uow, order, SAFETY_NET_REASON, actor="orders", told=SAFETY_NET_REASON
                    )
                    for order in stuck
                )
                await uow.commit()
            given_up += in_batch
            if len(stuck) < self.batch or not in_batch:
                break
        if given_up:
            log.warning("stuck_orders_given_up", count=given_up, reason=SAFETY_NET_REASON)
        return given_up
