"""Requests racing each other on real PostgreSQL: an answer each (first answer replayed, 422,
or done twice), never a 500 from a key or row inserted by both."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, func, select

from services.orders.models import CancellationPolicyRow, ClientWebhook, Dispute, Rating
from shared.testing import Tokens
from tests.orders.support import Harness, PricingStub, harness_on_postgres
from tests.orders.unit.test_api_orders import assigned, completed, confirm, started

pytestmark = pytest.mark.integration

TOKENS = Tokens()
RACERS = (40, 50, 60, 70)  # requests sent together where the race is on a first insert
ROUNDS = 3  # each round is one race; a few make the interleaving that used to fail near certain


@pytest.fixture
async def pg(postgres_url: str, unique: Callable[[str], str], pricing: PricingStub
             ) -> AsyncIterator[Harness]:
    async with harness_on_postgres(postgres_url, unique("orders"), pricing) as h:
        yield h


async def completed_order(h: Harness) -> dict[str, Any]:
    order = await confirm(h, TOKENS, client="c1")
    mission = f"m-{order['id']}"
    await h.emit(assigned(order["id"], mission=mission))
    await h.emit(started(order["id"], mission=mission))
    await h.emit(completed(order, mission=mission))
    return order


async def rows(h: Harness, model: Any) -> int:
    async with h.component.database.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def post(h: Harness, path: str, body: dict[str, Any], key: str) -> Any:
    return h.http.post(path, json=body, headers={**TOKENS.client("c1"), "Idempotency-Key": key})


def statuses(answers: Sequence[httpx.Response]) -> list[int]:
    return sorted(r.status_code for r in answers)


ENDPOINTS = [
    pytest.param("/v1/orders/{oid}/rating", {"score": 5, "comment": "great"}, Rating, id="rating"),
    pytest.param("/v1/orders/{oid}/disputes", {"reason": "the vase is broken"}, Dispute, id="dispute"),
]


@pytest.mark.parametrize(("path", "body", "model"), ENDPOINTS)
async def test_one_key_on_two_orders_at_once_creates_one_and_refuses_the_other(
    pg: Harness, path: str, body: dict[str, Any], model: Any
) -> None:
    for n in range(ROUNDS):
        first, second = await completed_order(pg), await completed_order(pg)
        answers = await asyncio.gather(
            post(pg, path.format(oid=first["id"]), body, f"same-{n}"),
            post(pg, path.format(oid=second["id"]), body, f"same-{n}"),
        )
        assert statuses(answers) == [201, 422], [r.text for r in answers]
        refused = next(r for r in answers if r.status_code == 422).json()["detail"][0]
        assert refused["loc"] == ["header", "Idempotency-Key"]
    assert await rows(pg, model) == ROUNDS


@pytest.mark.parametrize(("path", "body", "model"), ENDPOINTS)
async def test_the_same_request_twice_at_once_gets_the_first_answer_twice(
    pg: Harness, path: str, body: dict[str, Any], model: Any
) -> None:
    for n in range(ROUNDS):
        order = await completed_order(pg)
        answers = await asyncio.gather(*(post(pg, path.format(oid=order["id"]), body, f"twin-{n}")
                                         for _ in range(2)))
        assert statuses(answers) == [201, 201], [r.text for r in answers]
        assert answers[0].json() == answers[1].json()
    assert await rows(pg, model) == ROUNDS


async def test_first_cancellation_policies_at_once(pg: Harness) -> None:
    def policy(share: int) -> dict[str, Any]:
        return {"tiers": [{"min_hours_before": 0, "fee_percent": "10"}],
                "provider_share_percent": str(share), "reason": f"share {share}"}

    for _ in range(ROUNDS):
        async with pg.component.database.sessions() as session:  # back to the settings' default
            await session.execute(delete(CancellationPolicyRow))
            await session.commit()
        answers = await asyncio.gather(*(
            pg.http.put("/v1/orders/cancellation-policy", json=policy(share), headers=TOKENS.ops())
            for share in RACERS))
        assert statuses(answers) == [200] * len(RACERS), [r.text for r in answers]
        assert await rows(pg, CancellationPolicyRow) == 1
        in_force = (await pg.http.get("/v1/orders/cancellation-policy", headers=TOKENS.ops())).json()
        assert float(in_force["provider_share_percent"]) in RACERS  # one of them, whole


async def test_first_webhooks_of_a_client_at_once(pg: Harness) -> None:
    for n in range(ROUNDS):
        client = TOKENS.client(f"c{n}")
        urls = [f"https://hooks.example.com/{n}/{racer}" for racer in RACERS]
        answers = await asyncio.gather(*(
            pg.http.put("/v1/orders/notification-webhook", json={"url": url}, headers=client)
            for url in urls))
        assert statuses(answers) == [200] * len(RACERS), [r.text for r in answers]
        stored = (await pg.http.get("/v1/orders/notification-webhook", headers=client)).json()
        assert stored["url"] in urls
    assert await rows(pg, ClientWebhook) == ROUNDS
