"""Idempotency-Key on disputes and ratings: replayed, or refused when reused for another request."""

from __future__ import annotations

from sqlalchemy import func, select

from services.orders.models import Dispute, Rating
from shared.testing import Tokens
from tests.orders.support import Harness
from tests.orders.unit.test_api_feedback import completed_order


async def count(h: Harness, model: type[Dispute] | type[Rating]) -> int:
    async with h.component.database.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


class TestOpenDisputeIdempotency:
    async def test_same_key_different_body_is_422(self, h: Harness, tokens: Tokens) -> None:
        order = await completed_order(h, tokens)
        headers = {**tokens.client("c1"), "Idempotency-Key": "d-1"}
        first = await h.http.post(f"/v1/orders/{order['id']}/disputes",
                                  json={"reason": "the vase is broken"}, headers=headers)
        assert first.status_code == 201
        other = await h.http.post(f"/v1/orders/{order['id']}/disputes",
                                  json={"reason": "they came late"}, headers=headers)
        assert other.status_code == 422, other.text
        detail = other.json()["detail"][0]
        assert detail["loc"] == ["header", "Idempotency-Key"] and "different request" in detail["msg"]
        assert await count(h, Dispute) == 1

    async def test_same_key_on_another_order_is_422(self, h: Harness, tokens: Tokens) -> None:
        first, second = await completed_order(h, tokens), await completed_order(h, tokens)
        headers = {**tokens.client("c1"), "Idempotency-Key": "d-2"}
        body = {"reason": "the vase is broken"}
        assert (await h.http.post(f"/v1/orders/{first['id']}/disputes", json=body,
                                  headers=headers)).status_code == 201
        r = await h.http.post(f"/v1/orders/{second['id']}/disputes", json=body, headers=headers)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
        assert await count(h, Dispute) == 1


class TestRateOrderIdempotency:
    async def test_same_key_on_another_order_is_422(self, h: Harness, tokens: Tokens) -> None:
        first, second = await completed_order(h, tokens), await completed_order(h, tokens)
        headers = {**tokens.client("c1"), "Idempotency-Key": "r-1"}
        assert (await h.http.post(f"/v1/orders/{first['id']}/rating", json={"score": 4},
                                  headers=headers)).status_code == 201
        r = await h.http.post(f"/v1/orders/{second['id']}/rating", json={"score": 4}, headers=headers)
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
        assert await count(h, Rating) == 1

    async def test_a_refusal_without_a_stored_key_stays_a_refusal(self, h: Harness, tokens: Tokens) -> None:
        """The look-up after a conflict finds nothing: the conflict itself is answered."""
        order = await completed_order(h, tokens)
        path = f"/v1/orders/{order['id']}/rating"
        assert (await h.http.post(path, json={"score": 4}, headers=tokens.client("c1"))).status_code == 201
        r = await h.http.post(path, json={"score": 4},
                              headers={**tokens.client("c1"), "Idempotency-Key": "r-new"})
        assert r.status_code == 409 and "already rated" in r.json()["detail"][0]["msg"]
