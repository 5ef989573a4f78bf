"""The engine on hand-made batches whose optimum is known."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

import pytest

from services.matching.engine import (
    Commitment,
    FloorPolicy,
    HaversineTravel,
    Limits,
    Weights,
    explain_assignment,
    explain_for_provider,
    solve,
)
from shared.fairpay import FairPaySettings, net_hourly_cents, supplement_to_reach_floor
from tests.matching.engine.builders import LYON, NOW, make_order, make_provider, north

MIN_PER_KM = 1.3 / 25 * 60  # default travel model: detour 1.3 at 25 km/h


def by_order(result):  # type: ignore[no-untyped-def]
    return {a.order_id: a.provider_id for a in result.assignments}


class TestOptimum:
    def test_beats_the_nearest_provider_rule(self) -> None:
        # Greedy would give o1 its nearest (pa, 0.6 km) and o2 pb (2 km): 2.6 km in all.
        orders = [make_order("o1", north(0)), make_order("o2", north(1))]
        providers = [make_provider("pa", north(0.6)), make_provider("pb", north(-1))]
        result = solve(orders, providers, now=NOW)
        assert by_order(result) == {"o1": "pb", "o2": "pa"}
        travel = sum(a.travel_min for a in result.assignments)
        assert travel == pytest.approx(1.4 * MIN_PER_KM, rel=1e-3)

    def test_tie_goes_to_the_lower_provider_id_whatever_the_input_order(self) -> None:
        east = (LYON[0], LYON[1] + 0.01)
        west = (LYON[0], LYON[1] - 0.01)
        for providers in (
            [make_provider("a", east), make_provider("b", west)],
            [make_provider("b", west), make_provider("a", east)],
            [make_provider("b", east), make_provider("a", west)],
        ):
            result = solve([make_order()], providers, now=NOW)
            assert by_order(result) == {"o1": "a"}

    def test_one_mission_per_provider_and_the_rest_wait_with_a_reason(self) -> None:
        orders = [make_order("o1", north(0)), make_order("o2", north(0.5))]
        result = solve(orders, [make_provider("p1", north(0.1))], now=NOW)
        assert by_order(result) == {"o1": "p1"}
        assert "given another order of this batch" in result.unassigned["o2"]

    def test_same_result_whatever_the_input_order(self) -> None:
        rng = random.Random(3)
        orders = [make_order(f"o{i}", north(rng.uniform(-3, 3))) for i in range(12)]
        providers = [make_provider(f"p{j}", north(rng.uniform(-3, 3))) for j in range(9)]
        first = solve(orders, providers, now=NOW)
        rng.shuffle(orders)
        rng.shuffle(providers)
        again = solve(orders, providers, now=NOW)
        assert by_order(first) == by_order(again)
        assert first.unassigned == again.unassigned

    def test_cost_is_the_sum_of_its_components(self) -> None:
        result = solve([make_order()], [make_provider(at=north(2))], now=NOW)
        (assignment,) = result.assignments
        assert assignment.cost == pytest.approx(sum(assignment.components.values()))
        assert assignment.components["travel"] == pytest.approx(2 * MIN_PER_KM, rel=1e-3)


class TestFilters:
    def test_no_qualified_provider(self) -> None:
        result = solve([make_order(category="gardening")], [make_provider()], now=NOW)
        assert result.assignments == []
        assert "qualified for gardening" in result.unassigned["o1"]

    def test_outside_the_travel_radius_until_the_radius_widens(self) -> None:
        order, provider = make_order(at=north(12)), make_provider(travel_radius_km=10)
        assert "travel radius" in solve([order], [provider], now=NOW).unassigned["o1"]
        widened = solve([order], [provider], now=NOW, radius_factor=1.5)
        assert by_order(widened) == {"o1": "p1"}

    def test_a_provider_who_declined_is_not_offered_the_order_again(self) -> None:
        order = make_order(declined_by=frozenset({"p1"}))
        near, far = make_provider("p1", north(0.1)), make_provider("p2", north(3))
        assert by_order(solve([order], [near, far], now=NOW)) == {"o1": "p2"}
        alone = solve([order], [near], now=NOW)
        assert "declined" in alone.unassigned["o1"]

    def test_declining_never_lowers_a_score(self) -> None:
        provider = make_provider("p1", north(1))
        other = make_order("o2", north(0.5))
        declined = make_order("o1", north(5), declined_by=frozenset({"p1"}))
        with_decline = solve([declined, other], [provider], now=NOW)
        without = solve([other], [provider], now=NOW)
        assert with_decline.assignments[0].cost == pytest.approx(without.assignments[0].cost)

    def test_off_duty_without_schedule_is_not_available(self) -> None:
        result = solve([make_order()], [make_provider(on_duty=False)], now=NOW)
        assert "not on duty or scheduled" in result.unassigned["o1"]


class TestCalendar:
    """A provider 5 km away at the end of a mission needs 15.6 minutes to come back."""

    def busy_until(self, minutes: float) -> Commitment:
        start = NOW - timedelta(minutes=60)
        lat, lng = north(5)
        return Commitment("prev", start, NOW + timedelta(minutes=minutes), lat, lng)

    def test_travel_from_the_previous_mission_makes_it_too_late(self) -> None:
        provider = make_provider(commitments=(self.busy_until(30),))
        order = make_order(window_end=NOW + timedelta(minutes=40))
        result = solve([order], [provider], now=NOW, limits=Limits(max_late_min=0))
        assert "busy" in result.unassigned["o1"]

    def test_starts_after_the_previous_mission_plus_travel(self) -> None:
        provider = make_provider(commitments=(self.busy_until(30),))
        order = make_order(window_end=NOW + timedelta(minutes=50))
        result = solve([order], [provider], now=NOW, limits=Limits(max_late_min=0))
        (assignment,) = result.assignments
        expected = NOW + timedelta(minutes=30 + 5 * MIN_PER_KM)
        assert abs((assignment.start_at - expected).total_seconds()) < 1
        assert assignment.travel_min == pytest.approx(5 * MIN_PER_KM, rel=1e-3)

    def test_must_leave_time_to_reach_the_next_mission(self) -> None:
        lat, lng = north(5)
        following = Commitment("next", NOW + timedelta(minutes=60), NOW + timedelta(minutes=180), lat, lng)
        provider = make_provider(commitments=(following,))
        fits = make_order("o1", duration_min=40)  # 40 + 15.6 <= 60
        too_long = make_order("o2", duration_min=50)  # 50 + 15.6 > 60
        limits = Limits(max_late_min=0)
        assert by_order(solve([fits], [provider], now=NOW, limits=limits)) == {"o1": "p1"}
        assert "busy" in solve([too_long], [provider], now=NOW, limits=limits).unassigned["o2"]

    def test_order_booked_for_later_fits_the_weekly_schedule(self) -> None:
        # Friday 27 November, 10:00-10:30 in Paris is 09:00-09:30 UTC.
        window_start = NOW + timedelta(days=1)
        order = make_order(window_start=window_start, window_end=window_start + timedelta(minutes=30))
        morning = make_provider("p1", on_duty=False, weekly_schedule=((4, 9 * 60, 13 * 60),))
        afternoon = make_provider("p2", on_duty=False, weekly_schedule=((4, 14 * 60, 18 * 60),))
        on_duty_now = make_provider("p3")
        assert by_order(solve([order], [morning], now=NOW)) == {"o1": "p1"}
        assert solve([order], [morning], now=NOW).assignments[0].start_at == window_start
        assert solve([order], [afternoon, on_duty_now], now=NOW).assignments == []

    def test_a_pinned_mission_is_kept_and_holds_its_provider(self) -> None:
        pinned = make_order("o1", pinned_provider_id="p1")
        open_order = make_order("o2", north(0.2))
        near, far = make_provider("p1"), make_provider("p2", north(4))
        result = solve([pinned, open_order], [near, far], now=NOW)
        assert result.pinned == ["o1"]
        assert by_order(result) == {"o2": "p2"}


class TestFairPayFloor:
    """60 minutes paid 13 EUR: 10.24 EUR net, below 9.52 EUR/h past 4.5 minutes of travel."""

    def order(self):  # type: ignore[no-untyped-def]
        return make_order(duration_min=60, payout_cents=1300)

    def test_rule_out_leaves_the_order_unassigned(self) -> None:
        result = solve([self.order()], [make_provider(at=north(3))], now=NOW, floor=FloorPolicy("rule_out"))
        assert "fair-pay floor" in result.unassigned["o1"]

    def test_supplement_lifts_the_pay_to_the_floor_and_costs_in_the_score(self) -> None:
        result = solve(
            [self.order()],
            [make_provider(at=north(3))],
            now=NOW,
            floor=FloorPolicy("supplement"),
            weights=Weights(supplement=5.0),
        )
        (assignment,) = result.assignments
        expected = supplement_to_reach_floor(1300, 60, assignment.travel_min, FairPaySettings())
        assert assignment.supplement_cents == expected > 0
        assert assignment.components["supplement"] == pytest.approx(5.0 * expected / 100)
        assert assignment.net_hourly_cents >= FairPaySettings().floor_cents_per_hour
        assert assignment.net_hourly_cents == net_hourly_cents(
            1300 + expected, 60, round(assignment.travel_min, 6), FairPaySettings().contribution_rate
        )

    def test_a_near_provider_needs_no_supplement(self) -> None:
        result = solve([self.order()], [make_provider(at=north(0.5))], now=NOW)
        assert result.assignments[0].supplement_cents == 0

    def test_the_supplement_weighs_against_a_nearer_but_worse_rated_provider(self) -> None:
        far_good = make_provider("p1", north(3), rating=5.0, rating_count=50)
        near_poor = make_provider("p2", north(1.2), rating=3.0, rating_count=50)
        cheap = solve([self.order()], [far_good, near_poor], now=NOW, weights=Weights(supplement=0.0))
        dear = solve([self.order()], [far_good, near_poor], now=NOW, weights=Weights(supplement=20.0))
        assert by_order(cheap) == {"o1": "p1"}
        assert by_order(dear) == {"o1": "p2"}


class TestScore:
    def test_reputation_gives_no_verdict_below_the_minimum_count(self) -> None:
        rated_low = make_provider("p1", rating=3.0, rating_count=10)
        new = make_provider("p2", rating=1.0, rating_count=2)
        result = solve([make_order()], [rated_low, new], now=NOW)
        assert by_order(result) == {"o1": "p2"}
        assert result.assignments[0].components["reputation"] == pytest.approx(10 * 0.5)
        alternative = result.assignments[0].alternatives[0]
        assert alternative.components["reputation"] == pytest.approx(10 * 2.0)

    def test_fairness_favours_the_provider_furthest_below_their_target(self) -> None:
        at_target = make_provider("p1", hours_this_week=30, weekly_target_h=30)
        below = make_provider("p2", hours_this_week=6, weekly_target_h=30)
        result = solve([make_order()], [at_target, below], now=NOW)
        assert by_order(result) == {"o1": "p2"}
        assert result.assignments[0].components["fairness"] == pytest.approx(20 * 0.2)

    def test_lateness_counts_past_the_window(self) -> None:
        order = make_order(at=north(8), window_end=NOW + timedelta(minutes=10))
        (assignment,) = solve([order], [make_provider()], now=NOW).assignments
        assert assignment.components["lateness"] == pytest.approx(3.0 * (8 * MIN_PER_KM - 10), rel=1e-3)

    def test_the_preferred_provider_is_kept_when_close_enough(self) -> None:
        order = make_order(preferred_provider_id="p2")
        providers = [make_provider("p1", north(0.5)), make_provider("p2", north(1.0))]
        assert by_order(solve([order], providers, now=NOW)) == {"o1": "p2"}

    def test_weights_refuse_negative_values(self) -> None:
        with pytest.raises(ValueError):
            Weights(travel=-1)
        with pytest.raises(ValueError):
            FloorPolicy("sometimes")  # type: ignore[arg-type]

    def test_travel_model_speed_per_zone(self) -> None:
        travel = HaversineTravel(speed_kmh_by_zone={"centre": 12.5})
        order = replace(make_order(at=north(2)), zone="centre")
        (assignment,) = solve([order], [make_provider()], now=NOW, travel=travel).assignments
        assert assignment.travel_min == pytest.approx(2 * 1.3 / 12.5 * 60, rel=1e-3)

    def test_refuses_a_naive_now(self) -> None:
        with pytest.raises(ValueError):
            solve([], [], now=NOW.replace(tzinfo=None))


class TestExplanations:
    def test_plain_words_with_numbers_for_ops_and_providers(self) -> None:
        orders = [make_order("o1", north(0)), make_order("o2", north(1))]
        providers = [make_provider("pa", north(0.6)), make_provider("pb", north(-1))]
        result = solve(orders, providers, now=NOW)
        first = next(a for a in result.assignments if a.order_id == "o1")
        text = explain_assignment(first)
        assert "Order o1 went to provider pb" in text
        assert "travel time" in text and "pa" in text and "o2" in text
        assert explain_for_provider(first, "pb").startswith("You got order o1")
        assert "went to another provider" in explain_for_provider(first, "pa")
        assert "never held against you" in explain_for_provider(first, "nobody")
