"""PostgreSQL intake: a client without a webhook is notified at once (its row stored as sent);
a client with one is notified by the dispatcher, through the webhook."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from services.orders.models import OrderHistory
from services.orders.notifications import Notification
from shared.db import wait_for
from shared.testing import Tokens
from tests.orders.support import Harness, PricingStub, harness_on_postgres
from tests.orders.unit.test_api_orders import confirm

pytestmark = pytest.mark.integration

TOKENS = Tokens()


class RecordingTransport:
    """The log transport's place: records what it is given."""

    def __init__(self) -> None:
        self.sent: list[tuple[Notification, str | None]] = []

    async def send(self, notification: Notification, webhook_url: str | None) -> None:
        self.sent.append((notification, webhook_url))


async def notify_states(h: Harness) -> dict[str, str]:
    async with h.component.database.sessions() as session:
        rows = await session.execute(select(OrderHistory.order_id, OrderHistory.notify_state))
        return {order_id: state for order_id, state in rows}


async def test_a_client_without_webhook_is_told_at_once_and_one_with_a_webhook_by_the_dispatcher(
    postgres_url: str, unique: Callable[[str], str], pricing: PricingStub
) -> None:
    transport = RecordingTransport()
    # The dispatcher polls once an hour: what is sent during the test was sent inline.
    async with harness_on_postgres(postgres_url, unique("orders"), pricing, transport,
                                   notify_interval_s=3600) as h:
        quiet = await confirm(h, TOKENS, client="c1")
        assert [(n.order_id, n.client_id, n.to_status, url) for n, url in transport.sent] == [
            (quiet["id"], "c1", "confirmed", None)]
        assert (await notify_states(h))[quiet["id"]] == "sent"

        r = await h.http.put("/v1/orders/notification-webhook",
                             json={"url": f"{pricing.url}/hooks/c2"}, headers=TOKENS.client("c2"))
        assert r.status_code == 200
        hooked = await confirm(h, TOKENS, client="c2")
        assert len(transport.sent) == 1  # not sent inline: the webhook is the dispatcher's
        assert (await notify_states(h))[hooked["id"]] == "pending"
        assert h.component.dispatcher is not None
        assert await h.component.dispatcher.deliver_pending() == 1

        async def marked_sent() -> bool:
            return (await notify_states(h))[hooked["id"]] == "sent"
        await wait_for(marked_sent)
        assert [(n.order_id, url) for n, url in transport.sent[1:]] == [
            (hooked["id"], f"{pricing.url}/hooks/c2")]
