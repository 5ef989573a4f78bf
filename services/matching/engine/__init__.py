"""The assignment engine: plain data in, assignments out, no I/O.

Usage::

    from services.matching.engine import solve, OrderRequest, ProviderState, Weights, FloorPolicy
    result = solve(orders, providers, now=now, weights=Weights(), floor=FloorPolicy(),
                   travel=HaversineTravel(), radius_factor=1.0)
    for a in result.assignments: ...  # order_id, provider_id, start_at, cost, components
    for order_id, reason in result.unassigned.items(): ...

The solve is synchronous and CPU-bound: call it through ``asyncio.to_thread``.

How it works (each step in its module):

- ``problem``: the batch as numpy arrays; every filter of SPEC.md (category, on duty or
  scheduled, radius x radius_factor, not busy counting travel between missions, not declined,
  the fair-pay floor per mission) and every cost component, vectorised; pairs that need a
  provider's calendar go through ``calendar.fit_mission``.
- ``candidates``: a multi-level uniform grid (cells sqrt(2) apart in size, keyed by category),
  never all pairs: each order gets every feasible provider of the smallest neighbourhood
  holding enough of them.
- ``flow`` + ``solver``: OR-Tools min-cost flow (the cheapest of the maximum flows: as many
  orders as possible, then the least cost), first on short lists, then column generation:
  node potentials of the optimal flow price every other candidate pair and the ones that
  would lower the cost enter, until a round gains below 0.01% or the potentials prove the
  cost within 0.05% of the optimum over all candidates. Orders left out whose search was
  cut short are searched wider (tight supply).
- ``workers``: a second core for large batches (one worker process, started once): the
  candidates of the east and west halves of the orders are searched at once (a thread), the
  first graph is solved as two halves of the map at once (their potentials price every pair,
  across the cut too, and the next round solves the whole graph), and the last round's proof
  is computed while the result is built. The result never depends on the number of cores.
- ``explain``: plain words with the numbers; ``instances``: city-like test batches.

Integer costs break ties by provider id; the result depends only on the input, never on
chance or input order.
"""

from services.matching.engine.explain import (
    explain_assignment,
    explain_candidate,
    explain_for_provider,
)
from services.matching.engine.model import (
    COMPONENTS,
    Assignment,
    BatchResult,
    CandidateScore,
    Commitment,
    FloorPolicy,
    Limits,
    OrderRequest,
    ProviderState,
    Weights,
)
from services.matching.engine.solver import DEFAULT_MAX_CANDIDATES, solve
from services.matching.engine.travel import HaversineTravel, TravelModel

__all__ = [
    "COMPONENTS",
    "DEFAULT_MAX_CANDIDATES",
    "Assignment",
    "BatchResult",
    "CandidateScore",
    "Commitment",
    "FloorPolicy",
    "HaversineTravel",
    "Limits",
    "OrderRequest",
    "ProviderState",
    "TravelModel",
    "Weights",
    "explain_assignment",
    "explain_candidate",
    "explain_for_provider",
    "solve",
]
