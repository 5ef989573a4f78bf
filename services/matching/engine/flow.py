"""The batch as an OR-Tools min-cost flow, and its prices for column generation.

source -> order (capacity 1) -> provider (capacity 1, the pair's cost) -> sink, solved as the
cheapest among the maximum flows: as many orders as possible first, then the least total cost.

Costs are integers: hundredths of a minute-equivalent times 64, plus a tie-break that grows
with the provider's id order (exactly the id order below 64 providers), so equal scores go the
same way every time. The solver starts from short lists and adds the pairs whose reduced cost
under the optimal node potentials is negative (column generation) until none is left (the
result is then optimal over every candidate pair, not only over the short lists) or until the
potentials prove it within a small share of that optimum (`largest_gain`).
"""

from __future__ import annotations

import numpy as np
from ortools.graph.python import min_cost_flow

from services.matching.engine import workers
from services.matching.engine.problem import BoolArray, FloatArray, IntArray

TIE_SLOTS = 64
MAX_RELAXATION_ROUNDS = 2000
# A relaxation pass visits only the pairs of the orders whose potential dropped when they are
# fewer than this fraction of the pairs (gathering them costs more per pair than a full pass).
FEW_PAIRS_SHARE = 4


def integer_costs(pi: IntArray, cost: FloatArray, offset: float, n_providers: int) -> IntArray:
    """Return the integer arc costs of pairs (never negative)."""
    scaled = np.maximum(np.rint((cost + offset) * 100.0).astype(np.int64), 0)
    tie = (pi * (TIE_SLOTS - 1)) // max(n_providers - 1, 1)
    result: IntArray = scaled * TIE_SLOTS + tie
    return result


def unassigned_cost(arc_cost: IntArray, n_orders: int) -> int:
    """Return the cost of leaving an order out: more than any alternating chain of pairs."""
    return (int(arc_cost.max(initial=0)) + 1) * (n_orders + 1)


def locality_keys(x: FloatArray, y: FloatArray, cell_km: float = 0.25) -> IntArray:
    """Return a Morton (Z-order) key of each point's cell: nearby points get nearby keys."""
    if len(x) == 0:
        return np.zeros(0, np.int64)
    ix = np.floor((x - x.min()) / cell_km).astype(np.int64) & 0xFFFF
    iy = np.floor((y - y.min()) / cell_km).astype(np.int64) & 0xFFFF
    key = np.zeros(len(x), np.int64)
    for bit in range(16):
        key |= ((ix >> bit) & 1) << (2 * bit) | ((iy >> bit) & 1) << (2 * bit + 1)
    return key


def _compact(index: IntArray) -> tuple[IntArray, IntArray]:
    """Return the distinct values of non-negative indices and each one's rank among them.

    What np.unique(index, return_inverse=True) returns, in linear time instead of a sort.
    """
    present = np.zeros(int(index.max(initial=-1)) + 1, bool)
    present[index] = True
    rank = np.cumsum(present) - 1
    distinct: IntArray = np.flatnonzero(present)
    inverse: IntArray = rank[index]
    return distinct, inverse


def _ranks(keys: IntArray) -> IntArray:
    """Return each key's rank (ties in input order)."""
    ranks = np.empty(len(keys), np.int64)
    ranks[np.argsort(keys, kind="stable")] = np.arange(len(keys))
    return ranks


def assign(
    oi: IntArray,
    pi: IntArray,
    arc_cost: IntArray,
    big: int,
    order_keys: IntArray | None = None,
    provider_keys: IntArray | None = None,
) -> BoolArray:
    """Return which pairs the min-cost flow selects (at most one per order and per provider).

    With keys (`locality_keys` of the orders and providers), nodes are numbered in key order:
    near nodes near in memory make the solver about a fifth faster on a city.
    """
    chosen = np.zeros(len(oi), bool)
    if len(oi) == 0:
        return chosen
    orders, o_node = _compact(oi)
    providers, p_node = _compact(pi)
    if order_keys is not None:
        o_node = _ranks(order_keys[orders])[o_node]
    if provider_keys is not None:
        p_node = _ranks(provider_keys[providers])[p_node]
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
    start: IntArray | None = None,
) -> tuple[IntArray, IntArray, IntArray | None]:
    """Return node potentials of orders and providers in the optimal residual graph.

    With them, a pair (o, p) outside the graph would improve the optimum only if
    cost(o, p) + d[o] - d[p] < 0. Bellman-Ford, vectorised, from a virtual root (all zero) or
    from `start` (any start converges to feasible potentials when the residual graph has no
    negative cycle; the root's are the highest, which makes the tightest gain bound). The last
    item is every node's potential (sink last), or None when the relaxation did not converge.
    """
    n, m = n_orders, n_providers
    # The residual graph: a free pair o -> p (cost c), a chosen one p -> o (-c); the sink
    # s -> o (-big) for an order left out, o -> s (big) for one served; s -> p (0) for a
    # provider used, p -> s (0) for one free. It is bipartite: a pass relaxes providers from
    # orders, the sink, then orders from their provider (Gauss-Seidel: half the passes).
    free = ~chosen
    f_o, f_p, f_c = oi[free], pi[free], arc_cost[free]
    by_provider = np.argsort(f_p, kind="stable")
    f_o, f_p, f_c = f_o[by_provider], f_p[by_provider], f_c[by_provider]
    first = np.flatnonzero(np.concatenate([[True], f_p[1:] != f_p[:-1]])) if len(f_p) else f_p
    targets = f_p[first]
    # The same free pairs by order: once few order potentials drop in a pass (after a dozen
    # passes, a few hundred of 20,000), only their pairs are relaxed, to the same values.
    by_order = np.argsort(f_o, kind="stable")
    out_p, out_c = f_p[by_order], f_c[by_order]
    out_first = np.searchsorted(f_o[by_order], np.arange(n + 1))
    mate_o, mate_p, mate_c = oi[chosen], pi[chosen], arc_cost[chosen]
    assigned = np.zeros(n, bool)
    assigned[mate_o] = True
    left_out = np.flatnonzero(~assigned)
    used = np.zeros(m, bool)
    used[mate_p] = True
    unused = np.flatnonzero(~used)
    d = np.zeros(n + m + 1, np.int64) if start is None else start.copy()
    d_o, d_p = d[:n].copy(), d[n : n + m].copy()
    d_s = int(d[n + m])
    dropped = np.arange(n)  # the orders whose pairs are to relax: at first, all
    for _ in range(MAX_RELAXATION_ROUNDS):
        changed = False
        counts = out_first[dropped + 1] - out_first[dropped]
        total = int(counts.sum())
        if total * FEW_PAIRS_SHARE < len(f_o):
            at = np.repeat(out_first[dropped] - np.cumsum(counts) + counts, counts) + np.arange(total)
            heads, reach = out_p[at], np.repeat(d_o[dropped], counts) + out_c[at]
            lower = reach < d_p[heads]
            if lower.any():
                np.minimum.at(d_p, heads[lower], reach[lower])
                changed = True
        elif len(first):
            best = np.minimum.reduceat(d_o[f_o] + f_c, first)
            lower = best < d_p[targets]
            if lower.any():
                d_p[targets[lower]] = best[lower]
                changed = True
        via_sink = min(int(d_o[mate_o].min(initial=d_s - big)) + big, int(d_p[unused].min(initial=d_s)))
        if via_sink < d_s:
            d_s, changed = via_sink, True
        dropped = mate_o[:0]
        if len(mate_o):
            step = d_p[mate_p] - mate_c
            lower = step < d_o[mate_o]
            if lower.any():
                dropped = mate_o[lower]
                d_o[dropped] = step[lower]
                changed = True
        lower_p = d_p[mate_p] > d_s
        if lower_p.any():
            d_p[mate_p[lower_p]] = d_s
            changed = True
        above = left_out[d_o[left_out] > d_s - big]
        if len(above):
            d_o[above] = d_s - big
            dropped = np.concatenate([dropped, above])
            changed = True
        if not changed:
            d = np.concatenate([d_o, d_p, [d_s]])
            return d_o, d_p, d
    return d_o, d_p, None


def solve_part(
    oi: IntArray,
    pi: IntArray,
    arc_cost: IntArray,
    n_orders: int,
    n_providers: int,
    big: int,
    order_keys: IntArray | None,
    provider_keys: IntArray | None,
) -> tuple[BoolArray, IntArray | None]:
    """Return the optimal flow of one part and its node potentials (None if unconverged).

    A pure function of arrays (local indices), so that a worker process can run it.
    """
    chosen = assign(oi, pi, arc_cost, big, order_keys, provider_keys)
    _, _, every = potentials(oi, pi, arc_cost, chosen, n_orders, n_providers, big)
    return chosen, every


def split_sides(o_x: FloatArray, p_x: FloatArray, oi: IntArray) -> tuple[BoolArray, BoolArray]:
    """Cut the map in two at the median east-west position of the pairs' orders.

    Returns each order's and each provider's side (True: east). A pair whose order and
    provider lie on one side belongs to that side's part; a pair across the cut to neither.
    """
    cut = float(np.median(o_x[oi])) if len(oi) else 0.0
    east_o: BoolArray = o_x >= cut
    east_p: BoolArray = p_x >= cut
    return east_o, east_p


def solve_halves(
    oi: IntArray,
    pi: IntArray,
    arc_cost: IntArray,
    big: int,
    order_xy: tuple[FloatArray, FloatArray],
    provider_xy: tuple[FloatArray, FloatArray],
    *,
    use_worker: bool,
) -> tuple[BoolArray, tuple[IntArray, IntArray, IntArray | None]]:
    """Solve the pairs within each half of the map, at once; return the flow and potentials.

    The pairs across the cut are left out: the flow is feasible, not optimal, but each
    half's potentials are feasible for its own pairs. Shifted to one sink potential, they
    are feasible for both halves together and price every other pair, across the cut or not
    (the same (orders, providers, every node or None) as `potentials`). With `use_worker`,
    the east half is solved in the worker process while this one solves the west half.
    """
    n, m = len(order_xy[0]), len(provider_xy[0])
    east_o, east_p = split_sides(order_xy[0], provider_xy[0], oi)
    order_keys = locality_keys(*order_xy)
    provider_keys = locality_keys(*provider_xy)
    parts = []
    for side in (True, False):
        orders = np.flatnonzero(east_o == side)
        providers = np.flatnonzero(east_p == side)
        rows = np.flatnonzero((east_o[oi] == side) & (east_p[pi] == side))
        args = (
            np.searchsorted(orders, oi[rows]),
            np.searchsorted(providers, pi[rows]),
            arc_cost[rows],
            len(orders),
            len(providers),
            big,
            order_keys[orders],
            provider_keys[providers],
        )
        parts.append((orders, providers, rows, args))
    future = workers.submit(solve_part, *parts[0][3]) if use_worker and workers.start() else None
    west = solve_part(*parts[1][3])
    east = workers.result(future, solve_part, *parts[0][3])
    chosen = np.zeros(len(oi), bool)
    d_order, d_provider = np.zeros(n, np.int64), np.zeros(m, np.int64)
    sink: int | None = None
    converged = True
    for (orders, providers, rows, _), (chosen_part, every) in zip(parts, (east, west), strict=True):
        chosen[rows] = chosen_part
        if every is None:
            converged = False
            continue
        shift = 0 if sink is None else sink - int(every[-1])
        sink = int(every[-1]) + shift
        d_order[orders] = every[: len(orders)] + shift
        d_provider[providers] = every[len(orders) : len(orders) + len(providers)] + shift
    every_node = np.concatenate([d_order, d_provider, [sink or 0]]) if converged else None
    return chosen, (d_order, d_provider, every_node)


def some_gain(oi: IntArray, pi: IntArray, reduced: IntArray) -> int:
    """Return what one matching of these pairs gains: each order's best pair, each provider's best of those.

    A lower bound of `largest_gain` in a few milliseconds: when it is already too large to
    prove a flow good enough, the exact bound need not be solved.
    """
    if len(oi) == 0:
        return 0
    by_order = np.lexsort((reduced, oi))
    best_of_order = by_order[np.concatenate([[True], oi[by_order][1:] != oi[by_order][:-1]])]
    by_provider = best_of_order[np.lexsort((reduced[best_of_order], pi[best_of_order]))]
    heads = pi[by_provider]
    best = by_provider[np.concatenate([[True], heads[1:] != heads[:-1]])]
    return -int(reduced[best].sum())


def largest_gain(oi: IntArray, pi: IntArray, reduced: IntArray) -> int:
    """Return the most an optimal flow can gain through these pairs of negative reduced cost.

    A better flow enters at most one new pair per order and per provider, and every other
    arc of its change has a non-negative reduced cost: the gain is at most that of the best
    matching of these pairs (a small min-cost flow where each order may stay out).
    """
    if len(oi) == 0:
        return 0
    orders, o_node = _compact(oi)
    providers, p_node = _compact(pi)
    n_o, n_p = len(orders), len(providers)
    source, sink = 0, 1 + n_o + n_p
    order_nodes = np.arange(1, n_o + 1, dtype=np.int64)
    provider_nodes = np.arange(1 + n_o, 1 + n_o + n_p, dtype=np.int64)
    tails = np.concatenate([o_node.astype(np.int64) + 1, np.full(n_o, source), provider_nodes, order_nodes])
    heads = np.concatenate(
        [p_node.astype(np.int64) + 1 + n_o, order_nodes, np.full(n_p, sink), np.full(n_o, sink)]
    )
    costs = np.concatenate([reduced, np.zeros(2 * n_o + n_p, np.int64)])
    flow = min_cost_flow.SimpleMinCostFlow()
    flow.add_arcs_with_capacity_and_unit_cost(tails, heads, np.ones(len(tails), np.int64), costs)
    supplies = np.zeros(sink + 1, np.int64)
    supplies[source], supplies[sink] = n_o, -n_o
    flow.set_nodes_supplies(np.arange(sink + 1, dtype=np.int64), supplies)
    if flow.solve() != flow.OPTIMAL:
        raise RuntimeError("the gain bound's min-cost flow failed")
    return -int(flow.optimal_cost())
