"""The deadline and lapse sweeps on PostgreSQL: two processes at once, and rows changed under them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update

from services.matching.config import MatchingSettings
from services.matching.dispatch import Dispatcher
from services.matching.models import Offer, Order
from services.matching.repository import MatchingRepository
from shared.db import Database
from shared.events.envelope import utcnow
from shared.events.orders import OrderCancelled
from shared.events.registry import EventPayload
from shared.outbox import OutboxRow
from tests.matching.integration.processes import Process, two_processes
from tests.matching.support import PARIS, on_duty, order_confirmed, provider_activated

pytestmark = pytest.mark.integration

CONFIRMED_AT = utcnow()
PAST_DEADLINES = CONFIRMED_AT + timedelta(hours=1)  # every order's deadline is 30 min after confirmation


@pytest.fixture
async def processes(
    postgres_url: str, unique: Callable[[str], str]
) -> AsyncIterator[tuple[Process, Process]]:
    async with two_processes(postgres_url, unique("sweep"), lambda: PAST_DEADLINES) as pair:
        yield pair


def after_read_wait_for_the_other(
    monkeypatch: pytest.MonkeyPatch, name: str, parties: int
) -> None:
    """Make every sweep wait, after its first read, until all `parties` sweeps have read."""
    original = getattr(MatchingRepository, name)
    barrier = asyncio.Barrier(parties)

    async def read_then_wait(self: MatchingRepository, now: datetime) -> Any:
        rows = await original(self, now)
        await asyncio.wait_for(barrier.wait(), timeout=10)
        return rows

    monkeypatch.setattr(MatchingRepository, name, read_then_wait)


async def outbox_types(database: Database) -> dict[str, list[str]]:
    """Return the types of the staged events, per order id."""
    async with database.unit_of_work() as uow:
        rows = await uow.session.execute(select(OutboxRow.key, OutboxRow.type).order_by(OutboxRow.id))
        found: dict[str, list[str]] = {}
        for key, type_ in rows:
            found.setdefault(str(key), []).append(str(type_))
        return found


async def statuses(database: Database) -> dict[str, str]:
    async with database.unit_of_work() as uow:
        rows = await uow.session.execute(select(Order.order_id, Order.status))
        return {str(order_id): str(status) for order_id, status in rows}


ORDERS = [f"o{k}" for k in range(12)]


async def test_two_processes_sweeping_deadlines_at_once_give_up_each_order_once(
    processes: tuple[Process, Process], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = processes
    await a.given(*(order_confirmed(order_id, now=CONFIRMED_AT) for order_id in ORDERS))
    after_read_wait_for_the_other(monkeypatch, "lock_overdue_pool", parties=2)

    given_up = await asyncio.gather(
        a.dispatcher.give_up_overdue(PAST_DEADLINES), b.dispatcher.give_up_overdue(PAST_DEADLINES)
    )

    assert sum(given_up) == len(ORDERS)
    events = await outbox_types(a.database)
    assert {order_id: events.get(order_id) for order_id in ORDERS} == {
        order_id: ["order-unassignable"] for order_id in ORDERS
    }
    assert set((await statuses(a.database)).values()) == {"unassignable"}


async def test_two_processes_lapsing_offers_at_once_lapse_each_offer_once(
    processes: tuple[Process, Process], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = processes
    providers: list[EventPayload] = []
    for i in range(6):
        providers += [provider_activated(f"p{i}", home_lat=PARIS[0] + i * 0.001), on_duty(f"p{i}")]
    now = utcnow()
    await a.given(*providers, *(order_confirmed(f"o{k}", now=now) for k in range(6)))
    batcher = Dispatcher(a.database, MatchingSettings(is_dispatch_enabled=False), utcnow)
    assert (await batcher.run_batch()).offered == 6
    async with a.database.unit_of_work() as uow:
        await uow.session.execute(update(Offer).values(expires_at=now))
        await uow.commit()
    after_read_wait_for_the_other(monkeypatch, "lapsed_offers", parties=2)

    lapsed = await asyncio.gather(a.dispatcher.expire_lapsed(utcnow()), b.dispatcher.expire_lapsed(utcnow()))

    assert sum(lapsed) == 6
    events = await outbox_types(a.database)
    assert all(events[f"o{k}"] == ["mission-offered", "mission-expired"] for k in range(6)), events
    assert set((await statuses(a.database)).values()) == {"pool"}


async def test_an_order_cancelled_under_a_stale_copy_stays_cancelled_without_an_event(
    processes: tuple[Process, Process], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, b = processes
    await a.given(order_confirmed("o1", now=CONFIRMED_AT), order_confirmed("o2", now=CONFIRMED_AT))
    original = MatchingRepository.lock_overdue_pool

    async def cancel_after_a_stale_read(self: MatchingRepository, now: datetime) -> list[Order]:
        stale = await self.order("o1")  # the sweep's session now holds o1 as "pool"
        assert stale is not None and stale.status == "pool"
        await b.given(OrderCancelled(order_id="o1", cancelled_by="client", reason="no longer needed"))
        return await original(self, now)

    monkeypatch.setattr(MatchingRepository, "lock_overdue_pool", cancel_after_a_stale_read)

    assert await a.dispatcher.give_up_overdue(PAST_DEADLINES) == 1

    assert await statuses(a.database) == {"o1": "cancelled", "o2": "unassignable"}
    events = await outbox_types(a.database)
    assert "o1" not in events and events["o2"] == ["order-unassignable"]


async def test_a_locking_read_replaces_the_sessions_stale_copy(processes: tuple[Process, Process]) -> None:
    a, b = processes
    await a.given(order_confirmed("o1", now=CONFIRMED_AT))
    async with a.database.unit_of_work() as uow:
        repo = MatchingRepository(uow.session)
        stale = await repo.order("o1")
        assert stale is not None and stale.status == "pool"
        await b.given(OrderCancelled(order_id="o1", cancelled_by="client", reason="no longer needed"))
        locked = await repo.order("o1", for_update=True)
        assert locked is stale and locked.status == "cancelled"

