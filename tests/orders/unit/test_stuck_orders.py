"""Orders' safety net: a confirmed order left well past its dispatch deadline becomes unfulfilled.

Matching's `order-unassignable` normally comes first; the job covers its loss, and the two
never give the same order up twice.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from services.orders.handlers import SAFETY_NET_REASON
from services.orders.models import OrderHistory
from shared.config import PlatformSettings
from shared.db import wait_for
from shared.events.matching import OrderUnassignable
from shared.outbox import OutboxRow
from shared.testing import Tokens
from tests.orders.support import Harness, PricingStub, harness
from tests.orders.unit.test_api_orders import assigned, confirm


@pytest.fixture
async def h(settings: PlatformSettings, pricing: PricingStub) -> AsyncIterator[Harness]:
    """The harness with the periodic sweep out of the way: each test runs it by hand."""
    async with harness(settings, pricing, stuck_job_interval_s=3600) as running:
        yield running


async def unfulfilled_events(h: Harness) -> list[dict[str, Any]]:
    async with h.component.database.sessions() as session:
        rows = await session.scalars(select(OutboxRow.envelope).where(OutboxRow.type == "order-unfulfilled"))
        return [json.loads(row)["payload"] for row in rows]


async def history(h: Harness, order_id: str) -> list[OrderHistory]:
    async with h.component.database.sessions() as session:
        rows = await session.scalars(select(OrderHistory).where(OrderHistory.order_id == order_id)
                                     .order_by(OrderHistory.id))
        return list(rows)


def past_deadline(h: Harness, order: dict[str, Any], minutes: float) -> None:
    """Move the clock to `minutes` after the order's dispatch deadline."""
    deadline = datetime.fromisoformat(order["dispatch_deadline"])
    h.clock.advance(seconds=(deadline - h.clock.now).total_seconds() + minutes * 60)


class TestSafetyNet:
    async def test_gives_up_an_order_stuck_past_deadline_and_grace(
        self, h: Harness, tokens: Tokens, pricing: PricingStub
    ) -> None:
        await h.http.put("/v1/orders/notification-webhook", json={"url": f"{pricing.url}/hooks/c1"},
                         headers=tokens.client("c1"))
        order = await confirm(h, tokens, client="c1")
        past_deadline(h, order, 11)  # the grace is 10 min by default

        assert await h.component.safety_net.give_up_stuck_orders() == 1

        seen = (await h.http.get(f"/v1/orders/{order['id']}", headers=tokens.client("c1"))).json()
        assert seen["status"] == "unfulfilled"
        last = seen["history"][-1]
        assert (last["actor"], last["reason"]) == ("orders", SAFETY_NET_REASON)
        assert await unfulfilled_events(h) == [
            {"order_id": order["id"], "client_id": "c1", "reason": SAFETY_NET_REASON}]

        async def told() -> bool:
            return [x["status"] for x in pricing.hooks] == ["confirmed", "unfulfilled"]
        await wait_for(told)
        assert await h.component.safety_net.give_up_stuck_orders() == 0  # once only

    async def test_leaves_matching_its_grace_and_assigned_orders_alone(
        self, h: Harness, tokens: Tokens
    ) -> None:
        waiting = await confirm(h, tokens, client="c1")
        taken = await confirm(h, tokens, client="c2")
        await h.emit(assigned(taken["id"]))
        past_deadline(h, waiting, 9)  # past the deadline, still within the grace
        assert await h.component.safety_net.give_up_stuck_orders() == 0
        h.clock.advance(minutes=2)
        assert await h.component.safety_net.give_up_stuck_orders() == 1
        listed = (await h.http.get("/v1/orders", headers=tokens.ops())).json()
        statuses = {o["id"]: o["status"] for o in listed}
        assert statuses == {waiting["id"]: "unfulfilled", taken["id"]: "assigned"}

    async def test_a_late_order_unassignable_changes_nothing(self, h: Harness, tokens: Tokens) -> None:
        order = await confirm(h, tokens)
        past_deadline(h, order, 15)
        assert await h.component.safety_net.give_up_stuck_orders() == 1
        await h.emit(OrderUnassignable(order_id=order["id"], reason="no provider in range"))
        rows = await history(h, order["id"])
        assert [r.to_status for r in rows] == ["confirmed", "unfulfilled"]
        assert [e["reason"] for e in await unfulfilled_events(h)] == [SAFETY_NET_REASON]

    async def test_after_matching_gave_up_the_job_does_nothing(self, h: Harness, tokens: Tokens) -> None:
        order = await confirm(h, tokens)
        await h.emit(OrderUnassignable(order_id=order["id"], reason="no provider in range"))
        past_deadline(h, order, 60)
        assert await h.component.safety_net.give_up_stuck_orders() == 0
        rows = await history(h, order["id"])
        assert [(r.to_status, r.actor) for r in rows] == [("confirmed", "c1"), ("unfulfilled", "matching")]
        assert [e["reason"] for e in await unfulfilled_events(h)] == ["no provider in range"]

    async def test_many_stuck_orders_are_given_up_in_batches(self, h: Harness, tokens: Tokens) -> None:
        orders = [await confirm(h, tokens, client=f"c{i}") for i in range(5)]
        h.component.safety_net.batch = 2
        past_deadline(h, max(orders, key=lambda o: str(o["dispatch_deadline"])), 11)
        assert await h.component.safety_net.give_up_stuck_orders() == 5
        assert sorted(e["order_id"] for e in await unfulfilled_events(h)) == sorted(o["id"] for o in orders)


async def test_the_component_runs_the_sweep_periodically(
    settings: PlatformSettings, pricing: PricingStub, tokens: Tokens
) -> None:
    async with harness(settings, pricing, stuck_job_interval_s=0.05) as h:
        order = await confirm(h, tokens)
        past_deadline(h, order, 11)

        async def unfulfilled() -> bool:
            seen = (await h.http.get(f"/v1/orders/{order['id']}", headers=tokens.client("c1"))).json()
            return bool(seen["status"] == "unfulfilled")
        await wait_for(unfulfilled)


def test_grace_and_interval_are_settings() -> None:
    from services.orders.config import OrdersSettings

    custom = OrdersSettings(stuck_grace_min=3, stuck_job_interval_s=5)
    assert (custom.stuck_grace_min, custom.stuck_job_interval_s) == (3, 5)
    assert OrdersSettings().stuck_grace_min == 10
    with pytest.raises(ValueError):
        OrdersSettings(stuck_grace_min=-1)
    assert timedelta(minutes=OrdersSettings().position_lead_min) == timedelta(minutes=90)
