"""An offer made just before its provider became unavailable cannot be accepted.

A batch that read the provider before a suspension (or going off duty) and
committed its offer after it leaves a live offer that the event's handler did
not see: the accept is refused with 409, and the offer withdrawn as the handler
would have, so the order goes back to the pool.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import update

from services.matching.models import Offer, Order, Provider
from tests.matching.support import Harness, all_week, offered_to_p1, on_duty

CHANGES: list[tuple[str, dict[str, Any], str]] = [
    ("suspended", {"status": "suspended"}, "provider suspended"),
    ("deactivated", {"status": "offboarded"}, "provider offboarded"),
    ("lost the category", {"categories": ["gardening"]}, "no longer qualified for cleaning"),
    ("off duty", {"is_on_duty": False}, "provider went off duty"),
]


async def change_provider_behind_the_offer(h: Harness, provider_id: str, **values: Any) -> None:
    """Change the read model without the event's handler (the batch-vs-event race)."""
    async with h.component.database.unit_of_work() as uow:
        moved = update(Provider).where(Provider.provider_id == provider_id).values(**values)
        await uow.session.execute(moved)
        await uow.commit()


async def statuses(h: Harness, offer_id: str) -> tuple[str, str]:
    async with h.component.database.unit_of_work() as uow:
        offer = await uow.session.get(Offer, offer_id)
        order = await uow.session.get(Order, "o1")
        assert offer is not None and order is not None
        return offer.status, order.status


@pytest.mark.parametrize(("change", "values", "reason"), CHANGES, ids=[c[0] for c in CHANGES])
async def test_the_accept_is_refused_and_the_order_goes_back_to_the_pool(
    h: Harness, change: str, values: dict[str, Any], reason: str
) -> None:
    offer = await offered_to_p1(h)
    await change_provider_behind_the_offer(h, "p1", **values)

    response = await h.client.post(f"/v1/offers/{offer['id']}/accept", headers=h.provider("p1"))

    assert response.status_code == 409, response.text
    message = response.json()["detail"][0]["msg"]
    assert reason in message and "withdrawn" in message
    assert await statuses(h, offer["id"]) == ("withdrawn", "pool")
    (withdrawn,) = await h.events("offer-withdrawn")
    assert withdrawn.payload["offer_id"] == offer["id"] and reason in withdrawn.payload["reason"]
    assert await h.events("mission-assigned") == []
    await h.batch()
    again = await h.live_offer("p2")
    assert again is not None and again["order_id"] == "o1", "the next batch offers it to someone else"


async def test_an_off_duty_provider_keeps_an_offer_inside_their_schedule(h: Harness) -> None:
    offer = await offered_to_p1(h)
    await h.given(on_duty("p1", is_on=True, schedule=all_week()))
    await change_provider_behind_the_offer(h, "p1", is_on_duty=False)

    response = await h.client.post(f"/v1/offers/{offer['id']}/accept", headers=h.provider("p1"))

    assert response.status_code == 200, response.text
    assert await statuses(h, offer["id"]) == ("accepted", "assigned")
