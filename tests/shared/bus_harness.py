"""One harness per transport so the same contract tests run on Kafka and in-process."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer

from shared.bus.base import DeliveryPolicy, EventBus
from shared.bus.kafka import KafkaBus
from shared.bus.memory import InMemoryBus
from shared.db import Database

REPO = Path(__file__).resolve().parents[2]
POLICY = DeliveryPolicy(max_attempts=3, backoff_s=0.01)


@dataclass
class DeadLetter:
    key: str
    value: bytes
    headers: dict[str, str]


@dataclass
class Harness:
    name: str
    database: Database
    make_bus: Callable[[], EventBus]
    read_dead_letters: Callable[[str], Awaitable[list[DeadLetter]]]
    outage: Callable[[EventBus], Awaitable[None]]
    recover: Callable[[EventBus], Awaitable[None]]
    buses: list[EventBus] = field(default_factory=list)

    def bus(self) -> EventBus:
        bus = self.make_bus()
        self.buses.append(bus)
        return bus


@asynccontextmanager
async def memory_harness(database: Database) -> AsyncIterator[Harness]:
    shared_bus = InMemoryBus(POLICY)

    async def read(topic: str) -> list[DeadLetter]:
        return [DeadLetter(m.key, m.value, m.headers) for m in shared_bus.messages(topic)]

    async def outage(bus: EventBus) -> None:
        assert isinstance(bus, InMemoryBus)
        bus.is_down = True

    async def recover(bus: EventBus) -> None:
        assert isinstance(bus, InMemoryBus)
        bus.is_down = False

    # One in-process bus per process: every "new" bus is the same broker.
    yield Harness("memory", database, lambda: shared_bus, read, outage, recover)
    await shared_bus.stop()


def kafka_ctl(command: str) -> None:
    subprocess.run(["bash", str(REPO / "deploy" / "kafka.sh"), command], check=True, timeout=180)


@asynccontextmanager
async def kafka_harness(database: Database, bootstrap: str, prefix: str) -> AsyncIterator[Harness]:
    async def read(topic: str) -> list[DeadLetter]:
        consumer = AIOKafkaConsumer(
            f"{prefix}{topic}", bootstrap_servers=bootstrap, auto_offset_reset="earliest",
            enable_auto_commit=False, group_id=None,
        )
        await consumer.start()
        try:
            batches = await consumer.getmany(timeout_ms=3000)
            return [
                DeadLetter(
                    r.key.decode() if r.key else "",
                    r.value or b"",
                    {k: v.decode() for k, v in r.headers},
                )
                for records in batches.values()
                for r in records
            ]
        finally:
            await consumer.stop()

    async def outage(_: EventBus) -> None:
        await asyncio.to_thread(kafka_ctl, "stop")

    async def recover(_: EventBus) -> None:
        await asyncio.to_thread(kafka_ctl, "start")

    harness = Harness(
        "kafka",
        database,
        lambda: KafkaBus(bootstrap, policy=POLICY, topic_prefix=prefix, request_timeout_ms=3000),
        read,
        outage,
        recover,
    )
    yield harness
    for bus in harness.buses:
        await bus.stop()
