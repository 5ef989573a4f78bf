"""The assignment engine: plain data in, assignments out, no I/O.

Usage::

    from services.matching.engine import solve, OrderRequest, ProviderState, Weights, FloorPolicy
    result = solve(orders, providers, now=now, weights=Weights(), floor=FloorPolicy(),
                   travel=HaversineTravel(), radius_factor=1.0)
    for a in result.assignments: ...  # order_id, provider_id, start_at, cost, components
    for order_id, reason in result.unassigned.items(): ...

The solve is synchronous and CPU-bound: call it through ``asyncio.to_thread``.
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
