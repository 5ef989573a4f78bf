"""The pure orders domain: lifecycle, fees, reveal rule, disputes, series, start codes."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from services.orders import domain as d
from shared.errors import Conflict, IllegalTransition, Invalid

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def policy(**overrides: object) -> d.CancellationPolicy:
    values: dict[str, object] = {
        "tiers": (
            d.CancellationTier(24, Decimal(0)),
            d.CancellationTier(2, Decimal(30)),
            d.CancellationTier(0, Decimal(50)),
        ),
        "provider_share_percent": Decimal(80),
    }
    values.update(overrides)
    return d.CancellationPolicy(**values)  # type: ignore[arg-type]


class TestLifecycle:
    def test_happy_path(self) -> None:
        s = d.OrderStatus.confirmed
        for action in (d.OrderAction.assign, d.OrderAction.start, d.OrderAction.complete):
            s = d.next_status(s, action)
        assert s is d.OrderStatus.completed

    @pytest.mark.parametrize("final", sorted(d.FINAL_STATUSES))
    def test_final_states_refuse_everything(self, final: d.OrderStatus) -> None:
        for action in d.OrderAction:
            with pytest.raises(IllegalTransition) as err:
                d.next_status(final, action)
            assert final.value in err.value.message
            assert err.value.status_code == 409

    def test_cannot_cancel_in_progress(self) -> None:
        with pytest.raises(IllegalTransition, match="in_progress"):
            d.next_status(d.OrderStatus.in_progress, d.OrderAction.cancel)

    def test_release_puts_assigned_back_to_confirmed(self) -> None:
        assert d.next_status(d.OrderStatus.assigned, d.OrderAction.release) is d.OrderStatus.confirmed


class TestStartCode:
    def test_code_is_six_digits_and_hash_matches_contract(self) -> None:
        codes = {d.make_start_code() for _ in range(200)}
        assert all(len(c) == 6 and c.isdigit() for c in codes)
        assert len(codes) > 150
        assert d.start_code_hash("o1", "012345") == hashlib.sha256(b"o1:012345").hexdigest()


class TestCancellationFee:
    @pytest.mark.parametrize(
        ("hours", "fee", "share"),
        [(48, 0, 0), (24, 0, 0), (23.9, 3000, 2400), (2, 3000, 2400), (1, 5000, 4000), (-1, 5000, 4000)],
    )
    def test_tiers(self, hours: float, fee: int, share: int) -> None:
        got = d.cancellation_fee(
            policy(), price_cents=10_000, start_at=NOW + timedelta(hours=hours), now=NOW, has_provider=True
        )
        assert (got.fee_cents, got.provider_share_cents) == (fee, share)

    def test_no_provider_no_share(self) -> None:
        got = d.cancellation_fee(
            policy(), price_cents=10_000, start_at=NOW + timedelta(hours=1), now=NOW, has_provider=False
        )
        assert (got.fee_cents, got.provider_share_cents) == (5000, 0)

    def test_rounds_half_up(self) -> None:
        got = d.cancellation_fee(
            policy(), price_cents=3, start_at=NOW, now=NOW, has_provider=True
        )
        assert got.fee_cents == 2  # 1.5 -> 2

    def test_waived(self) -> None:
        got = d.cancellation_fee(policy(), price_cents=10_000, start_at=NOW, now=NOW,
                                 has_provider=True, waive=True)
        assert got.fee_cents == 0

    def test_refuses_bad_policies(self) -> None:
        with pytest.raises(Invalid):
            policy(tiers=())
        with pytest.raises(Invalid):
            policy(tiers=(d.CancellationTier(2, Decimal(10)),))
        with pytest.raises(Invalid):
            policy(tiers=(d.CancellationTier(0, Decimal(120)),))
        with pytest.raises(Invalid):
            policy(provider_share_percent=Decimal(101))


class TestRatingReveal:
    def state(self) -> d.RatingState:
        return d.RatingState(completed_at=NOW, window=timedelta(days=14))

    def test_one_rating_stays_hidden_inside_window(self) -> None:
        s = self.state()
        s.submitted.add(d.RaterRole.client)
        assert s.to_reveal(NOW + timedelta(days=1)) == set()

    def test_both_in_reveals_both(self) -> None:
        s = self.state()
        s.submitted |= {d.RaterRole.client, d.RaterRole.provider}
        assert s.to_reveal(NOW) == {d.RaterRole.client, d.RaterRole.provider}

    def test_window_closed_reveals_the_one_in(self) -> None:
        s = self.state()
        s.submitted.add(d.RaterRole.provider)
        assert s.to_reveal(NOW + timedelta(days=14)) == {d.RaterRole.provider}

    def test_revealed_once(self) -> None:
        s = self.state()
        s.submitted |= {d.RaterRole.client, d.RaterRole.provider}
        s.revealed |= {d.RaterRole.client, d.RaterRole.provider}
        assert s.to_reveal(NOW) == set()

    def test_refuses_twice_and_late(self) -> None:
        s = self.state()
        s.submitted.add(d.RaterRole.client)
        with pytest.raises(Conflict, match="already rated"):
            s.check_can_rate(d.RaterRole.client, NOW)
        with pytest.raises(Conflict, match="window closed"):
            s.check_can_rate(d.RaterRole.provider, NOW + timedelta(days=15))


class TestDisputes:
    def test_only_completed(self) -> None:
        with pytest.raises(IllegalTransition, match="assigned"):
            d.check_can_open_dispute(d.OrderStatus.assigned, None, NOW, timedelta(days=30))
        d.check_can_open_dispute(d.OrderStatus.completed, NOW, NOW, timedelta(days=30))
        with pytest.raises(Conflict):
            d.check_can_open_dispute(d.OrderStatus.completed, NOW, NOW + timedelta(days=31),
                                     timedelta(days=30))

    def test_refunds(self) -> None:
        assert d.refund_for(d.DisputeOutcome.refund, 5000, None) == 5000
        assert d.refund_for(d.DisputeOutcome.rejected, 5000, None) == 0
        assert d.refund_for(d.DisputeOutcome.partial_refund, 5000, 1200) == 1200
        for bad in (None, 0, 5000, 6000):
            with pytest.raises(Invalid):
                d.refund_for(d.DisputeOutcome.partial_refund, 5000, bad)

    def test_resolve_once(self) -> None:
        with pytest.raises(IllegalTransition, match="resolved"):
            d.check_can_resolve(d.DisputeStatus.resolved)


class TestSeries:
    def test_weekly_keeps_paris_wall_clock_across_dst(self) -> None:
        first = datetime(2026, 10, 20, 8, 0, tzinfo=UTC)  # 10:00 Paris (CEST)
        after = d.occurrence_start(first, d.Frequency.weekly, 1)  # 27 Oct, after the switch to CET
        assert after == datetime(2026, 10, 27, 9, 0, tzinfo=UTC)
        assert after.astimezone(d.PARIS).hour == 10

    def test_due_occurrences_within_horizon(self) -> None:
        first = NOW + timedelta(hours=1)
        due = d.plan_occurrences(first, d.Frequency.weekly, 1, NOW, timedelta(days=15))
        assert [i for i, _ in due.to_make] == [1, 2] and due.next_index == 3
        fortnight = d.plan_occurrences(first, d.Frequency.fortnightly, 1, NOW, timedelta(days=15))
        assert [i for i, _ in fortnight.to_make] == [1] and fortnight.next_index == 2

    def test_index_of(self) -> None:
        first = NOW
        assert d.occurrence_index_of(first, d.Frequency.weekly, NOW + timedelta(days=14)) == 2
        assert d.occurrence_index_of(first, d.Frequency.weekly, NOW + timedelta(days=3)) is None
        assert d.occurrence_index_of(first, d.Frequency.fortnightly, NOW + timedelta(days=7)) is None


class TestWindow:
    def test_refusals(self) -> None:
        hour = timedelta(hours=1)
        cases = [
            (NOW + 2 * hour, NOW + hour, "end after"),
            (NOW - hour, NOW + hour, "future"),
            (NOW + hour, NOW + 2 * hour, "shorter"),
            (NOW + hour, NOW + 20 * hour, "slack"),
        ]
        for start, end, msg in cases:
            with pytest.raises(Invalid, match=msg):
                d.check_window(start, end, 120, NOW, timedelta(hours=4))
        d.check_window(NOW + hour, NOW + 3 * hour, 120, NOW, timedelta(hours=4))

    def test_distance(self) -> None:
        assert d.distance_km(48.8566, 2.3522, 48.8566, 2.3522) == 0
        assert 390 < d.distance_km(48.8566, 2.3522, 45.764, 4.8357) < 400


class TestSeriesDeadline:
    def test_an_occurrence_whose_deadline_has_passed_is_not_made(self) -> None:
        # Occurrence 1 starts in 20 min but its deadline was 30 min before the start: too late.
        first = NOW - timedelta(days=7) + timedelta(minutes=20)
        plan = d.plan_occurrences(first, d.Frequency.weekly, 1, NOW, timedelta(days=8),
                                  deadline_after_start=timedelta(minutes=-30))
        assert [i for i, _ in plan.too_late] == [1]
        assert [i for i, _ in plan.to_make] == [2]
        assert plan.next_index == 3  # passed over, never looked at again

    def test_a_deadline_after_the_start_is_fine(self) -> None:
        first = NOW - timedelta(days=7) + timedelta(minutes=20)
        plan = d.plan_occurrences(first, d.Frequency.weekly, 1, NOW, timedelta(days=1),
                                  deadline_after_start=timedelta(minutes=30))
        assert [i for i, _ in plan.to_make] == [1] and plan.too_late == []

    def test_past_occurrences_are_neither_made_nor_reported(self) -> None:
        first = NOW - timedelta(days=14, minutes=5)  # occurrences 1 (7 days ago) and 2 (5 min ago)
        plan = d.plan_occurrences(first, d.Frequency.weekly, 1, NOW, timedelta(days=8))
        assert [i for i, _ in plan.to_make] == [3] and plan.too_late == [] and plan.next_index == 4


def visit(order_id: str, status: d.OrderStatus, hours_ahead: float) -> d.ProviderVisit:
    return d.ProviderVisit(order_id, status, NOW + timedelta(hours=hours_ahead))


LEAD = timedelta(minutes=90)


class TestPositionRule:
    def test_only_the_next_order_follows_the_provider(self) -> None:
        visits = [visit("later", d.OrderStatus.assigned, 5), visit("early", d.OrderStatus.assigned, 1)]
        assert d.order_following_provider(visits, now=NOW, lead=LEAD) == "early"
        assert d.is_position_shown("early", NOW, visits, now=NOW, lead=LEAD)
        assert not d.is_position_shown("later", NOW, visits, now=NOW, lead=LEAD)

    def test_nobody_while_a_mission_is_in_progress(self) -> None:
        visits = [visit("here", d.OrderStatus.in_progress, -1), visit("next", d.OrderStatus.assigned, 1)]
        assert d.order_following_provider(visits, now=NOW, lead=LEAD) is None
        assert not d.is_position_shown("next", NOW, visits, now=NOW, lead=LEAD)

    def test_not_before_the_lead_time(self) -> None:
        visits = [visit("o", d.OrderStatus.assigned, 2)]
        assert d.order_following_provider(visits, now=NOW, lead=LEAD) is None
        later = NOW + timedelta(minutes=30)  # exactly 90 min before the window start
        assert d.order_following_provider(visits, now=later, lead=LEAD) == "o"
        assert d.is_position_shown("o", later, visits, now=later, lead=LEAD)

    def test_a_position_recorded_before_the_lead_time_is_not_shown(self) -> None:
        visits = [visit("o", d.OrderStatus.assigned, 1)]
        old = NOW - timedelta(days=2)
        assert not d.is_position_shown("o", old, visits, now=NOW, lead=LEAD)

    def test_same_start_is_broken_by_id_and_nothing_when_not_assigned(self) -> None:
        visits = [visit("b", d.OrderStatus.assigned, 1), visit("a", d.OrderStatus.assigned, 1)]
        assert d.order_following_provider(visits, now=NOW, lead=LEAD) == "a"
        assert d.order_following_provider([], now=NOW, lead=LEAD) is None
        assert not d.is_position_shown("gone", NOW, visits, now=NOW, lead=LEAD)
