"""Recurring bookings: occurrences become orders ahead of time; skip one; end the series.

An occurrence keeps the terms locked by the first quote (price, payout, grid version):
the client booked a series at that price. The preferred provider of an occurrence is
the last provider assigned in the series.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import structlog

from services.orders import domain
from services.orders.domain import Frequency, OrderStatus, SeriesStatus
from services.orders.errors import SeriesNotFound
from services.orders.models import OrderHistory, Series
from services.orders.repository import OrdersRepository
from services.orders.schemas import SeriesRead
from services.orders.service import OrdersUseCases, confirmed_event
from shared.auth import Principal
from shared.errors import IllegalTransition, Invalid
from shared.ids import new_id

log = structlog.get_logger(__name__)


class SeriesService(OrdersUseCases):
    """Use cases of recurring series."""

    def _read(self, series: Series) -> dict[str, Any]:
        frequency = Frequency(series.frequency)
        upcoming: list[datetime] = []
        if series.status == SeriesStatus.active.value:
            index = series.next_index
            while len(upcoming) < 4:
                if index not in series.skipped:
                    upcoming.append(domain.occurrence_start(series.first_start, frequency, index))
                index += 1
        return SeriesRead(
            id=series.id, client_id=series.client_id, frequency=series.frequency, status=series.status,
            first_start=series.first_start, next_index=series.next_index, skipped=list(series.skipped),
            preferred_provider_id=series.last_provider_id, upcoming=upcoming,
        ).model_dump(mode="json")

    async def _visible(self, repo: OrdersRepository, principal: Principal, series_id: str,
                       *, lock: bool = False) -> Series:
        series = await repo.get_series(series_id, lock=lock)
        if series is None or (not principal.is_ops and series.client_id != principal.subject):
            raise SeriesNotFound(series_id)
        return series

    async def get_series(self, principal: Principal, series_id: str) -> dict[str, Any]:
        """Return a series with its next occurrences."""
        async with self.database.unit_of_work() as uow:
            return self._read(await self._visible(OrdersRepository(uow.session), principal, series_id))

    async def list_series(self, principal: Principal) -> list[dict[str, Any]]:
        """List the client's series (ops: all)."""
        async with self.database.unit_of_work() as uow:
            rows = await OrdersRepository(uow.session).list_series(
                None if principal.is_ops else principal.subject
            )
            return [self._read(s) for s in rows]

    async def skip_occurrence(self, principal: Principal, series_id: str, day: date) -> dict[str, Any]:
        """Skip the occurrence of `day`: cancel its order if already made (policy fee), else never make it."""
        now = self.clock()
        async with self.database.unit_of_work() as uow:
            repo = OrdersRepository(uow.session)
            series = await self._visible(repo, principal, series_id, lock=True)
            if series.status != SeriesStatus.active.value:
                raise IllegalTransition("series", series.status, "skip an occurrence of")
            frequency = Frequency(series.frequency)
            start = datetime.combine(day, series.first_start.astimezone(domain.PARIS).timetz())
            index = domain.occurrence_index_of(series.first_start, frequency, start)
            if index is None:
                raise Invalid("this series has no occurrence on that date", field="day")
            if domain.occurrence_start(series.first_start, frequency, index) <= now:
                raise Invalid("that occurrence is already past", field="day")
            if index in series.skipped:
                raise Invalid("that occurrence is already skipped", field="day")
            order = await repo.occurrence(series_id, index)
            # An order already cancelled (the client cancelled it directly) or given up has
            # nothing left to cancel: the skip is simply recorded. Any other state goes through
            # the cancellation, whose refusal (409) names the state.
            if order is not None and OrderStatus(order.status) not in (
                OrderStatus.cancelled, OrderStatus.unfulfilled
            ):
                await self.orders.cancel_in(uow, order, by=principal, reason="occurrence skipped",
                                            waive_fee=False, now=now)
            series.skipped = [*series.skipped, index]
            await uow.commit()
            return self._read(series)

    async def end_series(self, principal: Principal, series_id: str) -> dict[str, Any]:
        """End a series: no occurrence is made any more (orders already made stay, cancellable)."""
        async with self.database.unit_of_work() as uow:
            series = await self._visible(OrdersRepository(uow.session), principal, series_id, lock=True)
            if series.status != SeriesStatus.active.value:
                raise IllegalTransition("series", series.status, "end")
            series.status = SeriesStatus.ended.value
            series.ended_at = self.clock()
            await uow.commit()
            return self._read(series)

    def _deadline_after_start(self, series: Series) -> timedelta:
        """Return the dispatch deadline of the series' occurrences relative to their start."""
        start = series.first_start
        window_end = start + timedelta(minutes=series.window_length_min)
        duration = int(series.template["terms"]["duration_min"])
        return self.orders.dispatch_deadline(window_end, duration) - start

    async def generate_due_occurrences(self) -> int:
        """Make the orders of occurrences starting within the horizon (periodic job); return how many."""
        now = self.clock()
        horizon = timedelta(days=self.settings.series_horizon_days)
        async with self.database.unit_of_work() as uow:
            ids = await OrdersRepository(uow.session).active_series_ids()
        made = 0
        for series_id in ids:
            async with self.database.unit_of_work() as uow:
                repo = OrdersRepository(uow.session)
                series = await repo.get_series(series_id, lock=True)
                if series is None or series.status != SeriesStatus.active.value:
                    continue
                plan = domain.plan_occurrences(
                    series.first_start, Frequency(series.frequency), series.next_index, now, horizon,
                    deadline_after_start=self._deadline_after_start(series),
                )
                for index, start in plan.too_late:
                    if index not in series.skipped:
                        log.warning(
                            "series_occurrence_passed_over", series_id=series.id, index=index,
                            start=start.isoformat(),
                            reason="its dispatch deadline has already passed: no provider could be found",
                        )
                for index, start in plan.to_make:
                    if index in series.skipped:
                        continue
                    order = self.orders.new_order(
                        order_id=new_id(),
                        client_id=series.client_id,
                        quote={**series.template["quote"], "series_occurrence": index},
                        terms=dict(series.template["terms"]),
                        window_start=start,
                        window_end=start + timedelta(minutes=series.window_length_min),
                        now=now,
                        series_id=series.id,
                        occurrence_index=index,
                        preferred_provider_id=series.last_provider_id,
                    )
                    uow.session.add(order)
                    uow.session.add(OrderHistory(
                        order_id=order.id, client_id=order.client_id, from_status=None,
                        to_status=order.status, at=now, actor="series",
                        reason=f"occurrence {index} of series {series.id}", notify_state="pending",
                        notify_attempts=0, notify_after=now,
                    ))
                    uow.add_event(confirmed_event(order))
                    made += 1
                series.next_index = max(series.next_index, plan.next_index)
                await uow.commit()
        if made:
            log.info("series_occurrences_made", count=made)
        return made
