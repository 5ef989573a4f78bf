"""Missions: start with the client's code, complete, give back, ops reassignment; booked-later slots."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.matching.support import (
    Harness,
    all_week,
    offered_to_p1,
    on_duty,
    order_confirmed,
    provider_activated,
    second_offer_after_a_far_mission,
)


async def assigned_mission(h: Harness) -> dict[str, Any]:
    offer = await offered_to_p1(h)
    response = await h.client.post(f"/v1/offers/{offer['id']}/accept", headers=h.provider("p1"))
    assert response.status_code == 200, response.text
    mission: dict[str, Any] = response.json()
    return mission


class TestStartAndComplete:
    async def test_start_with_the_right_code_then_complete(self, h: Harness) -> None:
        mission = await assigned_mission(h)
        started = await h.client.post(
            f"/v1/missions/{mission['id']}/start", json={"code": "123456"}, headers=h.provider("p1")
        )
        assert started.status_code == 200 and started.json()["status"] == "started"
        h.clock.advance(minutes=125)
        done = await h.client.post(f"/v1/missions/{mission['id']}/complete", headers=h.provider("p1"))
        assert done.status_code == 200 and done.json()["status"] == "completed"
        assert done.json()["address"] is None
        (event,) = await h.events("mission-completed")
        payload = event.payload
        assert payload["client_id"] == "client-1" and payload["category"] == "cleaning"
        assert (payload["price_cents"], payload["payout_cents"], payload["worked_min"]) == (6000, 4200, 125)
        assert payload["zone"] == "paris"
        assert len(await h.events("mission-started")) == 1

    async def test_a_wrong_code_is_refused_and_nothing_changes(self, h: Harness) -> None:
        mission = await assigned_mission(h)
        response = await h.client.post(
            f"/v1/missions/{mission['id']}/start", json={"code": "654321"}, headers=h.provider("p1")
        )
        assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "code"]
        again = await h.client.get(f"/v1/missions/{mission['id']}", headers=h.provider("p1"))
        assert again.json()["status"] == "assigned"

    async def test_complete_before_start_names_the_state(self, h: Harness) -> None:
        mission = await assigned_mission(h)
        response = await h.client.post(f"/v1/missions/{mission['id']}/complete", headers=h.provider("p1"))
        assert response.status_code == 409
        assert response.json()["detail"][0]["current_state"] == "assigned"


class TestGiveBack:
    async def test_a_provider_who_gives_back_a_mission_sees_it_redispatched(self, h: Harness) -> None:
        mission = await assigned_mission(h)
        response = await h.client.post(
            f"/v1/missions/{mission['id']}/cancel", json={"reason": "sick"}, headers=h.provider("p1")
        )
        assert response.status_code == 200 and response.json()["status"] == "cancelled"
        (event,) = await h.events("mission-cancelled")
        assert event.payload["is_redispatched"] is True
        await h.batch()
        offer = await h.live_offer("p2")
        assert offer is not None and offer["order_id"] == "o1"
        assert await h.live_offer("p1") is None


class TestReassign:
    async def test_ops_reassign_by_hand_to_another_provider_is_audited(self, h: Harness) -> None:
        mission = await assigned_mission(h)
        response = await h.client.post(
            f"/v1/missions/{mission['id']}/reassign",
            json={"reason": "client asked for p2", "provider_id": "p2"},
            headers=h.ops(),
        )
        assert response.status_code == 200, response.text
        assert response.json()["to_provider_id"] == "p2"
        offer = await h.live_offer("p2")
        assert offer is not None and offer["order_id"] == "o1"
        audit = (await h.client.get("/v1/dispatch/audit", headers=h.ops())).json()["entries"]
        assert audit[-1]["action"] == "mission.reassign" and audit[-1]["reason"] == "client asked for p2"
        assert audit[-1]["actor"] == "ops-1"
        decision = (await h.client.get("/v1/dispatch/decisions/o1", headers=h.ops())).json()
        assert decision["decisions"][0]["outcome"] == "reassigned"

    async def test_reassign_to_a_provider_busy_at_that_time_is_409_and_changes_nothing(
        self, h: Harness
    ) -> None:
        mission = await assigned_mission(h)  # o1 with p1; p2 is free
        await h.given(order_confirmed("o2", now=h.clock.now))
        await h.batch()
        offer = await h.live_offer("p2")
        assert offer is not None and offer["order_id"] == "o2"
        accepted = await h.client.post(f"/v1/offers/{offer['id']}/accept", headers=h.provider("p2"))
        assert accepted.status_code == 200, accepted.text
        response = await h.client.post(
            f"/v1/missions/{mission['id']}/reassign",
            json={"reason": "client asked for p2", "provider_id": "p2"},
            headers=h.ops(),
        )
        assert response.status_code == 409, response.text
        assert accepted.json()["id"] in response.json()["detail"][0]["msg"]
        again = await h.client.get(f"/v1/missions/{mission['id']}", headers=h.ops())
        assert again.json()["status"] == "assigned" and again.json()["provider_id"] == "p1"
        assert await h.live_offer("p2") is None

    async def test_reassign_to_an_unknown_provider_is_404_and_changes_nothing(self, h: Harness) -> None:
        mission = await assigned_mission(h)
        response = await h.client.post(
            f"/v1/missions/{mission['id']}/reassign",
            json={"reason": "why not", "provider_id": "nobody"},
            headers=h.ops(),
        )
        assert response.status_code == 404
        again = await h.client.get(f"/v1/missions/{mission['id']}", headers=h.ops())
        assert again.json()["status"] == "assigned"

    async def test_reassign_without_provider_returns_the_order_to_the_pool(self, h: Harness) -> None:
        mission = await assigned_mission(h)
        response = await h.client.post(
            f"/v1/missions/{mission['id']}/reassign", json={"reason": "complaint"}, headers=h.ops()
        )
        assert response.status_code == 200
        await h.batch()
        offer = await h.live_offer("p2")
        assert offer is not None and offer["order_id"] == "o1"

    async def test_a_started_mission_cannot_be_reassigned(self, h: Harness) -> None:
        mission = await assigned_mission(h)
        await h.client.post(
            f"/v1/missions/{mission['id']}/start", json={"code": "123456"}, headers=h.provider("p1")
        )
        response = await h.client.post(
            f"/v1/missions/{mission['id']}/reassign", json={"reason": "complaint"}, headers=h.ops()
        )
        assert response.status_code == 409 and response.json()["detail"][0]["current_state"] == "started"


class TestBookedLater:
    async def booked_tomorrow(self, h: Harness) -> dict[str, Any]:
        start = h.clock.now + timedelta(days=1)
        await h.given(
            provider_activated("p1"),
            on_duty("p1", False, all_week()),
            order_confirmed(
                "o1",
                now=h.clock.now,
                window_start=start,
                window_end=start + timedelta(hours=4),
                dispatch_deadline=start - timedelta(hours=2),
            ),
        )
        await h.batch()
        offer = await h.live_offer("p1")
        assert offer is not None, "a provider whose calendar fits gets the booked order"
        assert offer["is_booked_later"] is True
        return offer

    async def test_a_booked_order_is_offered_to_a_provider_whose_calendar_fits(self, h: Harness) -> None:
        await self.booked_tomorrow(h)

    async def test_the_provider_proposes_another_slot_inside_the_window(self, h: Harness) -> None:
        offer = await self.booked_tomorrow(h)
        start = h.clock.now + timedelta(days=1, hours=2)
        response = await h.client.post(
            f"/v1/offers/{offer['id']}/propose",
            json={"start_at": start.isoformat()},
            headers=h.provider("p1"),
        )
        assert response.status_code == 200, response.text
        assert response.json()["scheduled_start"].startswith(start.strftime("%Y-%m-%dT%H:%M"))
        (assigned,) = await h.events("mission-assigned")
        assert assigned.payload["scheduled_start"].startswith(start.strftime("%Y-%m-%dT%H:%M"))

    async def test_a_slot_outside_the_window_is_refused(self, h: Harness) -> None:
        offer = await self.booked_tomorrow(h)
        start = h.clock.now + timedelta(days=1, hours=5)
        response = await h.client.post(
            f"/v1/offers/{offer['id']}/propose",
            json={"start_at": start.isoformat()},
            headers=h.provider("p1"),
        )
        assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "start_at"]
        assert await h.live_offer("p1") is not None

    async def test_an_order_for_now_cannot_be_moved(self, h: Harness) -> None:
        await h.given(provider_activated("p1"), on_duty("p1"), order_confirmed("o1", now=h.clock.now))
        await h.batch()
        offer = await h.live_offer("p1")
        assert offer is not None and offer["is_booked_later"] is False
        start = h.clock.now + timedelta(minutes=45)
        response = await h.client.post(
            f"/v1/offers/{offer['id']}/propose",
            json={"start_at": start.isoformat()},
            headers=h.provider("p1"),
        )
        assert response.status_code == 409


class TestSlotClash:
    async def test_a_slot_too_close_to_another_mission_counting_travel_is_refused(self, h: Harness) -> None:
        second, mission_end = await second_offer_after_a_far_mission(h)
        too_soon = mission_end + timedelta(minutes=5)
        response = await h.client.post(
            f"/v1/offers/{second['id']}/propose",
            json={"start_at": too_soon.isoformat()},
            headers=h.provider("p1"),
        )
        assert response.status_code == 409, response.text
        assert "counting travel" in response.json()["detail"][0]["msg"]
        later = mission_end + timedelta(hours=2)
        response = await h.client.post(
            f"/v1/offers/{second['id']}/propose",
            json={"start_at": later.isoformat()},
            headers=h.provider("p1"),
        )
        assert response.status_code == 200, response.text
