"""Protection of the provider, pure: turnover ceiling watch and economic dependency watch."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from shared.fairpay import round_cents


@dataclass(frozen=True)
class TurnoverWatch:
    year: int
    earned_cents: int
    ceiling_cents: int
    ratio: float
    alert: str  # none | approaching (>= first alert) | reached (>= 100%)
    alerts_at: tuple[float, ...]
    platform_obligations_apply: bool  # L7342-1: accident insurance and training contribution
    legal_threshold_cents: int
    training_contribution_cents: int


def turnover_watch(
    *,
    year: int,
    earned_cents: int,
    ceiling_cents: int,
    alert_ratios: tuple[float, ...] = (0.8, 1.0),
    legal_threshold_cents: int,
    training_contribution_rate: Decimal,
) -> TurnoverWatch:
    """Compare the year's platform earnings with the micro-entrepreneur turnover ceiling."""
    ratio = earned_cents / ceiling_cents if ceiling_cents > 0 else 0.0
    ordered = sorted(alert_ratios)
    alert = "none"
    if ordered and ratio >= ordered[-1]:
        alert = "reached"
    elif ordered and ratio >= ordered[0]:
        alert = "approaching"
    applies = earned_cents >= legal_threshold_cents
    contribution = round_cents(Decimal(earned_cents) * training_contribution_rate) if applies else 0
    return TurnoverWatch(
        year,
        earned_cents,
        ceiling_cents,
        round(ratio, 4),
        alert,
        tuple(ordered),
        applies,
        legal_threshold_cents,
        contribution,
    )


@dataclass(frozen=True)
class DependencyWatch:
    year: int
    platform_cents: int
    declared_turnover_cents: int | None
    platform_share: float | None
    is_dependent: bool
    week_worked_hours: float
    weekly_hours_target: float
    week_ratio: float | None
    is_over_target: bool


def dependency_watch(
    *,
    year: int,
    platform_cents: int,
    declared_turnover_cents: int | None,
    week_worked_min: int,
    weekly_hours_target: float,
    share_alert: float,
) -> DependencyWatch:
    """Share of the declared activity that comes from the platform; weekly hours vs target."""
    share: float | None = None
    if declared_turnover_cents:
        # Declared turnover can lag behind platform earnings: the share is at least what we paid.
        share = round(min(1.0, platform_cents / max(declared_turnover_cents, platform_cents)), 4)
    elif platform_cents > 0:
        share = 1.0 if declared_turnover_cents is not None else None
    hours = round(week_worked_min / 60, 2)
    week_ratio = round(hours / weekly_hours_target, 4) if weekly_hours_target > 0 else None
    return DependencyWatch(
        year,
        platform_cents,
        declared_turnover_cents,
        share,
        share is not None and share >= share_alert,
        hours,
        weekly_hours_target,
        week_ratio,
        week_ratio is not None and week_ratio > 1.0,
    )
