"""Pure rules: transitions, start code, radius steps, schedules, weeks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.matching.domain import (
    is_booked_later,
    is_peak,
    move_mission,
    move_offer,
    radius_factor,
    spread,
    start_code_matches,
    week_bounds,
    worked_minutes,
)
from services.matching.planner import for_provider, schedule_blocks
from shared.errors import IllegalTransition
from tests.matching.support import start_code_hash

T = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


class TestTransitions:
    @pytest.mark.parametrize("action", ["accept", "decline", "expire", "withdraw"])
    def test_a_pending_offer_moves_once(self, action: str) -> None:
        after = move_offer("pending", action)
        with pytest.raises(IllegalTransition) as refused:
            move_offer(after, action)
        assert refused.value.extra["current_state"] == after.value

    def test_mission_lifecycle(self) -> None:
        assert move_mission("assigned", "start") == "started"
        assert move_mission("started", "complete") == "completed"
        assert move_mission("started", "cancel") == "cancelled"
        for state, action in [("completed", "cancel"), ("assigned", "complete"), ("started", "reassign")]:
            with pytest.raises(IllegalTransition, match=state):
                move_mission(state, action)


class TestStartCode:
    def test_only_the_clients_code_matches(self) -> None:
        expected = start_code_hash("o1", "123456")
        assert start_code_matches("o1", "123456", expected)
        assert not start_code_matches("o1", "123457", expected)
        assert not start_code_matches("o2", "123456", expected)


class TestRadiusSteps:
    def test_the_radius_widens_step_by_step_toward_the_deadline(self) -> None:
        steps = [1.0, 1.25, 1.5, 2.0]
        deadline = T + timedelta(minutes=40)
        factors = [
            radius_factor(T, deadline, T + timedelta(minutes=m), steps) for m in (0, 9, 10, 25, 35, 60)
        ]
        assert factors == [1.0, 1.0, 1.25, 1.5, 2.0, 2.0]

    def test_a_deadline_at_confirmation_uses_the_widest_step(self) -> None:
        assert radius_factor(T, T, T, [1.0, 3.0]) == 3.0


class TestCalendar:
    def test_a_slot_over_midnight_is_split(self) -> None:
        slots = [
            {"weekday": 6, "start": "22:00", "end": "02:00"},
            {"weekday": 0, "start": "09:00", "end": "12:00"},
        ]
        assert schedule_blocks(slots) == ((0, 0, 120), (0, 540, 720), (6, 1320, 1440))

    def test_week_runs_from_monday_midnight_paris_to_the_next(self) -> None:
        assert week_bounds(T, "Europe/Paris") == (
            datetime(2026, 11, 22, 23, 0, tzinfo=UTC),
            datetime(2026, 11, 29, 23, 0, tzinfo=UTC),
        )
        assert week_bounds(datetime(2026, 11, 29, 22, 59, tzinfo=UTC), "Europe/Paris")[1] == datetime(
            2026, 11, 29, 23, 0, tzinfo=UTC
        ), "Sunday 23:59 in Paris is still this week"

    def test_a_week_with_the_clock_change_ends_at_local_midnight(self) -> None:
        start, end = week_bounds(datetime(2026, 3, 26, 12, 0, tzinfo=UTC), "Europe/Paris")
        assert start == datetime(2026, 3, 22, 23, 0, tzinfo=UTC)
        assert end == datetime(2026, 3, 29, 22, 0, tzinfo=UTC)  # summer time from Sunday 29 March

    def test_booked_later_and_peak_and_minutes(self) -> None:
        assert is_booked_later(T + timedelta(hours=3), T, 120)
        assert not is_booked_later(T + timedelta(minutes=30), T, 120)
        assert is_peak(datetime(2026, 11, 26, 17, 30, tzinfo=UTC), "Europe/Paris", [18])
        assert not is_peak(T, "Europe/Paris", [18])
        assert worked_minutes(T, T) == 1 and worked_minutes(T, T + timedelta(minutes=90)) == 90


class TestSpread:
    def test_offers_against_the_median_of_peers(self) -> None:
        assert spread(4, [1, 2, 3]) == {"offers": 4, "peer_median": 2.0, "peers": 3, "ratio": 2.0}
        assert spread(0, [])["ratio"] is None


def test_a_provider_reads_a_decision_without_other_providers_or_their_orders() -> None:
    def candidate(provider_id: str, note: str = "") -> dict[str, object]:
        return {"provider_id": provider_id, "cost": 10.0, "note": note}

    details = {
        "chosen": candidate("p1"),
        "alternatives": [
            candidate("p2", "was given order o-secret in the same batch"),
            candidate("p3", "cost more for this order than the provider chosen"),
            candidate("p4", "was given order o-mine in the same batch"),
        ],
    }
    seen = for_provider(details, "p4")
    assert seen["chosen"] == candidate("another provider")
    assert seen["alternatives"] == [
        candidate("another provider", "was given another order in the same batch"),
        candidate("another provider", "cost more for this order than the provider chosen"),
        candidate("p4", "was given order o-mine in the same batch"),  # their own: kept whole
    ]
    assert "o-secret" not in str(seen)
