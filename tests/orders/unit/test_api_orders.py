"""Order intake and lifecycle through the HTTP API, with a real stub pricing server."""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from services.orders.models import IdempotencyKey, Order, OrderHistory
from shared.events.matching import (
    MissionAssigned,
    MissionCancelled,
    MissionCompleted,
    MissionStarted,
    OrderUnassignable,
)
from shared.events.providers import PositionUpdated
from shared.events.registry import registry
from shared.outbox import OutboxRow
from shared.testing import Tokens
from tests.orders.support import Harness, PricingStub, order_body


async def count(h: Harness, model: Any) -> int:
    async with h.component.database.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def outbox_types(h: Harness) -> list[str]:
    async with h.component.database.sessions() as session:
        return list(await session.scalars(select(OutboxRow.type).order_by(OutboxRow.id)))


async def confirm(h: Harness, tokens: Tokens, client: str = "c1", key: str | None = None,
                  **quote_overrides: Any) -> dict[str, Any]:
    quote = h.stub.add_quote(h.clock.now, **quote_overrides)
    r = await h.http.post("/v1/orders", json=order_body(quote), headers={
        **tokens.client(client), "Idempotency-Key": key or f"k-{quote['id']}"})
    assert r.status_code == 201, r.text
    return dict(r.json())


def assigned(order_id: str, provider: str = "p1", mission: str = "m1") -> MissionAssigned:
    return MissionAssigned(order_id=order_id, mission_id=mission, provider_id=provider,
                           provider_first_name="Amina", provider_rating=4.8,
                           provider_photo_ref="photos/p1.jpg",
                           scheduled_start=datetime.now().astimezone())


def started(order_id: str, provider: str = "p1", mission: str = "m1") -> MissionStarted:
    return MissionStarted(order_id=order_id, mission_id=mission, provider_id=provider,
                          started_at=datetime.now().astimezone())


def completed(order: dict[str, Any], provider: str = "p1", mission: str = "m1") -> MissionCompleted:
    now = datetime.now().astimezone()
    return MissionCompleted(
        order_id=order["id"], mission_id=mission, provider_id=provider, client_id=order["client_id"],
        category="cleaning", zone="paris", price_cents=6000, payout_cents=4200, worked_min=120,
        started_at=now - timedelta(hours=2), completed_at=now,
    )


class TestConfirmOrder:
    async def test_confirms_and_publishes(self, h: Harness, tokens: Tokens) -> None:
        order = await confirm(h, tokens)
        assert order["status"] == "confirmed"
        assert order["start_code"] is None  # shown only once assigned
        assert order["quote"]["tax_credit"]["eligible"] is True  # the copy of the quote is kept
        assert order["price_cents"] == 6000
        assert [e["to_status"] for e in order["history"]] == ["confirmed"]
        async with h.component.database.sessions() as session:
            row = await session.scalar(select(OutboxRow).where(OutboxRow.type == "order-confirmed"))
            stored = await session.get(Order, order["id"])
        assert row is not None and stored is not None
        payload = json.loads(row.envelope)["payload"]
        assert payload["start_code_hash"] == hashlib.sha256(
            f"{order['id']}:{stored.start_code}".encode()).hexdigest()
        assert payload["district"] == "Paris"
        assert datetime.fromisoformat(payload["dispatch_deadline"]) < datetime.fromisoformat(
            order["window"]["end"])

    async def test_replayed_key_returns_first_answer(self, h: Harness, tokens: Tokens) -> None:
        quote = h.stub.add_quote(h.clock.now)
        headers = {**tokens.client("c1"), "Idempotency-Key": "same"}
        first = await h.http.post("/v1/orders", json=order_body(quote), headers=headers)
        second = await h.http.post("/v1/orders", json=order_body(quote), headers=headers)
        assert first.status_code == second.status_code == 201
        assert first.json() == second.json()
        assert await count(h, Order) == 1
        assert await outbox_types(h) == ["order-confirmed"]

    async def test_replay_works_even_when_pricing_is_down(self, h: Harness, tokens: Tokens) -> None:
        quote = h.stub.add_quote(h.clock.now)
        headers = {**tokens.client("c1"), "Idempotency-Key": "k-down"}
        first = await h.http.post("/v1/orders", json=order_body(quote), headers=headers)
        h.stub.fail_next = 100
        again = await h.http.post("/v1/orders", json=order_body(quote), headers=headers)
        assert (first.status_code, again.status_code) == (201, 201)

    async def test_replay_after_the_quote_expired_returns_first_answer(
        self, h: Harness, tokens: Tokens
    ) -> None:
        quote = h.stub.add_quote(h.clock.now)
        headers = {**tokens.client("c1"), "Idempotency-Key": "k-exp"}
        first = await h.http.post("/v1/orders", json=order_body(quote), headers=headers)
        h.stub.expired.add(quote["id"])
        again = await h.http.post("/v1/orders", json=order_body(quote), headers=headers)
        assert (first.status_code, again.status_code) == (201, 201)
        assert first.json() == again.json()

    async def test_key_reused_with_other_body_is_refused(self, h: Harness, tokens: Tokens) -> None:
        quote = h.stub.add_quote(h.clock.now)
        headers = {**tokens.client("c1"), "Idempotency-Key": "same"}
        await h.http.post("/v1/orders", json=order_body(quote), headers=headers)
        other = order_body(quote, access_notes="different")
        r = await h.http.post("/v1/orders", json=other, headers=headers)
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
        assert await count(h, Order) == 1

    async def test_keys_are_per_client(self, h: Harness, tokens: Tokens) -> None:
        await confirm(h, tokens, client="c1", key="k")
        await confirm(h, tokens, client="c2", key="k")
        assert await count(h, Order) == 2

    async def test_key_is_required(self, h: Harness, tokens: Tokens) -> None:
        quote = h.stub.add_quote(h.clock.now)
        r = await h.http.post("/v1/orders", json=order_body(quote), headers=tokens.client())
        assert r.status_code == 422
        assert "Idempotency-Key" in r.json()["detail"][0]["loc"]

    async def test_expired_quote_is_gone(self, h: Harness, tokens: Tokens) -> None:
        quote = h.stub.add_quote(h.clock.now, expires_at=(h.clock.now - timedelta(seconds=1)).isoformat())
        r = await h.http.post("/v1/orders", json=order_body(quote),
                              headers={**tokens.client(), "Idempotency-Key": "k"})
        assert r.status_code == 410
        assert "expired" in r.json()["detail"][0]["msg"]
        assert await count(h, Order) == 0

    async def test_quote_pricing_says_expired_is_gone(self, h: Harness, tokens: Tokens) -> None:
        quote = h.stub.add_quote(h.clock.now)
        h.stub.expired.add(quote["id"])
        r = await h.http.post("/v1/orders", json=order_body(quote),
                              headers={**tokens.client(), "Idempotency-Key": "k"})
        assert r.status_code == 410

    async def test_foreign_quote_is_not_found(self, h: Harness, tokens: Tokens) -> None:
        quote = h.stub.add_quote(h.clock.now, client_id="someone-else")
        r = await h.http.post("/v1/orders", json=order_body(quote),
                              headers={**tokens.client("c1"), "Idempotency-Key": "k"})
        assert r.status_code == 404
        assert r.json()["detail"][0]["loc"] == ["body", "quote_id"]
        assert await count(h, Order) == 0

    async def test_own_quote_is_accepted(self, h: Harness, tokens: Tokens) -> None:
        await confirm(h, tokens, client="c1", client_id="c1")

    async def test_quote_by_postcode_alone_is_accepted(self, h: Harness, tokens: Tokens) -> None:
        quote = h.stub.add_quote(h.clock.now, lat=None, lng=None)
        body = order_body({**quote, "lat": 48.86, "lng": 2.36})
        r = await h.http.post("/v1/orders", json=body, headers={**tokens.client(), "Idempotency-Key": "k"})
        assert r.status_code == 201, r.text

    async def test_unreadable_quote_is_503(self, h: Harness, tokens: Tokens) -> None:
        quote = h.stub.add_quote(h.clock.now, price_cents="lots")
        r = await h.http.post("/v1/orders", json=order_body(quote),
                              headers={**tokens.client(), "Idempotency-Key": "k"})
        assert r.status_code == 503 and "unreadable" in r.json()["detail"][0]["msg"]
        assert await count(h, Order) == 0

    async def test_unknown_quote_is_not_found(self, h: Harness, tokens: Tokens) -> None:
        quote = h.stub.add_quote(h.clock.now)
        body = order_body(quote, quote_id="q-unknown")
        r = await h.http.post("/v1/orders", json=body, headers={**tokens.client(), "Idempotency-Key": "k"})
        assert r.status_code == 404

    async def test_quote_cannot_be_ordered_twice(self, h: Harness, tokens: Tokens) -> None:
        quote = h.stub.add_quote(h.clock.now)
        await h.http.post("/v1/orders", json=order_body(quote),
                          headers={**tokens.client(), "Idempotency-Key": "k1"})
        r = await h.http.post("/v1/orders", json=order_body(quote),
                              headers={**tokens.client(), "Idempotency-Key": "k2"})
        assert r.status_code == 409
        assert await count(h, Order) == 1

    async def test_bad_address_and_window(self, h: Harness, tokens: Tokens) -> None:
        quote = h.stub.add_quote(h.clock.now)
        start = datetime.fromisoformat(quote["start_at"])
        address = order_body(quote)["address"]
        cases: list[tuple[dict[str, Any], list[str]]] = [
            ({"address": {**address, "postcode": "7500"}}, ["body", "address", "postcode"]),
            ({"address": {**address, "postcode": "69001"}}, ["body", "address", "postcode"]),
            ({"address": {**address, "lat": 91}}, ["body", "address", "lat"]),
            ({"address": {**address, "lat": 45.76, "lng": 4.83}}, ["body", "address", "lat"]),
            ({"address": {**address, "street": ""}}, ["body", "address", "street"]),
            ({"window": {"start": (start + timedelta(hours=2)).isoformat(),
                         "end": start.isoformat()}}, ["body", "window", "end"]),
            ({"window": {"start": (h.clock.now - timedelta(hours=1)).isoformat(),
                         "end": (start + timedelta(hours=2)).isoformat()}}, ["body", "window", "start"]),
            ({"window": {"start": start.isoformat(),
                         "end": (start + timedelta(minutes=60)).isoformat()}}, ["body", "window", "end"]),
            ({"window": {"start": (start + timedelta(hours=1)).isoformat(),
                         "end": (start + timedelta(hours=4)).isoformat()}}, ["body", "window", "start"]),
            ({"window": {"start": "2030-01-01T10:00:00", "end": "2030-01-01T12:00:00"}},
             ["body", "window", "start"]),
        ]
        for i, (override, loc) in enumerate(cases):
            r = await h.http.post("/v1/orders", json=order_body(quote, **override),
                                  headers={**tokens.client(), "Idempotency-Key": f"bad-{i}"})
            assert r.status_code == 422, (override, r.text)
            assert r.json()["detail"][0]["loc"] == loc, (override, r.json())
        assert await count(h, Order) == 0

    async def test_wrong_role(self, h: Harness, tokens: Tokens) -> None:
        quote = h.stub.add_quote(h.clock.now)
        for headers in (tokens.provider(), tokens.ops()):
            r = await h.http.post("/v1/orders", json=order_body(quote),
                                  headers={**headers, "Idempotency-Key": "k"})
            assert r.status_code == 403
        r = await h.http.post("/v1/orders", json=order_body(quote), headers={"Idempotency-Key": "k"})
        assert r.status_code == 401


class TestPricingOutage:
    async def test_server_stopped_gives_503_and_nothing(
        self, h: Harness, tokens: Tokens, pricing: PricingStub
    ) -> None:
        quote = pricing.add_quote(h.clock.now)
        pricing.stop()
        r = await h.http.post("/v1/orders", json=order_body(quote),
                              headers={**tokens.client(), "Idempotency-Key": "k"})
        assert r.status_code == 503
        assert "pricing service cannot be reached" in r.json()["detail"][0]["msg"]
        assert await count(h, Order) == 0
        assert await count(h, OrderHistory) == 0
        assert await count(h, IdempotencyKey) == 0
        assert await outbox_types(h) == []
        pricing.start()
        again = await h.http.post("/v1/orders", json=order_body(quote),
                                  headers={**tokens.client(), "Idempotency-Key": "k"})
        assert again.status_code == 201  # the key was not burnt by the outage

    async def test_slow_pricing_times_out(self, h: Harness, tokens: Tokens, pricing: PricingStub) -> None:
        quote = pricing.add_quote(h.clock.now)
        pricing.delay_s = 2.0
        r = await h.http.post("/v1/orders", json=order_body(quote),
                              headers={**tokens.client(), "Idempotency-Key": "k"})
        assert r.status_code == 503
        assert "timed out" in r.json()["detail"][0]["msg"]
        assert await count(h, Order) == 0

    async def test_a_transient_error_is_retried(
        self, h: Harness, tokens: Tokens, pricing: PricingStub
    ) -> None:
        quote = pricing.add_quote(h.clock.now)
        pricing.fail_next = 1
        r = await h.http.post("/v1/orders", json=order_body(quote),
                              headers={**tokens.client(), "Idempotency-Key": "k"})
        assert r.status_code == 201
        assert pricing.requests == 2


async def post_order(h: Harness, tokens: Tokens, body: dict[str, Any], key: str) -> int:
    r = await h.http.post("/v1/orders", json=body, headers={**tokens.client(), "Idempotency-Key": key})
    return r.status_code


class TestQuoteLookupsAreBatched:
    async def test_concurrent_orders_share_one_pricing_request(
        self, h: Harness, tokens: Tokens, pricing: PricingStub
    ) -> None:
        quotes = [pricing.add_quote(h.clock.now) for _ in range(12)]
        unknown = order_body(quotes[0], quote_id="q-unknown")
        pricing.expired.add(quotes[1]["id"])
        pricing.delay_s = 0.2  # lookups pile up behind the first ones on the wire

        posts = [post_order(h, tokens, order_body(q), f"k{i}") for i, q in enumerate(quotes)]
        statuses = await asyncio.gather(*posts, post_order(h, tokens, unknown, "k-unknown"))
        # each order gets its own answer although quotes travelled together
        assert statuses[0] == 201 and statuses[1] == 410 and statuses[-1] == 404
        assert statuses[2:-1] == [201] * 10
        assert sum(pricing.batches) == 13 and max(pricing.batches) > 1
        assert pricing.requests < 13
        assert await count(h, Order) == 11

    async def test_a_failed_batch_fails_each_of_its_orders_and_writes_nothing(
        self, h: Harness, tokens: Tokens, pricing: PricingStub
    ) -> None:
        quotes = [pricing.add_quote(h.clock.now) for _ in range(6)]
        pricing.fail_next = 100

        posts = [post_order(h, tokens, order_body(q), f"k{i}") for i, q in enumerate(quotes)]
        statuses = await asyncio.gather(*posts)
        assert statuses == [503] * 6
        assert await count(h, Order) == 0 and await count(h, IdempotencyKey) == 0


class TestLifecycle:
    async def test_whole_lifecycle(self, h: Harness, tokens: Tokens) -> None:
        # Within the lead time (90 min before the window start): the position is shown.
        order = await confirm(h, tokens, start_at=h.clock.now + timedelta(hours=2))
        oid = order["id"]
        await h.emit(assigned(oid))
        seen = (await h.http.get(f"/v1/orders/{oid}", headers=tokens.client("c1"))).json()
        assert seen["status"] == "assigned"
        assert seen["provider"] == {"provider_id": "p1", "first_name": "Amina", "rating": 4.8,
                                    "photo_ref": "photos/p1.jpg"}
        assert seen["start_code"] is not None and len(seen["start_code"]) == 6
        assert "phone" not in json.dumps(seen["provider"])

        await h.emit(PositionUpdated(provider_id="p1", lat=48.85, lng=2.35,
                                     recorded_at=h.clock.now))
        seen = (await h.http.get(f"/v1/orders/{oid}", headers=tokens.client("c1"))).json()
        assert seen["provider_position"]["lat"] == 48.85

        await h.emit(started(oid))
        seen = (await h.http.get(f"/v1/orders/{oid}", headers=tokens.client("c1"))).json()
        assert seen["status"] == "in_progress"
        assert seen["provider_position"] is None and seen["start_code"] is None

        await h.emit(completed(order))
        seen = (await h.http.get(f"/v1/orders/{oid}", headers=tokens.client("c1"))).json()
        assert seen["status"] == "completed"
        assert [e["to_status"] for e in seen["history"]] == [
            "confirmed", "assigned", "in_progress", "completed"]

    async def test_position_not_kept_for_unassigned_provider(self, h: Harness, tokens: Tokens) -> None:
        order = await confirm(h, tokens)
        await h.emit(PositionUpdated(provider_id="p1", lat=48.85, lng=2.35, recorded_at=h.clock.now))
        await h.emit(assigned(order["id"]))
        seen = (await h.http.get(f"/v1/orders/{order['id']}", headers=tokens.client("c1"))).json()
        assert seen["provider_position"] is None

    async def test_duplicate_events_change_state_once(self, h: Harness, tokens: Tokens) -> None:
        order = await confirm(h, tokens)
        await h.emit_envelope_twice(assigned(order["id"]))
        await h.emit(assigned(order["id"]))  # a redelivery with a new event id
        seen = (await h.http.get(f"/v1/orders/{order['id']}", headers=tokens.client("c1"))).json()
        assert [e["to_status"] for e in seen["history"]] == ["confirmed", "assigned"]

    async def test_a_batch_of_assignments_acts_as_one_by_one(self, h: Harness, tokens: Tokens) -> None:
        first, second = await confirm(h, tokens), await confirm(h, tokens)
        router = h.component.subscriptions()[0].handler
        events = [assigned(first["id"], "p1", "m1"), assigned("no-such-order", "p2", "m2"),
                  assigned(second["id"], "p3", "m3"), assigned(first["id"], "p4", "m4")]
        envelopes = [registry.envelope(e) for e in events]
        await router.handle_batch([*envelopes, envelopes[0]])  # one run, a duplicate inside
        await router.handle_batch(envelopes)  # redelivered: nothing changes twice
        for order, provider in ((first, "p1"), (second, "p3")):
            seen = (await h.http.get(f"/v1/orders/{order['id']}", headers=tokens.client("c1"))).json()
            assert seen["status"] == "assigned" and seen["provider"]["first_name"] == "Amina"
            assert [e["to_status"] for e in seen["history"]] == ["confirmed", "assigned"]
            async with h.component.database.sessions() as session:
                row = await session.get(Order, order["id"])
                assert row is not None and row.provider_id == provider  # the later one was ignored

    async def test_unassignable_becomes_unfulfilled_and_client_told(
        self, h: Harness, tokens: Tokens
    ) -> None:
        order = await confirm(h, tokens)
        await h.emit(OrderUnassignable(order_id=order["id"], reason="no provider in range"))
        seen = (await h.http.get(f"/v1/orders/{order['id']}", headers=tokens.client("c1"))).json()
        assert seen["status"] == "unfulfilled"
        assert "no provider in range" in seen["history"][-1]["reason"]
        assert await outbox_types(h) == ["order-confirmed", "order-unfulfilled"]

    async def test_provider_side_cancellation_sends_order_back(self, h: Harness, tokens: Tokens) -> None:
        order = await confirm(h, tokens)
        await h.emit(assigned(order["id"]))
        await h.emit(MissionCancelled(order_id=order["id"], mission_id="m1", provider_id="p1",
                                      reason="provider unwell"))
        seen = (await h.http.get(f"/v1/orders/{order['id']}", headers=tokens.client("c1"))).json()
        assert seen["status"] == "confirmed" and seen["provider"] is None
        await h.emit(assigned(order["id"], provider="p2", mission="m2"))
        seen = (await h.http.get(f"/v1/orders/{order['id']}", headers=tokens.client("c1"))).json()
        assert seen["provider"]["provider_id"] == "p2"

    async def test_visibility(self, h: Harness, tokens: Tokens) -> None:
        order = await confirm(h, tokens, client="c1")
        oid = order["id"]
        assert (await h.http.get(f"/v1/orders/{oid}", headers=tokens.client("c2"))).status_code == 404
        assert (await h.http.get(f"/v1/orders/{oid}", headers=tokens.provider("p1"))).status_code == 404
        assert (await h.http.get(f"/v1/orders/{oid}", headers=tokens.ops())).status_code == 200
        await h.emit(assigned(oid))
        as_provider = await h.http.get(f"/v1/orders/{oid}", headers=tokens.provider("p1"))
        assert as_provider.status_code == 200
        assert "start_code" not in as_provider.json() and "client_id" not in as_provider.json()
        assert (await h.http.get(f"/v1/orders/{oid}", headers=tokens.provider("p2"))).status_code == 404
        listed = (await h.http.get("/v1/orders", headers=tokens.client("c2"))).json()
        assert listed == []
        assert len((await h.http.get("/v1/orders", headers=tokens.ops())).json()) == 1
        assert (await h.http.get("/v1/orders/unknown", headers=tokens.ops())).status_code == 404


class TestCancel:
    async def test_free_cancellation_long_before(self, h: Harness, tokens: Tokens) -> None:
        order = await confirm(h, tokens)
        r = await h.http.post(f"/v1/orders/{order['id']}/cancel", json={"reason": "changed my mind"},
                              headers=tokens.client("c1"))
        assert r.status_code == 200
        assert r.json()["status"] == "cancelled" and r.json()["fee_cents"] == 0
        assert await outbox_types(h) == ["order-confirmed", "order-cancelled"]

    async def test_late_cancellation_costs_and_provider_gets_share(
        self, h: Harness, tokens: Tokens
    ) -> None:
        order = await confirm(h, tokens, start_at=h.clock.now + timedelta(hours=5))
        await h.emit(assigned(order["id"]))
        h.clock.advance(hours=3)  # window starts 1 h before the quoted start: 1 h left
        r = await h.http.post(f"/v1/orders/{order['id']}/cancel", json={"reason": "sorry"},
                              headers=tokens.client("c1"))
        assert r.status_code == 200 and r.json()["fee_cents"] == 3000
        async with h.component.database.sessions() as session:
            row = await session.scalar(select(OutboxRow).where(OutboxRow.type == "order-cancelled"))
        assert row is not None
        payload = json.loads(row.envelope)["payload"]
        assert payload == {"order_id": order["id"], "cancelled_by": "client", "reason": "sorry",
                           "fee_cents": 3000, "provider_share_cents": 2400, "provider_id": "p1"}

    async def test_ops_set_the_policy(self, h: Harness, tokens: Tokens) -> None:
        policy = {"tiers": [{"min_hours_before": 0, "fee_percent": "10"}],
                  "provider_share_percent": "50", "reason": "simpler"}
        assert (await h.http.put("/v1/orders/cancellation-policy", json=policy,
                                 headers=tokens.client())).status_code == 403
        r = await h.http.put("/v1/orders/cancellation-policy", json=policy, headers=tokens.ops())
        assert r.status_code == 200 and r.json()["updated_by"] == "ops-1"
        bad = {**policy, "tiers": [{"min_hours_before": 5, "fee_percent": "10"}]}
        assert (await h.http.put("/v1/orders/cancellation-policy", json=bad,
                                 headers=tokens.ops())).status_code == 422
        order = await confirm(h, tokens)
        r = await h.http.post(f"/v1/orders/{order['id']}/cancel", json={"reason": "x"},
                              headers=tokens.client("c1"))
        assert r.json()["fee_cents"] == 600

    async def test_refusals(self, h: Harness, tokens: Tokens) -> None:
        order = await confirm(h, tokens)
        oid = order["id"]
        r = await h.http.post(f"/v1/orders/{oid}/cancel", json={"reason": "x"}, headers=tokens.client("c2"))
        assert r.status_code == 404
        r = await h.http.post(f"/v1/orders/{oid}/cancel", json={"reason": "x"}, headers=tokens.provider())
        assert r.status_code == 403
        r = await h.http.post(f"/v1/orders/{oid}/cancel", json={"reason": "x", "waive_fee": True},
                              headers=tokens.client("c1"))
        assert r.status_code == 403
        await h.emit(assigned(oid))
        await h.emit(started(oid))
        r = await h.http.post(f"/v1/orders/{oid}/cancel", json={"reason": "x"}, headers=tokens.client("c1"))
        assert r.status_code == 409 and "in_progress" in r.json()["detail"][0]["msg"]
        await h.emit(completed(order))
        r = await h.http.post(f"/v1/orders/{oid}/cancel", json={"reason": "x"}, headers=tokens.ops())
        assert r.status_code == 409
        assert r.json()["detail"][0]["current_state"] == "completed"

    async def test_ops_cancel_waived(self, h: Harness, tokens: Tokens) -> None:
        order = await confirm(h, tokens, start_at=h.clock.now + timedelta(hours=3))
        r = await h.http.post(f"/v1/orders/{order['id']}/cancel",
                              json={"reason": "provider shortage", "waive_fee": True}, headers=tokens.ops())
        assert r.status_code == 200 and r.json()["fee_cents"] == 0 and r.json()["cancelled_by"] == "ops"

    async def test_mission_cancelled_after_our_cancel_changes_nothing(
        self, h: Harness, tokens: Tokens
    ) -> None:
        order = await confirm(h, tokens)
        await h.emit(assigned(order["id"]))
        await h.http.post(f"/v1/orders/{order['id']}/cancel", json={"reason": "x"},
                          headers=tokens.client("c1"))
        await h.emit(MissionCancelled(order_id=order["id"], mission_id="m1", provider_id="p1",
                                      reason="order cancelled"))
        seen = (await h.http.get(f"/v1/orders/{order['id']}", headers=tokens.client("c1"))).json()
        assert seen["status"] == "cancelled"
