"""Property tests over random grids and times (hypothesis)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from services.pricing.domain.fairpay import check_cell
from services.pricing.domain.grid import SURCHARGES, Cell, Surcharges, grid_from_cells
from services.pricing.domain.quote import TaxCreditRules, TimeRules, price_mission
from shared.categories import CATEGORIES
from shared.fairpay import FairPaySettings, net_hourly_cents

RULES = TimeRules()
TAX = TaxCreditRules()
FAIR = FairPaySettings()

rates = st.decimals(min_value=0, max_value=Decimal("1.5"), places=2)


@st.composite
def cells(draw: st.DrawFn) -> Cell:
    return Cell(
        category=draw(st.sampled_from(sorted(CATEGORIES))),
        zone=draw(st.sampled_from(["paris", "lyon", "lille"])),
        hourly_rate_cents=draw(st.integers(500, 8000)),
        min_billable_min=draw(st.integers(15, 240)),
        travel_fee_cents=draw(st.integers(0, 3000)),
        commission_rate=draw(st.decimals(min_value=0, max_value=Decimal("0.6"), places=3)),
        avg_travel_min=draw(st.integers(0, 90)),
        surcharges=Surcharges(**{name: draw(rates) for name in SURCHARGES}),
    )


@st.composite
def boundary_cells(draw: st.DrawFn) -> Cell:
    """Cells whose hourly rate sits just above the lowest rate that could reach the floor."""
    commission = draw(st.decimals(min_value=0, max_value=Decimal("0.6"), places=3))
    minimum = draw(st.integers(15, 240))
    travel = draw(st.integers(0, 90))
    keep = 1 - FAIR.contribution_rate
    lowest = FAIR.floor_cents_per_hour * (minimum + travel) / (keep * (1 - commission) * minimum)
    rate = int(lowest) + draw(st.integers(0, 6))
    return Cell(
        category="cleaning",
        zone="paris",
        hourly_rate_cents=rate,
        min_billable_min=minimum,
        travel_fee_cents=0,
        commission_rate=commission,
        avg_travel_min=travel,
        surcharges=Surcharges(),
    )


instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)
durations = st.integers(1, 600)
leads = st.integers(0, 60 * 24 * 30)


@settings(max_examples=300, deadline=None)
@given(cell=cells(), start=instants, duration=durations, lead=leads)
def test_breakdown_adds_up_and_price_covers_payout_plus_commission(
    cell: Cell, start: datetime, duration: int, lead: int
) -> None:
    price = price_mission(cell, start, duration, start - timedelta(minutes=lead), RULES, TAX)
    assert sum(line.amount_cents for line in price.lines) == price.price_cents
    assert price.price_cents >= price.payout_cents + price.commission_cents
    assert price.payout_cents >= 0 and price.commission_cents >= 0
    breakdown = price.breakdown()
    assert sum(x["amount_cents"] for x in breakdown["lines"]) == breakdown["total_cents"]  # type: ignore[union-attr]


@settings(max_examples=400, deadline=None)
@given(cell=boundary_cells(), start=instants, extra=st.integers(0, 3))
def test_quotes_of_cells_at_the_edge_of_the_floor_still_reach_it(
    cell: Cell, start: datetime, extra: int
) -> None:
    assume(check_cell(cell, FAIR) is None)
    duration = cell.min_billable_min + extra  # the shortest billed missions are the worst case
    price = price_mission(cell, start, duration, start - timedelta(days=30), RULES, TAX)
    net = net_hourly_cents(price.payout_cents, duration, cell.avg_travel_min, FAIR.contribution_rate)
    assert net >= FAIR.floor_cents_per_hour


@settings(max_examples=300, deadline=None)
@given(cell=cells(), start=instants, duration=durations, lead=leads)
def test_every_quote_of_a_publishable_cell_pays_at_least_the_floor(
    cell: Cell, start: datetime, duration: int, lead: int
) -> None:
    assume(check_cell(cell, FAIR) is None)
    price = price_mission(cell, start, duration, start - timedelta(minutes=lead), RULES, TAX)
    net = net_hourly_cents(price.payout_cents, duration, cell.avg_travel_min, FAIR.contribution_rate)
    assert net >= FAIR.floor_cents_per_hour


@settings(max_examples=200, deadline=None)
@given(cell=cells(), start=instants, duration=durations, lead=leads)
def test_a_quote_is_reproducible_from_its_grid_version(
    cell: Cell, start: datetime, duration: int, lead: int
) -> None:
    quoted_at = start - timedelta(minutes=lead)
    first = price_mission(cell, start, duration, quoted_at, RULES, TAX)
    # what a published version stores: plain data, re-read later
    reread = grid_from_cells([cell.to_dict()]).cells[0]
    again = price_mission(reread, start, duration, quoted_at, RULES, TAX)
    assert again == first
    assert again.breakdown() == first.breakdown()


@settings(max_examples=200, deadline=None)
@given(cell=cells(), start=instants, duration=durations)
def test_surcharges_never_lower_the_payout(cell: Cell, start: datetime, duration: int) -> None:
    plain = Cell(**{**cell.__dict__, "surcharges": Surcharges()})
    quoted_at = start - timedelta(days=60)
    with_surcharges = price_mission(cell, start, duration, quoted_at, RULES, TAX)
    without = price_mission(plain, start, duration, quoted_at, RULES, TAX)
    assert with_surcharges.payout_cents >= without.payout_cents
