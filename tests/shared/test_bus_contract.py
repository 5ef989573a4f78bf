"""The delivery contract, run on both transports: real Kafka + PostgreSQL, and in-process + SQLite."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from sqlalchemy import Integer, String, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.bus.base import EventBus, OutgoingMessage, Subscription
from shared.db import Database, make_metadata, wait_for
from shared.events import Envelope, to_envelope, topic_for
from shared.events.orders import OrderCancelled
from shared.inbox import EventRouter
from shared.outbox import OutboxRelay, pending_count
from tests.shared.bus_harness import REPO, Harness, kafka_harness, memory_harness

TOPIC = topic_for("orders")


class Base(DeclarativeBase):
    metadata = make_metadata()


class Effect(Base):
    """A state change made by a handler: one row per handled event."""

    __tablename__ = "effects"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    aggregate: Mapped[str] = mapped_column(String(50))
    seq: Mapped[str] = mapped_column(String(50))


def cancelled(aggregate: str, seq: int | str) -> OrderCancelled:
    return OrderCancelled(order_id=aggregate, cancelled_by="client", reason=str(seq))


@pytest.fixture(params=["memory", pytest.param("kafka", marks=pytest.mark.integration)])
async def harness(
    request: pytest.FixtureRequest, tmp_path: Path, unique: Callable[[str], str]
) -> AsyncIterator[Harness]:
    if request.param == "memory":
        database = Database(f"sqlite+aiosqlite:///{tmp_path / 'contract.db'}", schema="contract")
        await database.create_all(Base.metadata)
        async with memory_harness(database) as h:
            yield h
        await database.dispose()
    else:
        postgres_url = request.getfixturevalue("postgres_url")
        bootstrap = request.getfixturevalue("kafka_bootstrap")
        database = Database(postgres_url, schema=unique("contract"))
        await database.create_all(Base.metadata)
        async with kafka_harness(database, bootstrap, prefix=unique("t") + ".") as h:
            yield h
        await database.drop_schema()
        await database.dispose()


async def write_through_outbox(database: Database, payloads: list[OrderCancelled]) -> None:
    """Commit each event in its own transaction, as use cases do."""
    for payload in payloads:
        async with database.unit_of_work() as uow:
            uow.add_event(payload)
            await uow.commit()


async def effects(database: Database) -> list[tuple[str, str]]:
    async with database.sessions() as session:
        rows = await session.execute(select(Effect.aggregate, Effect.seq).order_by(Effect.id))
        return [(a, s) for a, s in rows.all()]


def recording_router(database: Database, group: str) -> EventRouter:
    """An idempotent consumer whose state change is one Effect row per event."""
    router = EventRouter(database, consumer=group)

    async def on_cancelled(uow, payload: OrderCancelled, _: Envelope) -> None:  # type: ignore[no-untyped-def]
        uow.session.add(Effect(aggregate=payload.order_id, seq=payload.reason))

    router.add(OrderCancelled, on_cancelled)
    return router


async def start(bus: EventBus, *subscriptions: Subscription) -> None:
    for subscription in subscriptions:
        bus.subscribe(subscription)
    await bus.start()


async def test_an_outbox_event_reaches_a_consumer(harness: Harness) -> None:
    bus = harness.bus()
    await start(bus, Subscription("g-reader", [TOPIC], recording_router(harness.database, "g-reader")))
    relay = OutboxRelay(harness.database, bus, poll_interval_s=0.05)
    relay.start()
    try:
        await write_through_outbox(harness.database, [cancelled("o-1", 1)])

        async def seen() -> list[tuple[str, str]]:
            return await effects(harness.database)

        assert await wait_for(seen, timeout=30) == [("o-1", "1")]
        assert await pending_count(harness.database) == 0
    finally:
        await relay.stop()


async def test_events_of_one_aggregate_arrive_in_order(harness: Harness) -> None:
    bus = harness.bus()
    await start(bus, Subscription("g-order", [TOPIC], recording_router(harness.database, "g-order")))
    relay = OutboxRelay(harness.database, bus, poll_interval_s=0.05)
    payloads = [cancelled(f"o-{i % 3}", i) for i in range(30)]
    await write_through_outbox(harness.database, payloads)
    relay.start()
    try:
        async def all_seen() -> bool:
            return len(await effects(harness.database)) == 30

        await wait_for(all_seen, timeout=30)
    finally:
        await relay.stop()
    rows = await effects(harness.database)
    for aggregate in ("o-0", "o-1", "o-2"):
        seqs = [int(s) for a, s in rows if a == aggregate]
        assert seqs == sorted(seqs) and len(seqs) == 10


async def test_a_message_delivered_twice_changes_state_once(harness: Harness) -> None:
    bus = harness.bus()
    deliveries: list[str] = []
    router = recording_router(harness.database, "g-dup")

    async def counting(envelope: Envelope) -> None:
        deliveries.append(str(envelope.event_id))
        await router(envelope)

    await start(bus, Subscription("g-dup", [TOPIC], counting))
    envelope = to_envelope(cancelled("o-dup", 1))
    message = OutgoingMessage(TOPIC, envelope.aggregate_id, envelope.to_json())
    assert (await bus.publish([message, message]))[0] == 2

    async def both_delivered() -> bool:
        return len(deliveries) == 2

    await wait_for(both_delivered, timeout=30)
    assert deliveries == [str(envelope.event_id)] * 2
    assert await effects(harness.database) == [("o-dup", "1")]


async def test_a_handler_that_always_fails_dead_letters_and_consumption_goes_on(
    harness: Harness,
) -> None:
    bus = harness.bus()
    attempts: dict[str, int] = {}
    handled: list[str] = []

    async def fragile(envelope: Envelope) -> None:
        attempts[envelope.aggregate_id] = attempts.get(envelope.aggregate_id, 0) + 1
        if envelope.aggregate_id == "poison":
            raise RuntimeError("boom: cannot handle this one")
        handled.append(envelope.aggregate_id)

    await start(bus, Subscription("g-dlq", [TOPIC], fragile))
    poison, good = to_envelope(cancelled("poison", 1)), to_envelope(cancelled("good", 2))
    await bus.publish(
        [OutgoingMessage(TOPIC, e.aggregate_id, e.to_json()) for e in (poison, good)]
    )

    async def good_handled() -> bool:
        return handled == ["good"]

    await wait_for(good_handled, timeout=30)

    async def dead_letters() -> list:  # type: ignore[type-arg]
        return await harness.read_dead_letters(f"{TOPIC}.dlq")

    # Keys on other partitions are handled while the poison one is still being retried:
    # the attempts are counted once it has reached the dead-letter topic.
    (letter,) = await wait_for(dead_letters, timeout=30)
    assert attempts["poison"] == 3
    assert handled == ["good"]
    assert Envelope.from_json(letter.value).event_id == poison.event_id
    assert letter.key == "poison"
    assert letter.headers["error"] == "RuntimeError: boom: cannot handle this one"
    assert letter.headers["attempts"] == "3"
    assert letter.headers["original_topic"] == TOPIC
    assert letter.headers["consumer_group"] == "g-dlq"


async def test_a_malformed_message_dead_letters_at_once(harness: Harness) -> None:
    bus = harness.bus()
    handled: list[str] = []

    async def handler(envelope: Envelope) -> None:
        handled.append(envelope.aggregate_id)

    await start(bus, Subscription("g-bad", [TOPIC], handler))
    ok = to_envelope(cancelled("fine", 1))
    await bus.publish(
        [OutgoingMessage(TOPIC, "junk", b"{not json"), OutgoingMessage(TOPIC, "fine", ok.to_json())]
    )

    async def fine_handled() -> bool:
        return handled == ["fine"]

    await wait_for(fine_handled, timeout=30)

    async def dead_letters() -> list:  # type: ignore[type-arg]
        return await harness.read_dead_letters(f"{TOPIC}.dlq")

    (letter,) = await wait_for(dead_letters, timeout=30)
    assert letter.value == b"{not json"
    assert letter.headers["attempts"] == "0"


async def test_state_commits_while_the_broker_is_down_and_events_follow_in_order(
    harness: Harness,
) -> None:
    bus = harness.bus()
    await start(bus, Subscription("g-outage", [TOPIC], recording_router(harness.database, "g-outage")))
    relay = OutboxRelay(harness.database, bus, poll_interval_s=0.05, max_backoff_s=0.5)
    relay.start()
    try:
        await write_through_outbox(harness.database, [cancelled("o-a", 0)])

        async def first_seen() -> bool:
            return len(await effects(harness.database)) == 1

        await wait_for(first_seen, timeout=30)

        await harness.outage(bus)
        payloads = [cancelled(f"o-{'ab'[i % 2]}", i) for i in range(1, 21)]
        await write_through_outbox(harness.database, payloads)  # commits succeed with no broker
        await asyncio.sleep(1.0)  # let the relay try, and fail, to publish
        assert await pending_count(harness.database) == 20
        assert len(await effects(harness.database)) == 1

        await harness.recover(bus)

        async def all_seen() -> bool:
            return len(await effects(harness.database)) == 21

        await wait_for(all_seen, timeout=90)
    finally:
        await relay.stop()
    rows = await effects(harness.database)
    for aggregate in ("o-a", "o-b"):
        seqs = [int(s) for a, s in rows if a == aggregate]
        assert seqs == sorted(seqs)
    assert sorted(int(s) for _, s in rows) == list(range(21))
    assert await pending_count(harness.database) == 0


@pytest.mark.integration
async def test_an_outbox_event_reaches_a_consumer_in_another_process(
    pg_database: Database, kafka_bootstrap: str, unique: Callable[[str], str]
) -> None:
    from shared.bus.kafka import KafkaBus

    prefix = unique("t") + "."
    bus = KafkaBus(kafka_bootstrap, topic_prefix=prefix)
    await pg_database.create_all()
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.shared.consumer_process", kafka_bootstrap, prefix, TOPIC, "3",
        cwd=REPO, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    relay = OutboxRelay(pg_database, bus, poll_interval_s=0.05)
    try:
        assert child.stdout is not None
        ready = await asyncio.wait_for(child.stdout.readline(), timeout=60)
        assert ready.strip() == b"ready"
        await write_through_outbox(pg_database, [cancelled("o-x", i) for i in range(3)])
        relay.start()
        out, err = await asyncio.wait_for(child.communicate(), timeout=60)
    finally:
        await relay.stop()
        await bus.stop()
        if child.returncode is None:
            child.kill()
    received = [json.loads(line) for line in out.decode().splitlines()]
    assert child.returncode == 0, err.decode()[-2000:]
    assert [(r["aggregate_id"], r["reason"]) for r in received] == [("o-x", "0"), ("o-x", "1"), ("o-x", "2")]
    assert all(r["pid"] != _own_pid() for r in received)


def _own_pid() -> int:
    import os

    return os.getpid()


@pytest.mark.integration
async def test_published_outbox_rows_are_counted_once(pg_database: Database) -> None:
    await pg_database.create_all()
    await write_through_outbox(pg_database, [cancelled("o-1", 1), cancelled("o-2", 2)])
    assert await pending_count(pg_database) == 2
    async with pg_database.sessions() as session:
        from shared.outbox import OutboxRow

        assert await session.scalar(select(func.count()).select_from(OutboxRow)) == 2
