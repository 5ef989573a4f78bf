"""Builders of engine inputs for tests: plain functions with overridable defaults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.matching.engine import OrderRequest, ProviderState

# Thursday 26 November 2026, 09:00 UTC = 10:00 in Paris (winter time, UTC+1).
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
LYON = (45.7640, 4.8357)
KM_LAT = 1 / 111.195  # degrees of latitude per km


def north(km: float, base: tuple[float, float] = LYON) -> tuple[float, float]:
    """Return the point km kilometres north of base."""
    return base[0] + km * KM_LAT, base[1]


def make_provider(id: str = "p1", at: tuple[float, float] = LYON, **overrides: Any) -> ProviderState:
    """Return an on-duty cleaner with no history, at a place."""
    values: dict[str, Any] = {
        "id": id,
        "categories": frozenset({"cleaning"}),
        "lat": at[0],
        "lng": at[1],
        "travel_radius_km": 10.0,
        "on_duty": True,
    }
    values.update(overrides)
    return ProviderState(**values)


def make_order(id: str = "o1", at: tuple[float, float] = LYON, **overrides: Any) -> OrderRequest:
    """Return a two-hour cleaning order to start within the hour, paying 40 EUR."""
    values: dict[str, Any] = {
        "id": id,
        "category": "cleaning",
        "lat": at[0],
        "lng": at[1],
        "window_start": NOW,
        "window_end": NOW + timedelta(minutes=60),
        "duration_min": 120,
        "payout_cents": 4000,
    }
    values.update(overrides)
    return OrderRequest(**values)
