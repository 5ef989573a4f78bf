"""From order-confirmed on Kafka to mission-assigned on Kafka, on real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from services.matching.app import MatchingComponent
from services.matching.config import MatchingSettings
from shared.app import create_app
from shared.bus.kafka import KafkaBus
from shared.config import PlatformSettings
from shared.db import Database, wait_for
from shared.events.envelope import Envelope, utcnow
from shared.testing import Tokens, running_app
from tests.matching.support import on_duty, order_confirmed, provider_activated, publish

pytestmark = pytest.mark.integration


@asynccontextmanager
async def matching_on_kafka(
    postgres_url: str, kafka_bootstrap: str, unique: Callable[[str], str]
) -> AsyncIterator[tuple[httpx.AsyncClient, KafkaBus, str]]:
    """Run matching on its own PostgreSQL schema and Kafka topic prefix, dispatch loop on."""
    prefix = unique("t") + "."
    database = Database(postgres_url, schema=unique("matching"))
    settings = PlatformSettings(outbox_poll_s=0.05)
    component = MatchingComponent(
        settings,
        database,
        MatchingSettings(batch_interval_s=0.2, fast_batch_interval_s=0.1, consumer_group=unique("matching")),
    )
    bus = KafkaBus(kafka_bootstrap, topic_prefix=prefix, client_id=unique("c"))
    app = create_app([component], settings, bus=bus)
    try:
        async with running_app(app) as client:
            yield client, bus, prefix
    finally:
        await database.drop_schema()
        await database.dispose()


async def read_until(
    kafka_bootstrap: str, topic: str, predicate: Callable[[Envelope], bool], timeout: float = 30.0
) -> Envelope:
    """Read a topic from the start until an envelope matches."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        async with asyncio.timeout(timeout):
            while True:
                batches = await consumer.getmany(timeout_ms=500)
                for records in batches.values():
                    for record in records:
                        envelope = Envelope.from_json(record.value or b"")
                        if predicate(envelope):
                            return envelope
    finally:
        await consumer.stop()


async def test_order_confirmed_on_kafka_ends_as_mission_assigned_on_kafka(
    postgres_url: str, kafka_bootstrap: str, unique: Callable[[str], str]
) -> None:
    tokens = Tokens()
    async with matching_on_kafka(postgres_url, kafka_bootstrap, unique) as (client, bus, prefix):
        now = utcnow()
        await publish(bus, provider_activated("p1"), on_duty("p1"))
        await publish(bus, order_confirmed("o1", now=now))

        async def offer() -> dict[str, Any] | None:
            response = await client.get("/v1/offers", headers=tokens.provider("p1"))
            offers: list[dict[str, Any]] = response.json()
            return offers[0] if offers else None

        live = await wait_for(offer, timeout=30)
        offered = await read_until(
            kafka_bootstrap, f"{prefix}matching.events", lambda e: e.type == "mission-offered"
        )
        assert offered.payload["order_id"] == "o1" and offered.aggregate_id == "o1"

        accepted = await client.post(f"/v1/offers/{live['id']}/accept", headers=tokens.provider("p1"))
        assert accepted.status_code == 200, accepted.text
        assigned = await read_until(
            kafka_bootstrap, f"{prefix}matching.events", lambda e: e.type == "mission-assigned"
        )
        assert assigned.payload["provider_id"] == "p1"
        assert assigned.payload["provider_first_name"] == "Name-p1"
        assert assigned.payload["mission_id"] == accepted.json()["id"]
        assert json.loads(assigned.to_json())["aggregate_id"] == "o1"
