"""An accept racing the order's cancellation or the offer's lapse, on PostgreSQL, two processes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from services.matching.models import Mission, Offer, Order
from shared.events.envelope import utcnow
from tests.matching.integration.processes import Process, two_processes
from tests.matching.support import on_duty, order_cancelled, order_confirmed, provider_activated

pytestmark = pytest.mark.integration

LIVE_MISSION = ("assigned", "started")


@pytest.fixture
async def processes(
    postgres_url: str, unique: Callable[[str], str]
) -> AsyncIterator[tuple[Process, Process]]:
    async with two_processes(postgres_url, unique("race")) as pair:
        yield pair


async def offered(a: Process) -> str:
    await a.given(provider_activated("p1"), on_duty("p1"), order_confirmed("o1", now=utcnow()))
    await a.dispatcher.run_batch()
    async with a.database.unit_of_work() as uow:
        offer_id = await uow.session.scalar(select(Offer.id).where(Offer.status == "pending"))
    assert offer_id is not None
    return offer_id


async def state(a: Process) -> tuple[str, list[str], list[str]]:
    async with a.database.unit_of_work() as uow:
        order = await uow.session.scalar(select(Order.status).where(Order.order_id == "o1"))
        missions = list(await uow.session.scalars(select(Mission.status).where(Mission.order_id == "o1")))
        offers = list(await uow.session.scalars(select(Offer.status).where(Offer.order_id == "o1")))
    return str(order), missions, offers


async def both(first_accept: bool, accept: Awaitable[Any], other: Awaitable[Any]) -> tuple[Any, Any]:
    """Run the accept and the other step at once; or the other a moment ahead of the accept."""

    async def a_moment_later() -> Any:
        await asyncio.sleep(0.05)
        return await accept

    got_accept, got_other = await asyncio.gather(
        accept if first_accept else a_moment_later(), other, return_exceptions=True
    )
    return got_accept, got_other


@pytest.mark.parametrize("first_accept", [True, False], ids=["accept-first", "cancel-first"])
async def test_an_accept_racing_the_cancellation_never_leaves_a_live_mission(
    processes: tuple[Process, Process], first_accept: bool
) -> None:
    a, b = processes
    offer_id = await offered(a)
    accept, cancel = await both(
        first_accept, a.service.accept_offer(offer_id, "p1"), b.given(order_cancelled("o1"))
    )
    assert not isinstance(cancel, BaseException), cancel
    order, missions, offers = await state(a)
    assert order == "cancelled"
    # Whoever came first, the order ends with no live mission and no live offer.
    assert not [m for m in missions if m in LIVE_MISSION], (accept, missions)
    assert "pending" not in offers
    if isinstance(accept, BaseException):  # the cancellation came first: the accept is refused
        assert getattr(accept, "status_code", None) in (404, 409), accept
    else:  # the accept came first: its mission was then cancelled
        assert missions == ["cancelled"]


@pytest.mark.parametrize("first_accept", [True, False], ids=["accept-first", "lapse-first"])
async def test_an_accept_racing_the_lapse_makes_a_mission_or_a_lapse_never_both(
    processes: tuple[Process, Process], first_accept: bool
) -> None:
    a, b = processes
    offer_id = await offered(a)
    async with a.database.unit_of_work() as uow:
        offer = await uow.session.get(Offer, offer_id)
        assert offer is not None
        expires_at = offer.expires_at
    # The accept comes just in time by its clock; the sweep sees the deadline passed by its own.
    accept, lapse = await both(
        first_accept,
        a.service.accept_offer(offer_id, "p1"),
        b.dispatcher.expire_lapsed(expires_at + timedelta(seconds=1)),
    )
    assert not isinstance(lapse, BaseException), lapse
    _, missions, offers = await state(a)
    if isinstance(accept, BaseException):
        assert missions == [] and offers[0] == "expired", (accept, offers)
    else:
        assert missions == ["assigned"] and offers[0] == "accepted", offers
