"""Solve one batch: candidates, costs, OR-Tools min-cost flow, reasons for the unassigned."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from services.matching.engine.model import (
    BatchResult,
    FloorPolicy,
    Limits,
    OrderRequest,
    ProviderState,
    Weights,
)
from services.matching.engine.travel import TravelModel

DEFAULT_MAX_CANDIDATES = 12


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
) -> BatchResult:
    """Assign at most one order to each provider, at the least total cost; explain the rest."""
    raise NotImplementedError
