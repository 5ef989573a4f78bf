"""Several matching processes on one PostgreSQL schema share the zones without double offers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import IntegrityError

from services.matching.dispatch import BatchReport, zone_lock_key
from services.matching.models import Offer
from shared.db import Database
from shared.events.envelope import utcnow
from shared.events.orders import OrderCancelled
from shared.events.registry import EventPayload
from shared.ids import new_id
from shared.outbox import OutboxRow
from tests.matching.integration.processes import Process, two_processes
from tests.matching.support import PARIS, on_duty, order_confirmed, provider_activated

pytestmark = pytest.mark.integration


@pytest.fixture
async def processes(
    postgres_url: str, unique: Callable[[str], str]
) -> AsyncIterator[tuple[Process, Process]]:
    async with two_processes(postgres_url, unique("matching")) as pair:
        yield pair


async def live_counts(database: Database, column: Any) -> list[int]:
    async with database.unit_of_work() as uow:
        rows = await uow.session.execute(
            select(column, func.count()).where(Offer.status == "pending").group_by(column)
        )
        return [int(count) for _, count in rows]


async def test_two_processes_batching_at_once_never_double_offer(processes: tuple[Process, Process]) -> None:
    a, b = processes
    now = utcnow()
    providers: list[EventPayload] = []
    for i in range(24):
        providers += [
            provider_activated(
                f"p{i}", home_lat=PARIS[0] + i * 0.001, home_lng=PARIS[1], travel_radius_km=30.0
            ),
            on_duty(f"p{i}"),
        ]
    await a.given(*providers)
    orders = [order_confirmed(f"o{z}-{k}", now=now, zone=f"z{z}") for z in range(6) for k in range(6)]
    await b.given(*orders)

    reports: list[BatchReport] = []
    for _ in range(3):
        reports += await asyncio.gather(a.dispatcher.run_batch(), b.dispatcher.run_batch())

    assert max(await live_counts(a.database, Offer.order_id)) == 1
    assert max(await live_counts(a.database, Offer.provider_id)) == 1
    async with a.database.unit_of_work() as uow:
        total = await uow.session.scalar(select(func.count()).select_from(Offer))
        announced = await uow.session.scalar(
            select(func.count()).select_from(OutboxRow).where(OutboxRow.type == "mission-offered")
        )
    assert total == sum(r.offered for r in reports) == 24, "every provider busy, no offer lost or doubled"
    assert announced == 24, "one mission-offered event per offer, none from a rolled-back collision"


async def test_a_zone_held_by_a_live_process_is_skipped_and_taken_over_when_it_dies(
    processes: tuple[Process, Process], postgres_url: str
) -> None:
    a, b = processes
    await a.given(provider_activated("p1"), on_duty("p1"), order_confirmed("o1", now=utcnow(), zone="z1"))
    holder = Database(postgres_url, schema=a.database.schema)
    try:
        async with holder.engine.connect() as conn:
            await conn.execute(text("BEGIN"))
            await conn.execute(select(func.pg_advisory_xact_lock(zone_lock_key("z1"))))
            report = await b.dispatcher.run_batch()
            assert report.zones_skipped == ["z1"] and report.offered == 0
        # the holder's connection is gone: its transaction and lock with it
        report = await b.dispatcher.run_batch()
        assert report.zones_solved == ["z1"] and report.offered == 1
    finally:
        await holder.dispose()


async def test_the_database_refuses_a_second_live_offer_for_an_order_or_a_provider(
    processes: tuple[Process, Process],
) -> None:
    a, _ = processes
    now = utcnow()

    def offer(order_id: str, provider_id: str) -> Offer:
        return Offer(
            id=new_id(),
            order_id=order_id,
            provider_id=provider_id,
            status="pending",
            zone="z",
            created_at=now,
            expires_at=now,
            scheduled_start=now,
        )

    async with a.database.unit_of_work() as uow:
        uow.session.add(offer("o1", "p1"))
        await uow.commit()
    for order_id, provider_id in (("o1", "p2"), ("o2", "p1")):
        async with a.database.unit_of_work() as uow:
            uow.session.add(offer(order_id, provider_id))
            with pytest.raises(IntegrityError):
                await uow.commit()


async def test_two_processes_accepting_the_same_offer_make_one_mission(
    processes: tuple[Process, Process],
) -> None:
    a, b = processes
    await a.given(provider_activated("p1"), on_duty("p1"), order_confirmed("o1", now=utcnow()))
    await a.dispatcher.run_batch()
    async with a.database.unit_of_work() as uow:
        offer_id = await uow.session.scalar(select(Offer.id))
    assert offer_id is not None
    results = await asyncio.gather(
        *(p.service.accept_offer(offer_id, "p1") for p in (a, b, a, b)), return_exceptions=True
    )
    wins = [r for r in results if not isinstance(r, BaseException)]
    assert len(wins) == 1, results
    assert all(getattr(r, "status_code", None) == 409 for r in results if isinstance(r, BaseException))


async def test_decline_lapse_and_cancellation_on_postgresql(processes: tuple[Process, Process]) -> None:
    a, b = processes
    now = utcnow()
    await a.given(
        provider_activated("p1"),
        on_duty("p1"),
        provider_activated("p2", home_lat=48.84, home_lng=2.33),
        on_duty("p2"),
        provider_activated("p3", home_lat=48.80, home_lng=2.30),
        on_duty("p3"),
        order_confirmed("o1", now=now),
    )

    async def live() -> list[tuple[str, str]]:
        async with a.database.unit_of_work() as uow:
            rows = await uow.session.execute(
                select(Offer.id, Offer.provider_id).where(Offer.status == "pending")
            )
            return [(str(i), str(p)) for i, p in rows]

    await a.dispatcher.run_batch()
    ((first, who),) = await live()
    assert who == "p1"
    await b.service.decline_offer(first, "p1", "busy")
    await b.dispatcher.run_batch()
    ((second, who),) = await live()
    assert who == "p2"
    async with a.database.unit_of_work() as uow:  # let the offer lapse
        await uow.session.execute(update(Offer).where(Offer.id == second).values(expires_at=now))
        await uow.commit()
    report = await a.dispatcher.run_batch()
    assert report.expired == 1
    ((third, who),) = await live()
    assert who == "p3"
    await b.given(OrderCancelled(order_id="o1", cancelled_by="client", reason="no longer needed"))
    assert await live() == []
    async with a.database.unit_of_work() as uow:
        types = list(await uow.session.scalars(select(OutboxRow.type).order_by(OutboxRow.id)))
    assert types == [
        "mission-offered",
        "mission-declined",
        "mission-offered",
        "mission-expired",
        "mission-offered",
        "offer-withdrawn",
    ]
