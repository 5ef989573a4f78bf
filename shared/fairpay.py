"""The fair-pay floor: a provider's net hourly pay, counting travel as unpaid time.

Pure arithmetic shared by pricing (every grid cell) and matching (every mission).
Money in integer cents; the net hourly figure is rounded half-up to the cent.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from pydantic import BaseModel, Field


class FairPaySettings(BaseModel):
    """Defaults from DOMAIN.md: SMIC 2026 net (9.52 €/h) and the BIC services rate (21.2%)."""

    floor_cents_per_hour: int = Field(default=952, ge=0)
    contribution_rate: Decimal = Field(default=Decimal("0.212"), ge=0, lt=1)


def round_cents(amount: Decimal) -> int:
    """Round a cent amount half-up to a whole cent."""
    return int(amount.quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def net_of_contributions(payout_cents: int, rate: Decimal) -> int:
    """Return a payout net of micro-entrepreneur contributions, half-up to the cent."""
    return round_cents(Decimal(payout_cents) * (Decimal(1) - rate))


def net_hourly_cents(payout_cents: int, work_min: float, travel_min: float, rate: Decimal) -> int:
    """Return the net pay per hour of work plus travel, half-up to the cent."""
    minutes = Decimal(str(work_min)) + Decimal(str(travel_min))
    if minutes <= 0:
        raise ValueError("work plus travel must be positive")
    net = Decimal(payout_cents) * (Decimal(1) - rate)
    return round_cents(net * 60 / minutes)


def supplement_to_reach_floor(
    payout_cents: int, work_min: float, travel_min: float, settings: FairPaySettings
) -> int:
    """Return the smallest gross supplement (cents) that lifts the net hourly pay to the floor."""
    minutes = Decimal(str(work_min)) + Decimal(str(travel_min))
    needed_net = Decimal(settings.floor_cents_per_hour) * minutes / 60
    needed_gross = needed_net / (Decimal(1) - settings.contribution_rate)
    missing = needed_gross - Decimal(payout_cents)
    if missing <= 0:
        return 0
    return int(missing.to_integral_value(rounding="ROUND_CEILING"))
