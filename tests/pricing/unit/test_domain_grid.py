from __future__ import annotations

from decimal import Decimal

import pytest

from services.pricing.domain.fairpay import check_cell, check_grid, worst_net_hourly
from services.pricing.domain.grid import (
    Grid,
    compare_payouts,
    diff_grids,
    grid_from_cells,
    payout_decreases,
)
from shared.errors import Invalid
from shared.fairpay import FairPaySettings
from tests.pricing.builders import cell_data, make_cell

FAIR = FairPaySettings()


class TestFloorCheck:
    def test_a_decent_cell_passes(self) -> None:
        assert check_cell(make_cell(), FAIR) is None

    def test_reports_a_low_rate_with_its_shortfall(self) -> None:
        cell = make_cell(hourly_rate_cents=1200, travel_fee_cents=0, avg_travel_min=30)
        violation = check_cell(cell, FAIR)
        assert violation is not None
        # 12 €/h * 0.8 * 60 / 90 * 0.788 = 5.04 €/h net, minus the rounding cent
        assert violation.shortfall_cents_per_hour == 952 - violation.net_hourly_cents
        assert violation.net_hourly_cents == 503

    def test_long_missions_are_checked_too(self) -> None:
        # A large travel fee saves a short mission but long ones pay the bare rate.
        cell = make_cell(hourly_rate_cents=1400, travel_fee_cents=5000, avg_travel_min=0)
        assert check_cell(cell, FAIR) is not None

    def test_travel_time_counts_as_unpaid(self) -> None:
        near = make_cell(hourly_rate_cents=1700, travel_fee_cents=0, avg_travel_min=0)
        far = make_cell(hourly_rate_cents=1700, travel_fee_cents=0, avg_travel_min=45)
        assert check_cell(near, FAIR) is None
        assert check_cell(far, FAIR) is not None

    def test_returns_every_offending_cell(self) -> None:
        grid = grid_from_cells(
            [
                cell_data(),
                cell_data(category="gardening", hourly_rate_cents=1000),
                cell_data(category="tutoring", commission_rate="0.7"),
            ]
        )
        offending = check_grid(grid, FAIR)
        assert [(v.category, v.zone) for v in offending] == [
            ("gardening", "paris-centre"),
            ("tutoring", "paris-centre"),
        ]
        assert all(v.shortfall_cents_per_hour > 0 for v in offending)

    def test_floor_and_contribution_rate_are_settings(self) -> None:
        cell = make_cell()
        assert check_cell(cell, FairPaySettings(floor_cents_per_hour=5000)) is not None
        assert worst_net_hourly(cell, Decimal("0.5")) < worst_net_hourly(cell, Decimal("0.2"))


class TestGridValidation:
    def test_refuses_unknown_category_with_its_field(self) -> None:
        with pytest.raises(Invalid) as caught:
            grid_from_cells([cell_data(), cell_data(category="plumbing")])
        assert caught.value.loc == ["body", "cells", "1", "category"]

    def test_refuses_duplicate_cells(self) -> None:
        with pytest.raises(Invalid) as caught:
            grid_from_cells([cell_data(), cell_data()])
        assert caught.value.loc == ["body", "cells", "1"]

    def test_refuses_unknown_zone(self) -> None:
        with pytest.raises(Invalid) as caught:
            grid_from_cells([cell_data(zone="atlantis")], known_zones={"paris-centre"})
        assert caught.value.loc == ["body", "cells", "0", "zone"]

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("hourly_rate_cents", -5),
            ("hourly_rate_cents", "abc"),
            ("hourly_rate_cents", True),
            ("min_billable_min", 5),
            ("commission_rate", "1"),
            ("commission_rate", "NaN"),
            ("commission_rate", "x"),
            ("avg_travel_min", None),
        ],
    )
    def test_refuses_bad_numbers(self, field: str, value: object) -> None:
        with pytest.raises(Invalid) as caught:
            grid_from_cells([cell_data(**{field: value})])
        assert caught.value.loc == ["body", "cells", "0", field]

    def test_refuses_unknown_surcharge(self) -> None:
        with pytest.raises(Invalid):
            grid_from_cells([cell_data(surcharges={"midnight": "0.1"})])


class TestDiffAndPayoutChanges:
    def test_diff_lists_changed_added_and_removed_cells(self) -> None:
        old = grid_from_cells([cell_data(), cell_data(category="gardening")])
        new = grid_from_cells([cell_data(hourly_rate_cents=3200), cell_data(category="tutoring")])
        changes = {(c.category, c.zone): c for c in diff_grids(old, new)}
        assert changes[("cleaning", "paris-centre")].changed_fields == ("hourly_rate_cents",)
        assert changes[("gardening", "paris-centre")].after is None
        assert changes[("tutoring", "paris-centre")].before is None
        assert diff_grids(old, old) == []

    def test_a_lower_rate_is_a_payout_decrease(self) -> None:
        old = Grid((make_cell(),))
        new = Grid((make_cell(hourly_rate_cents=2900),))
        (decrease,) = payout_decreases(old, new)
        assert decrease.old_payout_cents_per_hour == 2400
        assert decrease.new_payout_cents_per_hour == 2320

    def test_a_higher_commission_or_lower_travel_fee_is_a_decrease(self) -> None:
        old = Grid((make_cell(),))
        assert payout_decreases(old, Grid((make_cell(commission_rate="0.25"),)))
        assert payout_decreases(old, Grid((make_cell(travel_fee_cents=200),)))
        assert payout_decreases(old, Grid((make_cell(surcharges={"night": "0.1"}),)))

    def test_a_raise_is_not_a_decrease(self) -> None:
        old = Grid((make_cell(),))
        assert payout_decreases(old, Grid((make_cell(hourly_rate_cents=3100),))) == []
        assert payout_decreases(None, old) == []

    def test_comparison_shows_both_sides(self) -> None:
        rows = compare_payouts(Grid((make_cell(),)), Grid((make_cell(category="tutoring"),)))
        assert [(r.category, r.old_payout_cents_per_hour, r.new_payout_cents_per_hour) for r in rows] == [
            ("cleaning", 2400, None),
            ("tutoring", None, 2400),
        ]
