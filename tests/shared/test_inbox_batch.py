"""EventRouter.handle_batch and EventBus.deliver_many: one transaction per batch, all or nothing."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy import select

from shared.bus.base import EventBus, OutgoingMessage, Subscription
from shared.db import Database
from shared.events import Envelope, to_envelope, topic_for
from shared.events.orders import OrderCancelled, OrderUnfulfilled
from shared.inbox import EventRouter, InboxRow
from tests.shared.test_bus_contract import Base, Effect, cancelled, effects

TOPIC = topic_for("orders")


@pytest.fixture
async def database(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'batch.db'}", schema="batch")
    await database.create_all(Base.metadata)
    yield database
    await database.dispose()


def unfulfilled(order_id: str) -> OrderUnfulfilled:
    return OrderUnfulfilled(order_id=order_id, client_id="c1", reason="x")


class LocalBus(EventBus):
    """Only what deliver_many needs: dead letters are kept in a list."""

    def __init__(self) -> None:
        super().__init__()
        self.published: list[OutgoingMessage] = []

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def ping(self) -> None: ...

    async def publish(self, messages: Sequence[OutgoingMessage]) -> tuple[int, Exception | None]:
        self.published.extend(messages)
        return len(messages), None


def router(database: Database, calls: list[str], *, poison: str = "") -> EventRouter:
    router = EventRouter(database, consumer="c")

    async def on_cancelled(uow, payload: OrderCancelled, _: Envelope) -> None:  # type: ignore[no-untyped-def]
        calls.append(f"one {payload.reason}")
        if payload.order_id == poison:
            raise RuntimeError("boom")
        uow.session.add(Effect(aggregate=payload.order_id, seq=payload.reason))

    async def on_unfulfilled(uow, run) -> None:  # type: ignore[no-untyped-def]
        calls.append("many " + ",".join(p.order_id for p, _ in run))
        for payload, _ in run:
            uow.session.add(Effect(aggregate=payload.order_id, seq="unfulfilled"))

    async def on_unfulfilled_one(uow, payload: OrderUnfulfilled, _: Envelope) -> None:  # type: ignore[no-untyped-def]
        calls.append(f"one {payload.order_id}")
        uow.session.add(Effect(aggregate=payload.order_id, seq="unfulfilled"))

    router.add(OrderCancelled, on_cancelled)
    router.add(OrderUnfulfilled, on_unfulfilled_one, many=on_unfulfilled)
    return router


async def test_a_batch_keeps_order_skips_duplicates_and_hands_runs_over(database: Database) -> None:
    calls: list[str] = []
    r = router(database, calls)
    first = to_envelope(cancelled("a", 1))
    await r(first)  # already handled before the batch
    envelopes = [
        first,
        to_envelope(unfulfilled("u1")),
        to_envelope(unfulfilled("u2")),
        to_envelope(cancelled("a", 2)),
        to_envelope(unfulfilled("u3")),
    ]
    envelopes.append(envelopes[3])  # a duplicate inside the batch
    await r.handle_batch(envelopes)
    assert calls == ["one 1", "many u1,u2", "one 2", "many u3"]
    assert await effects(database) == [
        ("a", "1"), ("u1", "unfulfilled"), ("u2", "unfulfilled"), ("a", "2"), ("u3", "unfulfilled")
    ]
    async with database.sessions() as session:
        assert len((await session.scalars(select(InboxRow))).all()) == 5


async def test_a_failing_event_rolls_the_batch_back_then_goes_one_by_one(database: Database) -> None:
    calls: list[str] = []
    bus = LocalBus()
    subscription = Subscription("c", [TOPIC], router(database, calls, poison="bad"))
    envelopes = [to_envelope(cancelled(o, i)) for i, o in enumerate(["a", "bad", "b"])]
    await bus.deliver_many(subscription, TOPIC, [(e.aggregate_id, e.to_json()) for e in envelopes])
    # the batch tried a, then bad, and rolled back; then each alone: bad three times, then dead-lettered
    assert calls == ["one 0", "one 1", "one 0", "one 1", "one 1", "one 1", "one 2"]
    assert await effects(database) == [("a", "0"), ("b", "2")]
    assert [m.key for m in bus.published] == ["bad"] and bus.published[0].topic == f"{TOPIC}.dlq"
