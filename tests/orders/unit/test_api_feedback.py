"""Double-blind ratings both ways, and disputes with their audit trail."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select

from shared.outbox import OutboxRow
from shared.testing import Tokens
from tests.orders.support import Harness
from tests.orders.unit.test_api_orders import assigned, completed, confirm, started


@pytest.fixture
def h(h_on_both_databases: Harness) -> Harness:
    """Every test here runs on SQLite and on PostgreSQL (series and rating jobs lock rows there)."""
    return h_on_both_databases


async def completed_order(h: Harness, tokens: Tokens) -> dict[str, Any]:
    order = await confirm(h, tokens, client="c1")
    await h.emit(assigned(order["id"]))
    await h.emit(started(order["id"]))
    await h.emit(completed(order))
    return order


async def revealed_events(h: Harness) -> list[dict[str, Any]]:
    async with h.component.database.sessions() as session:
        rows = await session.scalars(select(OutboxRow).where(OutboxRow.type == "rating-revealed")
                                     .order_by(OutboxRow.id))
        return [json.loads(r.envelope)["payload"] for r in rows]


class TestRatings:
    async def test_hidden_until_both_in_then_revealed_both(self, h: Harness, tokens: Tokens) -> None:
        order = await completed_order(h, tokens)
        oid = order["id"]
        r = await h.http.post(f"/v1/orders/{oid}/rating", json={"score": 5, "comment": "great"},
                              headers=tokens.client("c1"))
        assert r.status_code == 201 and r.json()["revealed"] is False
        # The provider cannot see the client's rating yet; the client sees their own.
        as_provider = (await h.http.get(f"/v1/orders/{oid}/ratings", headers=tokens.provider("p1"))).json()
        assert as_provider == []
        as_client = (await h.http.get(f"/v1/orders/{oid}/ratings", headers=tokens.client("c1"))).json()
        assert [x["rater_role"] for x in as_client] == ["client"]
        assert await revealed_events(h) == []

        r = await h.http.post(f"/v1/orders/{oid}/rating", json={"score": 4}, headers=tokens.provider("p1"))
        assert r.status_code == 201 and r.json()["revealed"] is True
        both = (await h.http.get(f"/v1/orders/{oid}/ratings", headers=tokens.provider("p1"))).json()
        assert sorted(x["rater_role"] for x in both) == ["client", "provider"]
        assert all(x["revealed"] for x in both)
        events = await revealed_events(h)
        assert sorted((e["rater_role"], e["score"]) for e in events) == [("client", 5), ("provider", 4)]
        assert {e["provider_id"] for e in events} == {"p1"}
        about_p1 = (await h.http.get("/v1/ratings", headers=tokens.provider("p1"))).json()
        assert [x["score"] for x in about_p1] == [5]

    async def test_window_closed_reveals_the_one_in(self, h: Harness, tokens: Tokens) -> None:
        order = await completed_order(h, tokens)
        oid = order["id"]
        await h.http.post(f"/v1/orders/{oid}/rating", json={"score": 2, "comment": "late"},
                          headers=tokens.provider("p1"))
        assert await h.component.use_cases.feedback.reveal_due_ratings() == 0
        h.clock.advance(days=15)
        assert await h.component.use_cases.feedback.reveal_due_ratings() == 1
        seen = (await h.http.get(f"/v1/orders/{oid}/ratings", headers=tokens.client("c1"))).json()
        assert [(x["rater_role"], x["revealed"]) for x in seen] == [("provider", True)]
        assert [e["score"] for e in await revealed_events(h)] == [2]
        assert await h.component.use_cases.feedback.reveal_due_ratings() == 0  # once
        r = await h.http.post(f"/v1/orders/{oid}/rating", json={"score": 5}, headers=tokens.client("c1"))
        assert r.status_code == 409 and "window closed" in r.json()["detail"][0]["msg"]

    async def test_refusals(self, h: Harness, tokens: Tokens) -> None:
        order = await confirm(h, tokens, client="c1")
        oid = order["id"]
        r = await h.http.post(f"/v1/orders/{oid}/rating", json={"score": 5}, headers=tokens.client("c1"))
        assert r.status_code == 409 and r.json()["detail"][0]["current_state"] == "confirmed"
        await h.emit(assigned(oid))
        await h.emit(started(oid))
        await h.emit(completed(order))
        r = await h.http.post(f"/v1/orders/{oid}/rating", json={"score": 5}, headers=tokens.client("c2"))
        assert r.status_code == 404
        r = await h.http.post(f"/v1/orders/{oid}/rating", json={"score": 5}, headers=tokens.provider("p9"))
        assert r.status_code == 404
        r = await h.http.post(f"/v1/orders/{oid}/rating", json={"score": 5}, headers=tokens.ops())
        assert r.status_code == 403
        for bad in ({"score": 0}, {"score": 6}, {"score": "x"}, {}, {"score": 3, "comment": "x" * 3000}):
            r = await h.http.post(f"/v1/orders/{oid}/rating", json=bad, headers=tokens.client("c1"))
            assert r.status_code == 422
        assert (await h.http.post(f"/v1/orders/{oid}/rating", json={"score": 5},
                                  headers=tokens.client("c1"))).status_code == 201
        r = await h.http.post(f"/v1/orders/{oid}/rating", json={"score": 1}, headers=tokens.client("c1"))
        assert r.status_code == 409 and "already rated" in r.json()["detail"][0]["msg"]

    async def test_idempotent_rating(self, h: Harness, tokens: Tokens) -> None:
        order = await completed_order(h, tokens)
        headers = {**tokens.client("c1"), "Idempotency-Key": "rate-1"}
        first = await h.http.post(f"/v1/orders/{order['id']}/rating", json={"score": 5}, headers=headers)
        again = await h.http.post(f"/v1/orders/{order['id']}/rating", json={"score": 5}, headers=headers)
        assert first.status_code == again.status_code == 201 and first.json() == again.json()
        other = await h.http.post(f"/v1/orders/{order['id']}/rating", json={"score": 1}, headers=headers)
        assert other.status_code == 422


class TestDisputes:
    async def test_open_and_resolve_with_audit(self, h: Harness, tokens: Tokens) -> None:
        order = await completed_order(h, tokens)
        r = await h.http.post(f"/v1/orders/{order['id']}/disputes", json={"reason": "window not cleaned"},
                              headers={**tokens.client("c1"), "Idempotency-Key": "d1"})
        assert r.status_code == 201
        dispute = r.json()
        replay = await h.http.post(f"/v1/orders/{order['id']}/disputes",
                                   json={"reason": "window not cleaned"},
                                   headers={**tokens.client("c1"), "Idempotency-Key": "d1"})
        assert replay.status_code == 201 and replay.json()["id"] == dispute["id"]
        again = await h.http.post(f"/v1/orders/{order['id']}/disputes", json={"reason": "again"},
                                  headers=tokens.client("c1"))
        assert again.status_code == 409
        did = dispute["id"]
        assert (await h.http.get(f"/v1/disputes/{did}", headers=tokens.client("c2"))).status_code == 404
        r = await h.http.post(f"/v1/disputes/{did}/resolve",
                              json={"outcome": "partial_refund", "refund_cents": 1500, "note": "photos"},
                              headers=tokens.client("c1"))
        assert r.status_code == 403
        r = await h.http.post(f"/v1/disputes/{did}/resolve",
                              json={"outcome": "partial_refund", "refund_cents": 6000, "note": "x"},
                              headers=tokens.ops())
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "refund_cents"]
        await h.http.post(f"/v1/disputes/{did}/notes", json={"note": "called the client"},
                          headers=tokens.ops())
        r = await h.http.post(f"/v1/disputes/{did}/resolve",
                              json={"outcome": "partial_refund", "refund_cents": 1500, "note": "photos"},
                              headers=tokens.ops())
        assert r.status_code == 200
        assert r.json()["refund_cents"] == 1500 and r.json()["status"] == "resolved"
        assert [a["action"] for a in r.json()["audit"]] == ["opened", "noted", "resolved:partial_refund"]
        r = await h.http.post(f"/v1/disputes/{did}/resolve",
                              json={"outcome": "rejected", "note": "x"}, headers=tokens.ops())
        assert r.status_code == 409
        async with h.component.database.sessions() as session:
            row = await session.scalar(select(OutboxRow).where(OutboxRow.type == "dispute-resolved"))
        assert row is not None
        assert json.loads(row.envelope)["payload"]["refund_cents"] == 1500
        mine = (await h.http.get("/v1/disputes", headers=tokens.client("c1"))).json()
        assert [d["id"] for d in mine] == [did]
        assert (await h.http.get("/v1/disputes", headers=tokens.client("c2"))).json() == []

    async def test_only_completed_orders_and_only_their_client(self, h: Harness, tokens: Tokens) -> None:
        order = await confirm(h, tokens, client="c1")
        r = await h.http.post(f"/v1/orders/{order['id']}/disputes", json={"reason": "x"},
                              headers=tokens.client("c1"))
        assert r.status_code == 409
        r = await h.http.post(f"/v1/orders/{order['id']}/disputes", json={"reason": "x"},
                              headers=tokens.client("c2"))
        assert r.status_code == 404
        r = await h.http.post(f"/v1/orders/{order['id']}/disputes", json={"reason": "x"},
                              headers=tokens.provider())
        assert r.status_code == 403

    async def test_late_dispute_refused(self, h: Harness, tokens: Tokens) -> None:
        order = await completed_order(h, tokens)
        h.clock.advance(days=40)
        r = await h.http.post(f"/v1/orders/{order['id']}/disputes", json={"reason": "x"},
                              headers=tokens.client("c1"))
        assert r.status_code == 409

    async def test_full_refund_and_reject(self, h: Harness, tokens: Tokens) -> None:
        for outcome, refund in (("refund", 6000), ("rejected", 0)):
            order = await completed_order(h, tokens)
            d = (await h.http.post(f"/v1/orders/{order['id']}/disputes", json={"reason": "x"},
                                   headers=tokens.client("c1"))).json()
            r = await h.http.post(f"/v1/disputes/{d['id']}/resolve",
                                  json={"outcome": outcome, "note": "decided"}, headers=tokens.ops())
            assert r.status_code == 200 and r.json()["refund_cents"] == refund


