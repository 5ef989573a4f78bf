"""The flow layer: the gain bound that stops column generation is a true bound."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from services.matching.engine.flow import (
    assign,
    largest_gain,
    locality_keys,
    potentials,
    some_gain,
    unassigned_cost,
)


def total(oi: np.ndarray, cost: np.ndarray, chosen: np.ndarray, n: int, big: int) -> int:
    """Return the flow's cost with the penalty of each order left out."""
    return int(cost[chosen].sum()) + big * (n - len(set(oi[chosen].tolist())))


@settings(max_examples=120, deadline=None)
@given(st.integers(0, 10_000), st.integers(2, 14), st.integers(2, 14), st.floats(0.1, 0.9))
def test_the_optimum_over_all_pairs_gains_at_most_the_bound(seed: int, n: int, m: int, share: float) -> None:
    rng = np.random.default_rng(seed)
    oi, pi = np.nonzero(rng.random((n, m)) < 0.6)
    oi, pi = oi.astype(np.int64), pi.astype(np.int64)
    if not len(oi):
        return
    cost = rng.integers(0, 1000, len(oi)).astype(np.int64)
    big = unassigned_cost(cost, n)
    graph = rng.random(len(oi)) < share  # the short lists: a part of the pairs
    index = np.flatnonzero(graph)
    chosen_in = assign(oi[index], pi[index], cost[index], big)
    d_order, d_provider, every = potentials(oi[index], pi[index], cost[index], chosen_in, n, m, big)
    assert every is not None  # an optimal flow's residual graph has no negative cycle
    reduced = cost + d_order[oi] - d_provider[pi]
    assert (reduced[index] >= 0).all()  # feasible on the graph
    negative = ~graph & (reduced < 0)
    gain = largest_gain(oi[negative], pi[negative], reduced[negative])
    assert 0 <= some_gain(oi[negative], pi[negative], reduced[negative]) <= gain  # a lower bound
    chosen = np.zeros(len(oi), bool)
    chosen[index[chosen_in]] = True
    best = assign(oi, pi, cost, big)
    now, optimum = total(oi, cost, chosen, n, big), total(oi, cost, best, n, big)
    assert 0 <= now - optimum <= gain
    if not negative.any():
        assert now == optimum


def test_node_keys_do_not_change_the_optimum() -> None:
    rng = np.random.default_rng(7)
    n, m = 40, 60
    oi, pi = np.nonzero(rng.random((n, m)) < 0.3)
    cost = rng.integers(0, 500, len(oi)).astype(np.int64)
    big = unassigned_cost(cost, n)
    plain = assign(oi, pi, cost, big)
    keyed = assign(
        oi,
        pi,
        cost,
        big,
        locality_keys(rng.random(n) * 9, rng.random(n) * 9),
        locality_keys(rng.random(m), rng.random(m)),
    )
    assert int(cost[plain].sum()) == int(cost[keyed].sum())
    assert plain.sum() == keyed.sum()


def test_locality_keys_put_near_points_near() -> None:
    x = np.array([0.0, 0.1, 5.0, 5.1])
    y = np.array([0.0, 0.1, 5.0, 5.1])
    keys = locality_keys(x, y, cell_km=1.0)
    assert keys[0] == keys[1] and keys[2] == keys[3] and keys[0] < keys[2]


def shortest_potentials(
    oi: np.ndarray, pi: np.ndarray, cost: np.ndarray, chosen: np.ndarray, n: int, m: int, big: int
) -> list[int]:
    """Return every node's distance from a virtual root in the residual graph, pair by pair."""
    sink = n + m
    edges = []  # (tail, head, cost), as `potentials` describes the residual graph
    for o, p, c, taken in zip(oi.tolist(), pi.tolist(), cost.tolist(), chosen.tolist(), strict=True):
        edges.append((n + p, o, -c) if taken else (o, n + p, c))
    served, used = set(oi[chosen].tolist()), set(pi[chosen].tolist())
    edges += [(o, sink, big) if o in served else (sink, o, -big) for o in range(n)]
    edges += [(sink, n + p, 0) if p in used else (n + p, sink, 0) for p in range(m)]
    d = [0] * (n + m + 1)
    changed = True
    while changed:
        changed = False
        for tail, head, c in edges:
            if d[tail] + c < d[head]:
                d[head], changed = d[tail] + c, True
    return d


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 10_000), st.integers(5, 40), st.integers(5, 40))
def test_the_potentials_are_the_shortest_distances_of_the_residual_graph(seed: int, n: int, m: int) -> None:
    # Large enough graphs that the later passes relax only the pairs of the orders that dropped.
    rng = np.random.default_rng(seed)
    oi, pi = np.nonzero(rng.random((n, m)) < 0.5)
    oi, pi = oi.astype(np.int64), pi.astype(np.int64)
    cost = rng.integers(0, 1000, len(oi)).astype(np.int64) * 64
    big = unassigned_cost(cost, n)
    chosen = assign(oi, pi, cost, big)
    _, _, every = potentials(oi, pi, cost, chosen, n, m, big)
    assert every is not None
    assert every.tolist() == shortest_potentials(oi, pi, cost, chosen, n, m, big)
