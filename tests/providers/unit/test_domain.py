"""The provider lifecycle and the qualification rules (pure)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.providers import domain as d
from services.providers.domain import (
    CheckFact,
    CheckOutcome,
    CompletionFact,
    ProviderStatus,
    RegistryFact,
    RetrainingFact,
    Standing,
    SuspensionKind,
)
from shared.errors import Conflict, IllegalTransition
from tests.providers.unit.builders import NOW, base_checks, module, passed, policy

S = ProviderStatus


class TestLifecycle:
    def test_happy_path(self) -> None:
        standing = d.start_review(Standing(S.applied))
        standing = d.approve(standing)
        assert standing.status is S.approved
        standing = d.follow_qualifications(standing, ["cleaning"])
        assert standing.status is S.active
        standing = d.suspend(standing)
        assert standing == Standing(S.suspended, SuspensionKind.decision)
        assert d.reinstate(standing, ["cleaning"]).status is S.active

    @pytest.mark.parametrize(
        "status", [S.applied, S.approved, S.active, S.suspended, S.rejected, S.offboarded]
    )
    def test_approve_only_under_review(self, status: ProviderStatus) -> None:
        with pytest.raises(IllegalTransition) as caught:
            d.approve(Standing(status))
        assert caught.value.extra["current_state"] == status.value
        assert status.value in caught.value.message

    def test_final_states_refuse_everything(self) -> None:
        for status in (S.rejected, S.offboarded):
            for action in (d.start_review, d.approve, d.reject, d.suspend, d.offboard):
                with pytest.raises(IllegalTransition):
                    action(Standing(status))

    def test_reject_from_applied_or_review(self) -> None:
        assert d.reject(Standing(S.applied)).status is S.rejected
        assert d.reject(Standing(S.under_review)).status is S.rejected
        with pytest.raises(IllegalTransition):
            d.reject(Standing(S.active))

    def test_offboard_only_vetted(self) -> None:
        for status in (S.approved, S.active, S.suspended):
            assert d.offboard(Standing(status)).status is S.offboarded
        with pytest.raises(IllegalTransition):
            d.offboard(Standing(S.applied))

    def test_reinstate_needs_a_qualified_category(self) -> None:
        with pytest.raises(Conflict):
            d.reinstate(Standing(S.suspended, SuspensionKind.decision), [])

    def test_reinstate_refuses_a_lapse(self) -> None:
        with pytest.raises(IllegalTransition):
            d.reinstate(Standing(S.suspended, SuspensionKind.lapsed), ["cleaning"])

    def test_active_with_nothing_left_lapses(self) -> None:
        assert d.follow_qualifications(Standing(S.active), []) == Standing(S.suspended, SuspensionKind.lapsed)

    def test_lapse_lifts_itself_but_a_decision_does_not(self) -> None:
        assert d.follow_qualifications(Standing(S.suspended, SuspensionKind.lapsed), ["x"]).status is S.active
        decided = Standing(S.suspended, SuspensionKind.decision)
        assert d.follow_qualifications(decided, ["x"]) == decided

    def test_suspend_on_top_of_lapse(self) -> None:
        assert d.suspend(Standing(S.suspended, SuspensionKind.lapsed)).suspension is SuspensionKind.decision
        with pytest.raises(IllegalTransition):
            d.suspend(Standing(S.suspended, SuspensionKind.decision))


class TestEvaluate:
    def evaluate(self, **kw: object) -> d.Evaluation:
        args: dict[str, object] = {
            "categories": ["cleaning", "childcare"],
            "checks": base_checks(),
            "requirements": {},
            "completions": [],
            "policy": policy(),
            "now": NOW,
        }
        args.update(kw)
        return d.evaluate(**args)  # type: ignore[arg-type]

    def test_category_check_blocks_only_its_category(self) -> None:
        result = self.evaluate()
        assert result.qualified == ("cleaning",)
        (gap,) = result.missing
        assert (gap.item, gap.category, gap.action) == ("criminal_record", "childcare", "provide")

    def test_category_check_recorded_qualifies(self) -> None:
        checks = [*base_checks(), passed("criminal_record", category="childcare")]
        assert self.evaluate(checks=checks).qualified == ("cleaning", "childcare")

    def test_missing_base_check_blocks_all(self) -> None:
        result = self.evaluate(checks=base_checks(identity=None))
        assert result.qualified == ()
        assert [m.item for m in result.general_blockers] == ["identity"]

    def test_failed_check_blocks(self) -> None:
        failed = CheckFact("siret", CheckOutcome.failed, NOW - timedelta(days=1))
        assert self.evaluate(checks=base_checks(siret=failed)).qualified == ()

    def test_latest_check_wins(self) -> None:
        old_failed = CheckFact("siret", CheckOutcome.failed, NOW - timedelta(days=5))
        result = self.evaluate(checks=[*base_checks(), old_failed], categories=["cleaning"])
        assert result.qualified == ("cleaning",)

    def test_expired_insurance_says_renew(self) -> None:
        result = self.evaluate(checks=base_checks(insurance=passed("insurance", expires_in=-1)))
        gap = result.general_blockers[0]
        assert (gap.item, gap.action) == ("insurance", "renew")
        assert gap.expired_at == NOW - timedelta(days=1)

    def test_training_required_then_completed_then_expired(self) -> None:
        reqs = {"cleaning": [module("hygiene", validity_days=30, min_score=60)]}
        result = self.evaluate(categories=["cleaning"], requirements=reqs)
        assert result.qualified == ()
        assert result.missing[0].action == "complete"
        low = CompletionFact("m-hygiene", NOW - timedelta(days=1), score=50)
        assert self.evaluate(categories=["cleaning"], requirements=reqs, completions=[low]).qualified == ()
        good = CompletionFact("m-hygiene", NOW - timedelta(days=1), score=80)
        assert self.evaluate(categories=["cleaning"], requirements=reqs, completions=[good]).qualified == (
            "cleaning",
        )
        later = NOW + timedelta(days=30)
        result = self.evaluate(categories=["cleaning"], requirements=reqs, completions=[good], now=later)
        assert result.qualified == ()
        assert result.missing[0].action == "renew"

    def test_registry_required_and_inactive_blocks(self) -> None:
        pol = policy(registry_required=True)
        assert self.evaluate(policy=pol, categories=["cleaning"]).qualified == ()
        closed = RegistryFact("closed", "81.21Z")
        result = self.evaluate(policy=pol, categories=["cleaning"], registry=closed)
        assert "closed" in result.general_blockers[0].reason
        active = RegistryFact("active", "81.21Z")
        assert self.evaluate(policy=pol, categories=["cleaning"], registry=active).qualified == ("cleaning",)

    def test_activity_code_mismatch_blocks_only_that_category(self) -> None:
        pol = policy(activity_codes={"cleaning": ("81.2",), "gardening": ("81.30",)})
        result = self.evaluate(
            categories=["cleaning", "gardening"],
            policy=pol,
            registry=RegistryFact("active", "81.21Z"),
        )
        assert result.qualified == ("cleaning",)
        assert result.missing[0].item == "activity_code"

    def test_urssaf_needed_past_threshold_after_grace(self) -> None:
        pol = policy(urssaf_threshold_cents=500_000, urssaf_grace_days=30)
        below = self.evaluate(categories=["cleaning"], policy=pol, cumulative_payout_cents=500_000)
        assert below.qualified == ("cleaning",) and not below.notices
        recent = NOW - timedelta(days=3)
        grace = self.evaluate(
            categories=["cleaning"],
            policy=pol,
            cumulative_payout_cents=500_001,
            urssaf_required_since=recent,
        )
        assert grace.qualified == ("cleaning",)
        assert grace.notices[0].item == "urssaf_vigilance"
        late = self.evaluate(
            categories=["cleaning"],
            policy=pol,
            cumulative_payout_cents=600_000,
            urssaf_required_since=NOW - timedelta(days=31),
        )
        assert late.qualified == ()
        cert = passed("urssaf_vigilance", expires_in=180)
        ok = self.evaluate(
            categories=["cleaning"],
            policy=pol,
            checks=[*base_checks(), cert],
            cumulative_payout_cents=600_000,
            urssaf_required_since=NOW - timedelta(days=31),
        )
        assert ok.qualified == ("cleaning",)

    def test_retraining_is_a_notice_until_due_then_blocks(self) -> None:
        retraining = RetrainingFact("m-q", "Quality", NOW - timedelta(days=1), NOW + timedelta(days=10))
        before = self.evaluate(categories=["cleaning"], retrainings=[retraining])
        assert before.qualified == ("cleaning",) and before.notices
        after = self.evaluate(categories=["cleaning"], retrainings=[retraining], now=NOW + timedelta(days=11))
        assert after.qualified == ()
        done = CompletionFact("m-q", NOW, score=90)
        fixed = self.evaluate(
            categories=["cleaning"],
            retrainings=[retraining],
            completions=[done],
            now=NOW + timedelta(days=11),
        )
        assert fixed.qualified == ("cleaning",)


def test_activity_code_covers() -> None:
    assert d.activity_code_covers("81.21Z", ["8121"])
    assert not d.activity_code_covers("43.21A", ["81.2"])


def test_document_expiring_soon_is_a_renewal_notice() -> None:
    checks = base_checks(insurance=passed("insurance", expires_in=20))
    result = d.evaluate(
        categories=["cleaning"], checks=checks, requirements={}, completions=[], policy=policy(), now=NOW
    )
    assert result.qualified == ("cleaning",)
    (notice,) = result.notices
    assert (notice.item, notice.action) == ("insurance", "renew") and "expires on" in notice.reason


KINDS = ["identity", "right_to_work", "siret", "insurance", "criminal_record"]
CATS = ["cleaning", "childcare", "gardening"]


@given(
    present=st.sets(st.sampled_from(KINDS)),
    categories=st.lists(st.sampled_from(CATS), min_size=1, max_size=3, unique=True),
    extra=st.sampled_from(KINDS),
)
def test_adding_a_passed_check_never_removes_a_qualification(
    present: set[str], categories: list[str], extra: str
) -> None:
    def run(kinds: set[str]) -> d.Evaluation:
        checks = [
            passed(
                k,
                expires_in=365 if k == "insurance" else None,
                category="childcare" if k == "criminal_record" else None,
            )
            for k in kinds
        ]
        return d.evaluate(
            categories=categories, checks=checks, requirements={}, completions=[], policy=policy(), now=NOW
        )

    before, after = run(present), run(present | {extra})
    assert set(before.qualified) <= set(after.qualified) <= set(categories)
    assert (not after.qualified) == bool(after.general_blockers) or all(
        after.blockers_of(c) for c in categories
    )
