"""The vectorised pay figures of the result agree with the exact Decimal ones, to the cent."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from services.matching.engine import FloorPolicy, HaversineTravel, Limits, Weights
from services.matching.engine.problem import Problem
from tests.matching.engine.builders import NOW, make_order, make_provider


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 20_000),  # payout cents
            st.sampled_from([15, 30, 60, 90, 120, 180, 240]),  # duration
            st.one_of(st.floats(0, 180), st.integers(0, 180).map(float)),  # travel minutes
        ),
        min_size=1,
        max_size=40,
    ),
    st.sampled_from(["rule_out", "supplement"]),
)
def test_exact_pays_agrees_with_exact_pay(rows: list[tuple[int, int, float]], mode: str) -> None:
    orders = [
        make_order(f"o{k:03d}", payout_cents=payout, duration_min=duration)
        for k, (payout, duration, _) in enumerate(rows)
    ]
    problem = Problem(
        orders,
        [make_provider()],
        now=NOW,
        weights=Weights(),
        floor=FloorPolicy(mode),  # type: ignore[arg-type]
        travel=HaversineTravel(),
        radius_factor=1.0,
        limits=Limits(),
    )
    oi = np.arange(len(rows), dtype=np.int64)
    travel = np.array([t for _, _, t in rows], np.float64)
    supplements, rates = problem.exact_pays(oi, travel)
    expected = [problem.exact_pay(k, float(travel[k])) for k in range(len(rows))]
    assert list(zip(supplements, rates, strict=True)) == expected
