"""The provider app against a hand-written fake of the API: duty, offers, missions, positions."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx

from services.simulator.agents import OrderRecord, SimClock, SimSettings, World, provider_app
from services.simulator.demand import PlannedOrder, Shift
from services.simulator.setup import SimProvider

DURATION_S = 2.0  # the whole simulated day: 12 simulated minutes per real 10 ms
PROVIDER = "sim-p1-0001"


@dataclass
class FakeApi:
    """The platform as one provider's app sees it; refuses a position off duty as providers does."""

    mission_min: int
    offered: bool = False
    on_duty: bool = False
    calls: list[tuple[str, str, int]] = field(default_factory=list)
    positions: list[tuple[bool, Any]] = field(default_factory=list)  # (on duty, body) as received

    async def call(
        self, method: str, path: str, *, who: Any = None, json: Any = None, **_: Any
    ) -> httpx.Response:
        status, body = self._answer(method, path, json)
        self.calls.append((method, path, status))
        await asyncio.sleep(0)
        return httpx.Response(status, json=body)

    async def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        response = await self.call(method, path, **kwargs)
        assert response.status_code < 300, (method, path, response.status_code)
        return response.json()

    def _answer(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        if path.endswith("/availability"):
            self.on_duty = bool(body["on_duty"])
            return 200, {"on_duty": self.on_duty}
        if path.endswith("/position"):
            self.positions.append((self.on_duty, body))
            if not self.on_duty:
                return 409, {"detail": "you are off duty: no position is collected; go on duty first"}
            return 200, {}
        if path == "/v1/offers":
            if self.offered or not self.on_duty:
                return 200, []
            self.offered = True
            return 200, [{"id": "offer-1", "status": "pending", "order_id": "order-1", "travel_min": 0}]
        if path == "/v1/offers/offer-1/accept":
            return 200, {"id": "mission-1", "duration_min": self.mission_min, "payout_cents": 4000}
        if path.startswith("/v1/missions/mission-1/"):
            return 200, {"id": "mission-1"}
        return 404, {"detail": f"no {method} {path} in the fake"}


def make_order_record() -> OrderRecord:
    planned = PlannedOrder(
        index=0,
        client_id="sim-c1-0001",
        sim_minute=0.0,
        category="cleaning",
        duration_min=600,
        postcode="69100",
        commune="Villeurbanne",
        lat=45.77,
        lng=4.88,
    )
    record = OrderRecord(planned=planned, order_id="order-1", start_code="123456")
    record.code_ready.set()
    return record


async def run_provider(api: FakeApi, shift: Shift) -> SimProvider:
    settings = SimSettings(
        duration_s=DURATION_S, decline_share=0.0, rating_share=0.0, provider_poll_s=0.02, grace_s=1.0
    )
    world = World(api=api, settings=settings, clock=SimClock(DURATION_S), rng=None)  # type: ignore[arg-type]
    world.orders["order-1"] = make_order_record()
    provider = SimProvider(PROVIDER, ["cleaning"], home_lat=45.75, home_lng=4.85, shift=shift)
    await asyncio.wait_for(provider_app(world, provider, seed=0.5), timeout=10 * DURATION_S)
    return provider


class TestProviderApp:
    async def test_sends_no_position_after_its_shift_ended_mid_mission(self) -> None:
        # on duty for the first 2 simulated hours (0.17 s); the mission takes 10 hours (0.83 s)
        api = FakeApi(mission_min=600)
        provider = await run_provider(api, Shift(0.0, 120.0))
        assert ("POST", "/v1/missions/mission-1/complete", 200) in api.calls
        assert [on_duty for on_duty, _ in api.positions] == [True]  # the one sent going on duty
        assert not [c for c in api.calls if c[2] >= 400]
        # the app still knows where it is: the next shift starts from the last job
        assert (provider.lat, provider.lng) == (45.77, 4.88)

    async def test_shares_its_position_after_a_mission_done_on_duty(self) -> None:
        # on duty for 20 simulated hours; the mission takes 1 hour
        api = FakeApi(mission_min=60)
        await run_provider(api, Shift(0.0, 1200.0))
        assert api.positions == [(True, {"lat": 45.75, "lng": 4.85}), (True, {"lat": 45.77, "lng": 4.88})]
        assert not [c for c in api.calls if c[2] >= 400]

    async def test_goes_off_duty_at_the_end_of_its_shift_and_stops(self) -> None:
        api = FakeApi(mission_min=60)
        started = asyncio.get_running_loop().time()
        await run_provider(api, Shift(0.0, 240.0))
        assert not api.on_duty
        assert api.calls[-1][:2] == ("PUT", f"/v1/providers/{PROVIDER}/availability")
        # the day lasts DURATION_S: the app is done once its shift (a sixth of it) and mission are
        assert asyncio.get_running_loop().time() - started < DURATION_S / 2
