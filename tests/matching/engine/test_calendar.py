"""Weekly schedules in Paris local time, converted to minutes from now (UTC)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from services.matching.engine import solve
from services.matching.engine.calendar import schedule_intervals
from tests.matching.engine.builders import NOW, make_order, make_provider


class TestScheduleIntervals:
    def test_winter_morning_in_paris_is_one_hour_earlier_in_utc(self) -> None:
        # Thursday 26 November 2026 09:00 UTC; Thursday 09:00-12:00 Paris = 08:00-11:00 UTC.
        blocks = schedule_intervals(((3, 9 * 60, 12 * 60),), NOW, -1440, 1440)
        assert (-60.0, 120.0) in blocks

    def test_keeps_local_hours_across_the_spring_change(self) -> None:
        # Sunday 29 March 2026: clocks go from 02:00 to 03:00 in Paris.
        now = datetime(2026, 3, 28, 8, 0, tzinfo=UTC)  # Saturday 09:00 Paris (UTC+1)
        blocks = schedule_intervals(((5, 9 * 60, 10 * 60), (6, 9 * 60, 10 * 60)), now, 0, 2 * 1440)
        assert (60.0 * 0, 60.0) in blocks  # Saturday 09:00 Paris = 08:00 UTC
        assert (60.0 * 23, 60.0 * 24) in blocks  # Sunday 09:00 Paris = 07:00 UTC

    def test_joins_blocks_across_midnight(self) -> None:
        blocks = schedule_intervals(((3, 22 * 60, 1440), (4, 0, 2 * 60)), NOW, 0, 2 * 1440)
        # Thursday 22:00 Paris = 21:00 UTC = 720 minutes from now, to Friday 01:00 UTC.
        assert (720.0, 960.0) in blocks

    def test_an_empty_schedule_has_no_block(self) -> None:
        assert schedule_intervals((), NOW, 0, 1440) == []


class TestEdgeBatches:
    def test_no_order_no_work(self) -> None:
        result = solve([], [make_provider()], now=NOW)
        assert result.assignments == [] and result.unassigned == {}

    def test_no_provider_every_order_waits_with_a_reason(self) -> None:
        result = solve([make_order("o1"), make_order("o2")], [], now=NOW)
        assert set(result.unassigned) == {"o1", "o2"}
        assert "No provider is active" in result.unassigned["o1"]

    def test_duplicate_ids_are_taken_once(self) -> None:
        result = solve([make_order(), make_order()], [make_provider(), make_provider()], now=NOW)
        assert [a.order_id for a in result.assignments] == ["o1"]


class TestInputValidation:
    def test_refuses_orders_that_cannot_be_scored(self) -> None:
        for bad in (
            {"duration_min": 0},
            {"payout_cents": -1},
            {"lat": float("nan")},
            {"window_end": NOW.replace(year=2025)},
            {"window_start": NOW.replace(tzinfo=None)},
        ):
            with pytest.raises(ValueError):
                make_order(**bad)

    def test_refuses_providers_that_cannot_be_placed(self) -> None:
        for bad in (
            {"lng": 200.0},
            {"travel_radius_km": -1.0},
            {"weekly_schedule": ((7, 0, 60),)},
            {"weekly_schedule": ((1, 600, 60),)},
        ):
            with pytest.raises(ValueError):
                make_provider(**bad)

    def test_accepts_decimal_numbers_from_numeric_columns(self) -> None:
        provider = make_provider(
            lat=Decimal("45.764"),
            lng=Decimal("4.8357"),
            travel_radius_km=Decimal("10"),
            hours_this_week=Decimal("5"),
            weekly_target_h=Decimal("20"),
            rating=Decimal("4.8"),
            rating_count=12,
        )
        order = make_order(lat=Decimal("45.77"), lng=Decimal("4.84"), duration_min=Decimal("90"))
        result = solve([order], [provider], now=NOW)
        assert [a.provider_id for a in result.assignments] == ["p1"]
