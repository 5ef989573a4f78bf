"""A provider going off duty: their live offers are withdrawn at once, their missions kept."""

from __future__ import annotations

from sqlalchemy import select

from services.matching.models import DutyPeriod, Exclusion, Order
from shared.bus.base import OutgoingMessage
from shared.events import to_envelope
from tests.matching.support import (
    Harness,
    all_week,
    offered_to_p1,
    on_duty,
    order_confirmed,
    provider_activated,
)


async def order_status(h: Harness, order_id: str) -> str:
    async with h.component.database.unit_of_work() as uow:
        order = await uow.session.get(Order, order_id)
        assert order is not None
        return order.status


async def deliver(h: Harness, message: OutgoingMessage) -> None:
    """Deliver one message as the broker would, again when redelivered."""
    await h.bus.publish([message])
    await h.bus.drain()


class TestGoingOffDuty:
    async def test_the_live_offer_is_withdrawn_and_the_order_goes_to_another_provider(
        self, h: Harness
    ) -> None:
        offer = await offered_to_p1(h)
        await h.given(on_duty("p1", is_on=False))
        withdrawn = await h.events("offer-withdrawn")
        assert len(withdrawn) == 1
        assert withdrawn[0].payload["offer_id"] == offer["id"]
        assert withdrawn[0].payload["reason"] == "provider went off duty"
        assert await h.live_offer("p1") is None
        assert await order_status(h, "o1") == "pool"
        mine = (await h.client.get("/v1/offers?status=all", headers=h.provider("p1"))).json()
        assert [o["status"] for o in mine] == ["withdrawn"]
        await h.batch()
        second = await h.live_offer("p2")
        assert second is not None and second["order_id"] == "o1"

    async def test_it_is_neither_a_decline_nor_a_lapse(self, h: Harness) -> None:
        await offered_to_p1(h)
        await h.given(on_duty("p1", is_on=False))
        assert await h.events("mission-declined") == []
        assert await h.events("mission-expired") == []
        async with h.component.database.unit_of_work() as uow:
            assert await uow.session.get(Exclusion, ("o1", "p1")) is None
        # Back on duty, p1 is a candidate for the order again (p2 is off duty now).
        await h.given(on_duty("p2", is_on=False), on_duty("p1"))
        await h.batch()
        again = await h.live_offer("p1")
        assert again is not None and again["order_id"] == "o1"

    async def test_an_accepted_mission_is_kept(self, h: Harness) -> None:
        offer = await offered_to_p1(h)
        accepted = await h.client.post(f"/v1/offers/{offer['id']}/accept", headers=h.provider("p1"))
        assert accepted.status_code == 200, accepted.text
        await h.given(on_duty("p1", is_on=False))
        mission = await h.client.get(f"/v1/missions/{accepted.json()['id']}", headers=h.provider("p1"))
        assert mission.json()["status"] == "assigned"
        assert await h.events("mission-cancelled") == []
        assert await h.events("offer-withdrawn") == []
        assert await order_status(h, "o1") == "assigned"
        assert (await h.batch()).offered == 0

    async def test_an_offer_inside_the_weekly_schedule_stays(self, h: Harness) -> None:
        await h.given(provider_activated("p1"), on_duty("p1", schedule=all_week()))
        await h.given(order_confirmed("o1", now=h.clock.now))
        await h.batch()
        await h.given(on_duty("p1", is_on=False, schedule=all_week()))
        offer = await h.live_offer("p1")
        assert offer is not None and offer["order_id"] == "o1"
        assert await h.events("offer-withdrawn") == []

    async def test_a_redelivered_off_duty_event_changes_nothing_twice(self, h: Harness) -> None:
        await offered_to_p1(h)
        envelope = to_envelope(on_duty("p1", is_on=False))
        off = OutgoingMessage(topic="providers.events", key="p1", value=envelope.to_json())
        await deliver(h, off)
        await deliver(h, off)
        assert len(await h.events("offer-withdrawn")) == 1
        # p1 back on duty with a new offer: the same off-duty event once more touches neither.
        await h.given(on_duty("p2", is_on=False), on_duty("p1"))
        await h.batch()
        assert await h.live_offer("p1") is not None
        await deliver(h, off)
        assert await h.live_offer("p1") is not None
        assert len(await h.events("offer-withdrawn")) == 1
        async with h.component.database.unit_of_work() as uow:
            query = select(DutyPeriod).where(DutyPeriod.provider_id == "p1")
            periods = sorted(await uow.session.scalars(query), key=lambda p: p.started_at)
            assert [p.ended_at is None for p in periods] == [False, True]
