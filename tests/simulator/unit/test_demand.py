"""The demand model: daily curve, categories, places in proportion to households, shifts."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from services.demo.city import load_city
from services.simulator.demand import (
    CATEGORY_MIX,
    DURATIONS_MIN,
    HOURLY_WEIGHTS,
    category_weights,
    compression,
    hourly_shares,
    plan_day,
    real_offset_s,
    sample_minute,
    sample_place,
    sample_provider_categories,
    sample_shift,
)


class TestHourlyCurve:
    def test_shares_sum_to_one_and_peak_in_the_day(self) -> None:
        shares = hourly_shares()
        assert sum(shares) == pytest.approx(1.0)
        assert max(range(24), key=lambda h: shares[h]) in range(9, 12)
        assert sum(shares[0:6]) < 0.03  # almost nothing at night

    def test_refuses_a_curve_that_is_not_24_non_negative_numbers(self) -> None:
        with pytest.raises(ValueError):
            hourly_shares([1.0] * 23)
        with pytest.raises(ValueError):
            hourly_shares([0.0] * 24)
        with pytest.raises(ValueError):
            hourly_shares([-1.0] + [1.0] * 23)

    def test_sampled_minutes_follow_the_curve(self) -> None:
        rng = random.Random(7)
        hours = Counter(int(sample_minute(rng) // 60) for _ in range(20_000))
        shares = hourly_shares()
        for hour in range(24):
            assert hours[hour] / 20_000 == pytest.approx(shares[hour], abs=0.01)

    def test_a_curve_with_one_hour_puts_every_order_in_it(self) -> None:
        weights = [0.0] * 24
        weights[14] = 1.0
        rng = random.Random(1)
        assert all(14 * 60 <= sample_minute(rng, weights) < 15 * 60 for _ in range(200))


class TestPlanDay:
    def test_plans_the_asked_number_of_orders_sorted_by_time(self) -> None:
        planned = plan_day(load_city(), random.Random(3), 300, list(CATEGORY_MIX))
        assert len(planned) == 300
        assert [p.sim_minute for p in planned] == sorted(p.sim_minute for p in planned)
        assert all(0 <= p.sim_minute < 1440 for p in planned)
        assert [p.index for p in planned] == list(range(300))

    def test_same_seed_same_day(self) -> None:
        city = load_city()
        assert plan_day(city, random.Random(5), 50, ["cleaning"]) == plan_day(
            city, random.Random(5), 50, ["cleaning"]
        )

    def test_places_orders_in_proportion_to_households(self) -> None:
        city = load_city()
        planned = plan_day(city, random.Random(11), 6000, ["cleaning"], repeat_share=0.0)
        by_postcode = Counter(p.postcode for p in planned)
        households: Counter[str] = Counter()
        for commune in city.communes:
            households[commune.postcode] += commune.households
        total = sum(households.values())
        biggest = households.most_common(3)
        for postcode, count in biggest:
            assert by_postcode[postcode] / 6000 == pytest.approx(count / total, abs=0.012)

    def test_only_categories_on_sale_and_their_lengths(self) -> None:
        planned = plan_day(load_city(), random.Random(2), 500, ["cleaning", "tutoring"])
        assert {p.category for p in planned} == {"cleaning", "tutoring"}
        assert all(p.duration_min in DURATIONS_MIN[p.category] for p in planned)
        shares = Counter(p.category for p in planned)
        expected = category_weights(["cleaning", "tutoring"])["cleaning"]
        assert shares["cleaning"] / 500 == pytest.approx(expected, abs=0.07)

    def test_some_clients_order_twice_from_the_same_place(self) -> None:
        planned = plan_day(load_city(), random.Random(9), 400, ["cleaning"], repeat_share=0.3)
        by_client: dict[str, set[tuple[float, float]]] = {}
        for p in planned:
            by_client.setdefault(p.client_id, set()).add((p.lat, p.lng))
        assert len(by_client) < 400
        assert all(len(places) == 1 for places in by_client.values())

    def test_no_category_on_sale_is_refused(self) -> None:
        with pytest.raises(ValueError):
            plan_day(load_city(), random.Random(1), 3, [])

    def test_where_keeps_the_places_to_the_postcodes_on_sale(self) -> None:
        """A grid selling in part of the city only (the e2e scenario's one zone): orders go there."""
        city = load_city()
        planned = plan_day(city, random.Random(4), 200, ["cleaning"], where={"69001", "69002"})
        assert {p.postcode for p in planned} == {"69001", "69002"}
        homes = [sample_place(city, random.Random(i), "population", {"69003"}) for i in range(20)]
        assert {h.postcode for h in homes} == {"69003"}
        with pytest.raises(ValueError, match="none of the postcodes"):
            plan_day(city, random.Random(4), 3, ["cleaning"], where={"75001"})


class TestCompressedClock:
    def test_a_day_in_three_minutes_is_480_times_faster(self) -> None:
        assert compression(180) == 480
        assert real_offset_s(12 * 60, 180) == 90
        assert real_offset_s(0, 180) == 0

    def test_refuses_a_zero_duration(self) -> None:
        with pytest.raises(ValueError):
            compression(0)


class TestProviders:
    def test_shifts_are_working_days(self) -> None:
        rng = random.Random(4)
        for _ in range(500):
            shift = sample_shift(rng)
            assert 7 * 60 <= shift.start_min <= 15 * 60
            assert 6 <= shift.hours <= 10
            assert shift.covers(shift.start_min) and not shift.covers(shift.end_min)

    def test_provider_categories_are_distinct_and_on_sale(self) -> None:
        rng = random.Random(8)
        for _ in range(200):
            chosen = sample_provider_categories(rng, ["cleaning", "handyman", "gardening"])
            assert 1 <= len(chosen) <= 3
            assert len(set(chosen)) == len(chosen)
            assert set(chosen) <= {"cleaning", "handyman", "gardening"}

    def test_curve_is_a_day(self) -> None:
        assert len(HOURLY_WEIGHTS) == 24
