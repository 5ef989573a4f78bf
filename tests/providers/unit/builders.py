"""Plain builders for domain facts used across the providers tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from services.providers.domain import CheckFact, CheckOutcome, CompliancePolicy, ModuleRequirement

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def passed(
    kind: str, *, days_ago: int = 1, expires_in: int | None = None, category: str | None = None
) -> CheckFact:
    """Return a passed check recorded `days_ago`, expiring in `expires_in` days if given."""
    return CheckFact(
        kind=kind,
        outcome=CheckOutcome.passed,
        checked_at=NOW - timedelta(days=days_ago),
        expires_at=None if expires_in is None else NOW + timedelta(days=expires_in),
        category=category,
    )


def base_checks(**overrides: Any) -> list[CheckFact]:
    """Return the four base checks, all passed (insurance valid one year)."""
    checks = {
        "identity": passed("identity"),
        "right_to_work": passed("right_to_work"),
        "siret": passed("siret"),
        "insurance": passed("insurance", expires_in=365),
    }
    checks.update(overrides)
    return [c for c in checks.values() if c is not None]


def module(
    code: str = "hygiene", validity_days: int | None = 365, min_score: int | None = 60
) -> ModuleRequirement:
    return ModuleRequirement(
        module_id=f"m-{code}",
        code=code,
        title=code.title(),
        validity_days=validity_days,
        min_score=min_score,
    )


def policy(**overrides: Any) -> CompliancePolicy:
    return CompliancePolicy(**overrides)
