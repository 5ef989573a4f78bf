"""Client notifications after commit (webhook, retries, never blocking) and the live SSE stream."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

from sqlalchemy import select

from services.orders.models import OrderHistory
from shared.db import wait_for
from shared.testing import Tokens
from tests.orders.support import Harness, PricingStub
from tests.orders.unit.test_api_orders import assigned, completed, confirm, started


async def states(h: Harness) -> list[tuple[str, str, int]]:
    async with h.component.database.sessions() as session:
        rows = await session.scalars(select(OrderHistory).order_by(OrderHistory.id))
        return [(r.to_status, r.notify_state, r.notify_attempts) for r in rows]


class TestNotifications:
    async def test_every_change_reaches_the_webhook_in_order(
        self, h: Harness, tokens: Tokens, pricing: PricingStub
    ) -> None:
        r = await h.http.put("/v1/orders/notification-webhook",
                             json={"url": f"{pricing.url}/hooks/c1"}, headers=tokens.client("c1"))
        assert r.status_code == 200
        order = await confirm(h, tokens, client="c1")
        await h.emit(assigned(order["id"]))
        await h.emit(started(order["id"]))
        await h.emit(completed(order))

        async def all_sent() -> bool:
            return len(pricing.hooks) == 4
        await wait_for(all_sent)
        assert [x["status"] for x in pricing.hooks] == ["confirmed", "assigned", "in_progress", "completed"]
        assert {x["client"] for x in pricing.hooks} == {"c1"}

    async def test_failing_webhook_is_retried_and_never_blocks(
        self, h: Harness, tokens: Tokens, pricing: PricingStub
    ) -> None:
        await h.http.put("/v1/orders/notification-webhook",
                         json={"url": f"{pricing.url}/hooks/c1"}, headers=tokens.client("c1"))
        pricing.hook_fail_next = 2
        order = await confirm(h, tokens, client="c1")  # the order is confirmed whatever the webhook does
        assert order["status"] == "confirmed"

        async def sent() -> bool:
            return [s[1] for s in await states(h)] == ["sent"]
        await wait_for(sent)
        assert (await states(h))[0][2] == 2  # two failed attempts before
        assert [x["status"] for x in pricing.hooks] == ["confirmed"]

    async def test_a_webhook_being_awaited_does_not_hold_up_orders(
        self, h: Harness, tokens: Tokens, pricing: PricingStub
    ) -> None:
        # Embedded mode (SQLite has one write lock): no transaction may stay open while a
        # client's webhook takes its time, or every order write would wait behind it.
        await h.http.put("/v1/orders/notification-webhook",
                         json={"url": f"{pricing.url}/hooks/c1"}, headers=tokens.client("c1"))
        pricing.hook_gate = threading.Event()
        try:
            await confirm(h, tokens, client="c1")

            async def hook_waiting() -> bool:
                return pricing.hooks_waiting == 1
            await wait_for(hook_waiting)
            other = await asyncio.wait_for(confirm(h, tokens, client="c2"), timeout=10)
            assert other["status"] == "confirmed"
        finally:
            pricing.hook_gate.set()

        async def sent() -> bool:
            return [s[1] for s in await states(h)] == ["sent", "sent"]
        await wait_for(sent)
        assert [x["client"] for x in pricing.hooks] == ["c1"]

    async def test_dead_webhook_is_abandoned(self, h: Harness, tokens: Tokens, pricing: PricingStub) -> None:
        await h.http.put("/v1/orders/notification-webhook",
                         json={"url": "http://127.0.0.1:9/nowhere"}, headers=tokens.client("c1"))
        order = await confirm(h, tokens, client="c1")

        async def failed() -> bool:
            return [s[1] for s in await states(h)] == ["failed"]
        await wait_for(failed)
        r = await h.http.post(f"/v1/orders/{order['id']}/cancel", json={"reason": "x"},
                              headers=tokens.client("c1"))
        assert r.status_code == 200

    async def test_log_transport_by_default_and_webhook_settings(
        self, h: Harness, tokens: Tokens
    ) -> None:
        await confirm(h, tokens, client="c1")

        async def sent() -> bool:
            return [s[1] for s in await states(h)] == ["sent"]
        await wait_for(sent)
        assert (await h.http.get("/v1/orders/notification-webhook", headers=tokens.client("c1"))).json() == {
            "url": None}
        for bad in ({"url": "not a url"}, {"url": "ftp://x"}, {}):
            r = await h.http.put("/v1/orders/notification-webhook", json=bad, headers=tokens.client("c1"))
            assert r.status_code == 422
        assert (await h.http.put("/v1/orders/notification-webhook", json={"url": "http://x.test/h"},
                                 headers=tokens.provider())).status_code == 403
        await h.http.put("/v1/orders/notification-webhook", json={"url": "http://x.test/h"},
                         headers=tokens.client("c1"))
        assert (await h.http.delete("/v1/orders/notification-webhook",
                                    headers=tokens.client("c1"))).status_code == 204
        assert (await h.http.get("/v1/orders/notification-webhook",
                                 headers=tokens.client("c1"))).json() == {"url": None}


def parse_sse(text: str) -> list[dict[str, Any]]:
    events = []
    for block in text.strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        if lines.get("event") == "status":
            events.append(json.loads(lines["data"]))
    return events


class TestStatusStream:
    async def test_streams_each_change_until_final(self, h: Harness, tokens: Tokens) -> None:
        order = await confirm(h, tokens, client="c1")
        oid = order["id"]
        stream = asyncio.create_task(h.http.get(f"/v1/orders/{oid}/events", headers=tokens.client("c1")))
        await h.emit(assigned(oid))
        await h.emit(started(oid))
        await h.emit(completed(order))
        response = await asyncio.wait_for(stream, timeout=10)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert [e["status"] for e in parse_sse(response.text)] == [
            "confirmed", "assigned", "in_progress", "completed"]

    async def test_stream_of_someone_elses_order(self, h: Harness, tokens: Tokens) -> None:
        order = await confirm(h, tokens, client="c1")
        r = await h.http.get(f"/v1/orders/{order['id']}/events", headers=tokens.client("c2"))
        assert r.status_code == 404
        r = await h.http.get(f"/v1/orders/{order['id']}/events", headers=tokens.provider())
        assert r.status_code == 403
