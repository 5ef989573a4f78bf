"""The batch as an OR-Tools min-cost flow: one mission per provider, as many orders as possible.

source -> order (capacity 1) -> provider (capacity 1, the pair's cost) -> sink, and an
"unassigned" arc order -> sink whose cost exceeds any chain of pair costs, so the flow serves
as many orders as possible first and then minimises the total cost. Costs are integers:
hundredths of a minute-equivalent, times 64, plus the pair's rank in its order's list (cheaper,
then lower provider id first) so that ties break the same way every time.
"""

from __future__ import annotations

import numpy as np
from ortools.graph.python import min_cost_flow

from services.matching.engine.problem import BoolArray, FloatArray, IntArray

TIE_SLOTS = 64


def integer_costs(oi: IntArray, cost: FloatArray, offset: float) -> IntArray:
    """Return integer arc costs for pairs sorted by (order, cost, provider)."""
    counts = np.bincount(oi) if len(oi) else np.zeros(0, np.int64)
    first = np.cumsum(counts) - counts
    rank = np.arange(len(oi)) - first[oi] if len(oi) else np.zeros(0, np.int64)
    scaled = np.rint((cost + offset) * 100.0).astype(np.int64)
    return np.maximum(scaled, 0) * TIE_SLOTS + np.minimum(rank, TIE_SLOTS - 1)


def assign(oi: IntArray, pi: IntArray, arc_cost: IntArray) -> BoolArray:
    """Return which pairs the min-cost flow selects (at most one per order and per provider)."""
    chosen = np.zeros(len(oi), bool)
    if len(oi) == 0:
        return chosen
    orders, o_node = np.unique(oi, return_inverse=True)
    providers, p_node = np.unique(pi, return_inverse=True)
    n_o, n_p = len(orders), len(providers)
    source, sink = 0, 1 + n_o + n_p
    o_node = o_node.astype(np.int64) + 1
    p_node = p_node.astype(np.int64) + 1 + n_o
    big = (int(arc_cost.max()) + 1) * (n_o + 1)
    order_nodes = np.arange(1, n_o + 1, dtype=np.int64)
    provider_nodes = np.arange(1 + n_o, 1 + n_o + n_p, dtype=np.int64)
    tails = np.concatenate([o_node, np.full(n_o, source), provider_nodes, order_nodes])
    heads = np.concatenate([p_node, order_nodes, np.full(n_p, sink), np.full(n_o, sink)])
    costs = np.concatenate([arc_cost, np.zeros(n_o + n_p, np.int64), np.full(n_o, big)])
    capacities = np.ones(len(tails), np.int64)
    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(tails, heads, capacities, costs)
    supplies = np.zeros(sink + 1, np.int64)
    supplies[source], supplies[sink] = n_o, -n_o
    flow.set_nodes_supplies(np.arange(sink + 1, dtype=np.int64), supplies)
    status = flow.solve()
    if status != flow.OPTIMAL:
        raise RuntimeError(f"min-cost flow failed with status {status}")
    flows = flow.flows(np.arange(len(oi), dtype=np.int64))
    chosen[:] = flows > 0
    return chosen
