"""Orders' safety net on real PostgreSQL: two orders processes sweep at once, and matching's
late `order-unassignable` arrives meanwhile; every stuck order is given up exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from services.orders.app import OrdersComponent
from services.orders.handlers import DispatchSafetyNet, EventHandlers
from services.orders.models import OrderHistory
from shared.app import create_app
from shared.bus.memory import InMemoryBus
from shared.config import PlatformSettings
from shared.db import Database
from shared.events.matching import OrderUnassignable
from shared.outbox import OutboxRow
from shared.testing import Tokens, running_app
from tests.orders.support import Clock, Harness, PricingStub, order_body, orders_settings

pytestmark = pytest.mark.integration


async def test_two_sweeps_and_a_late_event_give_each_order_up_once(
    postgres_url: str, unique: Callable[[str], str], pricing: PricingStub
) -> None:
    tokens = Tokens()
    schema = unique("orders")
    database = Database(postgres_url, schema=schema)
    settings = PlatformSettings(outbox_poll_s=0.05)
    component = OrdersComponent(
        settings, database, orders_settings=orders_settings(pricing, stuck_job_interval_s=3600)
    )
    clock = Clock()
    component.clock = clock
    bus = InMemoryBus()
    app = create_app([component], settings, bus=bus)
    # Two more engines on the same schema stand for two other orders processes.
    others = [Database(postgres_url, schema=schema) for _ in range(2)]
    try:
        async with running_app(app) as client:
            h = Harness(client, component, bus, clock, pricing)
            ids: list[str] = []
            for i in range(12):
                quote = pricing.add_quote(clock.now)
                r = await client.post("/v1/orders", json=order_body(quote),
                                      headers={**tokens.client("c1"), "Idempotency-Key": f"k{i}"})
                assert r.status_code == 201, r.text
                ids.append(r.json()["id"])
            deadline = datetime.fromisoformat(r.json()["dispatch_deadline"])
            clock.advance(seconds=(deadline - clock.now + timedelta(minutes=11)).total_seconds())

            nets = [
                DispatchSafetyNet(db, EventHandlers(clock), timedelta(minutes=10), clock, batch=3)
                for db in others
            ]
            first, second, _ = await asyncio.gather(
                nets[0].give_up_stuck_orders(),
                nets[1].give_up_stuck_orders(),
                h.emit(OrderUnassignable(order_id=ids[0], reason="no provider in range")),
            )
            swept = first + second
            assert swept in (11, 12)  # matching's event may have won order 0

            async with database.sessions() as session:
                rows = (await session.execute(
                    select(OrderHistory.order_id, OrderHistory.actor)
                    .where(OrderHistory.to_status == "unfulfilled")
                )).all()
                events = list(await session.scalars(
                    select(OutboxRow.key).where(OutboxRow.type == "order-unfulfilled")
                ))
            assert Counter(order_id for order_id, _ in rows) == Counter(ids)  # once each
            assert Counter(events) == Counter(ids)
            assert Counter(actor for _, actor in rows) == {"orders": swept, "matching": 12 - swept}
            assert await nets[0].give_up_stuck_orders() == 0
    finally:
        for other in others:
            await other.dispose()
        await database.drop_schema()
        await database.dispose()
