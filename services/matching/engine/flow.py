"""The batch as an OR-Tools min-cost flow, and its prices for column generation.

source -> order (capacity 1) -> provider (capacity 1, the pair's cost) -> sink, solved as the
cheapest among the maximum flows: as many orders as possible first, then the least total cost.

Costs are integers: hundredths of a minute-equivalent times 64, plus a tie-break that grows
with the provider's id order (exactly the id order below 64 providers), so equal scores go the
same way every time. The solver starts from short lists and adds the pairs whose reduced cost
under the optimal node potentials is negative (column generation) until none is left: the
result is then optimal over every candidate pair, not only over the short lists.
"""

from __future__ import annotations

import numpy as np
from ortools.graph.python import min_cost_flow

from services.matching.engine.problem import BoolArray, FloatArray, IntArray

TIE_SLOTS = 64
MAX_RELAXATION_ROUNDS = 2000


def integer_costs(pi: IntArray, cost: FloatArray, offset: float, n_providers: int) -> IntArray:
    """Return the integer arc costs of pairs (never negative)."""
    scaled = np.maximum(np.rint((cost + offset) * 100.0).astype(np.int64), 0)
    tie = (pi * (TIE_SLOTS - 1)) // max(n_providers - 1, 1)
    result: IntArray = scaled * TIE_SLOTS + tie
    return result


def unassigned_cost(arc_cost: IntArray, n_orders: int) -> int:
    """Return the cost of leaving an order out: more than any alternating chain of pairs."""
    return (int(arc_cost.max(initial=0)) + 1) * (n_orders + 1)


def assign(oi: IntArray, pi: IntArray, arc_cost: IntArray, big: int) -> BoolArray:
    """Return which pairs the min-cost flow selects (at most one per order and per provider)."""
    chosen = np.zeros(len(oi), bool)
    if len(oi) == 0:
        return chosen
    orders, o_node = np.unique(oi, return_inverse=True)
    providers, p_node = np.unique(pi, return_inverse=True)
    n_o, n_p = len(orders), len(providers)
    source, sink = 0, 1 + n_o + n_p
    order_nodes = np.arange(1, n_o + 1, dtype=np.int64)
    provider_nodes = np.arange(1 + n_o, 1 + n_o + n_p, dtype=np.int64)
    tails = np.concatenate([o_node.astype(np.int64) + 1, np.full(n_o, source), provider_nodes])
    heads = np.concatenate([p_node.astype(np.int64) + 1 + n_o, order_nodes, np.full(n_p, sink)])
    costs = np.concatenate([arc_cost, np.zeros(n_o + n_p, np.int64)])
    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(tails, heads, np.ones(len(tails), np.int64), costs)
    supplies = np.zeros(sink + 1, np.int64)
    supplies[source], supplies[sink] = n_o, -n_o
    flow.set_nodes_supplies(np.arange(sink + 1, dtype=np.int64), supplies)
    # The most orders served first, then the least cost among such flows.
    status = flow.solve_max_flow_with_min_cost()
    if status != flow.OPTIMAL:
        raise RuntimeError(f"min-cost flow failed with status {status}")
    chosen[:] = flow.flows(np.arange(len(oi), dtype=np.int64)) > 0
    return chosen


def potentials(
    oi: IntArray,
    pi: IntArray,
    arc_cost: IntArray,
    chosen: BoolArray,
    n_orders: int,
    n_providers: int,
    big: int,
) -> tuple[IntArray, IntArray, bool]:
    """Return shortest-path potentials of orders and providers in the optimal residual graph.

    With them, a pair (o, p) outside the graph would improve the optimum only if
    cost(o, p) + d[o] - d[p] < 0. Bellman-Ford from a virtual root, vectorised; the flag says
    whether it converged (it does: the residual graph of an optimal flow has no negative cycle).
    """
    n, m = n_orders, n_providers
    sink = n + m
    assigned = np.zeros(n, bool)
    assigned[oi[chosen]] = True
    used = np.zeros(m, bool)
    used[pi[chosen]] = True
    orders = np.arange(n, dtype=np.int64)
    providers = np.arange(m, dtype=np.int64)
    tails = np.concatenate(
        [
            np.where(chosen, pi + n, oi),  # a free pair o -> p, or a chosen one p -> o
            np.full(int((~assigned).sum()), sink),
            orders[assigned],
            np.full(int(used.sum()), sink),
            providers[~used] + n,
        ]
    )
    heads = np.concatenate(
        [
            np.where(chosen, oi, pi + n),
            orders[~assigned],
            np.full(int(assigned.sum()), sink),
            providers[used] + n,
            np.full(int((~used).sum()), sink),
        ]
    )
    costs = np.concatenate(
        [
            np.where(chosen, -arc_cost, arc_cost),
            np.full(int((~assigned).sum()), -big),
            np.full(int(assigned.sum()), big),
            np.zeros(m, np.int64),
        ]
    )
    d = np.zeros(n + m + 1, np.int64)
    converged = False
    for _ in range(MAX_RELAXATION_ROUNDS):
        relaxed = d.copy()
        np.minimum.at(relaxed, heads, d[tails] + costs)
        if np.array_equal(relaxed, d):
            converged = True
            break
        d = relaxed
    return d[:n], d[n : n + m], converged
