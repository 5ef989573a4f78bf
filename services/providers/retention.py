"""Retention and reputation rules, pure: bonuses per period, rating aggregates, reliability."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


def period_of(at: datetime) -> str:
    """Return the calendar month (Europe/Paris) an instant falls in, as YYYY-MM."""
    return at.astimezone(PARIS).strftime("%Y-%m")


@dataclass(frozen=True)
class BonusRuleSpec:
    """At least `min_missions` completed in a month with an average rating >= `min_rating`
    earns `amount_cents`, plus `peak_supplement_cents` per mission done at peak hours."""

    min_missions: int
    amount_cents: int
    min_rating: float | None = None
    peak_supplement_cents: int = 0


@dataclass(frozen=True)
class MissionFact:
    completed_at: datetime
    payout_cents: int
    is_peak: bool = False
    worked_min: int = 0
    category: str = ""


def bonus_amount(rule: BonusRuleSpec, missions: Sequence[MissionFact], scores: Sequence[int]) -> int | None:
    """Return what `rule` awards for one period's missions and ratings, or None if unmet.

    With a rating condition, a period with no rating does not qualify (nothing to show).
    """
    if len(missions) < rule.min_missions:
        return None
    if rule.min_rating is not None and (not scores or sum(scores) / len(scores) < rule.min_rating):
        return None
    peaks = sum(1 for m in missions if m.is_peak)
    return rule.amount_cents + peaks * rule.peak_supplement_cents


class Verdict(StrEnum):
    insufficient = "insufficient"  # too few ratings to say anything
    ok = "ok"
    below_threshold = "below_threshold"  # recommends a retraining


@dataclass(frozen=True)
class ReputationPolicySpec:
    threshold: float = 3.5
    min_count: int = 5
    window: int = 50


@dataclass(frozen=True)
class Reputation:
    rating_average: float | None
    rating_count: int
    window_count: int
    verdict: Verdict
    distribution: dict[int, int]


def reputation(scores_newest_first: Sequence[int], policy: ReputationPolicySpec) -> Reputation:
    """Aggregate revealed ratings: a rolling average over the last `window` ones.

    No verdict below `min_count` ratings (three ratings say nothing).
    """
    recent = list(scores_newest_first[: policy.window])
    distribution = {s: recent.count(s) for s in range(1, 6)}
    if not recent:
        return Reputation(None, 0, 0, Verdict.insufficient, distribution)
    average = round(sum(recent) / len(recent), 2)
    if len(recent) < policy.min_count:
        verdict = Verdict.insufficient
    elif average < policy.threshold:
        verdict = Verdict.below_threshold
    else:
        verdict = Verdict.ok
    return Reputation(average, len(scores_newest_first), len(recent), verdict, distribution)


class AbsenceReason(StrEnum):
    illness = "illness"
    care_of_relative = "care_of_relative"
    strike = "strike"


@dataclass(frozen=True)
class AbsenceFact:
    start_at: datetime
    end_at: datetime
    reason: AbsenceReason


@dataclass(frozen=True)
class Reliability:
    accepted: int
    missed: int
    excused: int
    rate: float | None


def reliability(accepted: int, missed_at: Sequence[datetime], absences: Sequence[AbsenceFact]) -> Reliability:
    """Share of offers taken; an offer missed during a declared excused absence never counts."""
    excused = sum(1 for at in missed_at if any(a.start_at <= at < a.end_at for a in absences))
    counted = len(missed_at) - excused
    total = accepted + counted
    rate = round(accepted / total, 4) if total else None
    return Reliability(accepted, counted, excused, rate)
