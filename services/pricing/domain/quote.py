"""Quotes: the client price of a mission, its breakdown, the provider payout and commission.

Time rules read the mission's start in Europe/Paris local time (zoneinfo, so
daylight-saving changes are exact):
- evening: local start in [evening_start, night_start), default 19:00-22:00;
- night: local start at or after night_start or before night_end, default 22:00-06:00;
- sunday: the local start date is a Sunday;
- holiday: the local start date is a French public holiday (`holidays` package);
  it replaces the Sunday surcharge when both apply (they do not stack);
- urgent: the mission starts less than `urgent_within_min` after the quote.
Evening and night exclude each other; the others stack. The start decides for
the whole mission.

Rounding (half-up to the cent, in this order): the base is the hourly rate
prorated to the minutes asked; minimum billing is the rate prorated to the
billed minutes less the base; each surcharge is its rate times base plus
minimum billing; the
travel fee is whole cents; the total is the sum of the lines (so the breakdown
adds up exactly); the commission is the commission rate times the total less
the travel fee (the provider keeps the travel fee whole); the payout is the
total less the commission. The tax credit is the credit rate times the total.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from services.pricing.domain.grid import Cell
from services.pricing.domain.money import Cents, apply_rate, prorate
from shared.categories import CATEGORIES

PARIS = ZoneInfo("Europe/Paris")


@dataclass(frozen=True)
class TimeRules:
    """Local-time boundaries of the surcharges (settings)."""

    evening_start: time = time(19, 0)
    night_start: time = time(22, 0)
    night_end: time = time(6, 0)
    urgent_within_min: int = 120


@dataclass(frozen=True)
class TaxCreditRules:
    """The household-services tax credit (settings): rate of spending credited."""

    rate: Decimal = Decimal("0.5")


@lru_cache(maxsize=64)
def _french_holidays(year: int) -> holidays.HolidayBase:
    calendar: holidays.HolidayBase = holidays.country_holidays("FR", years=year)
    return calendar


def is_public_holiday(day: date) -> bool:
    """Say whether `day` is a French public holiday."""
    return day in _french_holidays(day.year)


def local_start(start_at: datetime) -> datetime:
    """Return the start in Europe/Paris local time."""
    if start_at.tzinfo is None:
        raise ValueError("start_at must be timezone-aware")
    return start_at.astimezone(PARIS)


def applicable_surcharges(start_at: datetime, quoted_at: datetime, rules: TimeRules) -> list[str]:
    """Return the names of the surcharges that apply to a mission starting at `start_at`."""
    local = local_start(start_at)
    clock = local.time()
    names: list[str] = []
    if clock >= rules.night_start or clock < rules.night_end:
        names.append("night")
    elif clock >= rules.evening_start:
        names.append("evening")
    if is_public_holiday(local.date()):
        names.append("holiday")
    elif local.weekday() == 6:
        names.append("sunday")
    if start_at - quoted_at < timedelta(minutes=rules.urgent_within_min):
        names.append("urgent")
    return names


@dataclass(frozen=True)
class TaxCredit:
    eligible: bool
    amount_cents: Cents
    rate: Decimal
    annual_ceiling_cents: Cents | None
    reason: str


def tax_credit_for(category: str, duration_min: int, total_cents: Cents, rules: TaxCreditRules) -> TaxCredit:
    """Return whether the household-services tax credit applies and its amount (half-up)."""
    cat = CATEGORIES[category]
    if not cat.is_household_service:
        return TaxCredit(False, 0, rules.rate, None, f"{cat.label} is not a household service")
    if cat.max_visit_min is not None and duration_min > cat.max_visit_min:
        return TaxCredit(
            False,
            0,
            rules.rate,
            cat.annual_ceiling_cents,
            f"visits longer than {cat.max_visit_min} min are not eligible for {cat.label}",
        )
    return TaxCredit(
        True,
        apply_rate(total_cents, rules.rate),
        rules.rate,
        cat.annual_ceiling_cents,
        "household service (services à la personne)",
    )


@dataclass(frozen=True)
class Line:
    """One line of the breakdown."""

    code: str
    label: str
    amount_cents: Cents
    rate: Decimal | None = None


@dataclass(frozen=True)
class Price:
    """The computed price of one mission."""

    category: str
    zone: str
    start_at: datetime
    duration_min: int
    billed_min: int
    lines: tuple[Line, ...]
    price_cents: Cents
    commission_cents: Cents
    payout_cents: Cents
    surcharges: tuple[str, ...]
    tax_credit: TaxCredit
    local_start: datetime = field(compare=False)

    def breakdown(self) -> dict[str, object]:
        """Return the breakdown as plain JSON-able data; `lines` add up to `total_cents`."""
        return {
            "lines": [
                {
                    "code": line.code,
                    "label": line.label,
                    "amount_cents": line.amount_cents,
                    "rate": None if line.rate is None else str(line.rate),
                }
                for line in self.lines
            ],
            "base_cents": self.lines[0].amount_cents,
            "minimum_billing_cents": sum(x.amount_cents for x in self.lines if x.code == "minimum_billing"),
            "billed_min": self.billed_min,
            "travel_fee_cents": next(x.amount_cents for x in self.lines if x.code == "travel_fee"),
            "surcharges": {
                x.code.removeprefix("surcharge_"): x.amount_cents
                for x in self.lines
                if x.code.startswith("surcharge_")
            },
            "total_cents": self.price_cents,
            "commission_cents": self.commission_cents,
            "payout_cents": self.payout_cents,
            "local_start": self.local_start.isoformat(),
        }


SURCHARGE_LABELS = {
    "evening": "Evening surcharge",
    "night": "Night surcharge",
    "sunday": "Sunday surcharge",
    "holiday": "Public holiday surcharge",
    "urgent": "Urgent booking surcharge",
}


def price_mission(
    cell: Cell,
    start_at: datetime,
    duration_min: int,
    quoted_at: datetime,
    rules: TimeRules,
    tax_rules: TaxCreditRules,
) -> Price:
    """Price a mission of `duration_min` minutes starting at `start_at` with `cell`."""
    if duration_min <= 0:
        raise ValueError("duration must be positive")
    billed = max(duration_min, cell.min_billable_min)
    base = prorate(cell.hourly_rate_cents, duration_min)
    rate_label = f"{cell.hourly_rate_cents / 100:.2f} €/h"
    lines = [Line("base", f"{duration_min} min at {rate_label}", base)]
    if billed > duration_min:
        extra = prorate(cell.hourly_rate_cents, billed) - base
        lines.append(Line("minimum_billing", f"minimum billing {billed} min at {rate_label}", extra))
    billed_base = sum(line.amount_cents for line in lines)
    names = applicable_surcharges(start_at, quoted_at, rules)
    applied = []
    for name in names:
        rate = cell.surcharges.rate(name)
        if rate > 0:
            lines.append(
                Line(f"surcharge_{name}", SURCHARGE_LABELS[name], apply_rate(billed_base, rate), rate)
            )
            applied.append(name)
    lines.append(Line("travel_fee", "Travel fee", cell.travel_fee_cents))
    total = sum(line.amount_cents for line in lines)
    commission = apply_rate(total - cell.travel_fee_cents, cell.commission_rate)
    return Price(
        category=cell.category,
        zone=cell.zone,
        start_at=start_at,
        duration_min=duration_min,
        billed_min=billed,
        lines=tuple(lines),
        price_cents=total,
        commission_cents=commission,
        payout_cents=total - commission,
        surcharges=tuple(applied),
        tax_credit=tax_credit_for(cell.category, duration_min, total, tax_rules),
        local_start=local_start(start_at),
    )
