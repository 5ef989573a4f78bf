"""Price grids: one cell per (category, zone), validated, diffed and checked against the floor."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from services.pricing.domain.money import Cents, to_decimal
from shared.categories import CATEGORIES
from shared.errors import Invalid

SURCHARGES = ("evening", "night", "sunday", "holiday", "urgent")
MAX_RATE = Decimal("5")


@dataclass(frozen=True)
class Surcharges:
    """Surcharge rates applied to the base (0.25 = +25 %)."""

    evening: Decimal = Decimal("0")
    night: Decimal = Decimal("0")
    sunday: Decimal = Decimal("0")
    holiday: Decimal = Decimal("0")
    urgent: Decimal = Decimal("0")

    def rate(self, name: str) -> Decimal:
        value: Decimal = getattr(self, name)
        return value


@dataclass(frozen=True)
class Cell:
    """The price of one category in one zone."""

    category: str
    zone: str
    hourly_rate_cents: Cents
    min_billable_min: int
    travel_fee_cents: Cents
    commission_rate: Decimal
    avg_travel_min: int
    surcharges: Surcharges = field(default_factory=Surcharges)

    @property
    def key(self) -> tuple[str, str]:
        return (self.category, self.zone)

    @property
    def payout_cents_per_hour(self) -> Decimal:
        """Return the provider's share of one hour at the base rate (exact, before rounding)."""
        return Decimal(self.hourly_rate_cents) * (1 - self.commission_rate)

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "zone": self.zone,
            "hourly_rate_cents": self.hourly_rate_cents,
            "min_billable_min": self.min_billable_min,
            "travel_fee_cents": self.travel_fee_cents,
            "commission_rate": str(self.commission_rate),
            "avg_travel_min": self.avg_travel_min,
            "surcharges": {name: str(self.surcharges.rate(name)) for name in SURCHARGES},
        }


@dataclass(frozen=True)
class Grid:
    """A set of cells, at most one per (category, zone)."""

    cells: tuple[Cell, ...]

    def cell(self, category: str, zone: str) -> Cell | None:
        for c in self.cells:
            if c.category == category and c.zone == zone:
                return c
        return None

    def by_key(self) -> dict[tuple[str, str], Cell]:
        return {c.key: c for c in self.cells}

    def to_list(self) -> list[dict[str, Any]]:
        return [c.to_dict() for c in sorted(self.cells, key=lambda c: c.key)]


def _rate(value: Any, where: str, *, upper: Decimal = MAX_RATE, strict_upper: bool = False) -> Decimal:
    try:
        rate = to_decimal(value)
    except Exception as exc:
        raise Invalid(f"{value!r} is not a decimal rate", field=where) from exc
    if not rate.is_finite() or rate < 0 or rate > upper or (strict_upper and rate >= upper):
        bound = f"< {upper}" if strict_upper else f"<= {upper}"
        raise Invalid(f"rate must be >= 0 and {bound}", field=where)
    return rate


def _int(value: Any, where: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise Invalid("must be an integer", field=where)
    try:
        number = int(value)
    except ValueError as exc:
        raise Invalid("must be an integer", field=where) from exc
    if not low <= number <= high:
        raise Invalid(f"must be between {low} and {high}", field=where)
    return number


def cell_from_dict(raw: Mapping[str, Any], where: str = "cells.0") -> Cell:
    """Build a cell from plain data (JSON, CSV, seed), Invalid naming the bad field."""
    if not isinstance(raw, Mapping):
        raise Invalid("a cell must be an object", field=where)
    category = raw.get("category")
    if not isinstance(category, str) or category not in CATEGORIES:
        raise Invalid(
            f"unknown category {category!r}; known: {', '.join(CATEGORIES)}",
            field=f"{where}.category",
        )
    zone = raw.get("zone")
    if not isinstance(zone, str) or not zone:
        raise Invalid("a zone code is required", field=f"{where}.zone")
    surcharges_raw = raw.get("surcharges") or {}
    if not isinstance(surcharges_raw, Mapping):
        raise Invalid("surcharges must be an object", field=f"{where}.surcharges")
    unknown = sorted(set(surcharges_raw) - set(SURCHARGES))
    if unknown:
        raise Invalid(f"unknown surcharges {unknown}; known: {list(SURCHARGES)}", field=f"{where}.surcharges")
    surcharges = Surcharges(
        **{name: _rate(surcharges_raw.get(name, "0"), f"{where}.surcharges.{name}") for name in SURCHARGES}
    )
    return Cell(
        category=category,
        zone=zone,
        hourly_rate_cents=_int(raw.get("hourly_rate_cents"), f"{where}.hourly_rate_cents", 1, 1_000_000),
        min_billable_min=_int(raw.get("min_billable_min"), f"{where}.min_billable_min", 15, 24 * 60),
        travel_fee_cents=_int(raw.get("travel_fee_cents", 0), f"{where}.travel_fee_cents", 0, 100_000),
        commission_rate=_rate(
            raw.get("commission_rate"),
            f"{where}.commission_rate",
            upper=Decimal(1),
            strict_upper=True,
        ),
        avg_travel_min=_int(raw.get("avg_travel_min", 0), f"{where}.avg_travel_min", 0, 240),
        surcharges=surcharges,
    )


def grid_from_cells(raw_cells: Iterable[Mapping[str, Any]], known_zones: set[str] | None = None) -> Grid:
    """Build a grid from plain cells; Invalid on a bad, duplicated or unknown-zone cell."""
    cells: list[Cell] = []
    seen: set[tuple[str, str]] = set()
    for i, raw in enumerate(raw_cells):
        cell = cell_from_dict(raw, f"cells.{i}")
        if cell.key in seen:
            raise Invalid(f"a second cell for {cell.category} in {cell.zone}", field=f"cells.{i}")
        if known_zones is not None and cell.zone not in known_zones:
            raise Invalid(f"unknown zone {cell.zone!r}", field=f"cells.{i}.zone")
        seen.add(cell.key)
        cells.append(cell)
    return Grid(tuple(sorted(cells, key=lambda c: c.key)))


@dataclass(frozen=True)
class CellChange:
    """How one cell differs between two grids (None when absent on that side)."""

    category: str
    zone: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    changed_fields: tuple[str, ...]


def diff_grids(old: Grid, new: Grid) -> list[CellChange]:
    """Return every added, removed or changed cell, by (category, zone)."""
    before, after = old.by_key(), new.by_key()
    changes: list[CellChange] = []
    for key in sorted(set(before) | set(after)):
        b = before[key].to_dict() if key in before else None
        a = after[key].to_dict() if key in after else None
        if a == b:
            continue
        fields = tuple(sorted(k for k in set(a or {}) | set(b or {}) if (a or {}).get(k) != (b or {}).get(k)))
        changes.append(CellChange(key[0], key[1], b, a, fields))
    return changes


@dataclass(frozen=True)
class PayoutComparison:
    """Old and new hourly payout of a cell, side by side (cents, rounded half-up)."""

    category: str
    zone: str
    old_payout_cents_per_hour: int | None
    new_payout_cents_per_hour: int | None

    is_decrease: bool = False


def compare_payouts(old: Grid | None, new: Grid) -> list[PayoutComparison]:
    """Return the hourly payout of every cell of either grid, old beside new."""
    from services.pricing.domain.money import half_up

    before = old.by_key() if old else {}
    after = new.by_key()
    rows = []
    for key in sorted(set(before) | set(after)):
        b, a = before.get(key), after.get(key)
        rows.append(
            PayoutComparison(
                key[0],
                key[1],
                half_up(b.payout_cents_per_hour) if b else None,
                half_up(a.payout_cents_per_hour) if a else None,
                is_decrease=b is not None and a is not None and is_payout_decrease(b, a),
            )
        )
    return rows


def is_payout_decrease(old: Cell, new: Cell) -> bool:
    """Say whether any part of the provider's pay goes down from `old` to `new`.

    The parts: the hourly payout, the minimum billed payout, the travel fee
    (the provider keeps it whole) and the provider's share of each surcharge.
    """
    old_share, new_share = 1 - old.commission_rate, 1 - new.commission_rate
    if new.payout_cents_per_hour < old.payout_cents_per_hour:
        return True
    if new.payout_cents_per_hour * new.min_billable_min < old.payout_cents_per_hour * old.min_billable_min:
        return True
    if new.travel_fee_cents < old.travel_fee_cents:
        return True
    return any(
        new.surcharges.rate(s) * new.payout_cents_per_hour
        < old.surcharges.rate(s) * old.payout_cents_per_hour
        or new.surcharges.rate(s) * new_share < old.surcharges.rate(s) * old_share
        for s in SURCHARGES
    )


def payout_decreases(old: Grid | None, new: Grid) -> list[PayoutComparison]:
    """Return the cells whose hourly payout goes down from `old` to `new`."""
    return [c for c in compare_payouts(old, new) if c.is_decrease]


def zones_of(grids: Sequence[Grid]) -> set[str]:
    return {c.zone for g in grids for c in g.cells}
