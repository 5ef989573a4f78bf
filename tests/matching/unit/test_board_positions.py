"""The dispatch board places offers, missions and unassignable orders on the map (the ops console)."""

from __future__ import annotations

from tests.matching.support import Harness, on_duty, order_confirmed, provider_activated


class TestBoardPositions:
    async def test_offers_and_missions_carry_the_order_position_and_category(self, h: Harness) -> None:
        await h.given(provider_activated("p1"), on_duty("p1"), order_confirmed("o1", now=h.clock.now))
        await h.batch()
        board = (await h.client.get("/v1/dispatch/board", headers=h.ops())).json()
        (offer,) = board["live_offers"]
        assert offer["order_id"] == "o1" and offer["category"] == "cleaning"
        assert isinstance(offer["lat"], float) and isinstance(offer["lng"], float)
        live = await h.live_offer("p1")
        assert live is not None
        accepted = await h.client.post(f"/v1/offers/{live['id']}/accept", headers=h.provider("p1"))
        assert accepted.status_code == 200, accepted.text
        board = (await h.client.get("/v1/dispatch/board", headers=h.ops())).json()
        (mission,) = board["missions"]
        assert (mission["lat"], mission["lng"]) == (offer["lat"], offer["lng"])
        assert mission["category"] == "cleaning" and board["live_offers"] == []
