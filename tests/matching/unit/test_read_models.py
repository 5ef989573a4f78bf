"""Read models fed by providers and orders events: idempotent, order-tolerant."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from services.matching.models import DutyPeriod, Order, Provider
from services.matching.repository import MatchingRepository
from shared.bus.base import OutgoingMessage
from shared.events import to_envelope
from shared.events.providers import PositionUpdated, QualificationsChanged, ReputationChanged
from tests.matching.support import Harness, on_duty, order_confirmed, provider_activated, suspended


async def provider_row(h: Harness, provider_id: str) -> Provider | None:
    async with h.component.database.unit_of_work() as uow:
        repo = MatchingRepository(uow.session)
        row = await repo.provider(provider_id)
        repo.detach()
        return row


async def order_row(h: Harness, order_id: str) -> Order | None:
    async with h.component.database.unit_of_work() as uow:
        repo = MatchingRepository(uow.session)
        row = await repo.order(order_id)
        repo.detach()
        return row


class TestProviderReadModel:
    async def test_activation_then_changes_build_the_provider(self, h: Harness) -> None:
        await h.given(
            provider_activated("p1", categories=["cleaning", "gardening"]),
            on_duty("p1"),
            PositionUpdated(provider_id="p1", lat=48.9, lng=2.4, recorded_at=h.clock.now),
            ReputationChanged(provider_id="p1", rating_average=4.7, rating_count=12),
        )
        p = await provider_row(h, "p1")
        assert p is not None
        assert (p.status, p.first_name, p.is_on_duty) == ("active", "Name-p1", True)
        assert sorted(p.categories) == ["cleaning", "gardening"]
        assert (p.lat, p.lng, p.rating_average, p.rating_count) == (48.9, 2.4, 4.7, 12)

    async def test_an_older_position_does_not_overwrite_a_newer_one(self, h: Harness) -> None:
        await h.given(
            provider_activated("p1"),
            PositionUpdated(provider_id="p1", lat=48.9, lng=2.4, recorded_at=h.clock.now),
            PositionUpdated(
                provider_id="p1", lat=1.0, lng=1.0, recorded_at=h.clock.now - timedelta(minutes=5)
            ),
        )
        p = await provider_row(h, "p1")
        assert p is not None and (p.lat, p.lng) == (48.9, 2.4)

    async def test_suspension_and_lost_qualification_make_the_provider_undispatchable(
        self, h: Harness
    ) -> None:
        await h.given(provider_activated("p1"), provider_activated("p2"), suspended("p1"))
        await h.given(
            QualificationsChanged(provider_id="p2", status="active", categories=[], lapsed=["cleaning"])
        )
        p1, p2 = await provider_row(h, "p1"), await provider_row(h, "p2")
        assert p1 is not None and p1.status == "suspended"
        assert p2 is not None and p2.categories == []

    async def test_an_event_before_activation_keeps_a_placeholder_that_is_never_dispatched(
        self, h: Harness
    ) -> None:
        await h.given(on_duty("early"))
        p = await provider_row(h, "early")
        assert p is not None and p.status == "unknown" and p.is_on_duty

    async def test_duty_periods_open_and_close(self, h: Harness) -> None:
        await h.given(provider_activated("p1"), on_duty("p1"), on_duty("p1", False))
        async with h.component.database.unit_of_work() as uow:
            periods = list(await uow.session.scalars(select(DutyPeriod)))
            uow.session.expunge_all()
        assert len(periods) == 1 and periods[0].ended_at is not None


class TestOrderReadModel:
    async def test_order_confirmed_enters_the_pool_once_even_when_replayed(self, h: Harness) -> None:
        event = order_confirmed("o1")
        envelope = to_envelope(event)
        message = OutgoingMessage(topic="orders.events", key="o1", value=envelope.to_json())
        await h.bus.publish([message, message])
        await h.given(order_confirmed("o1"))  # a second confirmation with a new event id
        await h.bus.drain()
        o = await order_row(h, "o1")
        assert o is not None and o.status == "pool" and o.window_start.tzinfo is not None
        async with h.component.database.unit_of_work() as uow:
            assert len(await MatchingRepository(uow.session).orders_in(["pool"])) == 1

    async def test_cancelled_order_leaves_the_pool(self, h: Harness) -> None:
        from tests.matching.support import order_cancelled

        await h.given(order_confirmed("o1"), order_cancelled("o1"))
        o = await order_row(h, "o1")
        assert o is not None and o.status == "cancelled"
