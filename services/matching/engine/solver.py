"""Solve one batch: candidates, costs, OR-Tools min-cost flow, reasons for the unassigned."""

from __future__ import annotations

import functools
import gc
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import ParamSpec, TypeVar

import numpy as np

from services.matching.engine import workers as worker_pool
from services.matching.engine.calendar import Busy, minutes_from
from services.matching.engine.candidates import GridIndex, default_base_km, generate, generate_in_halves
from services.matching.engine.flow import (
    assign,
    integer_costs,
    largest_gain,
    locality_keys,
    potentials,
    solve_halves,
    some_gain,
    unassigned_cost,
)
from services.matching.engine.model import (
    Assignment,
    BatchResult,
    CandidateScore,
    FloorPolicy,
    Limits,
    OrderRequest,
    ProviderState,
    Weights,
)
from services.matching.engine.problem import (
    FAIL_CALENDAR,
    FAIL_DECLINED,
    FAIL_FLOOR,
    FAIL_RADIUS,
    OK,
    IntArray,
    Pairs,
    Problem,
)
from services.matching.engine.travel import HaversineTravel, TravelModel

DEFAULT_MAX_CANDIDATES = 8
PARALLEL_SORT_MIN_PAIRS = 200_000
DEFAULT_POOL = 24
WIDEN_ROUNDS = 3
WIDEN_FACTOR = 4
MAX_PRICING_ROUNDS = 30
ENTERING_PER_ORDER = 6
MAX_DIAGNOSED_PAIRS = 2_000_000
# Stop adding pairs once a round improves the total by less than this share (0.01%)...
PRICING_TOLERANCE = 1e-4
# ... or once the potentials prove the optimum over all candidates is within this share
# (0.05%: half the precision the engine promises, the rest is left to the candidate lists).
PROVEN_GAP = 5e-4
# A first graph this large is solved as two halves of the map at once (two cores): it only
# prices the pairs for the next round, which solves the whole graph.
SPLIT_MIN_ARCS = 100_000
# A batch of this many orders searches its candidates in two halves of the map, at once.
SPLIT_MIN_ORDERS = 5_000

P = ParamSpec("P")
R = TypeVar("R")


def _without_gc(function: Callable[P, R]) -> Callable[P, R]:
    """Pause the cyclic garbage collector during a call, if it was running.

    A batch allocates a few objects per order and provider and frees them all at the end; the
    collector would walk the whole heap several times meanwhile (a tenth of a second at
    20k x 50k) to find no cycle.
    """

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return function(*args, **kwargs)
        finally:
            if was_enabled:
                gc.enable()

    return wrapper


@_without_gc
def solve(
    orders: Sequence[OrderRequest],
    providers: Sequence[ProviderState],
    *,
    now: datetime,
    weights: Weights | None = None,
    floor: FloorPolicy | None = None,
    travel: TravelModel | None = None,
    radius_factor: float = 1.0,
    max_candidates: int = DEFAULT_MAX_CANDIDATES,
    alternatives: int = 3,
    limits: Limits | None = None,
    pool: int | None = None,
    workers: int | None = None,
) -> BatchResult:
    """Assign at most one order to each provider, at the least total cost; explain the rest.

    Pinned orders (accepted missions) are not re-solved: they are listed in `pinned` and hold
    their provider busy. The result depends only on the input (sorted by id), never on chance,
    nor on `workers`: with 2 (or None on a machine with two cores) a large batch's first
    graph is solved as two halves at once, the second in a worker process (`workers.start`);
    with 1 the halves are solved one after the other here.
    """
    started = time.perf_counter()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    if radius_factor <= 0 or max_candidates < 1 or alternatives < 0 or (workers is not None and workers < 1):
        raise ValueError("radius_factor must be > 0, max_candidates >= 1, alternatives >= 0, workers >= 1")
    use_worker = worker_pool.available_cores() >= 2 if workers is None else workers >= 2
    weights = weights or Weights()
    floor = floor or FloorPolicy()
    travel = travel or HaversineTravel()
    limits = limits or Limits()
    pool = pool or DEFAULT_POOL

    unique_providers = {p.id: p for p in providers}
    provider_list = sorted(unique_providers.values(), key=lambda p: p.id)
    pinned = sorted({o.id: o for o in orders if o.pinned_provider_id}.values(), key=lambda o: o.id)
    open_orders = sorted({o.id: o for o in orders if not o.pinned_provider_id}.values(), key=lambda o: o.id)
    extra_busy = _pinned_busy(pinned, unique_providers, now)
    problem = Problem(
        open_orders,
        provider_list,
        now=now,
        weights=weights,
        floor=floor,
        travel=travel,
        radius_factor=radius_factor,
        limits=limits,
        extra_busy=extra_busy,
    )
    n = len(open_orders)
    problem_s = time.perf_counter() - started
    stats: dict[str, float] = {
        "orders": float(n),
        "providers": float(len(provider_list)),
        "problem_s": problem_s,
    }
    if n == 0 or not provider_list:
        reasons = _diagnose(problem, np.arange(n, dtype=np.int64)) if n else {}
        return BatchResult([], reasons, [o.id for o in pinned], stats)

    grid = GridIndex(problem, default_base_km(problem, pool))
    # Orders booked for later can only go to scheduled providers, who may set out from a
    # mission: they get a wider pool.
    later = problem.o_ws > limits.on_duty_horizon_min
    first_pool = np.where(later, 2 * pool, pool)
    if n >= SPLIT_MIN_ORDERS:
        found = generate_in_halves(
            problem, grid, np.arange(n, dtype=np.int64), pool=first_pool, use_threads=use_worker
        )
    else:
        found = generate(problem, grid, np.arange(n, dtype=np.int64), pool=first_pool)
    candidates = _with_preferred(problem, found.pairs)
    truncated = found.truncated
    stats["candidates_s"] = time.perf_counter() - started - stats["problem_s"]

    in_graph = _short_lists(problem, candidates, max_candidates, _threshold(problem))
    stats["pricing_rounds"] = 0.0

    def finish(candidates: Pairs, in_graph: np.ndarray, chosen: np.ndarray) -> BatchResult:
        """Build the result of a final graph and its flow."""
        clock = time.perf_counter()
        result = _result(problem, candidates.take(in_graph), chosen[in_graph], alternatives, pinned)
        stats["result_s"] = time.perf_counter() - clock
        return result

    result: BatchResult | None = None
    for widening in range(WIDEN_ROUNDS + 1):
        in_graph, chosen, result = _price_and_solve(problem, candidates, in_graph, stats, use_worker, finish)
        starved = _starved(problem, candidates, in_graph, chosen, truncated)
        if not len(starved) or widening == WIDEN_ROUNDS:
            break
        result = None
        pool *= WIDEN_FACTOR
        wider = generate(problem, grid, starved, pool=pool)
        truncated[starved] = wider.truncated[starved]
        candidates = Pairs.concat([candidates, wider.pairs])
        in_graph = np.concatenate([in_graph, np.zeros(len(wider.pairs), bool)])
        candidates, in_graph = _dedupe(candidates, in_graph)
        stats["widened_orders"] = stats.get("widened_orders", 0.0) + len(starved)
    stats["candidate_pairs"] = float(len(candidates))
    stats["graph_pairs"] = float(in_graph.sum())
    if result is None:
        result = finish(candidates, in_graph, chosen)
    stats["total_s"] = time.perf_counter() - started
    stats["solve_s"] = stats["total_s"] - stats["result_s"]
    result.stats.update(stats)
    return result


def _pinned_busy(
    pinned: Sequence[OrderRequest], providers: dict[str, ProviderState], now: datetime
) -> dict[str, list[Busy]]:
    """Hold each pinned order's provider busy for it, unless it is already a commitment."""
    busy: dict[str, list[Busy]] = {}
    for order in pinned:
        provider = providers.get(order.pinned_provider_id or "")
        if provider is None or any(c.order_id == order.id for c in provider.commitments):
            continue
        start = minutes_from(now, order.window_start)
        busy.setdefault(provider.id, []).append(Busy(start, start + order.duration_min, order.lat, order.lng))
    return busy


def _dedupe(pairs: Pairs, in_graph: np.ndarray) -> tuple[Pairs, np.ndarray]:
    """Return the pairs without repeats (a pair in the graph wins over its copies)."""
    if len(pairs) < 2:
        return pairs, in_graph
    key = pairs.oi * (int(pairs.pi.max()) + 1) + pairs.pi
    order = np.lexsort((~in_graph, key))
    _, first = np.unique(key[order], return_index=True)
    keep = np.sort(order[first])
    return pairs.take(keep), in_graph[keep]


def _with_preferred(problem: Problem, pairs: Pairs) -> Pairs:
    """Add each order's preferred provider to its candidates when the pair is feasible."""
    wanted = np.flatnonzero(problem.o_pref >= 0)
    if not len(wanted):
        return pairs
    extra, _ = problem.evaluate(wanted, problem.o_pref[wanted])
    if not len(extra):
        return pairs
    merged, _ = _dedupe(Pairs.concat([pairs, extra]), np.zeros(len(pairs) + len(extra), bool))
    return merged


def _threshold(problem: Problem) -> float:
    """Return the provider score below which providers are likely all wanted in this batch.

    When orders compete for the best-scored providers, the optimum gives each a price that
    makes them about as dear as the marginal provider: ranking by travel plus
    max(score, threshold) approximates those prices before any solve.
    """
    scores = problem.p_reputation + problem.p_fairness
    if not len(scores):
        return 0.0
    share = min(1.0, len(problem.orders) / len(scores))
    return float(np.quantile(scores, share))


def _short_lists(problem: Problem, pairs: Pairs, k: int, threshold: float) -> np.ndarray:
    """Mark each order's k cheapest pairs (at approximate prices) and k nearest: the first graph."""
    if not len(pairs):
        return np.zeros(0, bool)
    counts = np.bincount(pairs.oi, minlength=len(problem.orders))
    first = np.cumsum(counts) - counts
    static = problem.p_reputation[pairs.pi] + problem.p_fairness[pairs.pi]
    shaped = pairs.cost - static + np.maximum(static, threshold)

    def nearest_k(value: np.ndarray) -> np.ndarray:
        # One sort on a combined key (order, value): values are small non-negative floats.
        span = float(value.max()) - float(value.min()) + 1.0
        key = pairs.oi * span + (value - float(value.min()))
        order = np.argsort(key, kind="stable")
        rank = np.empty(len(pairs), np.int64)
        rank[order] = np.arange(len(pairs)) - first[pairs.oi[order]]
        within: np.ndarray = rank < k
        return within

    if len(pairs) >= PARALLEL_SORT_MIN_PAIRS and worker_pool.available_cores() >= 2:
        # The two sorts run at once on two threads (numpy's sort releases the GIL).
        with ThreadPoolExecutor(max_workers=1) as pool:
            by_travel = pool.submit(nearest_k, pairs.travel)
            by_price = nearest_k(shaped)
            nearest = by_travel.result()
    else:
        by_price, nearest = nearest_k(shaped), nearest_k(pairs.travel)
    marked: np.ndarray = by_price | nearest
    return marked


def _price_and_solve(
    problem: Problem,
    candidates: Pairs,
    in_graph: np.ndarray,
    stats: dict[str, float],
    use_worker: bool,
    finish: Callable[[Pairs, np.ndarray, np.ndarray], BatchResult],
) -> tuple[np.ndarray, np.ndarray, BatchResult | None]:
    """Solve the graph, add the candidate pairs with a negative reduced cost, until none.

    A first graph of SPLIT_MIN_ARCS pairs or more is solved in two halves (see flow.solve_halves).
    Stops once a round improves the total by less than PRICING_TOLERANCE, or as soon as the
    potentials prove that the optimum over every candidate pair is within PROVEN_GAP of the
    current cost (see flow.largest_gain): the confirmation round is then not needed.
    With the worker process, a large graph's potentials are computed there while this process
    builds the result with `finish`, in case they prove the flow good enough (returned then).
    """
    n, m = len(problem.orders), len(problem.providers)
    arc_cost = integer_costs(candidates.pi, candidates.cost, problem.limits.preferred_bonus, m)
    big = unassigned_cost(arc_cost, n)
    order_keys = locality_keys(problem.o_x, problem.o_y)
    provider_keys = locality_keys(problem.p_x, problem.p_y)
    previous: float | None = None
    while True:
        index = np.flatnonzero(in_graph)
        clock = time.perf_counter()
        split: tuple[IntArray, IntArray, IntArray | None] | None = None
        if previous is None and len(index) >= SPLIT_MIN_ARCS:
            chosen_in, split = solve_halves(
                candidates.oi[index],
                candidates.pi[index],
                arc_cost[index],
                big,
                (problem.o_x, problem.o_y),
                (problem.p_x, problem.p_y),
                use_worker=use_worker,
            )
            stats["split_rounds"] = stats.get("split_rounds", 0.0) + 1
        else:
            chosen_in = assign(
                candidates.oi[index], candidates.pi[index], arc_cost[index], big, order_keys, provider_keys
            )
        stats["flow_s"] = stats.get("flow_s", 0.0) + time.perf_counter() - clock
        stats["pricing_rounds"] += 1
        cost_now = float(candidates.cost[index[chosen_in]].sum())
        stats[f"round_{int(stats['pricing_rounds'])}_cost"] = cost_now
        stats[f"round_{int(stats['pricing_rounds'])}_arcs"] = float(len(index))
        settled = previous is not None and previous - cost_now <= PRICING_TOLERANCE * abs(cost_now)
        previous = cost_now
        entering = np.zeros(len(candidates), bool)
        chosen = np.zeros(len(candidates), bool)
        chosen[index[chosen_in]] = True
        result: BatchResult | None = None
        if not settled and stats["pricing_rounds"] < MAX_PRICING_ROUNDS:
            clock = time.perf_counter()
            if split is None:
                graph = (candidates.oi[index], candidates.pi[index], arc_cost[index], chosen_in, n, m, big)
                future = (
                    worker_pool.submit(potentials, *graph)
                    if use_worker and len(index) >= SPLIT_MIN_ARCS
                    else None
                )
                if future is not None:
                    speculation = time.perf_counter()
                    result = finish(candidates, in_graph, chosen)
                    clock += time.perf_counter() - speculation
                d_order, d_provider, every = worker_pool.result(future, potentials, *graph)
            else:
                d_order, d_provider, every = split
            reduced = arc_cost + d_order[candidates.oi] - d_provider[candidates.pi]
            negative = ~in_graph & (reduced < 0)
            entering = _most_negative(candidates.oi, reduced, negative, n)
            total = int(arc_cost[index[chosen_in]].sum())
            round_name = f"round_{int(stats['pricing_rounds'])}"
            # The entering pairs hold each order's best: when a matching of them already gains
            # too much, the exact bound (a min-cost flow of every negative pair) cannot prove.
            gain_at_least = some_gain(candidates.oi[entering], candidates.pi[entering], reduced[entering])
            if every is not None and gain_at_least <= PROVEN_GAP * total:
                gain_bound = largest_gain(candidates.oi[negative], candidates.pi[negative], reduced[negative])
                stats[f"{round_name}_gap_bound"] = gain_bound / max(total, 1)
                if gain_bound <= PROVEN_GAP * total:
                    entering[:] = False
            else:
                stats[f"{round_name}_gap_at_least"] = gain_at_least / max(total, 1)
            if every is None:
                stats["unconverged_potentials"] = stats.get("unconverged_potentials", 0.0) + 1
            stats["potentials_s"] = stats.get("potentials_s", 0.0) + time.perf_counter() - clock
        if not entering.any():
            return in_graph, chosen, result
        in_graph = in_graph | entering


def _most_negative(oi: IntArray, reduced: IntArray, mask: np.ndarray, n: int) -> np.ndarray:
    """Keep, per order, the ENTERING_PER_ORDER pairs of the mask with the lowest reduced cost."""
    index = np.flatnonzero(mask)
    if not len(index):
        return mask
    order = index[np.lexsort((reduced[index], oi[index]))]
    counts = np.bincount(oi[order], minlength=n)
    first = np.cumsum(counts) - counts
    rank = np.arange(len(order)) - first[oi[order]]
    keep = np.zeros(len(mask), bool)
    keep[order[rank < ENTERING_PER_ORDER]] = True
    return keep


def _starved(
    problem: Problem, candidates: Pairs, in_graph: np.ndarray, chosen: np.ndarray, truncated: np.ndarray
) -> IntArray:
    """Return unassigned orders whose search stopped before the farthest reach."""
    assigned = np.zeros(len(problem.orders), bool)
    assigned[candidates.oi[chosen]] = True
    return np.flatnonzero(~assigned & truncated)


def _scores(problem: Problem, pairs: Pairs, rows: IntArray, notes: Sequence[str]) -> list[CandidateScore]:
    """Return the scored pairs of these rows with the exact pay figures (components vectorised)."""
    if not len(rows):
        return []
    oi, pi = pairs.oi[rows], pairs.pi[rows]
    w = problem.weights
    travel = pairs.travel[rows]
    bonus = -problem.limits.preferred_bonus
    columns = {
        "travel": (w.travel * travel).tolist(),
        "lateness": (w.lateness * pairs.late[rows]).tolist(),
        "reputation": problem.p_reputation[pi].tolist(),
        "fairness": problem.p_fairness[pi].tolist(),
        "preference": np.where(problem.o_pref[oi] == pi, bonus, 0.0).tolist(),
    }
    starts = pairs.start[rows].tolist()
    ids = [problem.providers[p].id for p in pi.tolist()]
    result: list[CandidateScore] = []
    supplements, rates = problem.exact_pays(oi, travel)
    for k, travel_min in enumerate(travel.tolist()):
        supplement, hourly = supplements[k], rates[k]
        components = {
            "travel": columns["travel"][k],
            "lateness": columns["lateness"][k],
            "reputation": columns["reputation"][k],
            "fairness": columns["fairness"][k],
            "supplement": w.supplement * supplement / 100.0,
            "preference": columns["preference"][k],
        }
        result.append(
            CandidateScore(
                provider_id=ids[k],
                cost=sum(components.values()),
                travel_min=travel_min,
                start_at=problem.now + timedelta(minutes=starts[k]),
                components=components,
                supplement_cents=supplement,
                net_hourly_cents=hourly,
                note=notes[k],
            )
        )
    return result


def _result(
    problem: Problem, pairs: Pairs, chosen: np.ndarray, alternatives: int, pinned: Sequence[OrderRequest]
) -> BatchResult:
    """Build the assignments with their alternatives, and the reasons of the unassigned.

    Only the rows of assigned orders and of their first alternatives (the cheapest pairs,
    ties by provider) are scored; the rest is whole-array work.
    """
    n = len(problem.orders)
    if alternatives:
        # Each order's rows cheapest first (ties by provider), to read its first alternatives.
        order = np.lexsort((pairs.pi, pairs.cost, pairs.oi))
        pairs, chosen = pairs.take(order), chosen[order]
        picked = np.flatnonzero(chosen)
    else:  # only the chosen rows are read: no need to sort every candidate pair
        picked = np.flatnonzero(chosen)
        picked = picked[np.argsort(pairs.oi[picked], kind="stable")]
    winner = np.full(len(problem.providers), -1, np.int64)
    winner[pairs.pi[picked]] = pairs.oi[picked]
    counts = np.bincount(pairs.oi, minlength=n)
    served = np.zeros(n, bool)
    served[pairs.oi[picked]] = True
    unassigned: dict[str, str] = {}
    for o in np.flatnonzero(~served & (counts > 0)).tolist():
        unassigned[problem.orders[o].id] = (
            f"Its {counts[o]} possible provider(s) were each given another order of this "
            "batch (the batch serves as many orders as it can, at the least total "
            "score); it stays in the pool for the next batch."
        )
    best = _scores(problem, pairs, picked, [""] * len(picked))
    others: list[list[CandidateScore]] = [[] for _ in picked]
    if alternatives and len(picked):
        # The first `alternatives` rows of each served order other than its chosen one.
        o_of = pairs.oi[picked]
        rows = np.flatnonzero(served[pairs.oi] & ~chosen)
        per_order = np.bincount(pairs.oi[rows], minlength=n)
        rank = np.arange(len(rows)) - (np.cumsum(per_order) - per_order)[pairs.oi[rows]]
        rows = rows[rank < alternatives]
        taken = winner[pairs.pi[rows]]
        notes = [
            f"was given order {problem.orders[t].id} in the same batch"
            if t >= 0
            else "cost more for this order than the provider chosen"
            for t in taken.tolist()
        ]
        slot = np.searchsorted(o_of, pairs.oi[rows])
        for k, score in zip(slot.tolist(), _scores(problem, pairs, rows, notes), strict=True):
            others[k].append(score)
    assignments = [
        Assignment(
            order_id=problem.orders[o].id,
            provider_id=b.provider_id,
            start_at=b.start_at,
            travel_min=b.travel_min,
            cost=b.cost,
            components=b.components,
            supplement_cents=b.supplement_cents,
            net_hourly_cents=b.net_hourly_cents,
            alternatives=alt,
        )
        for o, b, alt in zip(pairs.oi[picked].tolist(), best, others, strict=True)
    ]
    no_candidate = np.flatnonzero(counts == 0)
    if len(no_candidate):
        unassigned.update(_diagnose(problem, no_candidate.astype(np.int64)))
    unassigned = dict(sorted(unassigned.items()))
    return BatchResult(assignments, unassigned, [o.id for o in pinned], {})


def _diagnose(problem: Problem, orders: IntArray) -> dict[str, str]:
    """Say in plain words why each of these orders has no candidate at all.

    Every provider is checked, filter by filter, in chunks that bound the memory.
    """
    m = len(problem.providers)
    if m == 0:
        # the pool is loaded with only the free providers qualified for its orders' categories
        return {
            problem.orders[int(o)].id: (
                f"No provider is active, qualified for {problem.orders[int(o)].category} and free right now."
            )
            for o in orders
        }
    n = len(problem.orders)
    at_least = np.zeros((5, n), np.int64)  # providers passing each stage, per order
    chunk = max(1, MAX_DIAGNOSED_PAIRS // m)
    for first in range(0, len(orders), chunk):
        part = orders[first : first + chunk]
        oi = np.repeat(part, m)
        pi = np.tile(np.arange(m, dtype=np.int64), len(part))
        _, codes = problem.evaluate(oi, pi, with_codes=True)
        assert codes is not None
        for stage, code in enumerate((FAIL_RADIUS, FAIL_DECLINED, FAIL_CALENDAR, FAIL_FLOOR, OK)):
            passed = (codes >= code) if code != OK else (codes == OK)
            at_least[stage] += np.bincount(oi[passed], minlength=n)
    floor = problem.floor.fair_pay.floor_cents_per_hour / 100
    reasons: dict[str, str] = {}
    for o in orders:
        order = problem.orders[int(o)]
        qualified, reach, not_declined, free, _ok = (int(x) for x in at_least[:, o])
        if qualified == 0:
            reason = f"No active provider is qualified for {order.category}."
        elif reach == 0:
            reason = (
                f"{qualified} provider(s) are qualified for {order.category}, but the "
                "address is outside each one's travel radius"
                f" (radius factor {problem.radius_factor:g})."
            )
        elif not_declined == 0:
            reason = f"Every qualified provider within reach ({reach}) declined this order."
        elif free == 0:
            reason = (
                f"The {not_declined} qualified provider(s) within reach who did not decline "
                "are not on duty or scheduled, or are busy, for the window (counting travel "
                "between missions)."
            )
        else:
            reason = (
                f"For the {free} provider(s) who could take it, the travel would bring the "
                f"net hourly pay of this mission below the fair-pay floor ({floor:.2f} €/h), "
                "and the floor policy rules such missions out."
            )
        reasons[order.id] = reason
    return reasons
