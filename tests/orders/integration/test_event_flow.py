"""Orders on real PostgreSQL and Kafka: order-confirmed goes out through the outbox, matching's
events (published to Kafka as matching would) drive the lifecycle, duplicates change state once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import func, select

from services.orders.app import OrdersComponent
from services.orders.models import OrderHistory
from shared.app import create_app
from shared.bus.kafka import KafkaBus
from shared.config import PlatformSettings
from shared.db import Database, wait_for
from shared.events import registry
from shared.events.envelope import Envelope
from shared.events.matching import MissionCancelled, OrderUnassignable
from shared.events.registry import EventPayload
from shared.outbox import OutboxRow
from shared.testing import Tokens, running_app
from tests.orders.support import Clock, Harness, PricingStub, order_body, orders_settings
from tests.orders.unit.test_api_orders import assigned, completed, started

pytestmark = pytest.mark.integration


@asynccontextmanager
async def orders_on_kafka(
    postgres_url: str, kafka_bootstrap: str, unique: Callable[[str], str], stub: PricingStub
) -> AsyncIterator[tuple[Harness, str]]:
    prefix = unique("t") + "."
    database = Database(postgres_url, schema=unique("orders"))
    settings = PlatformSettings(outbox_poll_s=0.05)
    component = OrdersComponent(
        settings, database, orders_settings=orders_settings(stub, consumer_group=unique("orders"))
    )
    clock = Clock()
    component.clock = clock
    bus = KafkaBus(kafka_bootstrap, topic_prefix=prefix, client_id=unique("c"))
    app = create_app([component], settings, bus=bus)
    try:
        async with running_app(app) as client:
            yield Harness(client, component, bus, clock, stub), prefix  # type: ignore[arg-type]
    finally:
        await database.drop_schema()
        await database.dispose()


async def read_until(bootstrap: str, topic: str, predicate: Callable[[Envelope], bool]) -> Envelope:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        async with asyncio.timeout(30):
            while True:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for record in records:
                        envelope = Envelope.from_json(record.value or b"")
                        if predicate(envelope):
                            return envelope
    finally:
        await consumer.stop()


async def produce(bootstrap: str, topic: str, *payloads: EventPayload, twice: bool = False) -> None:
    """Publish envelopes as matching would (keyed by order id); `twice` sends each one two times."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        for payload in payloads:
            envelope = registry.envelope(payload)
            for _ in range(2 if twice else 1):
                await producer.send_and_wait(topic, envelope.to_json(), key=envelope.aggregate_id.encode())
    finally:
        await producer.stop()


async def test_order_confirmed_reaches_kafka_and_matching_events_drive_the_order(
    postgres_url: str, kafka_bootstrap: str, unique: Callable[[str], str], pricing: PricingStub
) -> None:
    tokens = Tokens()
    async with orders_on_kafka(postgres_url, kafka_bootstrap, unique, pricing) as (h, prefix):
        quote = pricing.add_quote(h.clock.now)
        r = await h.http.post("/v1/orders", json=order_body(quote),
                              headers={**tokens.client("c1"), "Idempotency-Key": "k1"})
        assert r.status_code == 201, r.text
        order = r.json()
        oid = order["id"]
        confirmed = await read_until(kafka_bootstrap, f"{prefix}orders.events",
                                     lambda e: e.type == "order-confirmed")
        assert confirmed.aggregate_id == oid and confirmed.payload["quote_id"] == quote["id"]
        assert len(confirmed.payload["start_code_hash"]) == 64

        matching_topic = f"{prefix}matching.events"
        # Every event twice (a redelivery), and the assignment once more with a new event id.
        await produce(kafka_bootstrap, matching_topic, assigned(oid), twice=True)
        await produce(kafka_bootstrap, matching_topic, assigned(oid), started(oid), completed(order),
                      twice=True)

        async def is_completed() -> bool:
            seen = await h.http.get(f"/v1/orders/{oid}", headers=tokens.client("c1"))
            return bool(seen.json()["status"] == "completed")

        await wait_for(is_completed, timeout=60)
        seen = (await h.http.get(f"/v1/orders/{oid}", headers=tokens.client("c1"))).json()
        assert [e["to_status"] for e in seen["history"]] == [
            "confirmed", "assigned", "in_progress", "completed"]
        assert seen["provider"]["first_name"] == "Amina"


async def test_unassignable_order_is_unfulfilled_on_kafka(
    postgres_url: str, kafka_bootstrap: str, unique: Callable[[str], str], pricing: PricingStub
) -> None:
    tokens = Tokens()
    async with orders_on_kafka(postgres_url, kafka_bootstrap, unique, pricing) as (h, prefix):
        quote = pricing.add_quote(h.clock.now, start_at=h.clock.now + timedelta(hours=6))
        r = await h.http.post("/v1/orders", json=order_body(quote),
                              headers={**tokens.client("c1"), "Idempotency-Key": "k1"})
        oid = r.json()["id"]
        await produce(kafka_bootstrap, f"{prefix}matching.events",
                      OrderUnassignable(order_id=oid, reason="nobody qualified nearby"), twice=True)
        unfulfilled = await read_until(kafka_bootstrap, f"{prefix}orders.events",
                                       lambda e: e.type == "order-unfulfilled")
        assert unfulfilled.payload == {"order_id": oid, "client_id": "c1",
                                       "reason": "nobody qualified nearby"}
        seen = (await h.http.get(f"/v1/orders/{oid}", headers=tokens.client("c1"))).json()
        assert [e["to_status"] for e in seen["history"]] == ["confirmed", "unfulfilled"]




async def test_mission_cancellations_and_a_client_cancellation_on_kafka(
    postgres_url: str, kafka_bootstrap: str, unique: Callable[[str], str], pricing: PricingStub
) -> None:
    """A provider dropping out before the start re-pools the order; after the start the order is
    unfulfilled (`order-unfulfilled` out); a client's cancellation goes out as `order-cancelled`."""
    tokens = Tokens()
    async with orders_on_kafka(postgres_url, kafka_bootstrap, unique, pricing) as (h, prefix):
        oids = []
        for key in ("k1", "k2"):
            quote = pricing.add_quote(h.clock.now, start_at=h.clock.now + timedelta(hours=6))
            r = await h.http.post("/v1/orders", json=order_body(quote),
                                  headers={**tokens.client("c1"), "Idempotency-Key": key})
            assert r.status_code == 201, r.text
            oids.append(r.json()["id"])
        dropped, cancelled = oids
        matching_topic = f"{prefix}matching.events"

        async def status_is(oid: str, wanted: str) -> bool:
            seen = await h.http.get(f"/v1/orders/{oid}", headers=tokens.client("c1"))
            return bool(seen.json()["status"] == wanted)

        await produce(kafka_bootstrap, matching_topic, assigned(dropped))
        await wait_for(lambda: status_is(dropped, "assigned"), timeout=60)
        await produce(kafka_bootstrap, matching_topic, MissionCancelled(
            order_id=dropped, mission_id="m1", provider_id="p1", reason="sick", is_redispatched=True))
        await wait_for(lambda: status_is(dropped, "confirmed"), timeout=60)
        again = (await h.http.get(f"/v1/orders/{dropped}", headers=tokens.client("c1"))).json()
        assert again["provider"] is None
        # Another provider takes it, starts, then the mission is cancelled mid-way.
        await produce(kafka_bootstrap, matching_topic,
                      assigned(dropped, "p2", "m2"), started(dropped, "p2", "m2"),
                      MissionCancelled(order_id=dropped, mission_id="m2", provider_id="p2", reason="injured"))
        unfulfilled = await read_until(kafka_bootstrap, f"{prefix}orders.events",
                                       lambda e: e.type == "order-unfulfilled")
        assert unfulfilled.payload["order_id"] == dropped and "injured" in unfulfilled.payload["reason"]
        seen = (await h.http.get(f"/v1/orders/{dropped}", headers=tokens.client("c1"))).json()
        assert [e["to_status"] for e in seen["history"]] == [
            "confirmed", "assigned", "confirmed", "assigned", "in_progress", "unfulfilled"]

        r = await h.http.post(f"/v1/orders/{cancelled}/cancel", json={"reason": "plans changed"},
                              headers=tokens.client("c1"))
        assert r.status_code == 200, r.text
        out = await read_until(kafka_bootstrap, f"{prefix}orders.events",
                               lambda e: e.type == "order-cancelled")
        assert out.aggregate_id == cancelled and out.payload["reason"] == "plans changed"
        assert out.payload["cancelled_by"] == "client"


async def test_intake_on_postgres_replays_refuses_and_leaves_nothing_on_outage(
    postgres_url: str, kafka_bootstrap: str, unique: Callable[[str], str], pricing: PricingStub
) -> None:
    """The one-statement PostgreSQL intake keeps the contract of the ORM path."""
    tokens = Tokens()
    async with orders_on_kafka(postgres_url, kafka_bootstrap, unique, pricing) as (h, _):
        assert h.component.orders.intake is not None  # the PostgreSQL path is the one under test
        quote = pricing.add_quote(h.clock.now)
        headers = {**tokens.client("c1"), "Idempotency-Key": "k1"}
        first = await h.http.post("/v1/orders", json=order_body(quote), headers=headers)
        again = await h.http.post("/v1/orders", json=order_body(quote), headers=headers)
        assert first.status_code == again.status_code == 201
        assert first.json() == again.json()
        other = await h.http.post("/v1/orders", json=order_body(quote, access_notes="x"), headers=headers)
        assert other.status_code == 422
        reused = await h.http.post("/v1/orders", json=order_body(quote),
                                   headers={**tokens.client("c1"), "Idempotency-Key": "k2"})
        assert reused.status_code == 409
        fetched = (await h.http.get(f"/v1/orders/{first.json()['id']}", headers=tokens.client("c1"))).json()
        assert fetched["history"][0]["to_status"] == "confirmed"
        assert fetched["quote"]["id"] == quote["id"]

        second = pricing.add_quote(h.clock.now)
        pricing.stop()
        down = await h.http.post("/v1/orders", json=order_body(second),
                                 headers={**tokens.client("c1"), "Idempotency-Key": "k3"})
        assert down.status_code == 503
        replay_while_down = await h.http.post("/v1/orders", json=order_body(quote), headers=headers)
        assert replay_while_down.status_code == 201
        listed = (await h.http.get("/v1/orders", headers=tokens.ops())).json()
        assert [o["id"] for o in listed] == [first.json()["id"]]
        async with h.component.database.sessions() as session:
            outbox = await session.scalar(select(func.count()).select_from(OutboxRow))
            history = await session.scalar(select(func.count()).select_from(OrderHistory))
        assert (outbox, history) == (1, 1)
