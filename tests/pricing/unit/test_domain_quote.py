"""Surcharges at boundary times, DST, holidays, Sundays; breakdown and tax credit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.pricing.domain.quote import (
    TaxCreditRules,
    TimeRules,
    applicable_surcharges,
    price_mission,
)
from tests.pricing.builders import make_cell

RULES = TimeRules()
TAX = TaxCreditRules()
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)  # quoted long before: never urgent


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


class TestSurchargeBoundaries:
    # 2026-11-26 is a Thursday; Paris is UTC+1 in winter.
    @pytest.mark.parametrize(
        ("start", "expected"),
        [
            (utc(2026, 11, 26, 17, 59), []),  # 18:59 local
            (utc(2026, 11, 26, 18, 0), ["evening"]),  # 19:00 local
            (utc(2026, 11, 26, 20, 59), ["evening"]),  # 21:59 local
            (utc(2026, 11, 26, 21, 0), ["night"]),  # 22:00 local
            (utc(2026, 11, 27, 4, 59), ["night"]),  # 05:59 local
            (utc(2026, 11, 27, 5, 0), []),  # 06:00 local
        ],
    )
    def test_evening_and_night_in_winter(self, start: datetime, expected: list[str]) -> None:
        assert applicable_surcharges(start, LONG_AGO, RULES) == expected

    @pytest.mark.parametrize(
        ("start", "expected"),
        [
            (utc(2026, 7, 2, 19, 59), ["evening"]),  # 21:59 local (UTC+2)
            (utc(2026, 7, 2, 20, 0), ["night"]),  # 22:00 local
        ],
    )
    def test_night_starts_at_22_local_in_summer(self, start: datetime, expected: list[str]) -> None:
        assert applicable_surcharges(start, LONG_AGO, RULES) == expected

    def test_spring_forward_day(self) -> None:
        # 2026-03-29 (a Sunday): clocks go 02:00 CET -> 03:00 CEST.
        assert applicable_surcharges(utc(2026, 3, 29, 0, 59), LONG_AGO, RULES) == ["night", "sunday"]
        assert applicable_surcharges(utc(2026, 3, 29, 4, 0), LONG_AGO, RULES) == ["sunday"]  # 06:00
        assert applicable_surcharges(utc(2026, 3, 29, 3, 59), LONG_AGO, RULES) == ["night", "sunday"]
        assert applicable_surcharges(utc(2026, 3, 29, 19, 59), LONG_AGO, RULES) == ["evening", "sunday"]
        assert applicable_surcharges(utc(2026, 3, 29, 20, 0), LONG_AGO, RULES) == ["night", "sunday"]

    def test_fall_back_day(self) -> None:
        # 2026-10-25 (a Sunday): 03:00 CEST -> 02:00 CET; 21:00 UTC is 22:00 local.
        assert applicable_surcharges(utc(2026, 10, 25, 20, 59), LONG_AGO, RULES) == [
            "evening",
            "sunday",
        ]
        assert applicable_surcharges(utc(2026, 10, 25, 21, 0), LONG_AGO, RULES) == ["night", "sunday"]
        assert applicable_surcharges(utc(2026, 10, 25, 5, 0), LONG_AGO, RULES) == ["sunday"]  # 06:00

    def test_public_holiday(self) -> None:
        # 14 July 2026 is a Tuesday.
        assert applicable_surcharges(utc(2026, 7, 14, 8, 0), LONG_AGO, RULES) == ["holiday"]
        assert applicable_surcharges(utc(2026, 7, 13, 8, 0), LONG_AGO, RULES) == []

    def test_holiday_falling_on_sunday_replaces_sunday(self) -> None:
        # 1 November 2026 is a Sunday and All Saints' Day.
        assert applicable_surcharges(utc(2026, 11, 1, 9, 0), LONG_AGO, RULES) == ["holiday"]

    def test_sunday_is_the_local_date(self) -> None:
        # Saturday 23:30 UTC is Sunday 00:30 in Paris.
        assert applicable_surcharges(utc(2026, 11, 28, 23, 30), LONG_AGO, RULES) == [
            "night",
            "sunday",
        ]

    def test_urgent_when_starting_soon_after_the_quote(self) -> None:
        start = utc(2026, 11, 26, 10, 0)
        assert "urgent" in applicable_surcharges(start, start - timedelta(minutes=119), RULES)
        assert "urgent" not in applicable_surcharges(start, start - timedelta(minutes=120), RULES)


class TestPriceMission:
    def test_breakdown_lines_add_up_to_the_total(self) -> None:
        cell = make_cell()
        price = price_mission(cell, utc(2026, 11, 29, 21, 0), 90, LONG_AGO, RULES, TAX)
        # Sunday 22:00 local: night and sunday.
        codes = [line.code for line in price.lines]
        assert codes == ["base", "surcharge_night", "surcharge_sunday", "travel_fee"]
        assert sum(line.amount_cents for line in price.lines) == price.price_cents
        assert price.lines[0].amount_cents == 4500
        assert price.lines[1].amount_cents == 1125
        assert price.lines[2].amount_cents == 900
        assert price.price_cents == 4500 + 1125 + 900 + 300
        assert price.commission_cents == 1305  # 20 % of 6525, travel fee excluded
        assert price.payout_cents == price.price_cents - 1305

    def test_minimum_billing_is_its_own_line(self) -> None:
        price = price_mission(make_cell(), utc(2026, 11, 26, 9, 0), 30, LONG_AGO, RULES, TAX)
        assert [(x.code, x.amount_cents) for x in price.lines] == [
            ("base", 1500),
            ("minimum_billing", 1500),
            ("travel_fee", 300),
        ]
        assert price.billed_min == 60

    def test_rounds_half_up(self) -> None:
        # 1001 cents/h for 30 min = 500.5 -> 501
        cell = make_cell(hourly_rate_cents=1001, min_billable_min=15, travel_fee_cents=0)
        price = price_mission(cell, utc(2026, 11, 26, 9, 0), 30, LONG_AGO, RULES, TAX)
        assert price.lines[0].amount_cents == 501

    def test_tax_credit_for_household_service(self) -> None:
        price = price_mission(make_cell(), utc(2026, 11, 26, 9, 0), 60, LONG_AGO, RULES, TAX)
        assert price.tax_credit.eligible
        assert price.tax_credit.amount_cents == (price.price_cents + 1) // 2

    def test_no_tax_credit_for_moving_help(self) -> None:
        cell = make_cell(category="moving_help")
        price = price_mission(cell, utc(2026, 11, 26, 9, 0), 60, LONG_AGO, RULES, TAX)
        assert not price.tax_credit.eligible
        assert price.tax_credit.amount_cents == 0

    def test_handyman_visit_over_two_hours_is_not_eligible(self) -> None:
        cell = make_cell(category="handyman")
        assert price_mission(cell, utc(2026, 11, 26, 9, 0), 120, LONG_AGO, RULES, TAX).tax_credit.eligible
        assert not price_mission(cell, utc(2026, 11, 26, 9, 0), 121, LONG_AGO, RULES, TAX).tax_credit.eligible
