"""Queries of the orders service; never commits (the use case's unit of work does)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from services.orders.domain import OrderStatus, ProviderVisit, is_position_shown
from services.orders.models import (
    CancellationPolicyRow,
    ClientWebhook,
    Dispute,
    DisputeAudit,
    IdempotencyKey,
    Order,
    OrderHistory,
    Rating,
    Series,
)

POSITION_RULE = "orders.position_rule"


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class PositionRule:
    """When a client may see their provider's position: the lead time, and the clock it runs on.

    Repositories are built from a bare session in every use case, so the component puts its
    rule in the sessions' `info` (key POSITION_RULE); without one, the default settings apply.
    """

    lead: timedelta = timedelta(minutes=90)
    clock: Callable[[], datetime] = field(default=_utc_now)


@dataclass(frozen=True)
class PendingNotification:
    """A history row still to send to the client."""

    id: int
    order_id: str
    client_id: str
    from_status: str | None
    to_status: str
    at: datetime
    reason: str
    attempts: int


class OrdersRepository:
    """All the SQL of the service, on one session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.is_postgres = session.bind.dialect.name == "postgresql" if session.bind else False

    def _locked(self, query: Select[Order]) -> Select[Order]:
        return query.with_for_update() if self.is_postgres else query

    # orders
    async def get_order(self, order_id: str, *, lock: bool = False) -> Order | None:
        """Return the order; read without a lock (to be shown), its provider's position only if due."""
        query = select(Order).where(Order.id == order_id)
        order = await self.session.scalar(self._locked(query) if lock else query)
        if order is not None and not lock:
            await self._hide_positions_not_due([order])
        return order

    async def get_orders(self, order_ids: list[str], *, lock: bool = False) -> dict[str, Order]:
        """Return the known orders among the ids; locked in id order (no deadlock between two runs)."""
        query = select(Order).where(Order.id.in_(order_ids)).order_by(Order.id)
        rows = await self.session.scalars(self._locked(query) if lock else query)
        return {order.id: order for order in rows}

    async def list_orders(
        self,
        *,
        client_id: str | None,
        provider_id: str | None,
        status: str | None,
        limit: int,
        offset: int,
    ) -> Sequence[Order]:
        """Return a page of orders to show, each provider's position only where it is due."""
        query = select(Order).order_by(Order.created_at.desc(), Order.id).limit(limit).offset(offset)
        if client_id is not None:
            query = query.where(Order.client_id == client_id)
        if provider_id is not None:
            query = query.where(Order.provider_id == provider_id)
        if status is not None:
            query = query.where(Order.status == status)
        orders = (await self.session.scalars(query)).all()
        await self._hide_positions_not_due(orders)
        return orders

    async def _hide_positions_not_due(self, orders: Sequence[Order]) -> None:
        """Blank, in these loaded rows only, a stored position its client may not see now.

        Checked when read rather than only when written: a position stored earlier (by an older
        version, or before another of the provider's orders started) must not show either.
        The blanking is not a change of the row: nothing is written back at commit.
        """
        carrying = [
            o for o in orders
            if o.provider_position_at is not None and o.provider_id is not None
            and o.status == OrderStatus.assigned.value
        ]
        if not carrying:
            return
        rule = self.session.info.get(POSITION_RULE) or PositionRule()
        visits = await self.provider_visits({o.provider_id for o in carrying if o.provider_id})
        now = rule.clock()
        for order in carrying:
            provider_id, recorded_at = order.provider_id, order.provider_position_at
            assert provider_id is not None and recorded_at is not None
            if not is_position_shown(order.id, recorded_at, visits[provider_id], now=now, lead=rule.lead):
                for column in ("provider_lat", "provider_lng", "provider_position_at"):
                    set_committed_value(order, column, None)

    async def provider_visits(self, provider_ids: set[str]) -> dict[str, list[ProviderVisit]]:
        """Return each provider's orders assigned or in progress (what the position rule needs)."""
        rows = await self.session.execute(
            select(Order.provider_id, Order.id, Order.status, Order.window_start).where(
                Order.provider_id.in_(provider_ids),
                Order.status.in_([OrderStatus.assigned.value, OrderStatus.in_progress.value]),
            )
        )
        visits: dict[str, list[ProviderVisit]] = {p: [] for p in provider_ids}
        for provider_id, order_id, status, window_start in rows:
            visits[str(provider_id)].append(ProviderVisit(order_id, OrderStatus(status), window_start))
        return visits

    async def stuck_confirmed_orders(self, deadline_before: datetime, limit: int) -> Sequence[Order]:
        """Return confirmed orders whose dispatch deadline is before `deadline_before`, locked.

        On PostgreSQL rows another process already holds are skipped (SKIP LOCKED): two orders
        processes sweeping at once share the work instead of giving up the same order twice.
        """
        query = (
            select(Order)
            .where(Order.status == OrderStatus.confirmed.value, Order.dispatch_deadline < deadline_before)
            .order_by(Order.dispatch_deadline, Order.id)
            .limit(limit)
        )
        if self.is_postgres:
            query = query.with_for_update(skip_locked=True)
        return (await self.session.scalars(query)).all()

    async def history(self, order_id: str, after_id: int = 0) -> Sequence[OrderHistory]:
        query = (
            select(OrderHistory)
            .where(OrderHistory.order_id == order_id, OrderHistory.id > after_id)
            .order_by(OrderHistory.id)
        )
        return (await self.session.scalars(query)).all()

    async def set_provider_position(self, order_id: str, lat: float, lng: float, at: datetime) -> bool:
        """Store the provider's position on the order they are on their way to, unless older."""
        result = await self.session.execute(
            update(Order)
            .where(Order.id == order_id, Order.status == OrderStatus.assigned.value)
            .where((Order.provider_position_at.is_(None)) | (Order.provider_position_at < at))
            .values(provider_lat=lat, provider_lng=lng, provider_position_at=at)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0))

    # idempotency
    async def get_idempotency(self, subject: str, key: str) -> IdempotencyKey | None:
        return await self.session.get(IdempotencyKey, (subject, key))

    # notifications (the history rows still to send)
    async def pending_notifications(self, now: datetime, limit: int) -> list[PendingNotification]:
        """Return the history rows due for sending, oldest first, as plain values (no ORM objects:
        this runs after nearly every order), locked against another dispatcher."""
        query = (
            select(
                OrderHistory.id, OrderHistory.order_id, OrderHistory.client_id, OrderHistory.from_status,
                OrderHistory.to_status, OrderHistory.at, OrderHistory.reason, OrderHistory.notify_attempts,
            )
            .where(OrderHistory.notify_state == "pending", OrderHistory.notify_after <= now)
            .order_by(OrderHistory.id)
            .limit(limit)
        )
        if self.is_postgres:
            query = query.with_for_update(skip_locked=True)
        return [PendingNotification(*row) for row in await self.session.execute(query)]

    async def mark_notified(self, ids: list[int]) -> None:
        """Mark history rows as sent, in one statement."""
        if ids:
            await self.session.execute(
                update(OrderHistory)
                .where(OrderHistory.id.in_(ids))
                .values(notify_state="sent", notify_error=None)
                .execution_options(synchronize_session=False)
            )

    async def record_notify_failure(
        self, row_id: int, attempts: int, error: str, *, abandoned: bool, retry_at: datetime | None
    ) -> None:
        """Count a failed attempt; abandon the row, or put it off until `retry_at`."""
        values: dict[str, object] = {"notify_attempts": attempts, "notify_error": error}
        if abandoned:
            values["notify_state"] = "failed"
        if retry_at is not None:
            values["notify_after"] = retry_at
        await self.session.execute(
            update(OrderHistory).where(OrderHistory.id == row_id).values(**values)
            .execution_options(synchronize_session=False)
        )

    async def put_off_notifications(self, row_ids: list[int], retry_at: datetime) -> None:
        """Let rows wait behind an earlier one of their order that failed (order is kept)."""
        if row_ids:
            await self.session.execute(
                update(OrderHistory).where(OrderHistory.id.in_(row_ids)).values(notify_after=retry_at)
                .execution_options(synchronize_session=False)
            )

    async def webhooks(self, client_ids: set[str]) -> dict[str, str]:
        if not client_ids:
            return {}
        rows = await self.session.scalars(
            select(ClientWebhook).where(ClientWebhook.client_id.in_(client_ids))
        )
        return {r.client_id: r.url for r in rows}

    async def get_webhook(self, client_id: str) -> ClientWebhook | None:
        return await self.session.get(ClientWebhook, client_id)

    # cancellation policy
    async def get_policy(self) -> CancellationPolicyRow | None:
        return await self.session.get(CancellationPolicyRow, "current")

    # ratings
    async def ratings_of(self, order_id: str) -> Sequence[Rating]:
        query = select(Rating).where(Rating.order_id == order_id).order_by(Rating.created_at)
        return (await self.session.scalars(query)).all()

    async def orders_with_closed_rating_window(self, now: datetime, limit: int) -> Sequence[str]:
        query = (
            select(Rating.order_id)
            .where(Rating.revealed_at.is_(None), Rating.closes_at <= now)
            .distinct()
            .limit(limit)
        )
        return (await self.session.scalars(query)).all()

    async def revealed_ratings(
        self,
        *,
        about_client: str | None,
        about_provider: str | None,
        limit: int,
        offset: int,
    ) -> Sequence[Rating]:
        query = (
            select(Rating)
            .where(Rating.revealed_at.is_not(None))
            .order_by(Rating.revealed_at.desc(), Rating.id)
            .limit(limit)
            .offset(offset)
        )
        if about_client is not None:
            query = query.where(Rating.client_id == about_client, Rating.rater_role == "provider")
        if about_provider is not None:
            query = query.where(Rating.provider_id == about_provider, Rating.rater_role == "client")
        return (await self.session.scalars(query)).all()

    # disputes
    async def get_dispute(self, dispute_id: str, *, lock: bool = False) -> Dispute | None:
        query = select(Dispute).where(Dispute.id == dispute_id)
        if lock and self.is_postgres:
            query = query.with_for_update()
        return await self.session.scalar(query)

    async def disputes_of_order(self, order_id: str) -> Sequence[Dispute]:
        return (await self.session.scalars(select(Dispute).where(Dispute.order_id == order_id))).all()

    async def list_disputes(
        self, *, client_id: str | None, status: str | None, limit: int, offset: int
    ) -> Sequence[Dispute]:
        query = select(Dispute).order_by(Dispute.opened_at.desc(), Dispute.id).limit(limit).offset(offset)
        if client_id is not None:
            query = query.where(Dispute.client_id == client_id)
        if status is not None:
            query = query.where(Dispute.status == status)
        return (await self.session.scalars(query)).all()

    async def audit_of(self, dispute_id: str) -> Sequence[DisputeAudit]:
        query = select(DisputeAudit).where(DisputeAudit.dispute_id == dispute_id).order_by(DisputeAudit.id)
        return (await self.session.scalars(query)).all()

    # series
    async def get_series(self, series_id: str, *, lock: bool = False) -> Series | None:
        query = select(Series).where(Series.id == series_id)
        if lock and self.is_postgres:
            query = query.with_for_update()
        return await self.session.scalar(query)

    async def list_series(self, client_id: str | None) -> Sequence[Series]:
        query = select(Series).order_by(Series.created_at.desc())
        if client_id is not None:
            query = query.where(Series.client_id == client_id)
        return (await self.session.scalars(query)).all()

    async def active_series_ids(self) -> Sequence[str]:
        return (await self.session.scalars(select(Series.id).where(Series.status == "active"))).all()

    async def occurrence(self, series_id: str, index: int) -> Order | None:
        query = select(Order).where(Order.series_id == series_id, Order.occurrence_index == index)
        return await self.session.scalar(self._locked(query))
