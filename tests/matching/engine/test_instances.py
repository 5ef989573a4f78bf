"""The city-instance generator, and the engine at a few hundred orders against the exact optimum."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from services.matching.engine import FloorPolicy, HaversineTravel, Limits, Weights, solve
from services.matching.engine.instances import DEFAULT_NOW, city_instance, load_places
from services.matching.engine.problem import Problem

FIELDS = [
    "insee_com",
    "insee_reg",
    "insee_dep",
    "commune",
    "commune_article",
    "code_postal",
    "commune_type",
    "insee_parente",
    "lat",
    "lng",
    "superficie_km2",
    "population_2021",
]


@pytest.fixture
def communes(tmp_path: Path) -> Path:
    """A small communes file: a dense centre, two suburbs, a far town and junk rows."""
    rows = [
        ("69381", "Lyon 1er", "69001", "ARM", 45.7701, 4.82637, 1.51, 29016),
        ("69383", "Lyon 3e", "69003", "ARM", 45.75141, 4.86848, 6.35, 101302),
        ("69266", "Villeurbanne", "69100", "COM", 45.7719, 4.8902, 14.52, 156928),
        ("69259", "Vénissieux", "69200", "COM", 45.6975, 4.8867, 15.33, 67129),
        ("75101", "Paris 1er", "75001", "ARM", 48.862, 2.33594, 1.83, 15919),
        ("69999", "Empty", "69999", "COM", 45.76, 4.84, 1.0, 0),
        ("69123", "Lyon (delegated)", "69000", "COMD", 45.76, 4.84, 47.9, 522250),
    ]
    path = tmp_path / "communes.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(FIELDS)
        for insee, name, postcode, kind, lat, lng, area, population in rows:
            writer.writerow(
                [insee, "84", insee[:2], name, name, postcode, kind, "", lat, lng, area, population]
            )
    return path


def make_problem(orders, providers) -> Problem:  # type: ignore[no-untyped-def]
    return Problem(
        sorted(orders, key=lambda o: o.id),
        sorted(providers, key=lambda p: p.id),
        now=DEFAULT_NOW,
        weights=Weights(),
        floor=FloorPolicy(),
        travel=HaversineTravel(),
        radius_factor=1.0,
        limits=Limits(),
    )


def exact(orders, providers) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    """Return the optimum cost and size by dense linear_sum_assignment."""
    problem = make_problem(orders, providers)
    n, m = len(problem.orders), len(problem.providers)
    pairs, _ = problem.evaluate(np.repeat(np.arange(n), m), np.tile(np.arange(m), n))
    matrix = np.full((n, m), 1e7)
    matrix[pairs.oi, pairs.pi] = pairs.cost
    rows, cols = linear_sum_assignment(matrix)
    chosen = matrix[rows, cols]
    return float(chosen[chosen < 1e7].sum()), int((chosen < 1e7).sum())


def engine_cost(orders, providers, result) -> float:  # type: ignore[no-untyped-def]
    problem = make_problem(orders, providers)
    index = {o.id: i for i, o in enumerate(problem.orders)}
    oi = np.array([index[a.order_id] for a in result.assignments])
    pi = np.array([problem.provider_index[a.provider_id] for a in result.assignments])
    pairs, _ = problem.evaluate(oi, pi)
    assert len(pairs) == len(result.assignments)
    return float(pairs.cost.sum())


class TestCityInstance:
    def test_reads_populated_places_near_the_centre_only(self, communes: Path) -> None:
        places = load_places(communes)
        assert [p.postcode for p in places] == ["69200", "69100", "69001", "69003"]

    def test_refuses_a_centre_with_nobody_around(self, communes: Path) -> None:
        with pytest.raises(ValueError):
            load_places(communes, centre=(43.3, 5.4))

    def test_is_deterministic_and_rules_out_about_thirty_percent_by_skills(self, communes: Path) -> None:
        orders, providers = city_instance(communes, 300, 400, seed=5)
        again, _ = city_instance(communes, 300, 400, seed=5)
        assert orders == again
        qualified = np.mean([o.category in p.categories for o in orders for p in providers])
        assert 0.65 < qualified < 0.75
        lyon_1er = sum(1 for p in providers if abs(p.lat - 45.7701) < 0.01 and abs(p.lng - 4.82637) < 0.01)
        villeurbanne = sum(1 for p in providers if abs(p.lat - 45.7719) < 0.02 and abs(p.lng - 4.8902) < 0.02)
        assert villeurbanne > lyon_1er  # about five times the population


class TestAgainstExactOptimum:
    @pytest.mark.parametrize(("n", "m"), [(300, 750), (300, 330)])
    def test_cost_within_a_tenth_of_a_percent_and_as_many_served(
        self, communes: Path, n: int, m: int
    ) -> None:
        orders, providers = city_instance(communes, n, m, seed=n + m)
        result = solve(orders, providers, now=DEFAULT_NOW)
        best_cost, best_size = exact(orders, providers)
        assert len(result.assignments) == best_size
        assert engine_cost(orders, providers, result) <= best_cost * 1.001
        # Candidates come from the grid, never from every order against every provider.
        assert result.stats["candidate_pairs"] < 0.5 * n * m

    def test_booked_orders_and_busy_providers_close_to_the_optimum(self, communes: Path) -> None:
        orders, providers = city_instance(communes, 300, 750, seed=11, booked_share=0.3, busy_share=0.3)
        assert any(p.commitments for p in providers)
        assert any(o.window_start > DEFAULT_NOW for o in orders)
        result = solve(orders, providers, now=DEFAULT_NOW)
        best_cost, best_size = exact(orders, providers)
        assert len(result.assignments) == best_size
        assert engine_cost(orders, providers, result) <= best_cost * 1.005
