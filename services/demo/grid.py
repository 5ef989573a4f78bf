"""The demo price grid: the same figures for the embedded demo, the simulator and seeding tests.

Every cell passes the fair-pay floor with 20 minutes of average travel and a 20 % commission.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

# Cents per hour to the client, by category.
DEMO_RATES_CENTS = {
    "cleaning": 2800,
    "gardening": 3200,
    "handyman": 3500,
    "tutoring": 3000,
    "childcare": 2600,
    "it_help": 4000,
    "moving_help": 3400,
    "transport": 3000,
}
DEMO_SURCHARGES = {"evening": "0.10", "night": "0.25", "sunday": "0.20", "holiday": "0.50", "urgent": "0.15"}


def demo_cells(zone_codes: Sequence[str], avg_travel_min: int = 20) -> list[dict[str, Any]]:
    """Return a publishable cell for every demo category in every zone."""
    return [
        {
            "category": category,
            "zone": zone,
            "hourly_rate_cents": rate,
            "min_billable_min": 60,
            "travel_fee_cents": 300,
            "commission_rate": "0.20",
            "avg_travel_min": avg_travel_min,
            "surcharges": dict(DEMO_SURCHARGES),
        }
        for zone in zone_codes
        for category, rate in DEMO_RATES_CENTS.items()
    ]
