"""The payout ledger's figures: monthly and annual statements, contributions, obligations.

Periods are Europe/Paris calendar months and years (a line belongs to the local
date of its event). Rounding: contributions and the operator's obligations are
rates of a total, rounded half-up to the cent once per statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from services.pricing.domain.money import Cents, apply_rate, half_up
from services.pricing.domain.quote import PARIS


class EntryKind(StrEnum):
    mission = "mission"
    cancellation = "cancellation"
    bonus = "bonus"
    travel_supplement = "travel_supplement"


@dataclass(frozen=True)
class LedgerEntry:
    """One append-only line: what the operator owes a provider, and why."""

    id: str
    provider_id: str
    kind: EntryKind
    amount_cents: Cents
    gross_cents: Cents
    commission_cents: Cents
    occurred_at: datetime
    order_id: str | None = None
    mission_id: str | None = None
    reference: str | None = None
    description: str = ""

    @property
    def local_date(self) -> str:
        return self.occurred_at.astimezone(PARIS).date().isoformat()


@dataclass(frozen=True)
class StatementRules:
    """Settings the statements use (DOMAIN.md defaults)."""

    contribution_rate: Decimal = Decimal("0.212")
    annual_social_security_ceiling_cents: Cents = 4_806_000
    obligation_threshold_share: Decimal = Decimal("0.13")
    training_contribution_rate: Decimal = Decimal("0.002")
    accident_insurance_rate: Decimal = Decimal("0.0105")

    @property
    def obligation_threshold_cents(self) -> Cents:
        return apply_rate(self.annual_social_security_ceiling_cents, self.obligation_threshold_share)


def month_of(at: datetime) -> str:
    """Return the Europe/Paris month `YYYY-MM` of an instant."""
    return at.astimezone(PARIS).strftime("%Y-%m")


def year_of(at: datetime) -> int:
    return at.astimezone(PARIS).year


def quarter_of(at: datetime) -> int:
    return (at.astimezone(PARIS).month - 1) // 3 + 1


@dataclass(frozen=True)
class Totals:
    """Sums over ledger lines, DAC7 figures included."""

    payout_cents: Cents
    gross_cents: Cents
    commission_cents: Cents
    missions: int
    by_kind: dict[str, Cents]
    contributions_cents: Cents
    net_after_contributions_cents: Cents

    def to_dict(self) -> dict[str, Any]:
        return {
            "payout_cents": self.payout_cents,
            "gross_cents": self.gross_cents,
            "commission_cents": self.commission_cents,
            "missions": self.missions,
            "by_kind": dict(self.by_kind),
            "contributions_cents": self.contributions_cents,
            "net_after_contributions_cents": self.net_after_contributions_cents,
        }


def totals_of(entries: Sequence[LedgerEntry], rules: StatementRules) -> Totals:
    """Sum ledger lines; contributions are the configured rate of all payouts (half-up)."""
    payout = sum(e.amount_cents for e in entries)
    by_kind = {k.value: sum(e.amount_cents for e in entries if e.kind is k) for k in EntryKind}
    contributions = apply_rate(payout, rules.contribution_rate)
    return Totals(
        payout_cents=payout,
        gross_cents=sum(e.gross_cents for e in entries),
        commission_cents=sum(e.commission_cents for e in entries),
        missions=sum(1 for e in entries if e.kind is EntryKind.mission),
        by_kind=by_kind,
        contributions_cents=contributions,
        net_after_contributions_cents=payout - contributions,
    )


@dataclass(frozen=True)
class Obligations:
    """What the operator owes a provider past the earnings threshold (L7342-1 and following)."""

    year: int
    earnings_cents: Cents
    threshold_cents: Cents
    is_threshold_reached: bool
    accident_insurance_cents: Cents
    training_contribution_cents: Cents

    def to_dict(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "earnings_cents": self.earnings_cents,
            "threshold_cents": self.threshold_cents,
            "threshold_reached": self.is_threshold_reached,
            "accident_insurance_reimbursement_cents": self.accident_insurance_cents,
            "training_contribution_cents": self.training_contribution_cents,
        }


def obligations_for(year: int, earnings_cents: Cents, rules: StatementRules) -> Obligations:
    """Return the operator's obligations for a provider's earnings of the year so far."""
    threshold = rules.obligation_threshold_cents
    reached = earnings_cents >= threshold
    return Obligations(
        year=year,
        earnings_cents=earnings_cents,
        threshold_cents=threshold,
        is_threshold_reached=reached,
        accident_insurance_cents=apply_rate(earnings_cents, rules.accident_insurance_rate) if reached else 0,
        training_contribution_cents=(
            apply_rate(earnings_cents, rules.training_contribution_rate) if reached else 0
        ),
    )


def entry_dict(e: LedgerEntry, rules: StatementRules) -> dict[str, Any]:
    return {
        "id": e.id,
        "date": e.local_date,
        "occurred_at": e.occurred_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "kind": e.kind.value,
        "amount_cents": e.amount_cents,
        "gross_cents": e.gross_cents,
        "commission_cents": e.commission_cents,
        "contributions_cents": half_up(Decimal(e.amount_cents) * rules.contribution_rate),
        "order_id": e.order_id,
        "mission_id": e.mission_id,
        "description": e.description,
    }


def monthly_statement(
    provider_id: str,
    period: str,
    entries: Sequence[LedgerEntry],
    year_entries: Sequence[LedgerEntry],
    rules: StatementRules,
) -> dict[str, Any]:
    """Return a provider's statement for month `period` (YYYY-MM) as plain data."""
    month = [e for e in entries if month_of(e.occurred_at) == period]
    year = int(period[:4])
    to_date = [
        e for e in year_entries if year_of(e.occurred_at) == year and month_of(e.occurred_at) <= period
    ]
    ytd = sum(e.amount_cents for e in to_date)
    return {
        "kind": "monthly",
        "provider_id": provider_id,
        "period": period,
        "currency": "EUR",
        "contribution_rate": str(rules.contribution_rate),
        "entries": [entry_dict(e, rules) for e in sorted(month, key=lambda e: e.occurred_at)],
        "totals": totals_of(month, rules).to_dict(),
        "year_to_date_cents": ytd,
        "obligations": obligations_for(year, ytd, rules).to_dict(),
    }


def annual_statement(
    provider_id: str, year: int, entries: Sequence[LedgerEntry], rules: StatementRules
) -> dict[str, Any]:
    """Return a provider's annual income statement with the DAC7 figures, per quarter too."""
    mine = [e for e in entries if year_of(e.occurred_at) == year]
    totals = totals_of(mine, rules)
    quarters = []
    for q in (1, 2, 3, 4):
        part = totals_of([e for e in mine if quarter_of(e.occurred_at) == q], rules)
        quarters.append(
            {
                "quarter": q,
                "consideration_cents": part.payout_cents,
                "fees_cents": part.commission_cents,
                "activities": part.missions,
            }
        )
    months = []
    for m in range(1, 13):
        period = f"{year}-{m:02d}"
        part = totals_of([e for e in mine if month_of(e.occurred_at) == period], rules)
        months.append({"period": period, **part.to_dict()})
    return {
        "kind": "annual",
        "provider_id": provider_id,
        "year": year,
        "currency": "EUR",
        "contribution_rate": str(rules.contribution_rate),
        "dac7": {
            "consideration_cents": totals.payout_cents,
            "fees_cents": totals.commission_cents,
            "activities": totals.missions,
            "quarters": quarters,
        },
        "totals": totals.to_dict(),
        "months": months,
        "obligations": obligations_for(year, totals.payout_cents, rules).to_dict(),
    }
