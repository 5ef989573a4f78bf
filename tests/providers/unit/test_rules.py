"""Retention, reputation, reliability, watches and availability rules (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.providers.availability import Slot, ensure_position_allowed, validate_schedule
from services.providers.retention import (
    AbsenceFact,
    AbsenceReason,
    BonusRuleSpec,
    MissionFact,
    ReputationPolicySpec,
    Verdict,
    bonus_amount,
    period_of,
    reliability,
    reputation,
)
from services.providers.watch import dependency_watch, turnover_watch
from shared.errors import Conflict, Invalid

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def missions(n: int, peaks: int = 0) -> list[MissionFact]:
    return [MissionFact(NOW, 3000, is_peak=i < peaks) for i in range(n)]


class TestBonus:
    def test_unmet_count(self) -> None:
        assert bonus_amount(BonusRuleSpec(min_missions=3, amount_cents=5000), missions(2), []) is None

    def test_met_with_peak_supplement(self) -> None:
        rule = BonusRuleSpec(min_missions=3, amount_cents=5000, peak_supplement_cents=200)
        assert bonus_amount(rule, missions(4, peaks=2), []) == 5400

    def test_rating_condition(self) -> None:
        rule = BonusRuleSpec(min_missions=1, amount_cents=100, min_rating=4.5)
        assert bonus_amount(rule, missions(1), []) is None
        assert bonus_amount(rule, missions(1), [4, 4, 5]) is None
        assert bonus_amount(rule, missions(1), [5, 4, 5]) == 100

    def test_period_is_paris_month(self) -> None:
        assert period_of(datetime(2026, 11, 30, 23, 30, tzinfo=UTC)) == "2026-12"


class TestReputation:
    def test_no_verdict_on_three_ratings(self) -> None:
        rep = reputation([1, 1, 1], ReputationPolicySpec(threshold=3.5, min_count=5))
        assert rep.verdict is Verdict.insufficient and rep.rating_average == 1.0

    def test_below_threshold_over_window(self) -> None:
        policy = ReputationPolicySpec(threshold=3.5, min_count=5, window=5)
        rep = reputation([2, 3, 3, 3, 3, 5, 5, 5], policy)  # newest first; window = the 5 newest
        assert rep.rating_average == 2.8 and rep.verdict is Verdict.below_threshold
        assert rep.rating_count == 8 and rep.window_count == 5

    def test_ok(self) -> None:
        assert reputation([5] * 6, ReputationPolicySpec()).verdict is Verdict.ok

    def test_empty(self) -> None:
        assert reputation([], ReputationPolicySpec()).rating_average is None


class TestReliability:
    def test_excused_absence_never_counts(self) -> None:
        absence = AbsenceFact(NOW - timedelta(days=2), NOW, AbsenceReason.illness)
        result = reliability(3, [NOW - timedelta(days=1), NOW + timedelta(hours=1)], [absence])
        assert (result.missed, result.excused, result.rate) == (1, 1, 0.75)

    def test_nothing_yet(self) -> None:
        assert reliability(0, [], []).rate is None


class TestWatches:
    def test_turnover_alerts(self) -> None:
        def watch(earned: int) -> str:
            return turnover_watch(
                year=2026,
                earned_cents=earned,
                ceiling_cents=8_360_000,
                legal_threshold_cents=625_000,
                training_contribution_rate=Decimal("0.002"),
            ).alert

        assert watch(6_000_000) == "none"
        assert watch(6_688_000) == "approaching"
        assert watch(8_360_000) == "reached"

    def test_legal_threshold_obligations(self) -> None:
        result = turnover_watch(
            year=2026,
            earned_cents=1_000_000,
            ceiling_cents=8_360_000,
            legal_threshold_cents=625_000,
            training_contribution_rate=Decimal("0.002"),
        )
        assert result.platform_obligations_apply and result.training_contribution_cents == 2000

    def test_dependency(self) -> None:
        result = dependency_watch(
            year=2026,
            platform_cents=900_000,
            declared_turnover_cents=1_000_000,
            week_worked_min=40 * 60,
            weekly_hours_target=35,
            share_alert=0.8,
        )
        assert result.platform_share == 0.9 and result.is_dependent and result.is_over_target

    def test_dependency_unknown_without_declaration(self) -> None:
        result = dependency_watch(
            year=2026,
            platform_cents=100,
            declared_turnover_cents=None,
            week_worked_min=0,
            weekly_hours_target=20,
            share_alert=0.8,
        )
        assert result.platform_share is None and not result.is_dependent


class TestSchedule:
    def test_sorted_and_valid(self) -> None:
        slots = validate_schedule([Slot(1, "14:00", "18:00"), Slot(0, "08:00", "24:00")])
        assert [s.weekday for s in slots] == [0, 1]

    @pytest.mark.parametrize(
        ("slot", "field"),
        [
            (Slot(0, "10:00", "09:00"), "end"),
            (Slot(0, "25:00", "26:00"), "start"),
            (Slot(0, "09:60", "10:00"), "start"),
            (Slot(0, "24:00", "24:00"), "start"),
        ],
    )
    def test_refuses_bad_slot(self, slot: Slot, field: str) -> None:
        with pytest.raises(Invalid) as caught:
            validate_schedule([slot])
        assert caught.value.loc[-1] == field

    def test_refuses_overlap(self) -> None:
        with pytest.raises(Invalid, match="overlaps"):
            validate_schedule([Slot(2, "08:00", "12:00"), Slot(2, "11:00", "13:00")])

    def test_no_position_off_duty(self) -> None:
        with pytest.raises(Conflict):
            ensure_position_allowed(False)
        ensure_position_allowed(True)
