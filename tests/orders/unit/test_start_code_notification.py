"""The client learns the start code from the `assigned` notification, not only by polling."""

from __future__ import annotations

from datetime import UTC, datetime

from structlog.testing import capture_logs

from services.orders.notifications import LogTransport, Notification
from shared.db import wait_for
from shared.testing import Tokens
from tests.orders.support import Harness, PricingStub
from tests.orders.unit.test_api_orders import assigned, confirm, started


class TestStartCodeNotification:
    async def test_assigned_notification_carries_the_start_code(
        self, h: Harness, tokens: Tokens, pricing: PricingStub
    ) -> None:
        await h.http.put("/v1/orders/notification-webhook",
                         json={"url": f"{pricing.url}/hooks/c1"}, headers=tokens.client("c1"))
        order = await confirm(h, tokens, client="c1")
        await h.emit(assigned(order["id"]))

        async def assigned_sent() -> bool:
            return [x["status"] for x in pricing.hooks] == ["confirmed", "assigned"]
        await wait_for(assigned_sent)
        seen = (await h.http.get(f"/v1/orders/{order['id']}", headers=tokens.client("c1"))).json()
        confirmed_hook, assigned_hook = pricing.hooks
        assert assigned_hook["start_code"] == seen["start_code"]
        assert len(assigned_hook["start_code"]) == 6
        assert "start_code" not in confirmed_hook

        await h.emit(started(order["id"]))

        async def started_sent() -> bool:
            return len(pricing.hooks) == 3
        await wait_for(started_sent)
        assert pricing.hooks[2]["status"] == "in_progress" and "start_code" not in pricing.hooks[2]

    async def test_log_transport_keeps_the_code_out_of_the_logs(self) -> None:
        notification = Notification("o1", "c1", "confirmed", "assigned", datetime.now(UTC),
                                    "Amina will do it", start_code="482913")
        assert notification.as_json()["start_code"] == "482913"
        with capture_logs() as logs:
            await LogTransport().send(notification, None)
        [line] = logs
        assert line["status"] == "assigned" and line["has_start_code"] is True
        assert "482913" not in repr(line)
