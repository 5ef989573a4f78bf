"""The fair-pay floor applied to grid cells.

For a cell, a provider doing a mission of d minutes (billed max(d, minimum)
minutes) is paid `(1 - commission) * rate * billed / 60 + travel_fee` and
spends `d + avg_travel` minutes on it; net of micro-entrepreneur contributions
the hourly pay is `(1 - contribution) * payout * 60 / (d + avg_travel)`.
Surcharges only add to the payout (the payout never decreases when the subtotal
grows), so the base case is the worst. Over d >= minimum that ratio is monotonic,
so its lowest value is at d = minimum or in the limit of long missions
(`(1 - contribution) * (1 - commission) * rate`); shorter missions are billed
the minimum and pay more per hour.

Rounding: a quote rounds the base and the commission half-up, which can cost
the provider less than one cent per mission. The check counts that cent against
the provider as if it were lost on the shortest billed mission (the worst
case), so that every quote of a publishable cell still pays at least the floor.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from services.pricing.domain.grid import Cell, Grid
from shared.fairpay import FairPaySettings


@dataclass(frozen=True)
class FloorViolation:
    """A cell whose worst-case net hourly pay is below the floor, and by how much."""

    category: str
    zone: str
    net_hourly_cents: int
    floor_cents_per_hour: int
    shortfall_cents_per_hour: int


def worst_net_hourly(cell: Cell, contribution_rate: Decimal) -> Decimal:
    """Return the lowest net hourly pay (exact cents, rounding loss included) over all durations."""
    keep = 1 - contribution_rate
    share = 1 - cell.commission_rate
    rate = Decimal(cell.hourly_rate_cents)
    minimum = Decimal(cell.min_billable_min)
    minutes = minimum + cell.avg_travel_min
    at_minimum = keep * (share * rate * minimum / 60 + cell.travel_fee_cents) * 60 / minutes
    long_run = keep * share * rate
    rounding_loss = keep * 60 / minutes  # one cent of payout, at the shortest billed mission
    return min(at_minimum, long_run) - rounding_loss


def check_cell(cell: Cell, settings: FairPaySettings) -> FloorViolation | None:
    """Return the cell's violation of the floor, or None when it pays at least the floor."""
    worst = worst_net_hourly(cell, settings.contribution_rate)
    floor = settings.floor_cents_per_hour
    if worst >= floor:
        return None
    return FloorViolation(
        category=cell.category,
        zone=cell.zone,
        net_hourly_cents=int(worst.to_integral_value(rounding=ROUND_FLOOR)),
        floor_cents_per_hour=floor,
        shortfall_cents_per_hour=int((floor - worst).to_integral_value(rounding=ROUND_CEILING)),
    )


def check_grid(grid: Grid, settings: FairPaySettings) -> list[FloorViolation]:
    """Return every cell of the grid that breaks the floor (empty: publishable)."""
    return [v for v in (check_cell(c, settings) for c in grid.cells) if v is not None]
