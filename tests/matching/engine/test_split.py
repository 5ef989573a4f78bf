"""A large first graph solved as two halves of the map: it prices, it never decides alone."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.matching.engine import FloorPolicy, HaversineTravel, Limits, Weights, solve, solver, workers
from services.matching.engine.candidates import GridIndex, default_base_km, generate, generate_in_halves
from services.matching.engine.flow import assign, largest_gain, solve_halves, unassigned_cost
from services.matching.engine.problem import Problem
from tests.matching.engine.builders import NOW, make_order, make_provider


def total(oi: np.ndarray, cost: np.ndarray, chosen: np.ndarray, n: int, big: int) -> int:
    """Return the flow's cost with the penalty of each order left out."""
    return int(cost[chosen].sum()) + big * (n - len(set(oi[chosen].tolist())))


def city(seed: int, n: int, m: int, reach: float) -> tuple[np.ndarray, ...]:
    """Return points on a 10 x 10 map and the pairs within reach, cost growing with distance."""
    rng = np.random.default_rng(seed)
    o_xy, p_xy = rng.random((2, n)) * 10, rng.random((2, m)) * 10
    gap = np.hypot(o_xy[0][:, None] - p_xy[0][None, :], o_xy[1][:, None] - p_xy[1][None, :])
    oi, pi = np.nonzero(gap <= reach)
    cost = np.rint(gap[oi, pi] * 100).astype(np.int64) + rng.integers(0, 50, len(oi))
    return o_xy, p_xy, oi.astype(np.int64), pi.astype(np.int64), cost


class TestSolveHalves:
    @settings(max_examples=60, deadline=None)
    @given(st.integers(0, 10_000), st.integers(4, 30), st.integers(4, 40), st.floats(1.0, 6.0))
    def test_the_potentials_price_every_pair_and_bound_the_gap(
        self, seed: int, n: int, m: int, reach: float
    ) -> None:
        o_xy, p_xy, oi, pi, cost = city(seed, n, m, reach)
        if not len(oi):
            return
        big = unassigned_cost(cost, n)
        chosen, (d_order, d_provider, every) = solve_halves(
            oi, pi, cost, big, (o_xy[0], o_xy[1]), (p_xy[0], p_xy[1]), use_worker=False
        )
        assert every is not None
        east_o, east_p = o_xy[0] >= np.median(o_xy[0][oi]), p_xy[0] >= np.median(o_xy[0][oi])
        within = east_o[oi] == east_p[pi]
        assert not chosen[~within].any()  # no pair across the cut is used
        assert len(set(oi[chosen].tolist())) == chosen.sum() == len(set(pi[chosen].tolist()))
        reduced = cost + d_order[oi] - d_provider[pi]
        assert (reduced[within & ~chosen] >= 0).all()  # feasible for both halves together
        negative = reduced < 0
        gain = largest_gain(oi[negative], pi[negative], reduced[negative])
        best = assign(oi, pi, cost, big)
        halves, optimum = total(oi, cost, chosen, n, big), total(oi, cost, best, n, big)
        assert 0 <= halves - optimum <= gain

    def test_halves_with_no_pair_across_the_cut_cost_what_one_solve_costs(self) -> None:
        # Two alike towns 100 km apart: the cut falls between them, nothing crosses it.
        rng = np.random.default_rng(5)
        n, m = 40, 60
        town_o, town_p = rng.random((2, n // 2)), rng.random((2, m // 2))
        o_x, o_y = np.concatenate([town_o[0], 100 + town_o[0]]), np.tile(town_o[1], 2)
        p_x, p_y = np.concatenate([town_p[0], 100 + town_p[0]]), np.tile(town_p[1], 2)
        gap = np.hypot(o_x[:, None] - p_x[None, :], o_y[:, None] - p_y[None, :])
        oi, pi = np.nonzero(gap <= 0.6)
        cost = np.rint(gap[oi, pi] * 1000).astype(np.int64)
        big = unassigned_cost(cost, n)
        chosen, (_, _, every) = solve_halves(oi, pi, cost, big, (o_x, o_y), (p_x, p_y), use_worker=False)
        best = assign(oi, pi, cost, big)
        assert every is not None
        assert total(oi, cost, chosen, n, big) == total(oi, cost, best, n, big)
        assert chosen.sum() == best.sum()

    def test_the_worker_process_returns_what_this_process_computes(self) -> None:
        assert workers.start(even_on_one_core=True), "the worker process did not start"
        o_xy, p_xy, oi, pi, cost = city(11, 300, 500, 1.5)
        big = unassigned_cost(cost, 300)
        here = solve_halves(oi, pi, cost, big, (o_xy[0], o_xy[1]), (p_xy[0], p_xy[1]), use_worker=False)
        there = solve_halves(oi, pi, cost, big, (o_xy[0], o_xy[1]), (p_xy[0], p_xy[1]), use_worker=True)
        assert (here[0] == there[0]).all()
        for mine, theirs in zip(here[1], there[1], strict=True):
            assert mine is not None and theirs is not None
            assert (mine == theirs).all()


def default_problem(orders: list, providers: list) -> Problem:  # type: ignore[type-arg]
    """The batch as arrays with the engine's default settings."""
    return Problem(
        orders,
        providers,
        now=NOW,
        weights=Weights(),
        floor=FloorPolicy(),
        travel=HaversineTravel(),
        radius_factor=1.0,
        limits=Limits(),
    )


def around_lyon(seed: int, n: int, m: int) -> tuple[list, list]:  # type: ignore[type-arg]
    """Return n orders and m providers spread over central Lyon."""
    rng = np.random.default_rng(seed)

    def spot() -> tuple[float, float]:
        return 45.76 + rng.uniform(-0.03, 0.03), 4.84 + rng.uniform(-0.04, 0.04)

    orders = [make_order(f"o{i:04}", spot()) for i in range(n)]
    providers = [make_provider(f"p{i:04}", spot(), travel_radius_km=rng.uniform(1, 6)) for i in range(m)]
    return orders, providers


class TestGenerateInHalves:
    @pytest.mark.parametrize("use_threads", [False, True])
    def test_finds_what_one_search_finds_for_each_order(self, use_threads: bool) -> None:
        orders, providers = around_lyon(4, 300, 700)
        problem = default_problem(orders, providers)
        every = np.arange(len(orders), dtype=np.int64)
        whole = generate(problem, GridIndex(problem, default_base_km(problem, 24)), every, pool=24)
        grid = GridIndex(problem, default_base_km(problem, 24))
        halves = generate_in_halves(problem, grid, every, pool=24, use_threads=use_threads)
        assert set(zip(whole.pairs.oi.tolist(), whole.pairs.pi.tolist(), strict=True)) == set(
            zip(halves.pairs.oi.tolist(), halves.pairs.pi.tolist(), strict=True)
        )
        assert len(halves.pairs) == len(whole.pairs)
        assert (halves.seen_feasible == whole.seen_feasible).all()
        assert (halves.truncated == whole.truncated).all()


class TestGridLevels:
    @pytest.mark.parametrize("span_km", [30.0, 30_000.0])
    def test_providers_are_in_the_stable_order_of_their_cell_keys(self, span_km: float) -> None:
        # A city's cells take the 16-bit sort, the globe's the 64-bit one: the same order.
        rng = np.random.default_rng(3)
        orders, providers = around_lyon(5, 10, 400)
        problem = default_problem(orders, providers)
        grid = GridIndex(problem, 0.1)
        grid.entry_x = np.round(rng.random(len(grid.entry_x)) * span_km, 1)  # many in one cell
        grid.entry_y = np.round(rng.random(len(grid.entry_y)) * span_km, 1)
        for level in (0, 3):
            column, row = grid._keys(grid.entry_x, grid.entry_y, grid.entry_category, level)
            keys = column + row
            expected = np.argsort(keys, kind="stable")
            got_keys, got_providers = grid.level(level)
            assert (got_keys == keys[expected]).all()
            assert (got_providers == grid.entry_provider[expected]).all()


class TestSplitSolve:
    def test_the_result_does_not_depend_on_the_worker(self, monkeypatch: pytest.MonkeyPatch) -> None:
        assert workers.start(even_on_one_core=True), "the worker process did not start"
        monkeypatch.setattr(solver, "SPLIT_MIN_ARCS", 1)
        monkeypatch.setattr(solver, "SPLIT_MIN_ORDERS", 1)
        orders, providers = around_lyon(9, 200, 260)
        alone, helped = (solve(orders, providers, now=NOW, workers=w) for w in (1, 2))
        assert alone.stats["split_rounds"] == helped.stats["split_rounds"] == 1
        assert [(a.order_id, a.provider_id) for a in alone.assignments] == [
            (a.order_id, a.provider_id) for a in helped.assignments
        ]

    def test_a_split_first_round_ends_within_the_proven_gap_of_one_whole_solve(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        rng = np.random.default_rng(2)
        orders = [
            make_order(f"o{i:03}", (45.76 + rng.uniform(-0.03, 0.03), 4.84 + rng.uniform(-0.04, 0.04)))
            for i in range(150)
        ]
        providers = [
            make_provider(f"p{i:03}", (45.76 + rng.uniform(-0.03, 0.03), 4.84 + rng.uniform(-0.04, 0.04)))
            for i in range(200)
        ]
        whole = solve(orders, providers, now=NOW, workers=1)
        monkeypatch.setattr(solver, "SPLIT_MIN_ARCS", 1)
        split = solve(orders, providers, now=NOW, workers=1)
        assert split.stats["split_rounds"] == 1 and "split_rounds" not in whole.stats
        assert len(split.assignments) == len(whole.assignments) == 150
        cost = sum(a.cost for a in split.assignments)
        assert cost == pytest.approx(sum(a.cost for a in whole.assignments), rel=solver.PROVEN_GAP)
        assert len({a.provider_id for a in split.assignments}) == 150
