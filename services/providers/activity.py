"""Use cases fed by missions and ratings: counters, bonuses, reputation, watches, record export."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from services.providers import models as m
from services.providers.domain import ProviderStatus
from services.providers.record_pdf import render_record_pdf
from services.providers.repository import ProviderRepository
from services.providers.retention import (
    PARIS,
    AbsenceFact,
    AbsenceReason,
    BonusRuleSpec,
    MissionFact,
    Reliability,
    Reputation,
    ReputationPolicySpec,
    Verdict,
    bonus_amount,
    period_of,
    reliability,
    reputation,
)
from services.providers.service import (
    Context,
    load_own,
    read_only,
    reevaluate,
    standing_of,
)
from services.providers.signing import ALGORITHM, RecordSigner, canonical_json
from services.providers.vetting import record_decision
from services.providers.watch import DependencyWatch, TurnoverWatch, dependency_watch, turnover_watch
from shared.auth import Principal
from shared.db import UnitOfWork
from shared.errors import IllegalTransition, Invalid, NotFound
from shared.events.envelope import Envelope
from shared.events.matching import MissionAccepted, MissionCompleted, MissionDeclined, MissionExpired
from shared.events.orders import RatingRevealed
from shared.events.providers import BonusAwarded, ReputationChanged
from shared.ids import new_id


def period_bounds(period: str) -> tuple[datetime, datetime]:
    """Return the UTC instants a Paris calendar month YYYY-MM starts and ends."""
    year, month = (int(p) for p in period.split("-"))
    start = datetime(year, month, 1, tzinfo=PARIS)
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=PARIS)
    return start.astimezone(UTC), end.astimezone(UTC)


def year_bounds(year: int) -> tuple[datetime, datetime]:
    return (
        datetime(year, 1, 1, tzinfo=PARIS).astimezone(UTC),
        datetime(year + 1, 1, 1, tzinfo=PARIS).astimezone(UTC),
    )


async def reputation_policy(repo: ProviderRepository, ctx: Context) -> ReputationPolicySpec:
    row = await repo.reputation_policy()
    if row is None:
        s = ctx.settings
        return ReputationPolicySpec(s.reputation_threshold, s.reputation_min_count, s.reputation_window)
    return ReputationPolicySpec(row.threshold, row.min_count, row.window)


# --- bonuses --------------------------------------------------------------------------------


async def evaluate_bonuses(
    uow: UnitOfWork, repo: ProviderRepository, provider_id: str, period: str, now: datetime
) -> list[m.BonusAward]:
    """Award every active rule met in `period` not yet awarded (at most once per rule, provider, period)."""
    start, end = period_bounds(period)
    missions = [
        MissionFact(r.completed_at, r.payout_cents, r.is_peak, r.worked_min, r.category)
        for r in await repo.missions(provider_id, start, end)
    ]
    scores = [r.score for r in await repo.ratings(provider_id, start, end)]
    awards = []
    for rule in await repo.bonus_rules(active_only=True):
        if await repo.award(rule.id, provider_id, period) is not None:
            continue
        spec = BonusRuleSpec(
            rule.min_missions, rule.amount_cents, rule.min_rating, rule.peak_supplement_cents
        )
        amount = bonus_amount(spec, missions, scores)
        if amount is None:
            continue
        award = m.BonusAward(
            id=new_id(),
            rule_id=rule.id,
            provider_id=provider_id,
            period=period,
            amount_cents=amount,
            awarded_at=now,
        )
        repo.add(award)
        uow.add_event(
            BonusAwarded(
                provider_id=provider_id,
                award_id=award.id,
                rule_id=rule.id,
                period=period,
                amount_cents=amount,
            )
        )
        awards.append(award)
    return awards


@dataclass(frozen=True)
class BonusRuleData:
    name: str
    min_missions: int
    amount_cents: int
    min_rating: float | None = None
    peak_supplement_cents: int = 0


async def create_bonus_rule(ctx: Context, ops: Principal, data: BonusRuleData) -> m.BonusRule:
    """Publish a bonus rule (ops)."""
    async with ctx.database.unit_of_work() as uow:
        repo = ProviderRepository(uow.session)
        now = ctx.clock()
        rule = m.BonusRule(
            id=new_id(),
            name=data.name,
            min_missions=data.min_missions,
            min_rating=data.min_rating,
            amount_cents=data.amount_cents,
            peak_supplement_cents=data.peak_supplement_cents,
            is_active=True,
            created_by=ops.subject,
            created_at=now,
        )
        repo.add(rule)
        repo.audit(now, ops.subject, "bonus_rule_created", details={"rule_id": rule.id, "name": data.name})
        await uow.commit()
    return rule


async def set_bonus_rule_active(ctx: Context, ops: Principal, rule_id: str, is_active: bool) -> m.BonusRule:
    """Switch a bonus rule on or off (ops); past awards stay."""
    async with ctx.database.unit_of_work() as uow:
        repo = ProviderRepository(uow.session)
        rule = await repo.bonus_rule(rule_id)
        if rule is None:
            raise NotFound("bonus rule not found")
        now = ctx.clock()
        rule.is_active = is_active
        repo.audit(
            now, ops.subject, "bonus_rule_changed", details={"rule_id": rule.id, "is_active": is_active}
        )
        await uow.commit()
    return rule


async def list_bonus_rules(ctx: Context) -> Sequence[m.BonusRule]:
    """Return the published bonus rules."""
    async with read_only(ctx.database) as uow:
        return await ProviderRepository(uow.session).bonus_rules()


async def list_awards(ctx: Context, principal: Principal, provider_id: str) -> Sequence[m.BonusAward]:
    """Return the bonuses awarded to a provider."""
    async with read_only(ctx.database) as uow:
        repo = ProviderRepository(uow.session)
        provider = await load_own(repo, principal, provider_id)
        return await repo.awards(provider.id)


# --- event handlers (called by handlers.py inside the inbox's transaction) -----------------


async def on_mission_completed(ctx: Context, uow: UnitOfWork, event: MissionCompleted) -> None:
    """Count a completed mission: counters, URSSAF threshold, bonuses of its month."""
    repo = ProviderRepository(uow.session)
    if await repo.mission(event.mission_id) is not None:
        return  # the same mission under another event id: counted once
    now = ctx.clock()
    before = await repo.cumulative_payout_cents(event.provider_id)
    completed_at = event.completed_at if event.completed_at.tzinfo else event.completed_at.replace(tzinfo=UTC)
    repo.add(
        m.MissionRecord(
            mission_id=event.mission_id,
            provider_id=event.provider_id,
            order_id=event.order_id,
            category=event.category,
            payout_cents=event.payout_cents,
            travel_supplement_cents=event.travel_supplement_cents,
            worked_min=event.worked_min,
            is_peak=event.is_peak,
            completed_at=completed_at,
        )
    )
    await repo.flush()
    provider = await repo.get(event.provider_id)
    if provider is None:
        return
    after = before + event.payout_cents + event.travel_supplement_cents
    threshold = ctx.settings.urssaf_threshold_cents
    if before <= threshold < after and provider.urssaf_required_since is None:
        provider.urssaf_required_since = now
    await evaluate_bonuses(uow, repo, provider.id, period_of(completed_at), now)


async def on_rating_revealed(
    ctx: Context, uow: UnitOfWork, event: RatingRevealed, envelope: Envelope
) -> None:
    """Add a client's rating of a provider to their reputation; recommend retraining if low."""
    if event.rater_role != "client":
        return  # a provider's rating of a client says nothing about the provider
    repo = ProviderRepository(uow.session)
    if await repo.rating(event.rating_id) is not None:
        return
    now = ctx.clock()
    revealed_at = envelope.occurred_at
    repo.add(
        m.RatingRecord(
            rating_id=event.rating_id,
            provider_id=event.provider_id,
            order_id=event.order_id,
            score=event.score,
            comment=event.comment,
            revealed_at=revealed_at,
        )
    )
    await repo.flush()
    provider = await repo.get(event.provider_id)
    if provider is None:
        return
    rep = reputation([r.score for r in await repo.ratings(provider.id)], await reputation_policy(repo, ctx))
    uow.add_event(
        ReputationChanged(
            provider_id=provider.id, rating_average=rep.rating_average, rating_count=rep.rating_count
        )
    )
    if rep.verdict is Verdict.below_threshold:
        open_ = [
            r
            for r in await repo.recommendations(provider.id)
            if r.kind == "retraining" and r.status == "open"
        ]
        if not open_:
            policy = await reputation_policy(repo, ctx)
            repo.add(
                m.Recommendation(
                    id=new_id(),
                    provider_id=provider.id,
                    kind="retraining",
                    status="open",
                    created_at=now,
                    reason=(
                        f"rolling average {rep.rating_average} over the last {rep.window_count} ratings "
                        f"is below {policy.threshold}"
                    ),
                )
            )
    await evaluate_bonuses(uow, repo, provider.id, period_of(revealed_at), now)


async def on_offer_outcome(
    uow: UnitOfWork, event: MissionAccepted | MissionDeclined | MissionExpired, outcome: str, at: datetime
) -> None:
    """Remember whether an offer was taken or let pass (reliability)."""
    repo = ProviderRepository(uow.session)
    if await repo.offer_outcome(event.offer_id) is not None:
        return
    repo.add(m.OfferOutcome(offer_id=event.offer_id, provider_id=event.provider_id, outcome=outcome, at=at))


# --- reputation -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ReputationView:
    reputation: Reputation
    reliability: Reliability
    policy: ReputationPolicySpec


async def get_reputation(ctx: Context, principal: Principal, provider_id: str) -> ReputationView:
    """Return what the provider's rating is made of, and their reliability with excused absences."""
    async with ctx.database.unit_of_work() as uow:
        repo = ProviderRepository(uow.session)
        provider = await load_own(repo, principal, provider_id)
        policy = await reputation_policy(repo, ctx)
        rep = reputation([r.score for r in await repo.ratings(provider.id)], policy)
        outcomes = await repo.offer_outcomes(provider.id)
        absences = [
            AbsenceFact(a.start_at, a.end_at, AbsenceReason(a.reason))
            for a in await repo.absences(provider.id)
        ]
        rel = reliability(
            sum(1 for o in outcomes if o.outcome == "accepted"),
            [o.at for o in outcomes if o.outcome != "accepted"],
            absences,
        )
        return ReputationView(rep, rel, policy)


async def set_reputation_policy(
    ctx: Context, ops: Principal, threshold: float, min_count: int, window: int
) -> ReputationPolicySpec:
    """Set the reputation threshold below which retraining is recommended (ops)."""
    if window < min_count:
        raise Invalid("the window must hold at least min_count ratings", field="window")
    async with ctx.database.unit_of_work() as uow:
        repo = ProviderRepository(uow.session)
        now = ctx.clock()
        row = await repo.reputation_policy()
        if row is None:
            row = m.ReputationPolicy(
                id=1,
                threshold=threshold,
                min_count=min_count,
                window=window,
                updated_by=ops.subject,
                updated_at=now,
            )
            repo.add(row)
        else:
            row.threshold, row.min_count, row.window = threshold, min_count, window
            row.updated_by, row.updated_at = ops.subject, now
        repo.audit(
            now,
            ops.subject,
            "reputation_policy_changed",
            details={"threshold": threshold, "min_count": min_count, "window": window},
        )
        await uow.commit()
    return ReputationPolicySpec(threshold, min_count, window)


async def get_reputation_policy(ctx: Context) -> ReputationPolicySpec:
    """Return the reputation policy in force."""
    async with ctx.database.unit_of_work() as uow:
        return await reputation_policy(ProviderRepository(uow.session), ctx)


async def declare_absence(
    ctx: Context,
    principal: Principal,
    provider_id: str,
    start_at: datetime,
    end_at: datetime,
    reason: AbsenceReason,
) -> m.Absence:
    """Declare an excused absence; offers missed during it never count against reliability."""
    if end_at <= start_at:
        raise Invalid("an absence must end after it starts", field="end_at")
    if end_at - start_at > timedelta(days=366):
        raise Invalid("an absence cannot last more than a year", field="end_at")
    async with ctx.database.unit_of_work() as uow:
        repo = ProviderRepository(uow.session)
        provider = await load_own(repo, principal, provider_id)
        now = ctx.clock()
        absence = m.Absence(
            id=new_id(),
            provider_id=provider.id,
            start_at=start_at,
            end_at=end_at,
            reason=reason.value,
            declared_at=now,
        )
        repo.add(absence)
        await uow.commit()
    return absence


async def list_absences(ctx: Context, principal: Principal, provider_id: str) -> Sequence[m.Absence]:
    """Return the provider's declared absences."""
    async with read_only(ctx.database) as uow:
        repo = ProviderRepository(uow.session)
        provider = await load_own(repo, principal, provider_id)
        return await repo.absences(provider.id)


async def list_recommendations(
    ctx: Context, principal: Principal, provider_id: str
) -> Sequence[m.Recommendation]:
    """Return what the system recommended about the provider, and what people decided."""
    async with read_only(ctx.database) as uow:
        repo = ProviderRepository(uow.session)
        provider = await load_own(repo, principal, provider_id)
        return await repo.recommendations(provider.id)


async def list_open_recommendations(ctx: Context) -> Sequence[m.Recommendation]:
    """Return every recommendation waiting for a person's decision (ops)."""
    async with read_only(ctx.database) as uow:
        return await ProviderRepository(uow.session).open_recommendations()


async def decide_recommendation(
    ctx: Context,
    ops: Principal,
    provider_id: str,
    recommendation_id: str,
    *,
    confirm: bool,
    reason: str,
    module_id: str | None = None,
    due_days: int | None = None,
) -> m.Recommendation:
    """Confirm (assigning a retraining module) or dismiss a recommendation; a person decides."""
    async with ctx.database.unit_of_work() as uow:
        repo = ProviderRepository(uow.session)
        provider = await repo.get(provider_id, for_update=True)
        recommendation = await repo.recommendation(recommendation_id)
        if provider is None or recommendation is None or recommendation.provider_id != provider.id:
            raise NotFound("recommendation not found")
        if recommendation.status != "open":
            raise IllegalTransition("recommendation", recommendation.status, "decide")
        now = ctx.clock()
        recommendation.status = "confirmed" if confirm else "dismissed"
        recommendation.decided_by, recommendation.decided_at = ops.subject, now
        if confirm:
            if module_id is None or await repo.module(module_id) is None:
                raise Invalid("name the retraining module to assign", field="module_id")
            due = now + timedelta(days=due_days or ctx.settings.retraining_due_days)
            repo.add(
                m.Retraining(
                    id=new_id(),
                    provider_id=provider.id,
                    module_id=module_id,
                    reason=reason,
                    assigned_by=ops.subject,
                    assigned_at=now,
                    due_at=due,
                )
            )
            before = standing_of(provider)
            record_decision(repo, provider, "retraining", reason, ops, before, now)
            await repo.flush()
            await reevaluate(uow, repo, ctx, provider, "retraining assigned", now)
        else:
            repo.audit(
                now,
                ops.subject,
                "recommendation_dismissed",
                provider_id=provider.id,
                reason=reason,
                details={"recommendation_id": recommendation.id},
            )
        await uow.commit()
    return recommendation


# --- watches --------------------------------------------------------------------------------


async def get_turnover_watch(
    ctx: Context, principal: Principal, provider_id: str, year: int | None
) -> TurnoverWatch:
    """Compare the year's platform earnings with the turnover ceiling (alerts at 80% and 100%)."""
    async with ctx.database.unit_of_work() as uow:
        repo = ProviderRepository(uow.session)
        provider = await load_own(repo, principal, provider_id)
        year = year or ctx.clock().astimezone(PARIS).year
        start, end = year_bounds(year)
        earned = await _earned(repo, provider.id, start, end)
        s = ctx.settings
        return turnover_watch(
            year=year,
            earned_cents=earned,
            ceiling_cents=s.turnover_ceiling_cents,
            alert_ratios=tuple(s.turnover_alert_ratios),
            legal_threshold_cents=s.legal_threshold_cents,
            training_contribution_rate=s.training_contribution_rate,
        )


async def _earned(repo: ProviderRepository, provider_id: str, start: datetime, end: datetime) -> int:
    missions = await repo.missions(provider_id, start, end)
    bonuses = [a for a in await repo.awards(provider_id) if start <= period_bounds(a.period)[0] < end]
    return sum(r.payout_cents + r.travel_supplement_cents for r in missions) + sum(
        a.amount_cents for a in bonuses
    )


async def get_dependency_watch(ctx: Context, principal: Principal, provider_id: str) -> DependencyWatch:
    """Share of the provider's declared activity from the platform; this week's hours vs target."""
    async with ctx.database.unit_of_work() as uow:
        repo = ProviderRepository(uow.session)
        provider = await load_own(repo, principal, provider_id)
        now = ctx.clock()
        local = now.astimezone(PARIS)
        start, end = year_bounds(local.year)
        week_start = datetime(local.year, local.month, local.day, tzinfo=PARIS) - timedelta(
            days=local.weekday()
        )
        week = await repo.missions(provider.id, week_start.astimezone(UTC), None)
        declared = await repo.declared_activity(provider.id, local.year)
        return dependency_watch(
            year=local.year,
            platform_cents=await _earned(repo, provider.id, start, end),
            declared_turnover_cents=declared.turnover_cents if declared else None,
            week_worked_min=sum(r.worked_min for r in week),
            weekly_hours_target=provider.weekly_hours_target,
            share_alert=ctx.settings.dependency_share_alert,
        )


async def declare_activity(
    ctx: Context, principal: Principal, provider_id: str, year: int, turnover_cents: int
) -> None:
    """Record the provider's declared total turnover of a year (all clients, not only us)."""
    async with ctx.database.unit_of_work() as uow:
        repo = ProviderRepository(uow.session)
        provider = await load_own(repo, principal, provider_id)
        now = ctx.clock()
        row = await repo.declared_activity(provider.id, year)
        if row is None:
            repo.add(
                m.DeclaredActivity(
                    provider_id=provider.id, year=year, turnover_cents=turnover_cents, declared_at=now
                )
            )
        else:
            row.turnover_cents, row.declared_at = turnover_cents, now
        await uow.commit()


async def list_watch(ctx: Context) -> list[tuple[m.Provider, TurnoverWatch]]:
    """Return every vetted provider's turnover watch of the current year (ops)."""
    async with read_only(ctx.database) as uow:
        repo = ProviderRepository(uow.session)
        year = ctx.clock().astimezone(PARIS).year
        start, end = year_bounds(year)
        s = ctx.settings
        result = []
        statuses = [
            ProviderStatus.approved.value,
            ProviderStatus.active.value,
            ProviderStatus.suspended.value,
        ]
        for provider in await repo.list_providers(statuses):
            earned = await _earned(repo, provider.id, start, end)
            result.append(
                (
                    provider,
                    turnover_watch(
                        year=year,
                        earned_cents=earned,
                        ceiling_cents=s.turnover_ceiling_cents,
                        alert_ratios=tuple(s.turnover_alert_ratios),
                        legal_threshold_cents=s.legal_threshold_cents,
                        training_contribution_rate=s.training_contribution_rate,
                    ),
                )
            )
        return result


# --- the record the provider owns -----------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


async def build_record(ctx: Context, principal: Principal, provider_id: str) -> dict[str, Any]:
    """Assemble the provider's portable record: missions by category, ratings, trainings, checks."""
    async with ctx.database.unit_of_work() as uow:
        repo = ProviderRepository(uow.session)
        provider = await load_own(repo, principal, provider_id)
        by_category: dict[str, dict[str, Any]] = {}
        missions = await repo.missions(provider.id)
        for r in missions:
            entry = by_category.setdefault(r.category, {"count": 0, "hours": 0.0})
            entry["count"] += 1
            entry["hours"] = round(entry["hours"] + r.worked_min / 60, 2)
        rep = reputation(
            [r.score for r in await repo.ratings(provider.id)], await reputation_policy(repo, ctx)
        )
        modules = {mod.id: mod for mod in await repo.modules()}
        trainings = [
            {
                "module": modules[c.module_id].code if c.module_id in modules else c.module_id,
                "title": modules[c.module_id].title if c.module_id in modules else c.module_id,
                "completed_at": _iso(c.completed_at),
                "score": c.score,
            }
            for c in await repo.completions(provider.id)
        ]
        checks = [
            {
                "kind": c.kind,
                "category": c.category,
                "outcome": c.outcome,
                "checked_at": _iso(c.checked_at),
                "expires_at": _iso(c.expires_at),
            }
            for c in await repo.checks(provider.id)
        ]
        return {
            "format": "coupdemain.provider-record/1",
            "issued_at": _iso(ctx.clock()),
            "provider": {
                "id": provider.id,
                "first_name": provider.first_name,
                "last_name": provider.last_name,
                "siret": provider.siret,
                "status": provider.status,
                "qualified_categories": list(provider.qualified),
                "active_since": _iso(provider.activated_at),
            },
            "missions": {"total": len(missions), "by_category": by_category},
            "ratings": {
                "average": rep.rating_average,
                "count": rep.rating_count,
                "distribution": {str(k): v for k, v in rep.distribution.items()},
            },
            "trainings": trainings,
            "checks": checks,
        }


def sign_record(signer: RecordSigner, record: dict[str, Any]) -> dict[str, Any]:
    """Wrap a record with the operator's signature over its canonical JSON."""
    return {
        "record": record,
        "signature": signer.sign(canonical_json(record)),
        "algorithm": ALGORITHM,
        "key_id": signer.key_id,
    }


def record_pdf(signer: RecordSigner, record: dict[str, Any]) -> tuple[bytes, str]:
    """Return the record as a PDF and the signature of the PDF's exact bytes."""
    pdf = render_record_pdf(record, signer.sign(canonical_json(record)), signer.key_id)
    return pdf, signer.sign(pdf)


def verify(
    signer: RecordSigner, signature: str, record: dict[str, Any] | None, document: bytes | None
) -> bool:
    """Say whether a record (JSON) or document (PDF bytes) carries the operator's signature."""
    if (record is None) == (document is None):
        raise Invalid("give either a record or a document", field="record")
    data = canonical_json(record) if record is not None else document
    assert data is not None
    return signer.verify(data, signature)
