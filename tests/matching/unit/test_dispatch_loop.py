"""The loop runs by itself; the search radius widens as the deadline nears; hours feed fairness."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from services.matching.config import MatchingSettings
from services.matching.repository import MatchingRepository
from shared.config import PlatformSettings
from shared.db import wait_for
from tests.matching.support import Harness, matching_harness, on_duty, order_confirmed, provider_activated


async def test_the_dispatch_loop_sends_offers_by_itself(settings: PlatformSettings) -> None:
    loop_on = MatchingSettings(batch_interval_s=0.05, fast_batch_interval_s=0.05)
    async with matching_harness(settings, matching=loop_on) as h:
        await h.given(provider_activated("p1"), on_duty("p1"), order_confirmed("o1", now=h.clock.now))

        async def offer() -> dict[str, Any] | None:
            return await h.live_offer("p1")

        found = await wait_for(offer)
        assert found["order_id"] == "o1"


async def test_the_search_radius_widens_as_the_deadline_nears(h: Harness) -> None:
    # 12 km east of the order, radius 10 km: out of reach at first, within 1.5 x 10 km later.
    await h.given(
        provider_activated("far", home_lat=48.8666, home_lng=2.3622 + 0.164, travel_radius_km=10.0),
        on_duty("far"),
        order_confirmed("o1", now=h.clock.now, dispatch_deadline=h.clock.now + timedelta(minutes=40)),
    )
    assert (await h.batch()).offered == 0
    h.clock.advance(minutes=21)  # third step of four: x1.5
    assert (await h.batch()).offered == 1
    decision = (await h.client.get("/v1/dispatch/decisions/o1", headers=h.ops())).json()["decisions"][0]
    assert decision["radius_factor"] == 1.5


async def test_hours_this_week_come_from_missions(h: Harness) -> None:
    await h.given(provider_activated("p1"), on_duty("p1"), order_confirmed("o1", now=h.clock.now))
    await h.batch()
    offer = await h.live_offer("p1")
    assert offer is not None
    await h.client.post(f"/v1/offers/{offer['id']}/accept", headers=h.provider("p1"))
    await h.given(order_confirmed("o2", now=h.clock.now, window_start=h.clock.now + timedelta(hours=5)))
    async with h.component.database.unit_of_work() as uow:
        _, states, _ = await h.component.dispatcher._load(
            MatchingRepository(uow.session), None, h.clock.now, lock=False
        )
    (state,) = states
    assert state.hours_this_week == 2.0 and len(state.commitments) == 1


async def test_hours_this_week_leave_out_missions_booked_for_a_later_week(h: Harness) -> None:
    from tests.matching.support import all_week

    next_tuesday = h.clock.now + timedelta(days=5)  # T0 is a Thursday
    await h.given(
        provider_activated("p1"),
        on_duty("p1", True, all_week()),
        order_confirmed("o1", now=h.clock.now),  # 2 h, today
        order_confirmed(
            "o2",
            now=h.clock.now,
            window_start=next_tuesday,
            window_end=next_tuesday + timedelta(hours=4),
            duration_min=180,
            dispatch_deadline=next_tuesday - timedelta(days=1),
        ),
    )
    for _ in range(2):  # one live offer per provider: one order per batch
        await h.batch()
        offer = await h.live_offer("p1")
        assert offer is not None
        accepted = await h.client.post(f"/v1/offers/{offer['id']}/accept", headers=h.provider("p1"))
        assert accepted.status_code == 200, accepted.text
    await h.given(order_confirmed("o3", now=h.clock.now, window_start=h.clock.now + timedelta(hours=6)))
    async with h.component.database.unit_of_work() as uow:
        _, states, _ = await h.component.dispatcher._load(
            MatchingRepository(uow.session), None, h.clock.now, lock=False
        )
    (state,) = states
    assert len(state.commitments) == 2, "both missions are held"
    assert state.hours_this_week == 2.0, "next week's 3 h count in next week"


async def test_new_weights_change_the_next_batch(h: Harness) -> None:
    from shared.events.providers import ReputationChanged

    # "near" is closer but poorly rated; "good" is 3 km further and well rated.
    await h.given(
        provider_activated("near", home_lat=48.8666, home_lng=2.3622 - 0.01),
        on_duty("near"),
        ReputationChanged(provider_id="near", rating_average=2.0, rating_count=40),
        provider_activated("good", home_lat=48.8666, home_lng=2.3622 + 0.04),
        on_duty("good"),
        ReputationChanged(provider_id="good", rating_average=5.0, rating_count=40),
        order_confirmed("o1", now=h.clock.now),
    )
    weights = {"travel": 1.0, "lateness": 3.0, "reputation": 0.0, "fairness": 0.0, "supplement": 0.0}
    await h.client.put("/v1/dispatch/weights", json={**weights, "reason": "travel only"}, headers=h.ops())
    preview = (await h.client.post("/v1/dispatch/dry-run", headers=h.ops())).json()
    assert [a["provider_id"] for a in preview["assignments"]] == ["near"]
    weights["reputation"] = 50.0
    await h.client.put("/v1/dispatch/weights", json={**weights, "reason": "quality first"}, headers=h.ops())
    await h.batch()
    assert await h.live_offer("good") is not None and await h.live_offer("near") is None


async def test_a_booked_order_is_redispatched_when_its_provider_drops_out(h: Harness) -> None:
    from tests.matching.support import all_week, suspended

    start = h.clock.now + timedelta(days=2)
    await h.given(
        provider_activated("p1"),
        on_duty("p1", False, all_week()),
        provider_activated("p2", home_lat=48.80, home_lng=2.30),
        on_duty("p2", False, all_week()),
        order_confirmed(
            "o1",
            now=h.clock.now,
            window_start=start,
            window_end=start + timedelta(hours=2),
            dispatch_deadline=start - timedelta(hours=6),
        ),
    )
    await h.batch()
    offer = await h.live_offer("p1")
    assert offer is not None
    await h.client.post(f"/v1/offers/{offer['id']}/accept", headers=h.provider("p1"))
    h.clock.advance(hours=20)
    await h.given(suspended("p1"))
    await h.batch()
    again = await h.live_offer("p2")
    assert again is not None and again["order_id"] == "o1"


async def test_a_large_pool_brings_the_next_batch_sooner(settings: PlatformSettings) -> None:
    # Dispatch loop off: the test drives `dispatch_when_due` itself. A batch is due again only
    # after an hour, unless the pool holds `large_pool_size` orders or more.
    matching = MatchingSettings(
        is_dispatch_enabled=False, batch_interval_s=3600, fast_batch_interval_s=0.001, large_pool_size=2
    )
    async with matching_harness(settings, matching=matching) as h:
        component = h.component
        await h.given(order_confirmed("o1", now=h.clock.now))  # no provider: it stays in the pool
        assert await component.dispatch_when_due() is not None  # the first one is always due
        assert await component.dispatch_when_due() is None  # one order: an hour to wait
        component._next_batch_at = 0.0  # as if the hour had passed
        await h.given(order_confirmed("o2", now=h.clock.now))
        assert await component.dispatch_when_due() is not None
        await asyncio.sleep(0.01)
        assert await component.dispatch_when_due() is not None  # two orders: due again at once
