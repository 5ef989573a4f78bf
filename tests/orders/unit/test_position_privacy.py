"""A provider's position reaches only the client they are on their way to, and only from the lead time.

Two clients of the same provider on the same day (an early and a later order), and one
booked days ahead: none sees where the provider is while it is someone else's turn.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import update

from services.orders.models import Order
from shared.config import PlatformSettings
from shared.events.providers import PositionUpdated
from shared.testing import Tokens
from tests.orders.support import Harness, PricingStub, harness
from tests.orders.unit.test_api_orders import assigned, completed, confirm, started


async def position_seen(h: Harness, tokens: Tokens, order: dict[str, Any]) -> dict[str, Any] | None:
    """Return the provider's position as the order's client sees it, in the order and in the list."""
    client = order["client_id"]
    one = (await h.http.get(f"/v1/orders/{order['id']}", headers=tokens.client(client))).json()
    listed = (await h.http.get("/v1/orders", headers=tokens.client(client))).json()
    in_list = next(o for o in listed if o["id"] == order["id"])
    assert in_list["provider_position"] == one["provider_position"]
    position: dict[str, Any] | None = one["provider_position"]
    return position


async def move(h: Harness, provider: str, lat: float, at: datetime | None = None) -> None:
    await h.emit(PositionUpdated(provider_id=provider, lat=lat, lng=2.35, recorded_at=at or h.clock.now))


async def store_position_directly(h: Harness, order_id: str, lat: float, at: datetime) -> None:
    """Put a position on the row as an older version (writing to every assigned order) did."""
    async with h.component.database.sessions() as session:
        await session.execute(update(Order).where(Order.id == order_id)
                              .values(provider_lat=lat, provider_lng=2.35, provider_position_at=at))
        await session.commit()


class TestTwoClientsSameDay:
    async def test_only_the_client_whose_turn_it_is_follows_the_provider(
        self, h: Harness, tokens: Tokens
    ) -> None:
        # The early order's window opens in 1 h (inside the 90 min lead), the later one in 5 h.
        early = await confirm(h, tokens, client="c1", start_at=h.clock.now + timedelta(hours=2))
        later = await confirm(h, tokens, client="c2", start_at=h.clock.now + timedelta(hours=6))
        await h.emit(assigned(early["id"], provider="p1", mission="m1"))
        await h.emit(assigned(later["id"], provider="p1", mission="m2"))

        await move(h, "p1", 48.851)
        assert (await position_seen(h, tokens, early) or {}).get("lat") == 48.851
        assert await position_seen(h, tokens, later) is None

        # At the early client's home: nobody sees the provider, not even the next client.
        await h.emit(started(early["id"], provider="p1", mission="m1"))
        await move(h, "p1", 48.852)
        assert await position_seen(h, tokens, early) is None
        assert await position_seen(h, tokens, later) is None
        # A position stored on the later order (as the old code did) does not show either.
        await store_position_directly(h, later["id"], 48.853, h.clock.now)
        assert await position_seen(h, tokens, later) is None

        # The early mission is over, and the later window opens within the lead time: its turn.
        await h.emit(completed(early, provider="p1", mission="m1"))
        h.clock.advance(hours=4)
        assert await position_seen(h, tokens, later) is None  # the one stored at the early home
        await move(h, "p1", 48.854)
        assert (await position_seen(h, tokens, later) or {}).get("lat") == 48.854
        assert await position_seen(h, tokens, early) is None

    async def test_the_later_client_waits_until_the_early_order_is_done(
        self, h: Harness, tokens: Tokens
    ) -> None:
        """Even inside its own lead time, the later order waits while an earlier one is assigned."""
        early = await confirm(h, tokens, client="c1", start_at=h.clock.now + timedelta(hours=2))
        later = await confirm(h, tokens, client="c2", start_at=h.clock.now + timedelta(hours=2, minutes=20))
        await h.emit(assigned(later["id"], provider="p1", mission="m2"))
        await move(h, "p1", 48.861)
        assert (await position_seen(h, tokens, later) or {}).get("lat") == 48.861
        # An earlier order of the same provider is assigned: the later client loses the position.
        await h.emit(assigned(early["id"], provider="p1", mission="m1"))
        assert await position_seen(h, tokens, later) is None
        await move(h, "p1", 48.862)
        assert (await position_seen(h, tokens, early) or {}).get("lat") == 48.862
        assert await position_seen(h, tokens, later) is None


class TestDaysAhead:
    async def test_no_position_before_the_lead_time(self, h: Harness, tokens: Tokens) -> None:
        order = await confirm(h, tokens, client="c3", start_at=h.clock.now + timedelta(days=3))
        await h.emit(assigned(order["id"], provider="p2", mission="m3"))
        await move(h, "p2", 48.871)
        assert await position_seen(h, tokens, order) is None
        # A position from days before (stored by an older version) stays hidden once in the lead.
        await store_position_directly(h, order["id"], 48.872, h.clock.now)
        window_start = datetime.fromisoformat(order["window"]["start"])
        h.clock.advance(seconds=(window_start - h.clock.now).total_seconds() - 60 * 60)
        assert await position_seen(h, tokens, order) is None
        await move(h, "p2", 48.873)
        assert (await position_seen(h, tokens, order) or {}).get("lat") == 48.873


class TestLeadSetting:
    async def test_the_lead_time_is_a_setting(
        self, settings: PlatformSettings, pricing: PricingStub, tokens: Tokens
    ) -> None:
        async with harness(settings, pricing, position_lead_min=24 * 60) as h:
            order = await confirm(h, tokens, client="c4", start_at=h.clock.now + timedelta(hours=12))
            await h.emit(assigned(order["id"], provider="p4", mission="m4"))
            await move(h, "p4", 48.881)
            assert (await position_seen(h, tokens, order) or {}).get("lat") == 48.881
