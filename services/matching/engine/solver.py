"""Solve one batch: candidates, costs, OR-Tools min-cost flow, reasons for the unassigned."""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime, timedelta

import numpy as np

from services.matching.engine.calendar import Busy, minutes_from
from services.matching.engine.candidates import GridIndex, default_base_km, generate
from services.matching.engine.flow import assign, integer_costs
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

DEFAULT_MAX_CANDIDATES = 12
WIDEN_ROUNDS = 4
WIDEN_FACTOR = 4


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
) -> BatchResult:
    """Assign at most one order to each provider, at the least total cost; explain the rest.

    Pinned orders (accepted missions) are not re-solved: they are listed in `pinned` and hold
    their provider busy. The result depends only on the input (sorted by id), never on chance.
    """
    started = time.perf_counter()
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware (UTC)")
    if radius_factor <= 0 or max_candidates < 1 or alternatives < 0:
        raise ValueError("radius_factor must be > 0, max_candidates >= 1, alternatives >= 0")
    weights = weights or Weights()
    floor = floor or FloorPolicy()
    travel = travel or HaversineTravel()
    limits = limits or Limits()
    pool = pool or max(3 * max_candidates, 24)

    unique_providers = {p.id: p for p in providers}
    provider_list = sorted(unique_providers.values(), key=lambda p: p.id)
    pinned = sorted({o.id: o for o in orders if o.pinned_provider_id}.values(), key=lambda o: o.id)
    open_orders = sorted(
        {o.id: o for o in orders if not o.pinned_provider_id}.values(), key=lambda o: o.id
    )
    extra_busy = _pinned_busy(pinned, unique_providers, now)
    problem = Problem(open_orders, provider_list, now=now, weights=weights, floor=floor,
                      travel=travel, radius_factor=radius_factor, limits=limits,
                      extra_busy=extra_busy)
    n = len(open_orders)
    stats: dict[str, float] = {"orders": float(n), "providers": float(len(provider_list))}
    if n == 0 or not provider_list:
        reasons = _diagnose(problem, np.arange(n, dtype=np.int64), None) if n else {}
        return BatchResult([], reasons, [o.id for o in pinned], stats)

    grid = GridIndex(problem, default_base_km(problem, pool))
    all_orders = np.arange(n, dtype=np.int64)
    found = generate(problem, grid, all_orders, k=max_candidates, pool=pool)
    pairs = _with_preferred(problem, found.pairs)
    truncated = found.truncated
    stats["candidates_s"] = time.perf_counter() - started

    chosen = _solve_flow(problem, pairs, limits)
    k, p = max_candidates, pool
    for _ in range(WIDEN_ROUNDS):
        contested = _contested(problem, pairs, chosen, truncated)
        if not len(contested):
            break
        k, p = k * WIDEN_FACTOR, p * WIDEN_FACTOR
        wider = generate(problem, grid, contested, k=k, pool=p)
        is_contested = np.zeros(n, bool)
        is_contested[contested] = True
        pairs = _sorted(Pairs.concat([pairs.take(~is_contested[pairs.oi]), wider.pairs]))
        pairs = _with_preferred(problem, pairs)
        truncated = np.where(is_contested, wider.truncated, truncated)
        chosen = _solve_flow(problem, pairs, limits)
        stats["widened_orders"] = stats.get("widened_orders", 0.0) + len(contested)
    stats["pairs"] = float(len(pairs))
    stats["solve_s"] = time.perf_counter() - started

    result = _result(problem, pairs, chosen, alternatives, pinned)
    stats["total_s"] = time.perf_counter() - started
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
        busy.setdefault(provider.id, []).append(
            Busy(start, start + order.duration_min, order.lat, order.lng)
        )
    return busy


def _sorted(pairs: Pairs) -> Pairs:
    """Return pairs sorted by (order, cost, provider), without duplicates."""
    order = np.lexsort((pairs.pi, pairs.cost, pairs.oi))
    pairs = pairs.take(order)
    if len(pairs) > 1:
        key = pairs.oi * (int(pairs.pi.max()) + 1) + pairs.pi
        _, first = np.unique(key, return_index=True)
        pairs = pairs.take(np.sort(first))
    return pairs


def _with_preferred(problem: Problem, pairs: Pairs) -> Pairs:
    """Add each order's preferred provider to its list when the pair is feasible."""
    wanted = np.flatnonzero(problem.o_pref >= 0)
    if not len(wanted):
        return pairs
    extra, _ = problem.evaluate(wanted, problem.o_pref[wanted])
    return _sorted(Pairs.concat([pairs, extra])) if len(extra) else pairs


def _solve_flow(problem: Problem, pairs: Pairs, limits: Limits) -> np.ndarray:
    """Return which pairs the min-cost flow chooses."""
    return assign(pairs.oi, pairs.pi, integer_costs(pairs.oi, pairs.cost, limits.preferred_bonus))


def _contested(problem: Problem, pairs: Pairs, chosen: np.ndarray, truncated: np.ndarray
               ) -> IntArray:
    """Return orders to search wider: unassigned with a cut list, and those holding its providers."""
    n = len(problem.orders)
    assigned = np.zeros(n, bool)
    assigned[pairs.oi[chosen]] = True
    starved = np.flatnonzero(~assigned & truncated)
    if not len(starved):
        return starved
    holder = np.full(len(problem.providers), -1, np.int64)
    holder[pairs.pi[chosen]] = pairs.oi[chosen]
    is_starved = np.zeros(n, bool)
    is_starved[starved] = True
    wanted = pairs.pi[is_starved[pairs.oi]]
    holders = holder[wanted]
    holders = holders[holders >= 0]
    return np.unique(np.concatenate([starved, holders]))


def _score(problem: Problem, pairs: Pairs, j: int, note: str = "") -> CandidateScore:
    """Return the scored pair j with the exact pay figures."""
    o, p = int(pairs.oi[j]), int(pairs.pi[j])
    travel_min = float(pairs.travel[j])
    supplement, hourly = problem.exact_pay(o, travel_min)
    w = problem.weights
    components = {
        "travel": w.travel * travel_min,
        "lateness": w.lateness * float(pairs.late[j]),
        "reputation": float(pairs.reputation[j]),
        "fairness": float(pairs.fairness[j]),
        "supplement": w.supplement * supplement / 100.0,
        "preference": float(pairs.preference[j]),
    }
    return CandidateScore(
        provider_id=problem.providers[p].id,
        cost=sum(components.values()),
        travel_min=travel_min,
        start_at=problem.now + timedelta(minutes=float(pairs.start[j])),
        components=components,
        supplement_cents=supplement,
        net_hourly_cents=hourly,
        note=note,
    )


def _result(problem: Problem, pairs: Pairs, chosen: np.ndarray, alternatives: int,
            pinned: Sequence[OrderRequest]) -> BatchResult:
    """Build the assignments with their alternatives, and the reasons of the unassigned."""
    n = len(problem.orders)
    winner_of = {int(pairs.pi[j]): int(pairs.oi[j]) for j in np.flatnonzero(chosen)}
    counts = np.bincount(pairs.oi, minlength=n)
    first = np.cumsum(counts) - counts
    assignments: list[Assignment] = []
    unassigned: dict[str, str] = {}
    no_candidate: list[int] = []
    for o in range(n):
        rows = range(int(first[o]), int(first[o] + counts[o]))
        picked = [j for j in rows if chosen[j]]
        if not picked:
            if counts[o]:
                unassigned[problem.orders[o].id] = (
                    f"Its {counts[o]} possible provider(s) were each given another order of this "
                    "batch (the batch serves as many orders as it can, at the least total "
                    "score); it stays in the pool for the next batch."
                )
            else:
                no_candidate.append(o)
            continue
        best = _score(problem, pairs, picked[0])
        others: list[CandidateScore] = []
        for j in rows:
            if len(others) >= alternatives:
                break
            if j == picked[0]:
                continue
            taken = winner_of.get(int(pairs.pi[j]))
            if taken is not None:
                note = f"was given order {problem.orders[taken].id} in the same batch"
            else:
                note = "cost more for this order than the provider chosen"
            others.append(_score(problem, pairs, j, note))
        assignments.append(Assignment(
            order_id=problem.orders[o].id,
            provider_id=best.provider_id,
            start_at=best.start_at,
            travel_min=best.travel_min,
            cost=best.cost,
            components=best.components,
            supplement_cents=best.supplement_cents,
            net_hourly_cents=best.net_hourly_cents,
            alternatives=others,
        ))
    if no_candidate:
        unassigned.update(_diagnose(problem, np.array(no_candidate, np.int64), None))
    unassigned = dict(sorted(unassigned.items()))
    return BatchResult(assignments, unassigned, [o.id for o in pinned], {})


def _diagnose(problem: Problem, orders: IntArray, _: object) -> dict[str, str]:
    """Say in plain words why each of these orders has no candidate at all."""
    m = len(problem.providers)
    reasons: dict[str, str] = {}
    for o in orders:
        order = problem.orders[int(o)]
        if m == 0:
            reasons[order.id] = "No provider is active right now."
            continue
        pi = np.arange(m, dtype=np.int64)
        _, codes = problem.evaluate(np.full(m, int(o), np.int64), pi, with_codes=True)
        assert codes is not None
        qualified = int((codes >= FAIL_RADIUS).sum())
        reach = int((codes >= FAIL_DECLINED).sum())
        not_declined = int((codes >= FAIL_CALENDAR).sum())
        free = int((codes >= FAIL_FLOOR).sum())
        if qualified == 0:
            reason = f"No active provider is qualified for {order.category}."
        elif reach == 0:
            reason = (f"{qualified} provider(s) are qualified for {order.category}, but the "
                      "address is outside each one's travel radius"
                      f" (radius factor {problem.radius_factor:g}).")
        elif not_declined == 0:
            reason = f"Every qualified provider within reach ({reach}) declined this order."
        elif free == 0:
            reason = (f"The {not_declined} qualified provider(s) within reach who did not decline "
                      "are not on duty or scheduled, or are busy, for the window (counting travel "
                      "between missions).")
        else:
            floor = problem.floor.fair_pay.floor_cents_per_hour / 100
            reason = (f"For the {free} provider(s) who could take it, the travel would bring the "
                      f"net hourly pay of this mission below the fair-pay floor ({floor:.2f} €/h), "
                      "and the floor policy rules such missions out.")
        assert int((codes == OK).sum()) == 0 or reason
        reasons[order.id] = reason
    return reasons
