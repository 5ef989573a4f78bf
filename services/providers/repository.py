"""Queries of the providers service; never commits (the use case's unit of work does)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.providers import models as m
from services.providers.domain import (
    CheckFact,
    CheckOutcome,
    CompletionFact,
    ModuleRequirement,
    RegistryFact,
    RetrainingFact,
)


class ProviderRepository:
    """Reads and writes the providers service's tables inside one session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: Any) -> None:
        self.session.add(row)

    async def flush(self) -> None:
        await self.session.flush()

    async def get(self, provider_id: str, *, for_update: bool = False) -> m.Provider | None:
        stmt = select(m.Provider).where(m.Provider.id == provider_id)
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.scalars(stmt)).one_or_none()

    async def existing_ids(self, provider_ids: Sequence[str]) -> set[str]:
        """Return which of `provider_ids` already exist."""
        if not provider_ids:
            return set()
        rows = await self.session.scalars(select(m.Provider.id).where(m.Provider.id.in_(provider_ids)))
        return set(rows)

    async def list_providers(
        self, statuses: Sequence[str] | None = None, *, for_update: bool = False
    ) -> Sequence[m.Provider]:
        stmt = select(m.Provider).order_by(m.Provider.applied_at, m.Provider.id)
        if statuses:
            stmt = stmt.where(m.Provider.status.in_(list(statuses)))
        if for_update:
            stmt = stmt.with_for_update()
        return (await self.session.scalars(stmt)).all()

    async def provider_ids(self, statuses: Sequence[str]) -> list[str]:
        stmt = select(m.Provider.id).where(m.Provider.status.in_(list(statuses))).order_by(m.Provider.id)
        return list((await self.session.scalars(stmt)).all())

    async def document(self, document_id: str) -> m.Document | None:
        return await self.session.get(m.Document, document_id)

    async def documents(
        self, provider_id: str | None = None, status: str | None = None
    ) -> Sequence[m.Document]:
        stmt = select(m.Document).order_by(m.Document.submitted_at)
        if provider_id is not None:
            stmt = stmt.where(m.Document.provider_id == provider_id)
        if status is not None:
            stmt = stmt.where(m.Document.status == status)
        return (await self.session.scalars(stmt)).all()

    async def checks(self, provider_id: str) -> Sequence[m.Check]:
        stmt = select(m.Check).where(m.Check.provider_id == provider_id).order_by(m.Check.checked_at)
        return (await self.session.scalars(stmt)).all()

    async def completions(self, provider_id: str) -> Sequence[m.TrainingCompletion]:
        stmt = (
            select(m.TrainingCompletion)
            .where(m.TrainingCompletion.provider_id == provider_id)
            .order_by(m.TrainingCompletion.completed_at)
        )
        return (await self.session.scalars(stmt)).all()

    async def retrainings(self, provider_id: str) -> Sequence[m.Retraining]:
        stmt = select(m.Retraining).where(m.Retraining.provider_id == provider_id)
        return (await self.session.scalars(stmt)).all()

    async def module(self, module_id: str) -> m.TrainingModule | None:
        return await self.session.get(m.TrainingModule, module_id)

    async def module_by_code(self, code: str) -> m.TrainingModule | None:
        stmt = select(m.TrainingModule).where(m.TrainingModule.code == code)
        return (await self.session.scalars(stmt)).one_or_none()

    async def modules(self) -> Sequence[m.TrainingModule]:
        return (await self.session.scalars(select(m.TrainingModule).order_by(m.TrainingModule.code))).all()

    async def requirement_rows(self, category: str | None = None) -> Sequence[m.CategoryRequirement]:
        stmt = select(m.CategoryRequirement)
        if category is not None:
            stmt = stmt.where(m.CategoryRequirement.category == category)
        return (await self.session.scalars(stmt)).all()

    async def requirements(self) -> dict[str, list[ModuleRequirement]]:
        """Return the required modules per category."""
        stmt = select(m.CategoryRequirement, m.TrainingModule).join(
            m.TrainingModule, m.TrainingModule.id == m.CategoryRequirement.module_id
        )
        result: dict[str, list[ModuleRequirement]] = {}
        for req, module in await self.session.execute(stmt):
            result.setdefault(req.category, []).append(
                ModuleRequirement(
                    module.id, module.code, module.title, module.validity_days, module.min_score
                )
            )
        return result

    async def delete_requirements(self, category: str) -> None:
        for row in await self.requirement_rows(category):
            await self.session.delete(row)

    async def facts(
        self, provider: m.Provider
    ) -> tuple[list[CheckFact], list[CompletionFact], list[RetrainingFact], RegistryFact | None]:
        """Return what qualification is decided from, as domain facts."""
        checks = [
            CheckFact(c.kind, CheckOutcome(c.outcome), c.checked_at, c.expires_at, c.category)
            for c in await self.checks(provider.id)
        ]
        completions = [
            CompletionFact(c.module_id, c.completed_at, c.score) for c in await self.completions(provider.id)
        ]
        retrainings = []
        for r in await self.retrainings(provider.id):
            module = await self.module(r.module_id)
            title = module.title if module else r.module_id
            retrainings.append(RetrainingFact(r.module_id, title, r.assigned_at, r.due_at))
        registry = (
            RegistryFact(provider.registry_status, provider.registry_activity_code)
            if provider.registry_status
            else None
        )
        return checks, completions, retrainings, registry

    async def cumulative_payout_cents(self, provider_id: str, since: datetime | None = None) -> int:
        stmt = select(
            func.coalesce(func.sum(m.MissionRecord.payout_cents + m.MissionRecord.travel_supplement_cents), 0)
        ).where(m.MissionRecord.provider_id == provider_id)
        if since is not None:
            stmt = stmt.where(m.MissionRecord.completed_at >= since)
        return int(await self.session.scalar(stmt) or 0)

    async def missions(
        self, provider_id: str, start: datetime | None = None, end: datetime | None = None
    ) -> Sequence[m.MissionRecord]:
        stmt = select(m.MissionRecord).where(m.MissionRecord.provider_id == provider_id)
        if start is not None:
            stmt = stmt.where(m.MissionRecord.completed_at >= start)
        if end is not None:
            stmt = stmt.where(m.MissionRecord.completed_at < end)
        return (await self.session.scalars(stmt.order_by(m.MissionRecord.completed_at))).all()

    async def mission(self, mission_id: str) -> m.MissionRecord | None:
        return await self.session.get(m.MissionRecord, mission_id)

    async def rating(self, rating_id: str) -> m.RatingRecord | None:
        return await self.session.get(m.RatingRecord, rating_id)

    async def ratings(
        self, provider_id: str, start: datetime | None = None, end: datetime | None = None
    ) -> Sequence[m.RatingRecord]:
        stmt = select(m.RatingRecord).where(m.RatingRecord.provider_id == provider_id)
        if start is not None:
            stmt = stmt.where(m.RatingRecord.revealed_at >= start)
        if end is not None:
            stmt = stmt.where(m.RatingRecord.revealed_at < end)
        stmt = stmt.order_by(m.RatingRecord.revealed_at.desc(), m.RatingRecord.rating_id.desc())
        return (await self.session.scalars(stmt)).all()

    async def offer_outcome(self, offer_id: str) -> m.OfferOutcome | None:
        return await self.session.get(m.OfferOutcome, offer_id)

    async def offer_outcomes(self, provider_id: str) -> Sequence[m.OfferOutcome]:
        stmt = select(m.OfferOutcome).where(m.OfferOutcome.provider_id == provider_id)
        return (await self.session.scalars(stmt)).all()

    async def absences(self, provider_id: str) -> Sequence[m.Absence]:
        stmt = select(m.Absence).where(m.Absence.provider_id == provider_id).order_by(m.Absence.start_at)
        return (await self.session.scalars(stmt)).all()

    async def declared_activity(self, provider_id: str, year: int) -> m.DeclaredActivity | None:
        return await self.session.get(m.DeclaredActivity, (provider_id, year))

    async def bonus_rules(self, *, active_only: bool = False) -> Sequence[m.BonusRule]:
        stmt = select(m.BonusRule).order_by(m.BonusRule.created_at)
        if active_only:
            stmt = stmt.where(m.BonusRule.is_active.is_(True))
        return (await self.session.scalars(stmt)).all()

    async def bonus_rule(self, rule_id: str) -> m.BonusRule | None:
        return await self.session.get(m.BonusRule, rule_id)

    async def award(self, rule_id: str, provider_id: str, period: str) -> m.BonusAward | None:
        stmt = select(m.BonusAward).where(
            m.BonusAward.rule_id == rule_id,
            m.BonusAward.provider_id == provider_id,
            m.BonusAward.period == period,
        )
        return (await self.session.scalars(stmt)).one_or_none()

    async def awards(self, provider_id: str) -> Sequence[m.BonusAward]:
        stmt = (
            select(m.BonusAward)
            .where(m.BonusAward.provider_id == provider_id)
            .order_by(m.BonusAward.awarded_at)
        )
        return (await self.session.scalars(stmt)).all()

    async def decisions(self, provider_id: str) -> Sequence[m.Decision]:
        stmt = select(m.Decision).where(m.Decision.provider_id == provider_id).order_by(m.Decision.decided_at)
        return (await self.session.scalars(stmt)).all()

    async def decision(self, decision_id: str) -> m.Decision | None:
        return await self.session.get(m.Decision, decision_id)

    async def reviews(self, provider_id: str | None = None) -> Sequence[m.ReviewRequest]:
        stmt = select(m.ReviewRequest).order_by(m.ReviewRequest.due_at)
        if provider_id is not None:
            stmt = stmt.where(m.ReviewRequest.provider_id == provider_id)
        return (await self.session.scalars(stmt)).all()

    async def review(self, review_id: str) -> m.ReviewRequest | None:
        return await self.session.get(m.ReviewRequest, review_id)

    async def recommendations(self, provider_id: str) -> Sequence[m.Recommendation]:
        stmt = (
            select(m.Recommendation)
            .where(m.Recommendation.provider_id == provider_id)
            .order_by(m.Recommendation.created_at)
        )
        return (await self.session.scalars(stmt)).all()

    async def open_recommendations(self) -> Sequence[m.Recommendation]:
        stmt = (
            select(m.Recommendation)
            .where(m.Recommendation.status == "open")
            .order_by(m.Recommendation.created_at)
        )
        return (await self.session.scalars(stmt)).all()

    async def recommendation(self, recommendation_id: str) -> m.Recommendation | None:
        return await self.session.get(m.Recommendation, recommendation_id)

    async def reputation_policy(self) -> m.ReputationPolicy | None:
        return await self.session.get(m.ReputationPolicy, 1)

    def audit(
        self,
        at: datetime,
        actor: str,
        action: str,
        *,
        provider_id: str | None = None,
        reason: str = "",
        details: dict[str, Any] | None = None,
    ) -> None:
        """Append one entry to the audit log (there is no update or delete)."""
        self.session.add(
            m.AuditEntry(
                at=at,
                actor=actor,
                action=action,
                provider_id=provider_id,
                reason=reason,
                details=details or {},
            )
        )

    async def audit_entries(self, provider_id: str | None = None, limit: int = 500) -> Sequence[m.AuditEntry]:
        stmt = select(m.AuditEntry).order_by(m.AuditEntry.id.desc()).limit(limit)
        if provider_id is not None:
            stmt = stmt.where(m.AuditEntry.provider_id == provider_id)
        return (await self.session.scalars(stmt)).all()
