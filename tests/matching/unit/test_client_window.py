"""The client's window is when the job happens, start to finish (orders' contract)."""

from __future__ import annotations

from datetime import datetime, timedelta

from services.matching import planner
from services.matching.domain import fits_window, latest_start
from services.matching.engine import HaversineTravel
from services.matching.models import Order
from shared.events.providers import ReputationChanged
from tests.matching.support import (
    T0,
    Harness,
    all_week,
    on_duty,
    order_confirmed,
    provider_activated,
)

ORDER_AT = (48.8666, 2.3622)  # where order_confirmed puts the job


def test_the_latest_start_finishes_the_job_by_the_window_end() -> None:
    assert latest_start(T0, T0 + timedelta(hours=3), 120) == T0 + timedelta(hours=1)
    assert latest_start(T0, T0 + timedelta(hours=1), 120) == T0, "never before the window opens"
    assert fits_window(T0 + timedelta(hours=1), 120, T0, T0 + timedelta(hours=3))
    assert not fits_window(T0 + timedelta(hours=1, minutes=1), 120, T0, T0 + timedelta(hours=3))
    assert not fits_window(T0 - timedelta(minutes=1), 120, T0, T0 + timedelta(hours=3))


def test_the_engine_is_told_the_latest_start_not_the_clients_window_end() -> None:
    order = Order(
        order_id="o1",
        category="cleaning",
        lat=ORDER_AT[0],
        lng=ORDER_AT[1],
        window_start=T0,
        window_end=T0 + timedelta(hours=3),
        duration_min=120,
        payout_cents=4200,
        zone="paris",
    )
    request = planner.order_request(order, set())
    assert request.window_start == T0 and request.window_end == T0 + timedelta(hours=1)


async def test_the_mission_starts_in_time_to_finish_inside_the_window_when_a_provider_can(
    h: Harness,
) -> None:
    # "near" starts when the window opens; "far" only 30 min later, too late to finish by its end.
    # Far is better rated: read as a latest start, the window end would make far's start free.
    travel = HaversineTravel()
    near_at, far_at = (ORDER_AT[0], ORDER_AT[1] - 0.035), (ORDER_AT[0], ORDER_AT[1] + 0.131)
    near_min = travel.minutes(*near_at, *ORDER_AT, "paris")
    far_min = travel.minutes(*far_at, *ORDER_AT, "paris")
    assert 5 < near_min < 10 and 28 < far_min < 32
    weights = {"travel": 1.0, "lateness": 3.0, "reputation": 10.0, "fairness": 0.0, "supplement": 0.0}
    response = await h.client.put("/v1/dispatch/weights", json={**weights, "reason": "test"}, headers=h.ops())
    assert response.status_code == 200
    now = h.clock.now
    window_start, window_end = now + timedelta(minutes=10), now + timedelta(minutes=130)
    await h.given(
        provider_activated("near", home_lat=near_at[0], home_lng=near_at[1]),
        on_duty("near"),
        ReputationChanged(provider_id="near", rating_average=1.0, rating_count=40),
        provider_activated("far", home_lat=far_at[0], home_lng=far_at[1], travel_radius_km=30.0),
        on_duty("far"),
        ReputationChanged(provider_id="far", rating_average=5.0, rating_count=40),
        order_confirmed("o1", now=now, window_start=window_start, window_end=window_end, duration_min=120),
    )
    assert (await h.batch()).offered == 1
    offer = await h.live_offer("near")
    assert offer is not None, "far would start 20 min too late to finish by the window's end"
    mission = (await h.client.post(f"/v1/offers/{offer['id']}/accept", headers=h.provider("near"))).json()
    start = datetime.fromisoformat(mission["scheduled_start"])
    assert window_start <= start <= window_end - timedelta(minutes=120)


class TestProposedSlot:
    async def booked_tomorrow(self, h: Harness) -> tuple[dict[str, object], datetime]:
        start = h.clock.now + timedelta(days=1)
        await h.given(
            provider_activated("p1"),
            on_duty("p1", False, all_week()),
            order_confirmed(
                "o1",
                now=h.clock.now,
                window_start=start,
                window_end=start + timedelta(hours=4),
                duration_min=120,
                dispatch_deadline=start - timedelta(hours=2),
            ),
        )
        await h.batch()
        offer = await h.live_offer("p1")
        assert offer is not None and offer["is_booked_later"] is True
        return offer, start

    async def test_a_slot_ending_after_the_window_is_refused_naming_the_field(self, h: Harness) -> None:
        offer, window_start = await self.booked_tomorrow(h)
        # Starts inside the window, but the 2-hour job would end 30 min after it.
        late = window_start + timedelta(hours=2, minutes=30)
        response = await h.client.post(
            f"/v1/offers/{offer['id']}/propose", json={"start_at": late.isoformat()}, headers=h.provider("p1")
        )
        assert response.status_code == 422, response.text
        detail = response.json()["detail"][0]
        assert detail["loc"] == ["body", "start_at"] and "finish inside the client's window" in detail["msg"]
        assert await h.live_offer("p1") is not None, "the offer stays live"
        assert await h.events("mission-assigned") == []

    async def test_a_slot_ending_exactly_at_the_window_end_is_taken(self, h: Harness) -> None:
        offer, window_start = await self.booked_tomorrow(h)
        last = window_start + timedelta(hours=2)
        response = await h.client.post(
            f"/v1/offers/{offer['id']}/propose", json={"start_at": last.isoformat()}, headers=h.provider("p1")
        )
        assert response.status_code == 200, response.text
        assert datetime.fromisoformat(response.json()["scheduled_start"]) == last
