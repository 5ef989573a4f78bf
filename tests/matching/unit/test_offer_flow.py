"""The offer flow: batch → offer → accept | decline | lapse → mission or back to the pool."""

from __future__ import annotations

import asyncio

from services.matching.models import Exclusion
from tests.matching.support import (
    Harness,
    on_duty,
    order_cancelled,
    order_confirmed,
    provider_activated,
    suspended,
    two_providers_one_order,
)


class TestBatchOffers:
    async def test_a_batch_offers_the_order_to_the_best_provider(self, h: Harness) -> None:
        await two_providers_one_order(h)
        report = await h.batch()
        assert report.offered == 1
        offered = await h.events("mission-offered")
        assert len(offered) == 1
        payload = offered[0].payload
        assert payload["provider_id"] == "p1" and payload["order_id"] == "o1"
        assert payload["district"] == "Paris 11e"
        offer = await h.live_offer("p1")
        assert offer is not None and offer["address"] is None and offer["district"] == "Paris 11e"
        assert offer["net_payout_cents"] == round(4200 * (1 - 0.212))
        assert await h.live_offer("p2") is None

    async def test_a_second_batch_does_not_offer_the_same_order_again(self, h: Harness) -> None:
        await two_providers_one_order(h)
        await h.batch()
        report = await h.batch()
        assert report.offered == 0
        assert len(await h.events("mission-offered")) == 1

    async def test_an_order_without_candidate_waits_with_its_reason(self, h: Harness) -> None:
        await h.given(
            provider_activated("p1", categories=["gardening"]), on_duty("p1"), order_confirmed("o1")
        )
        report = await h.batch()
        assert report.offered == 0
        pool = (await h.client.get("/v1/dispatch/pool", headers=h.ops())).json()["orders"]
        assert pool[0]["order_id"] == "o1" and pool[0]["reason"]

    async def test_a_suspended_provider_gets_no_offer(self, h: Harness) -> None:
        await h.given(provider_activated("p1"), on_duty("p1"), suspended("p1"), order_confirmed("o1"))
        assert (await h.batch()).offered == 0


class TestAccept:
    async def test_accept_makes_a_mission_and_tells_orders(self, h: Harness) -> None:
        await two_providers_one_order(h)
        await h.batch()
        offer = await h.live_offer("p1")
        assert offer is not None
        response = await h.client.post(f"/v1/offers/{offer['id']}/accept", headers=h.provider("p1"))
        assert response.status_code == 200, response.text
        mission = response.json()
        assert mission["status"] == "assigned" and mission["address"] == "12 rue Oberkampf, 75011 Paris"
        assigned = await h.events("mission-assigned")
        assert len(assigned) == 1
        assert assigned[0].payload["provider_first_name"] == "Name-p1"
        assert assigned[0].payload["provider_photo_ref"] == "photos/p1.jpg"
        assert len(await h.events("mission-accepted")) == 1
        all_offers = (await h.client.get("/v1/offers?status=all", headers=h.provider("p1"))).json()
        assert all_offers[0]["status"] == "accepted" and all_offers[0]["address"] is not None

    async def test_accepting_twice_is_refused_naming_the_state(self, h: Harness) -> None:
        await two_providers_one_order(h)
        await h.batch()
        offer = await h.live_offer("p1")
        assert offer is not None
        await h.client.post(f"/v1/offers/{offer['id']}/accept", headers=h.provider("p1"))
        again = await h.client.post(f"/v1/offers/{offer['id']}/accept", headers=h.provider("p1"))
        assert again.status_code == 409
        assert again.json()["detail"][0]["current_state"] == "accepted"

    async def test_two_accepts_at_once_make_one_mission(self, h: Harness) -> None:
        await two_providers_one_order(h)
        await h.batch()
        offer = await h.live_offer("p1")
        assert offer is not None
        url = f"/v1/offers/{offer['id']}/accept"
        responses = await asyncio.gather(*(h.client.post(url, headers=h.provider("p1")) for _ in range(5)))
        assert sorted(r.status_code for r in responses) == [200, 409, 409, 409, 409]
        assert len(await h.events("mission-assigned")) == 1

    async def test_an_accepted_mission_is_pinned_and_never_re_solved(self, h: Harness) -> None:
        await two_providers_one_order(h)
        await h.batch()
        offer = await h.live_offer("p1")
        assert offer is not None
        await h.client.post(f"/v1/offers/{offer['id']}/accept", headers=h.provider("p1"))
        await h.given(provider_activated("p3", home_lat=48.8666, home_lng=2.3622), on_duty("p3"))
        assert (await h.batch()).offered == 0
        assert await h.live_offer("p3") is None


class TestDeclineAndLapse:
    async def test_decline_puts_the_order_back_without_that_provider(self, h: Harness) -> None:
        await two_providers_one_order(h)
        await h.batch()
        offer = await h.live_offer("p1")
        assert offer is not None
        response = await h.client.post(
            f"/v1/offers/{offer['id']}/decline", json={"reason": "too far"}, headers=h.provider("p1")
        )
        assert response.status_code == 200 and response.json()["status"] == "declined"
        declined = await h.events("mission-declined")
        assert declined[0].payload["reason"] == "too far"
        await h.batch()
        assert await h.live_offer("p1") is None
        second = await h.live_offer("p2")
        assert second is not None and second["order_id"] == "o1"

    async def test_decline_without_a_body_is_fine(self, h: Harness) -> None:
        await two_providers_one_order(h)
        await h.batch()
        offer = await h.live_offer("p1")
        assert offer is not None
        response = await h.client.post(f"/v1/offers/{offer['id']}/decline", headers=h.provider("p1"))
        assert response.status_code == 200

    async def test_declining_never_lowers_future_offers(self, h: Harness) -> None:
        await two_providers_one_order(h)
        await h.batch()
        first = await h.live_offer("p1")
        assert first is not None
        await h.client.post(f"/v1/offers/{first['id']}/decline", headers=h.provider("p1"))
        await h.batch()  # o1 goes to p2
        await h.given(order_confirmed("o2", now=h.clock.now))
        await h.batch()
        again = await h.live_offer("p1")
        assert again is not None and again["order_id"] == "o2"

    async def test_a_lapsed_offer_expires_and_the_order_moves_on(self, h: Harness) -> None:
        await two_providers_one_order(h)
        await h.batch()
        h.clock.advance(seconds=h.component.settings.offer_ttl_s + 1)
        report = await h.batch()
        assert report.expired == 1
        assert len(await h.events("mission-expired")) == 1
        second = await h.live_offer("p2")
        assert second is not None and second["order_id"] == "o1"
        async with h.component.database.unit_of_work() as uow:
            exclusion = await uow.session.get(Exclusion, ("o1", "p1"))
            assert exclusion is not None and exclusion.cause == "expired"

    async def test_an_answer_after_the_deadline_finds_the_offer_expired(self, h: Harness) -> None:
        await two_providers_one_order(h)
        await h.batch()
        offer = await h.live_offer("p1")
        assert offer is not None
        h.clock.advance(seconds=h.component.settings.offer_ttl_s + 1)
        response = await h.client.post(f"/v1/offers/{offer['id']}/accept", headers=h.provider("p1"))
        assert response.status_code == 409
        assert response.json()["detail"][0]["current_state"] == "expired"
        assert len(await h.events("mission-expired")) == 1


class TestCancellation:
    async def test_cancelling_the_order_withdraws_the_live_offer(self, h: Harness) -> None:
        await two_providers_one_order(h)
        await h.batch()
        await h.given(order_cancelled("o1"))
        withdrawn = await h.events("offer-withdrawn")
        assert len(withdrawn) == 1 and withdrawn[0].payload["provider_id"] == "p1"
        assert await h.live_offer("p1") is None
        assert (await h.batch()).offered == 0

    async def test_cancelling_the_order_cancels_the_mission(self, h: Harness) -> None:
        await two_providers_one_order(h)
        await h.batch()
        offer = await h.live_offer("p1")
        assert offer is not None
        accepted = await h.client.post(f"/v1/offers/{offer['id']}/accept", headers=h.provider("p1"))
        await h.given(order_cancelled("o1"))
        cancelled = await h.events("mission-cancelled")
        assert len(cancelled) == 1 and cancelled[0].payload["is_redispatched"] is False
        mission = await h.client.get(f"/v1/missions/{accepted.json()['id']}", headers=h.provider("p1"))
        assert mission.json()["status"] == "cancelled" and mission.json()["address"] is None

    async def test_a_suspended_provider_loses_the_mission_and_the_order_is_redispatched(
        self, h: Harness
    ) -> None:
        await two_providers_one_order(h)
        await h.batch()
        offer = await h.live_offer("p1")
        assert offer is not None
        await h.client.post(f"/v1/offers/{offer['id']}/accept", headers=h.provider("p1"))
        await h.given(suspended("p1"))
        cancelled = await h.events("mission-cancelled")
        assert len(cancelled) == 1 and cancelled[0].payload["is_redispatched"] is True
        await h.batch()
        second = await h.live_offer("p2")
        assert second is not None and second["order_id"] == "o1"


class TestDeadline:
    async def test_past_the_deadline_the_order_is_unassignable_with_the_reason(self, h: Harness) -> None:
        await h.given(
            provider_activated("p1", categories=["gardening"]), on_duty("p1"), order_confirmed("o1")
        )
        await h.batch()
        h.clock.advance(minutes=31)
        report = await h.batch()
        assert report.unassignable == 1
        events = await h.events("order-unassignable")
        assert len(events) == 1 and events[0].payload["reason"]
        board = (await h.client.get("/v1/dispatch/board", headers=h.ops())).json()
        assert board["counts"]["unassignable"] == 1
