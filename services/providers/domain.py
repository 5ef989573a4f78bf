"""The provider's standing, pure: lifecycle transitions and qualification per category.

Nothing here knows about databases or HTTP. Use cases load facts (checks,
training completions, requirements, registry answer, earnings), ask this
module what they mean at a given instant, and persist the answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from shared.errors import Conflict, IllegalTransition


class ProviderStatus(StrEnum):
    applied = "applied"
    under_review = "under_review"
    approved = "approved"
    active = "active"
    suspended = "suspended"
    rejected = "rejected"
    offboarded = "offboarded"


class SuspensionKind(StrEnum):
    """Why a provider is suspended: a person decided it, or nothing is qualified any more."""

    decision = "decision"
    lapsed = "lapsed"


FINAL_STATUSES = frozenset({ProviderStatus.rejected, ProviderStatus.offboarded})
VETTED_STATUSES = frozenset({ProviderStatus.approved, ProviderStatus.active, ProviderStatus.suspended})


@dataclass(frozen=True)
class Standing:
    """Where a provider is in the lifecycle."""

    status: ProviderStatus
    suspension: SuspensionKind | None = None

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


def _refuse(standing: Standing, action: str) -> IllegalTransition:
    return IllegalTransition("provider", standing.status.value, action)


def start_review(standing: Standing) -> Standing:
    """Move an application into review."""
    if standing.status is not ProviderStatus.applied:
        raise _refuse(standing, "start the review of")
    return Standing(ProviderStatus.under_review)


def approve(standing: Standing) -> Standing:
    """Approve an application under review (qualification decides activation next)."""
    if standing.status is not ProviderStatus.under_review:
        raise _refuse(standing, "approve")
    return Standing(ProviderStatus.approved)


def reject(standing: Standing) -> Standing:
    """Reject an application (final)."""
    if standing.status not in (ProviderStatus.applied, ProviderStatus.under_review):
        raise _refuse(standing, "reject")
    return Standing(ProviderStatus.rejected)


def suspend(standing: Standing) -> Standing:
    """Suspend by a person's decision: from active, or on top of a lapse."""
    if standing.status is ProviderStatus.active or (
        standing.status is ProviderStatus.suspended and standing.suspension is SuspensionKind.lapsed
    ):
        return Standing(ProviderStatus.suspended, SuspensionKind.decision)
    raise _refuse(standing, "suspend")


def reinstate(standing: Standing, qualified: Sequence[str]) -> Standing:
    """Lift a decided suspension; needs at least one qualified category to be active again."""
    if standing.status is not ProviderStatus.suspended or standing.suspension is not SuspensionKind.decision:
        raise _refuse(standing, "reinstate")
    if not qualified:
        raise Conflict(
            "cannot reinstate a provider with no qualified category; see the qualifications to renew",
            extra={"current_state": standing.status.value},
        )
    return Standing(ProviderStatus.active)


def offboard(standing: Standing) -> Standing:
    """End the relationship with a vetted provider (final)."""
    if standing.status not in VETTED_STATUSES:
        raise _refuse(standing, "offboard")
    return Standing(ProviderStatus.offboarded)


def follow_qualifications(standing: Standing, qualified: Sequence[str]) -> Standing:
    """Return the standing the qualified categories imply (activation, lapse, recovery).

    Active means at least one qualified category: an approved provider becomes
    active when one is met; an active one with none left is suspended as
    `lapsed` (not a sanction: it lifts itself once something is renewed). A
    suspension decided by a person is never lifted here.
    """
    if standing.status is ProviderStatus.approved and qualified:
        return Standing(ProviderStatus.active)
    if standing.status is ProviderStatus.active and not qualified:
        return Standing(ProviderStatus.suspended, SuspensionKind.lapsed)
    if (
        standing.status is ProviderStatus.suspended
        and standing.suspension is SuspensionKind.lapsed
        and qualified
    ):
        return Standing(ProviderStatus.active)
    return standing


# --- qualification -------------------------------------------------------------------------


class CheckOutcome(StrEnum):
    passed = "passed"
    failed = "failed"


@dataclass(frozen=True)
class CheckFact:
    """One recorded vetting check (the latest per kind and category counts)."""

    kind: str
    outcome: CheckOutcome
    checked_at: datetime
    expires_at: datetime | None = None
    category: str | None = None


@dataclass(frozen=True)
class ModuleRequirement:
    module_id: str
    code: str
    title: str
    validity_days: int | None = None
    min_score: int | None = None


@dataclass(frozen=True)
class CompletionFact:
    module_id: str
    completed_at: datetime
    score: int | None = None


@dataclass(frozen=True)
class RetrainingFact:
    """A retraining ops confirmed for this provider, due by `due_at`."""

    module_id: str
    title: str
    assigned_at: datetime
    due_at: datetime


@dataclass(frozen=True)
class RegistryFact:
    """The company registry's answer (INSEE Sirene)."""

    status: str  # active | closed | unknown
    activity_code: str | None = None


@dataclass(frozen=True)
class CompliancePolicy:
    """What vetting requires; built from settings."""

    base_checks: tuple[str, ...] = ("identity", "right_to_work", "siret", "insurance")
    expiring_checks: tuple[str, ...] = ("insurance",)
    category_checks: Mapping[str, tuple[str, ...]] = field(
        default_factory=lambda: {"childcare": ("criminal_record",)}
    )
    urssaf_threshold_cents: int = 500_000
    urssaf_grace_days: int = 30
    registry_required: bool = False
    activity_codes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    renewal_notice_days: int = 30


@dataclass(frozen=True)
class MissingItem:
    """Something that blocks a category (or all of them when category is None)."""

    item: str
    reason: str
    action: str  # provide | renew | complete | wait
    category: str | None = None
    expired_at: datetime | None = None


@dataclass(frozen=True)
class Evaluation:
    """What a provider is qualified for at an instant, and what blocks the rest."""

    categories: tuple[str, ...]
    qualified: tuple[str, ...]
    missing: tuple[MissingItem, ...]
    notices: tuple[MissingItem, ...] = ()

    def blockers_of(self, category: str) -> list[MissingItem]:
        """Return the items that block `category`."""
        return [m for m in self.missing if m.category in (None, category)]

    @property
    def general_blockers(self) -> list[MissingItem]:
        """Return the items that block every category (vetting-level gaps)."""
        return [m for m in self.missing if m.category is None]


def latest_checks(checks: Iterable[CheckFact]) -> dict[tuple[str, str | None], CheckFact]:
    """Return the latest check per (kind, category)."""
    latest: dict[tuple[str, str | None], CheckFact] = {}
    for check in sorted(checks, key=lambda c: c.checked_at):
        latest[(check.kind, check.category)] = check
    return latest


def _check_gap(
    latest: Mapping[tuple[str, str | None], CheckFact],
    kind: str,
    category: str | None,
    now: datetime,
) -> MissingItem | None:
    check = latest.get((kind, category)) or (latest.get((kind, None)) if category else None)
    label = kind if category is None else f"{kind} ({category})"
    if check is None:
        return MissingItem(kind, f"no {label} check recorded", "provide", category)
    if check.outcome is CheckOutcome.failed:
        return MissingItem(kind, f"the {label} check failed", "provide", category)
    if check.expires_at is not None and check.expires_at <= now:
        return MissingItem(
            kind, f"the {label} document expired", "renew", category, expired_at=check.expires_at
        )
    return None


def _expiring_soon(
    latest: Mapping[tuple[str, str | None], CheckFact],
    kind: str,
    category: str | None,
    now: datetime,
    notice_days: int,
) -> MissingItem | None:
    check = latest.get((kind, category)) or (latest.get((kind, None)) if category else None)
    if check is None or check.outcome is not CheckOutcome.passed or check.expires_at is None:
        return None
    if now < check.expires_at <= now + timedelta(days=notice_days):
        day = check.expires_at.date().isoformat()
        return MissingItem(kind, f"the {kind} document expires on {day}: renew it", "renew", category)
    return None


def _module_gap(
    module: ModuleRequirement,
    completions: Sequence[CompletionFact],
    category: str,
    now: datetime,
) -> MissingItem | None:
    passed = [
        c
        for c in completions
        if c.module_id == module.module_id
        and (module.min_score is None or (c.score is not None and c.score >= module.min_score))
    ]
    if not passed:
        return MissingItem(
            f"training:{module.code}",
            f"training '{module.title}' not completed",
            "complete",
            category,
        )
    last = max(passed, key=lambda c: c.completed_at)
    if module.validity_days is not None:
        expires = last.completed_at + timedelta(days=module.validity_days)
        if expires <= now:
            return MissingItem(
                f"training:{module.code}",
                f"training '{module.title}' expired",
                "renew",
                category,
                expired_at=expires,
            )
    return None


def activity_code_covers(code: str, prefixes: Sequence[str]) -> bool:
    """Return whether a NAF activity code (e.g. 81.21Z) starts with one of the prefixes."""
    normal = code.replace(".", "").upper()
    return any(normal.startswith(p.replace(".", "").upper()) for p in prefixes)


def evaluate(
    *,
    categories: Sequence[str],
    checks: Sequence[CheckFact],
    requirements: Mapping[str, Sequence[ModuleRequirement]],
    completions: Sequence[CompletionFact],
    policy: CompliancePolicy,
    now: datetime,
    retrainings: Sequence[RetrainingFact] = (),
    registry: RegistryFact | None = None,
    cumulative_payout_cents: int = 0,
    urssaf_required_since: datetime | None = None,
) -> Evaluation:
    """Decide which categories the provider is qualified for at `now` and why the others are not.

    Each gap blocks only what it must: a base check (identity, insurance...) or
    the company registry blocks every category; a category check, a training
    module or an activity code that does not match blocks only its category.
    """
    latest = latest_checks(checks)
    missing: list[MissingItem] = []
    notices: list[MissingItem] = []
    for kind in policy.base_checks:
        gap = _check_gap(latest, kind, None, now)
        if gap is not None:
            missing.append(gap)
        soon = _expiring_soon(latest, kind, None, now, policy.renewal_notice_days)
        if soon is not None:
            notices.append(soon)
    if policy.registry_required:
        if registry is None:
            missing.append(MissingItem("company_registry", "the company registry was not checked", "wait"))
        elif registry.status != "active":
            missing.append(
                MissingItem(
                    "company_registry",
                    f"the company is {registry.status} in the registry (INSEE Sirene)",
                    "provide",
                )
            )
    if cumulative_payout_cents > policy.urssaf_threshold_cents:
        gap = _check_gap(latest, "urssaf_vigilance", None, now)
        soon = _expiring_soon(latest, "urssaf_vigilance", None, now, policy.renewal_notice_days)
        if soon is not None:
            notices.append(soon)
        if gap is not None:
            since = urssaf_required_since or now
            grace_end = since + timedelta(days=policy.urssaf_grace_days)
            if now >= grace_end:
                missing.append(gap)
            else:
                notices.append(
                    MissingItem(
                        gap.item,
                        "URSSAF certificate (attestation de vigilance) needed by "
                        f"{grace_end.date().isoformat()}",
                        gap.action,
                    )
                )
    for retraining in retrainings:
        done = any(
            c.module_id == retraining.module_id and c.completed_at >= retraining.assigned_at
            for c in completions
        )
        if done:
            continue
        item = MissingItem(
            f"retraining:{retraining.module_id}",
            f"retraining '{retraining.title}' due by {retraining.due_at.date().isoformat()}",
            "complete",
        )
        (missing if now >= retraining.due_at else notices).append(item)
    for category in categories:
        for kind in policy.category_checks.get(category, ()):
            gap = _check_gap(latest, kind, category, now)
            if gap is not None:
                missing.append(gap)
            soon = _expiring_soon(latest, kind, category, now, policy.renewal_notice_days)
            if soon is not None:
                notices.append(soon)
        for module in requirements.get(category, ()):
            gap = _module_gap(module, completions, category, now)
            if gap is not None:
                missing.append(gap)
        prefixes = policy.activity_codes.get(category)
        code = registry.activity_code if registry is not None else None
        if code and prefixes and not activity_code_covers(code, prefixes):
            missing.append(
                MissingItem(
                    "activity_code",
                    f"the company's activity code {code} does not cover {category}",
                    "provide",
                    category,
                )
            )
    general = any(m.category is None for m in missing)
    qualified = tuple(c for c in categories if not general and not any(m.category == c for m in missing))
    return Evaluation(tuple(categories), qualified, tuple(missing), tuple(notices))
