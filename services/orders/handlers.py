"""Handlers of the events orders consumes: matching's mission lifecycle and provider positions.

Each runs inside the inbox's transaction (shared.inbox.EventRouter): a redelivered event id
is skipped there; an event that no longer fits the order's state is ignored here (logged),
so a duplicate with a new id changes nothing either.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import structlog

from services.orders import domain
from services.orders.domain import OrderAction, OrderStatus
from services.orders.models import Order
from services.orders.repository import OrdersRepository
from services.orders.service import record_transition
from shared.db import UnitOfWork
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


class EventHandlers:
    """Move orders along matching's mission lifecycle; keep positions of providers on the way."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock

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
        if order is None:
            return
        if OrderStatus(order.status) is not OrderStatus.confirmed:
            log.info("order_unassignable_ignored", order_id=order.id, status=order.status)
            return
        self._give_up(uow, order, p.reason)

    def _give_up(self, uow: UnitOfWork, order: Order, reason: str) -> None:
        record_transition(uow, order, OrderStatus.unfulfilled, now=self.clock(), actor="matching",
                          reason=f"no provider could take it: {reason}")
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
        """Keep the provider's last position only on orders they are on their way to."""
        await OrdersRepository(uow.session).set_provider_position(
            p.provider_id, p.lat, p.lng, p.recorded_at
        )

