"""Use cases of orders: confirm, read, cancel, follow matching's events, settings of clients and ops.

Each use case: load -> decide (domain) -> persist -> outbox -> one commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy import Insert, delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError

from services.orders import domain
from services.orders.config import OrdersSettings
from services.orders.domain import OrderAction, OrderStatus
from services.orders.errors import OrderNotFound, QuoteNotFound
from services.orders.idempotency import Answer, record, replay, request_hash
from services.orders.intake import PostgresIntake, is_unique_violation
from services.orders.models import (
    CancellationPolicyRow,
    ClientWebhook,
    IdempotencyKey,
    Order,
    OrderHistory,
    Series,
)
from services.orders.notifications import Notification, check_webhook_url
from services.orders.pricing import PricingGateway, Quote, is_expired
from services.orders.repository import OrdersRepository
from services.orders.schemas import (
    CancellationPolicyIn,
    CancellationPolicyRead,
    HistoryEntry,
    OrderCancel,
    OrderCreate,
    TierIn,
)
from services.orders.views import dump, history_entry, order_read, provider_order_read
from shared.auth import Principal, Role
from shared.db import Database, UnitOfWork
from shared.errors import Conflict, DomainError, Forbidden, Gone, Invalid
from shared.events.orders import OrderCancelled, OrderConfirmed
from shared.ids import new_id

log = structlog.get_logger(__name__)

Clock = Callable[[], datetime]



def record_transition(
    uow: UnitOfWork,
    order: Order,
    to: OrderStatus,
    *,
    now: datetime,
    actor: str,
    reason: str = "",
) -> OrderHistory:
    """Move the order to `to` and write the history row the client will be notified of."""
    entry = OrderHistory(
        order_id=order.id,
        client_id=order.client_id,
        from_status=order.status,
        to_status=to.value,
        at=now,
        actor=actor,
        reason=reason,
        notify_state="pending",
        notify_attempts=0,
        notify_after=now,
    )
    order.status = to.value
    order.updated_at = now
    uow.session.add(entry)
    return entry


def confirmed_event(order: Order) -> OrderConfirmed:
    return OrderConfirmed(
        order_id=order.id,
        client_id=order.client_id,
        category=order.category,
        zone=order.zone,
        postcode=order.postcode,
        district=order.city,
        lat=order.lat,
        lng=order.lng,
        address=f"{order.street}, {order.postcode} {order.city}",
        access_notes=order.access_notes,
        window_start=order.window_start,
        window_end=order.window_end,
        duration_min=order.duration_min,
        dispatch_deadline=order.dispatch_deadline,
        price_cents=order.price_cents,
        payout_cents=order.payout_cents,
        quote_id=order.quote_id,
        grid_version=order.grid_version,
        start_code_hash=order.start_code_hash,
        preferred_provider_id=order.preferred_provider_id,
        series_id=order.series_id,
    )


class OrdersService:
    """The order intake and lifecycle use cases."""

    def __init__(
        self, database: Database, settings: OrdersSettings, pricing: PricingGateway, clock: Clock
    ) -> None:
        self.database = database
        self.settings = settings
        self.pricing = pricing
        self.clock = clock
        self.intake: PostgresIntake | None = None  # set when running on PostgreSQL
        # Sends a notification at once, for a client without a webhook (set with `intake`).
        self.notify_now: Callable[[Notification], Awaitable[None]] | None = None
        self._wake_pending = False

    # ------------------------------------------------------------ confirm

    def check_quote(self, quote: Quote, body: OrderCreate, principal: Principal, now: datetime) -> None:
        """Refuse a foreign or expired quote, and an address or window that is not the quoted one."""
        if quote.client_id is not None and quote.client_id != principal.subject:
            raise QuoteNotFound(body.quote_id)  # another client's quote: as if it did not exist
        if is_expired(quote, now):
            raise Gone(
                f"quote {quote.id} expired at {quote.expires_at.isoformat()}; ask for a new quote",
                field="quote_id",
            )
        if body.address.postcode != quote.postcode:
            raise Invalid(
                f"the quote was made for postcode {quote.postcode}", field="address.postcode"
            )
        if quote.lat is not None and quote.lng is not None:
            self._check_distance(body, quote.lat, quote.lng)
        domain.check_window(
            body.window.start,
            body.window.end,
            quote.duration_min,
            now,
            timedelta(minutes=self.settings.max_window_slack_min),
        )
        latest_start = body.window.end - timedelta(minutes=quote.duration_min)
        if not body.window.start <= quote.start_at <= latest_start:
            raise Invalid(
                f"the quoted start {quote.start_at.isoformat()} does not fit in this window",
                field="window.start",
            )
        if self.dispatch_deadline(body.window.end, quote.duration_min) <= now:
            raise Invalid("the window starts too soon for a provider to be found", field="window.start")

    def _check_distance(self, body: OrderCreate, lat: float, lng: float) -> None:
        away = domain.distance_km(body.address.lat, body.address.lng, lat, lng)
        if away > self.settings.address_tolerance_km:
            raise Invalid(f"the address is {away:.1f} km from the quoted place", field="address.lat")

    def dispatch_deadline(self, window_end: datetime, duration_min: int) -> datetime:
        """Return when matching gives up: the latest start minus the configured margin."""
        latest_start = window_end - timedelta(minutes=duration_min)
        return latest_start - timedelta(minutes=self.settings.dispatch_margin_min)

    def new_order(self, **kwargs: Any) -> Order:
        """Build a confirmed order (an ORM row) with a fresh start code from locked terms."""
        return Order(**self.new_order_values(**kwargs))

    def new_order_values(
        self,
        *,
        order_id: str,
        client_id: str,
        quote: dict[str, Any],
        terms: dict[str, Any],
        window_start: datetime,
        window_end: datetime,
        now: datetime,
        series_id: str | None = None,
        occurrence_index: int = 0,
        preferred_provider_id: str | None = None,
    ) -> dict[str, Any]:
        """Return the columns of a confirmed order with a fresh start code from locked terms."""
        code = domain.make_start_code()
        return dict(
            id=order_id,
            client_id=client_id,
            status=OrderStatus.confirmed.value,
            window_start=window_start,
            window_end=window_end,
            dispatch_deadline=self.dispatch_deadline(window_end, terms["duration_min"]),
            quote=quote,
            start_code=code,
            start_code_hash=domain.start_code_hash(order_id, code),
            series_id=series_id,
            occurrence_index=occurrence_index,
            preferred_provider_id=preferred_provider_id,
            fee_cents=0,
            provider_share_cents=0,
            created_at=now,
            updated_at=now,
            **terms,
        )

    async def confirm_order(
        self, principal: Principal, body: OrderCreate, idempotency_key: str
    ) -> Answer:
        """Confirm an order from a quote; a replayed key returns the first answer."""
        endpoint = "confirm_order"
        fingerprint = request_hash(endpoint, body.model_dump(mode="json"))
        # The stored answer of a replayed key is looked up only when this attempt cannot go
        # through (a refusal, pricing down, or the key's row already there at insert): a replay
        # still gets the first answer, and a first request saves a round trip.
        try:
            # Pricing is asked outside any transaction: no connection is held while we wait for it.
            quote = await self.pricing.fetch_quote(body.quote_id)
            now = self.clock()
            self.check_quote(quote, body, principal, now)
        except DomainError:
            stored = await self.stored_answer(principal.subject, idempotency_key)
            if stored is not None:
                return replay(stored, endpoint, fingerprint)
            raise
        terms = {
            "category": quote.category,
            "zone": quote.zone,
            "street": body.address.street,
            "postcode": body.address.postcode,
            "city": body.address.city,
            "lat": body.address.lat,
            "lng": body.address.lng,
            "access_notes": body.access_notes,
            "duration_min": quote.duration_min,
            "price_cents": quote.price_cents,
            "payout_cents": quote.payout_cents,
            "commission_cents": quote.commission_cents,
            "quote_id": quote.id,
            "grid_version": quote.grid_version,
        }
        order_id = new_id()
        series_id = new_id() if body.recurrence else None
        values = self.new_order_values(
            order_id=order_id,
            client_id=principal.subject,
            quote=quote.raw,
            terms=terms,
            window_start=body.window.start,
            window_end=body.window.end,
            now=now,
            series_id=series_id,
        )
        entry_values = dict(
            order_id=order_id,
            client_id=principal.subject,
            from_status=None,
            to_status=OrderStatus.confirmed.value,
            at=now,
            actor=principal.subject,
            reason="order confirmed",
            notify_state="pending",
            notify_attempts=0,
            notify_after=now,
        )
        if self.intake is not None and body.recurrence is None:
            return await self._confirm_on_postgres(
                self.intake, values, entry_values, principal, idempotency_key, endpoint, fingerprint, now
            )
        order = Order(**values)
        entry = OrderHistory(**entry_values)
        answer = Answer(201, dump(order_read(order, [entry])))
        async with self.database.unit_of_work() as uow:
            uow.session.add(order)
            uow.session.add(entry)
            if body.recurrence is not None and series_id is not None:
                uow.session.add(
                    Series(
                        id=series_id,
                        client_id=principal.subject,
                        frequency=body.recurrence.frequency.value,
                        status=domain.SeriesStatus.active.value,
                        first_start=body.window.start,
                        window_length_min=int(
                            (body.window.end - body.window.start).total_seconds() // 60
                        ),
                        template={"terms": terms, "quote": quote.raw},
                        next_index=1,
                        skipped=[],
                        created_at=now,
                    )
                )
            uow.session.add(
                record(principal.subject, idempotency_key, endpoint, fingerprint, answer, now)
            )
            uow.add_event(confirmed_event(order))
            try:
                await uow.commit()
            except IntegrityError:
                await uow.rollback()
                return await self._after_conflict(principal, idempotency_key, endpoint, fingerprint)
        return answer

    async def _confirm_on_postgres(
        self,
        intake: PostgresIntake,
        values: dict[str, Any],
        entry_values: dict[str, Any],
        principal: Principal,
        key: str,
        endpoint: str,
        fingerprint: str,
        now: datetime,
    ) -> Answer:
        """The same writes as the ORM path, in one statement (see `intake`).

        Plain values rather than ORM instances: building the mapped objects cost more CPU
        than the database round trip on this path (profiled).
        """
        order = intake.order_row(values)
        entry = intake.history_row(entry_values)
        raw = order_read(order, [entry]).model_dump_json()
        idempotency = {"subject": principal.subject, "key": key, "endpoint": endpoint,
                       "request_hash": fingerprint, "status_code": 201, "created_at": now}
        try:
            to_send = await intake.insert(values, entry_values, idempotency, raw, confirmed_event(order))
        except Exception as exc:
            if not is_unique_violation(exc):
                raise
            return await self._after_conflict(principal, key, endpoint, fingerprint)
        if not to_send and self.notify_now is not None:
            await self.notify_now(Notification(
                order_id=entry.order_id, client_id=entry.client_id, from_status=None,
                to_status=entry.to_status, at=entry.at, reason=entry.reason,
            ))
        self._wake_soon()
        return Answer(201, {}, raw=raw)

    def _wake_soon(self) -> None:
        """Tell the relay and live streams about new rows, at most every 20 ms under load.

        One wake per order would make the outbox relay publish one event per pass; coalesced,
        it publishes what arrived in the meantime in one batch (20 ms later at most).
        """
        if self._wake_pending:
            return
        self._wake_pending = True

        def wake() -> None:
            self._wake_pending = False
            self.database.notify_committed()

        asyncio.get_running_loop().call_later(0.02, wake)

    async def stored_answer(self, subject: str, key: str) -> IdempotencyKey | None:
        """Return the stored first answer to `key` of `subject`, read in its own transaction."""
        if self.intake is not None:
            return await self.intake.stored_answer(subject, key)
        async with self.database.unit_of_work() as uow:
            row = await OrdersRepository(uow.session).get_idempotency(subject, key)
            if row is not None:
                uow.session.expunge(row)
            return row

    async def _after_conflict(
        self, principal: Principal, key: str, endpoint: str, fingerprint: str
    ) -> Answer:
        """A concurrent request won: replay its answer, or say the quote was already ordered."""
        stored = await self.stored_answer(principal.subject, key)
        if stored is not None:
            return replay(stored, endpoint, fingerprint)
        raise Conflict("this quote has already been ordered; ask for a new quote", field="quote_id")

    # ------------------------------------------------------------ read

    async def visible_order(self, repo: OrdersRepository, principal: Principal, order_id: str,
                            *, lock: bool = False) -> Order:
        """Return the order if the caller may see it; 404 otherwise (never reveal others' ids)."""
        order = await repo.get_order(order_id, lock=lock)
        if order is None:
            raise OrderNotFound(order_id)
        if principal.role is Role.client and order.client_id != principal.subject:
            raise OrderNotFound(order_id)
        if principal.role is Role.provider and order.provider_id != principal.subject:
            raise OrderNotFound(order_id)
        return order

    async def get_order(self, principal: Principal, order_id: str) -> dict[str, Any]:
        """Return the order as the caller may see it, with its history for clients and ops."""
        async with self.database.unit_of_work() as uow:
            repo = OrdersRepository(uow.session)
            order = await self.visible_order(repo, principal, order_id)
            if principal.role is Role.provider:
                return dump(provider_order_read(order))
            return dump(order_read(order, await repo.history(order_id)))

    async def list_orders(
        self, principal: Principal, status: OrderStatus | None, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        """List the caller's orders (ops: all)."""
        async with self.database.unit_of_work() as uow:
            repo = OrdersRepository(uow.session)
            orders = await repo.list_orders(
                client_id=principal.subject if principal.role is Role.client else None,
                provider_id=principal.subject if principal.role is Role.provider else None,
                status=status.value if status else None,
                limit=limit,
                offset=offset,
            )
            if principal.role is Role.provider:
                return [dump(provider_order_read(o)) for o in orders]
            return [dump(order_read(o, [])) for o in orders]

    async def history_after(self, order_id: str, after_id: int) -> list[tuple[int, HistoryEntry]]:
        """Return the order's status changes after history row `after_id` (for the live stream)."""
        async with self.database.unit_of_work() as uow:
            rows = await OrdersRepository(uow.session).history(order_id, after_id)
            return [(r.id, history_entry(r)) for r in rows]

    async def check_visible(self, principal: Principal, order_id: str) -> None:
        async with self.database.unit_of_work() as uow:
            await self.visible_order(OrdersRepository(uow.session), principal, order_id)

    # ------------------------------------------------------------ cancel

    async def current_policy(self, repo: OrdersRepository) -> tuple[domain.CancellationPolicy,
                                                                   CancellationPolicyRow | None]:
        row = await repo.get_policy()
        if row is None:
            tiers = tuple(
                domain.CancellationTier(t.min_hours_before, t.fee_percent)
                for t in self.settings.cancellation_tiers
            )
            return domain.CancellationPolicy(tiers, self.settings.provider_fee_share_percent), None
        tiers = tuple(
            domain.CancellationTier(float(t["min_hours_before"]), Decimal(str(t["fee_percent"])))
            for t in row.tiers
        )
        return domain.CancellationPolicy(tiers, Decimal(row.provider_share_percent)), row

    async def cancel_in(
        self,
        uow: UnitOfWork,
        order: Order,
        *,
        by: Principal,
        reason: str,
        waive_fee: bool,
        now: datetime,
    ) -> None:
        """Cancel `order` in the caller's transaction: fee by the policy, `order-cancelled` out."""
        domain.next_status(OrderStatus(order.status), OrderAction.cancel)
        policy, _ = await self.current_policy(OrdersRepository(uow.session))
        fee = domain.cancellation_fee(
            policy,
            price_cents=order.price_cents,
            start_at=order.window_start,
            now=now,
            has_provider=order.provider_id is not None,
            waive=waive_fee,
        )
        record_transition(uow, order, OrderStatus.cancelled, now=now, actor=by.subject, reason=reason)
        order.cancelled_by = by.role.value
        order.cancel_reason = reason
        order.fee_cents = fee.fee_cents
        order.provider_share_cents = fee.provider_share_cents
        order.provider_lat = order.provider_lng = None
        order.provider_position_at = None
        uow.add_event(
            OrderCancelled(
                order_id=order.id,
                cancelled_by=by.role.value,
                reason=reason,
                fee_cents=fee.fee_cents,
                provider_share_cents=fee.provider_share_cents,
                provider_id=order.provider_id,
            )
        )

    async def cancel_order(self, principal: Principal, order_id: str, body: OrderCancel) -> dict[str, Any]:
        """Cancel an order (client: their own; ops: any), with the fee the policy sets."""
        if body.waive_fee and not principal.is_ops:
            raise Forbidden("only ops may waive the cancellation fee")
        async with self.database.unit_of_work() as uow:
            repo = OrdersRepository(uow.session)
            order = await self.visible_order(repo, principal, order_id, lock=True)
            await self.cancel_in(
                uow, order, by=principal, reason=body.reason, waive_fee=body.waive_fee, now=self.clock()
            )
            await uow.commit()
            return dump(order_read(order, await repo.history(order_id)))

    async def get_policy(self) -> CancellationPolicyRead:
        """Return the cancellation policy in force."""
        async with self.database.unit_of_work() as uow:
            policy, row = await self.current_policy(OrdersRepository(uow.session))
            return CancellationPolicyRead(
                tiers=[TierIn(min_hours_before=t.min_hours_before, fee_percent=t.fee_percent)
                       for t in policy.tiers],
                provider_share_percent=policy.provider_share_percent,
                updated_by=row.updated_by if row else None,
                updated_at=row.updated_at if row else None,
            )

    async def set_policy(self, principal: Principal, body: CancellationPolicyIn) -> CancellationPolicyRead:
        """Replace the cancellation policy (ops), after checking it."""
        domain.CancellationPolicy(
            tuple(domain.CancellationTier(t.min_hours_before, t.fee_percent) for t in body.tiers),
            body.provider_share_percent,
        )
        tiers = [t.model_dump(mode="json") for t in body.tiers]
        async with self.database.unit_of_work() as uow:
            await uow.session.execute(self._upsert(CancellationPolicyRow, {
                "id": "current", "tiers": tiers, "provider_share_percent": body.provider_share_percent,
                "updated_by": principal.subject, "updated_at": self.clock(), "reason": body.reason,
            }))
            log.info("cancellation_policy_set", by=principal.subject, reason=body.reason, tiers=tiers)
            await uow.commit()
        return await self.get_policy()

    def _upsert(self, model: type[CancellationPolicyRow | ClientWebhook],
                values: dict[str, Any]) -> Insert:
        """Insert the row, or overwrite the one with its primary key.

        One statement, so that two first writes at once both succeed (the last one wins)
        where an insert after a look-up would clash on the key.
        """
        insert = postgresql_insert if self.database.is_postgres else sqlite_insert
        statement = insert(model).values(**values)
        keys = [column.name for column in model.__table__.primary_key]
        return statement.on_conflict_do_update(
            index_elements=keys,
            set_={name: statement.excluded[name] for name in values if name not in keys},
        )

    # ------------------------------------------------------------ notification settings

    async def set_webhook(self, principal: Principal, url: str | None) -> str | None:
        """Set (or remove) the client's notification webhook."""
        if url is not None:
            check_webhook_url(url, allow_private=self.settings.webhook_allow_private_hosts)
        async with self.database.unit_of_work() as uow:
            if url is None:
                await uow.session.execute(
                    delete(ClientWebhook).where(ClientWebhook.client_id == principal.subject)
                )
            else:
                await uow.session.execute(self._upsert(ClientWebhook, {
                    "client_id": principal.subject, "url": url, "updated_at": self.clock(),
                }))
            await uow.commit()
        return url

    async def get_webhook(self, principal: Principal) -> str | None:
        async with self.database.unit_of_work() as uow:
            row = await OrdersRepository(uow.session).get_webhook(principal.subject)
            return row.url if row else None


class OrdersUseCases:
    """Use cases beside the order's own (ratings, disputes, series): they reuse its rules."""

    def __init__(self, orders: OrdersService, settings: OrdersSettings, clock: Clock) -> None:
        self.orders = orders
        self.database = orders.database
        self.settings = settings
        self.clock = clock
