"""Integration: the providers service on real PostgreSQL and Kafka (outbox out, inbox in)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from sqlalchemy import func, select

from services.providers import models as m
from services.providers.app import ProvidersComponent
from services.providers.config import ProvidersSettings
from shared.app import create_app
from shared.bus.base import OutgoingMessage
from shared.bus.kafka import KafkaBus
from shared.config import PlatformSettings
from shared.db import Database, wait_for
from shared.events import to_envelope
from shared.events.registry import EventPayload, topic_for
from shared.inbox import InboxRow
from shared.outbox import OutboxRow, pending_count
from shared.testing import Tokens, running_app
from tests.providers.unit.conftest import application
from tests.providers.unit.events import mission_completed, rating

pytestmark = pytest.mark.integration


@dataclass
class Platform:
    http: httpx.AsyncClient
    database: Database
    bus: KafkaBus
    prefix: str
    bootstrap: str
    ops: dict[str, str]

    async def publish(self, payload: EventPayload, times: int = 1) -> None:
        """Publish one envelope to Kafka `times` times (a redelivery keeps the event id)."""
        envelope = to_envelope(payload)
        message = OutgoingMessage(topic_for(payload.service), envelope.aggregate_id, envelope.to_json())
        for _ in range(times):
            delivered, error = await self.bus.publish([message])
            assert delivered == 1, error

    async def count(self, stmt: Any) -> int:
        async with self.database.sessions() as session:
            return int(await session.scalar(stmt) or 0)


@pytest.fixture
async def platform(
    postgres_url: str, kafka_bootstrap: str, unique: Callable[[str], str], tmp_path: Path
) -> AsyncIterator[Platform]:
    settings = PlatformSettings(var_dir=tmp_path, outbox_poll_s=0.05, log_json=False, log_level="WARNING")
    database = Database(postgres_url, schema=unique("providers"))
    prefix = unique("t") + "."
    bus = KafkaBus(kafka_bootstrap, topic_prefix=prefix, client_id=unique("providers"))
    component = ProvidersComponent(settings, database=database, providers_settings=ProvidersSettings())
    app = create_app([component], settings, bus=bus)
    tokens = Tokens()
    try:
        async with running_app(app) as http:
            yield Platform(http, database, bus, prefix, kafka_bootstrap, tokens.ops("ops-1"))
    finally:
        cleanup = Database(postgres_url, schema=database.schema)
        await cleanup.drop_schema()
        await cleanup.dispose()


async def activate(p: Platform, provider_id: str) -> None:
    headers = Tokens().provider(provider_id)
    assert (await p.http.post("/v1/providers", json=application(), headers=headers)).status_code == 201
    for kind in ("identity", "right_to_work", "siret", "insurance"):
        body: dict[str, Any] = {"kind": kind, "outcome": "passed", "evidence_ref": "doc"}
        if kind == "insurance":
            body["expires_at"] = (datetime.now(UTC) + timedelta(days=365)).isoformat()
        response = await p.http.post(f"/v1/vetting/{provider_id}/checks", json=body, headers=p.ops)
        assert response.status_code == 201, response.text
    response = await p.http.post(f"/v1/vetting/{provider_id}/approve", json={}, headers=p.ops)
    assert response.json()["status"] == "active"


async def test_activation_reaches_kafka_through_the_outbox(platform: Platform) -> None:
    await activate(platform, "p1")

    async def outbox_empty() -> bool:
        return await pending_count(platform.database) == 0

    await wait_for(outbox_empty, timeout=20)
    consumer = AIOKafkaConsumer(
        platform.prefix + topic_for("providers"),
        bootstrap_servers=platform.bootstrap,
        group_id=platform.prefix + "reader",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        seen: list[dict[str, Any]] = []

        async def read_activation() -> bool:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                seen.extend(json.loads(r.value or b"{}") for r in records)
            return any(e["type"] == "provider-activated" for e in seen)

        await wait_for(read_activation, timeout=30)
    finally:
        await consumer.stop()
    activated = next(e for e in seen if e["type"] == "provider-activated")
    assert activated["aggregate_id"] == "p1" and activated["payload"]["categories"] == ["cleaning"]
    assert {e["type"] for e in seen} == {"provider-activated", "qualifications-changed"}


async def test_mission_completed_delivered_twice_counts_once(platform: Platform) -> None:
    await activate(platform, "p1")
    rule = {"name": "First mission", "min_missions": 1, "amount_cents": 1000}
    assert (await platform.http.post("/v1/bonus-rules", json=rule, headers=platform.ops)).status_code == 201
    now = datetime.now(UTC)
    await platform.publish(mission_completed("p1", "m1", now, order_id="o1"), times=2)
    # a later event on the same key (same partition): once it is handled, both copies were
    await platform.publish(mission_completed("p1", "m2", now, order_id="o1"))

    async def sentinel_handled() -> bool:
        return await platform.count(select(func.count()).select_from(m.MissionRecord)) == 2

    await wait_for(sentinel_handled, timeout=30)
    assert await platform.count(select(func.count()).select_from(InboxRow)) == 2
    assert await platform.count(select(func.count()).select_from(m.BonusAward)) == 1
    awarded = select(func.count()).select_from(OutboxRow).where(OutboxRow.type == "bonus-awarded")
    assert await platform.count(awarded) == 1
    bonuses = (await platform.http.get("/v1/providers/p1/bonuses", headers=platform.ops)).json()
    assert [b["amount_cents"] for b in bonuses] == [1000]


async def test_rating_delivered_twice_counts_once(platform: Platform) -> None:
    await activate(platform, "p1")
    first = rating("p1", "r1", 4)
    await platform.publish(first, times=2)
    sentinel = rating("p1", "r2", 2).model_copy(update={"order_id": first.order_id})
    await platform.publish(sentinel)

    async def both_handled() -> bool:
        return await platform.count(select(func.count()).select_from(m.RatingRecord)) == 2

    await wait_for(both_handled, timeout=30)
    reputation = (await platform.http.get("/v1/providers/p1/reputation", headers=platform.ops)).json()
    assert reputation["rating_count"] == 2 and reputation["rating_average"] == 3.0
    changed = select(func.count()).select_from(OutboxRow).where(OutboxRow.type == "reputation-changed")
    assert await platform.count(changed) == 2


async def test_audit_log_is_append_only_on_postgres(platform: Platform) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    await activate(platform, "p1")
    for statement in ("UPDATE audit_entry SET reason = 'x'", "DELETE FROM audit_entry"):
        async with platform.database.sessions() as session:
            with pytest.raises(DBAPIError, match="append-only"):
                await session.execute(text(statement))
    assert await platform.count(select(func.count()).select_from(m.AuditEntry)) >= 6


async def test_concurrent_applications_one_wins_on_postgres(platform: Platform) -> None:
    import asyncio

    headers = Tokens().provider("twin")
    responses = await asyncio.gather(
        *(platform.http.post("/v1/providers", json=application(), headers=headers) for _ in range(4))
    )
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]
