"""Properties of the engine on random small batches, checked independently of its code paths."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment

from services.matching.engine import (
    Commitment,
    FloorPolicy,
    HaversineTravel,
    Limits,
    OrderRequest,
    ProviderState,
    Weights,
    solve,
)
from services.matching.engine.calendar import schedule_intervals
from services.matching.engine.problem import Problem
from services.matching.engine.travel import haversine_km
from tests.matching.engine.builders import LYON, NOW

CATEGORIES = ("cleaning", "gardening")
TRAVEL = HaversineTravel()
LIMITS = Limits()


def place(draw: st.DrawFn) -> tuple[float, float]:
    return (LYON[0] + draw(st.floats(-0.05, 0.05)), LYON[1] + draw(st.floats(-0.07, 0.07)))


@st.composite
def providers(draw: st.DrawFn, index: int) -> ProviderState:
    lat, lng = place(draw)
    commitments = []
    cursor = draw(st.integers(-120, 300))
    for k in range(draw(st.integers(0, 2))):
        length = draw(st.integers(30, 180))
        c_lat, c_lng = place(draw)
        commitments.append(
            Commitment(
                f"c{index}-{k}",
                NOW + timedelta(minutes=cursor),
                NOW + timedelta(minutes=cursor + length),
                c_lat,
                c_lng,
            )
        )
        cursor += length + draw(st.integers(0, 240))
    schedule = tuple(
        (day, start, min(start + length, 1440))
        for day, start, length in draw(
            st.lists(st.tuples(st.integers(0, 6), st.integers(0, 1380), st.integers(60, 600)), max_size=3)
        )
    )
    rated = draw(st.booleans())
    return ProviderState(
        id=f"p{index}",
        categories=frozenset(draw(st.sets(st.sampled_from(CATEGORIES), min_size=1))),
        lat=lat,
        lng=lng,
        travel_radius_km=draw(st.floats(1.0, 12.0)),
        on_duty=draw(st.booleans()),
        weekly_schedule=schedule,
        commitments=tuple(commitments),
        rating=draw(st.floats(1.0, 5.0)) if rated else None,
        rating_count=draw(st.integers(5, 50)) if rated else 0,
        hours_this_week=draw(st.floats(0, 40)),
        weekly_target_h=draw(st.floats(0, 40)),
    )


@st.composite
def batches(draw: st.DrawFn) -> tuple[list[OrderRequest], list[ProviderState], str]:
    n_providers = draw(st.integers(1, 7))
    provider_list = [draw(providers(j)) for j in range(n_providers)]
    ids = [p.id for p in provider_list]
    orders = []
    for i in range(draw(st.integers(1, 7))):
        lat, lng = place(draw)
        start = draw(st.integers(0, 36 * 60))
        orders.append(
            OrderRequest(
                id=f"o{i}",
                category=draw(st.sampled_from(CATEGORIES)),
                lat=lat,
                lng=lng,
                window_start=NOW + timedelta(minutes=start),
                window_end=NOW + timedelta(minutes=start + draw(st.integers(0, 180))),
                duration_min=draw(st.sampled_from([30, 60, 90, 120, 180])),
                payout_cents=draw(st.integers(500, 9000)),
                declined_by=frozenset(draw(st.sets(st.sampled_from(ids), max_size=2))),
            )
        )
    return orders, provider_list, draw(st.sampled_from(["rule_out", "supplement"]))


def available(provider: ProviderState, start_min: float, end_min: float) -> bool:
    """Return whether the provider is on duty or scheduled for the whole mission."""
    if provider.on_duty and start_min <= LIMITS.on_duty_horizon_min:
        return True
    blocks = schedule_intervals(provider.weekly_schedule, NOW, -1440, 4 * 1440)
    return any(b0 <= start_min and end_min <= b1 for b0, b1 in blocks)


def check_filters(order: OrderRequest, provider: ProviderState, start_min: float) -> None:
    """Assert, with scalar arithmetic, that an assignment passes every filter of the spec."""
    assert order.category in provider.categories
    assert haversine_km(provider.lat, provider.lng, order.lat, order.lng) <= (
        provider.travel_radius_km + 1e-9
    )
    assert provider.id not in order.declined_by
    ws = (order.window_start - NOW).total_seconds() / 60
    we = (order.window_end - NOW).total_seconds() / 60
    assert ws - 1e-6 <= start_min <= we + LIMITS.max_late_min + 1e-6
    end_min = start_min + order.duration_min
    assert available(provider, start_min, end_min)
    for c in provider.commitments:
        c_start = (c.start - NOW).total_seconds() / 60
        c_end = (c.end - NOW).total_seconds() / 60
        if c_end <= 0:
            continue
        # No overlap, and time to travel between the two places either way.
        between = TRAVEL.minutes(c.lat, c.lng, order.lat, order.lng, order.zone)
        assert end_min + between <= c_start + 1e-6 or c_end + between <= start_min + 1e-6


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_every_assignment_is_feasible_and_nothing_is_doubled(batch) -> None:  # type: ignore[no-untyped-def]
    orders, provider_list, mode = batch
    result = solve(orders, provider_list, now=NOW, floor=FloorPolicy(mode))
    by_id = {p.id: p for p in provider_list}
    order_ids = [a.order_id for a in result.assignments]
    provider_ids = [a.provider_id for a in result.assignments]
    assert len(set(order_ids)) == len(order_ids)
    assert len(set(provider_ids)) == len(provider_ids)
    assert set(order_ids) | set(result.unassigned) == {o.id for o in orders}
    assert not set(order_ids) & set(result.unassigned)
    for a in result.assignments:
        order = next(o for o in orders if o.id == a.order_id)
        check_filters(order, by_id[a.provider_id], (a.start_at - NOW).total_seconds() / 60)
        assert abs(a.cost - sum(a.components.values())) < 1e-9
        if mode == "rule_out":
            assert a.supplement_cents == 0
            assert a.net_hourly_cents >= FloorPolicy().fair_pay.floor_cents_per_hour
        assert a.net_hourly_cents >= FloorPolicy().fair_pay.floor_cents_per_hour


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_matches_the_exact_optimum_of_the_dense_problem(batch) -> None:  # type: ignore[no-untyped-def]
    orders, provider_list, mode = batch
    floor = FloorPolicy(mode)
    result = solve(orders, provider_list, now=NOW, floor=floor)
    problem = Problem(
        sorted(orders, key=lambda o: o.id),
        sorted(provider_list, key=lambda p: p.id),
        now=NOW,
        weights=Weights(),
        floor=floor,
        travel=TRAVEL,
        radius_factor=1.0,
        limits=LIMITS,
    )
    n, m = len(orders), len(provider_list)
    oi, pi = np.repeat(np.arange(n), m), np.tile(np.arange(m), n)
    pairs, _ = problem.evaluate(oi, pi)
    big = 1e6
    matrix = np.full((n, m), big)
    matrix[pairs.oi, pairs.pi] = pairs.cost
    rows, cols = linear_sum_assignment(matrix)
    served = matrix[rows, cols] < big
    assert len(result.assignments) == int(served.sum())
    # Integer costs are hundredths: the engine is within that rounding of the exact optimum.
    engine_cost = sum(
        matrix[
            problem.orders.index(next(o for o in problem.orders if o.id == a.order_id)),
            problem.provider_index[a.provider_id],
        ]
        for a in result.assignments
    )
    assert engine_cost <= matrix[rows, cols][served].sum() + 0.01 * n + 1e-9
    for a in result.assignments:
        assert a.provider_id not in next(o for o in orders if o.id == a.order_id).declined_by


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_vectorised_calendar_fit_agrees_with_the_scalar_one(batch) -> None:  # type: ignore[no-untyped-def]
    orders, provider_list, mode = batch
    problem = Problem(
        sorted(orders, key=lambda o: o.id),
        sorted(provider_list, key=lambda p: p.id),
        now=NOW,
        weights=Weights(),
        floor=FloorPolicy(mode),
        travel=TRAVEL,
        radius_factor=1.0,
        limits=LIMITS,
    )
    n, m = len(orders), len(provider_list)
    oi, pi = np.repeat(np.arange(n), m), np.tile(np.arange(m), n)
    home = problem.travel_minutes(oi, pi, problem.distances(oi, pi))
    fits, start, travel = problem.fit_many(oi, pi, home)
    for j in range(len(oi)):
        scalar = problem._fit(int(oi[j]), int(pi[j]))
        assert fits[j] == (scalar is not None)
        if scalar is not None:
            assert abs(start[j] - scalar.start) < 1e-6
            assert abs(travel[j] - scalar.travel_min) < 1e-6
