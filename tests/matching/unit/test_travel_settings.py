"""Travel times come from one model built from the settings (detour factor, speed per zone), and
that model is an interface: another TravelModel plugged in is the one the batch uses."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from services.matching import planner
from services.matching.config import MatchingSettings
from services.matching.engine import TravelModel
from services.matching.engine.travel import haversine_km
from shared.config import PlatformSettings
from tests.matching.support import (
    PARIS,
    Harness,
    matching_harness,
    on_duty,
    order_confirmed,
    provider_activated,
    second_offer_after_a_far_mission,
)

ORDER_AT = (PARIS[0] + 0.01, PARIS[1] + 0.01)  # where order_confirmed puts an order by default
KM = haversine_km(*PARIS, *ORDER_AT)


async def offered_travel_min(h: Harness) -> float:
    """Offer one order of zone "paris" to a provider at PARIS; return the travel minutes shown."""
    await h.given(provider_activated("p1"), on_duty("p1"), order_confirmed("o1", now=h.clock.now))
    assert (await h.batch()).offered == 1
    offer = await h.live_offer("p1")
    assert offer is not None
    return float(offer["travel_min"])


class TestTravelSettings:
    async def test_the_defaults_are_a_detour_of_1_3_at_25_kmh(self, h: Harness) -> None:
        defaults = MatchingSettings()
        assert (defaults.travel_detour_factor, defaults.travel_default_speed_kmh) == (1.3, 25.0)
        assert defaults.travel_speed_kmh_by_zone == {}
        assert await offered_travel_min(h) == pytest.approx(KM * 1.3 / 25 * 60, abs=0.01)

    async def test_a_slower_speed_in_the_orders_zone_means_more_travel_minutes(
        self, settings: PlatformSettings
    ) -> None:
        slow_paris = MatchingSettings(
            is_dispatch_enabled=False, travel_speed_kmh_by_zone={"paris": 10.0, "lyon": 50.0}
        )
        async with matching_harness(settings, matching=slow_paris) as h:
            assert await offered_travel_min(h) == pytest.approx(KM * 1.3 / 10 * 60, abs=0.01)

    async def test_the_detour_factor_and_default_speed_apply_to_zones_not_listed(
        self, settings: PlatformSettings
    ) -> None:
        other = MatchingSettings(
            is_dispatch_enabled=False,
            travel_detour_factor=2.0,
            travel_default_speed_kmh=20.0,
            travel_speed_kmh_by_zone={"lyon": 50.0},
        )
        async with matching_harness(settings, matching=other) as h:
            assert await offered_travel_min(h) == pytest.approx(KM * 2.0 / 20 * 60, abs=0.01)

    def test_speeds_per_zone_are_read_from_the_environment_as_json(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("MATCHING_TRAVEL_SPEED_KMH_BY_ZONE", '{"paris": 18, "lyon": 30.5}')
        monkeypatch.setenv("MATCHING_TRAVEL_DETOUR_FACTOR", "1.5")
        settings = MatchingSettings()
        assert settings.travel_speed_kmh_by_zone == {"paris": 18.0, "lyon": 30.5}
        assert settings.travel_detour_factor == 1.5

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("travel_detour_factor", 0.9),
            ("travel_detour_factor", float("inf")),
            ("travel_default_speed_kmh", 0),
            ("travel_default_speed_kmh", -5),
            ("travel_speed_kmh_by_zone", {"paris": 0}),
            ("travel_speed_kmh_by_zone", {"paris": float("nan")}),
            ("travel_speed_kmh_by_zone", {"paris": "fast"}),
            ("travel_speed_kmh_by_zone", [18]),
        ],
    )
    def test_a_bad_value_is_refused_naming_the_setting(self, field: str, value: Any) -> None:
        with pytest.raises(ValidationError) as refused:
            MatchingSettings(**{field: value})
        assert refused.value.errors()[0]["loc"][0] == field

    def test_a_bad_value_in_the_environment_is_refused(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("MATCHING_TRAVEL_SPEED_KMH_BY_ZONE", '{"paris": -18}')
        with pytest.raises(ValidationError, match="travel_speed_kmh_by_zone"):
            MatchingSettings()


class FixedTravel:
    """A stand-in for a road-network router: every trip takes the same time."""

    def __init__(self, minutes: float) -> None:
        self.fixed_minutes = minutes
        self.zones: set[str] = set()

    def minutes(self, lat1: float, lng1: float, lat2: float, lng2: float, zone: str) -> float:
        self.zones.add(zone)
        return self.fixed_minutes


async def test_another_travel_model_plugged_in_is_the_one_the_batch_uses(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    router = FixedTravel(42.0)
    assert isinstance(router, TravelModel)
    monkeypatch.setattr(planner, "travel_model", lambda settings: router)
    assert await offered_travel_min(h) == pytest.approx(42.0)
    assert router.zones == {"paris"}


async def test_the_slot_check_asks_the_same_travel_model(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    """A slot 5 minutes after another mission 10 km away clashes at 25 km/h, not with a 1-minute router."""
    second, mission_end = await second_offer_after_a_far_mission(h)
    too_soon = mission_end + timedelta(minutes=5)
    url, body = f"/v1/offers/{second['id']}/propose", {"start_at": too_soon.isoformat()}
    refused = await h.client.post(url, json=body, headers=h.provider("p1"))
    assert refused.status_code == 409, refused.text
    monkeypatch.setattr(planner, "travel_model", lambda settings: FixedTravel(1.0))
    accepted = await h.client.post(url, json=body, headers=h.provider("p1"))
    assert accepted.status_code == 200, accepted.text
