"""mission-completed on Kafka -> exactly one ledger line on PostgreSQL, payout-recorded on Kafka."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy import func, select

from services.pricing.app import PricingComponent
from services.pricing.config import PricingSettings
from services.pricing.models import LedgerRow
from shared.app import create_app
from shared.bus.kafka import KafkaBus
from shared.config import PlatformSettings
from shared.db import Database, wait_for
from shared.events.envelope import Envelope
from shared.outbox import pending_count
from shared.testing import Tokens, running_app
from tests.pricing.conftest import FakeClock
from tests.pricing.events import deliver, mission_completed
from tests.pricing.unit.helpers import published_grid

pytestmark = pytest.mark.integration


@asynccontextmanager
async def pricing_on_kafka(
    postgres_url: str, kafka_bootstrap: str, unique: Callable[[str], str]
) -> AsyncIterator[tuple[httpx.AsyncClient, PricingComponent, KafkaBus, str]]:
    """Run pricing on its own PostgreSQL schema and Kafka topic prefix."""
    prefix = unique("t") + "."
    database = Database(postgres_url, schema=unique("pricing"))
    settings = PlatformSettings(outbox_poll_s=0.05)
    component = PricingComponent(settings, database, PricingSettings(consumer_group=unique("pricing")))
    bus = KafkaBus(kafka_bootstrap, topic_prefix=prefix, client_id=unique("c"))
    app = create_app([component], settings, bus=bus)
    try:
        async with running_app(app) as client:
            yield client, component, bus, prefix
    finally:
        await database.drop_schema()
        await database.dispose()


async def read_all(kafka_bootstrap: str, topic: str, wanted: int, timeout: float = 30.0) -> list[Envelope]:
    """Read a topic from the start until `wanted` envelopes arrived."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    found: list[Envelope] = []
    try:
        async with asyncio.timeout(timeout):
            while len(found) < wanted:
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    found += [Envelope.from_json(r.value or b"") for r in records]
    finally:
        await consumer.stop()
    return found


async def ledger_count(database: Database, mission_id: str | None = None) -> int:
    async with database.sessions() as session:
        query = select(func.count()).select_from(LedgerRow)
        if mission_id is not None:
            query = query.where(LedgerRow.mission_id == mission_id)
        return int(await session.scalar(query) or 0)


async def test_a_redelivered_mission_completed_makes_one_line_and_one_payout_recorded(
    postgres_url: str, kafka_bootstrap: str, unique: Callable[[str], str]
) -> None:
    async with pricing_on_kafka(postgres_url, kafka_bootstrap, unique) as (client, component, bus, prefix):
        event = mission_completed(order_id="o1", mission_id="m1", provider_id="p1")
        envelope = await deliver(bus, event)
        await deliver(bus, event, envelope)  # the broker delivers the same event twice
        # a later event on the same key (same partition) tells us both copies were handled
        await deliver(bus, mission_completed(order_id="o1", mission_id="m-marker", provider_id="p1"))

        async def marker_recorded() -> bool:
            return await ledger_count(component.database, "m-marker") == 1

        await wait_for(marker_recorded, timeout=30)
        assert await ledger_count(component.database, "m1") == 1
        assert await ledger_count(component.database) == 2

        published = await read_all(kafka_bootstrap, f"{prefix}pricing.events", wanted=2)
        recorded = [e for e in published if e.type == "payout-recorded"]
        assert sorted(e.payload["mission_id"] for e in recorded) == ["m-marker", "m1"]
        assert all(e.aggregate_id == "p1" for e in recorded)

        async def outbox_empty() -> bool:
            return await pending_count(component.database) == 0

        await wait_for(outbox_empty, timeout=10)
        r = await client.get("/v1/payouts", headers=Tokens().provider("p1"))
        assert [x["mission_id"] for x in r.json()["entries"]].count("m1") == 1


async def test_publishing_and_quoting_on_postgresql(
    postgres_url: str, kafka_bootstrap: str, unique: Callable[[str], str]
) -> None:
    async with pricing_on_kafka(postgres_url, kafka_bootstrap, unique) as (client, component, bus, prefix):
        component.clock = FakeClock()
        grid = await published_grid(client)
        r = await client.post(
            "/v1/quotes",
            json={
                "category": "cleaning",
                "postcode": "75002",
                "start_at": "2026-11-27T09:00:00Z",
                "duration_min": 90,
            },
        )
        assert r.status_code == 201, r.text
        quote = r.json()
        assert quote["grid_version"] == grid["version"] == 1
        assert (await client.get(f"/v1/quotes/{quote['id']}")).json() == quote
        published = await read_all(kafka_bootstrap, f"{prefix}pricing.events", wanted=1)
        assert published[0].type == "grid-published" and published[0].payload["version"] == 1


async def test_nul_characters_are_refused_not_500_on_postgresql(
    postgres_url: str, kafka_bootstrap: str, unique: Callable[[str], str]
) -> None:
    async with pricing_on_kafka(postgres_url, kafka_bootstrap, unique) as (client, component, bus, prefix):
        component.clock = FakeClock()
        grid = await published_grid(client)
        ops, provider = Tokens().ops(), Tokens().provider("p1")
        requests = [
            ("get", "/v1/zones/a%00b", None, None),
            ("get", "/v1/quotes/a%00b", None, None),
            ("get", "/v1/price-grids/a%00b", None, ops),
            ("get", "/v1/payouts?provider_id=a%00b", None, ops),
            ("get", "/v1/statements/a%00b/monthly/2026-11", None, ops),
            ("post", "/v1/zones", {"code": "x", "name": "a\x00b", "postcodes": ["13"]}, ops),
            ("post", f"/v1/price-grids/{grid['id']}/comments", {"body": "a\x00b"}, provider),
            ("post", "/v1/price-grids", {"name": "a\x00b", "cells": []}, ops),
            ("post", f"/v1/price-grids/{grid['id']}/publish", {"reason": "a\x00b"}, ops),
        ]
        for method, path, body, headers in requests:
            r = await client.request(method, path, json=body, headers=headers)
            assert r.status_code < 500, (path, r.text)
