"""Use cases of vetting and account decisions: checks, documents, registry, approve/reject,
suspend/reinstate/offboard, reviews and the audit log. One unit of work each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.providers import domain
from services.providers import models as m
from services.providers.config import ProvidersSettings
from services.providers.domain import (
    CheckOutcome,
    ProviderStatus,
    Standing,
)
from services.providers.errors import ProviderNotFound, RequirementsNotMet
from services.providers.repository import ProviderRepository
from services.providers.service import (
    Context,
    activated_event,
    evaluate_provider,
    go_off_duty,
    load_own,
    read_only,
    reevaluate,
    set_standing,
    standing_of,
    summarise,
)
from services.providers.sirene import RegistryAnswer
from shared.auth import Principal
from shared.errors import Conflict, IllegalTransition, Invalid, NotFound
from shared.events.providers import (
    ProviderSuspended,
)
from shared.ids import new_id


async def _load_for_ops(repo: ProviderRepository, provider_id: str) -> m.Provider:
    provider = await repo.get(provider_id, for_update=True)
    if provider is None:
        raise ProviderNotFound()
    return provider


def record_decision(
    repo: ProviderRepository,
    provider: m.Provider,
    action: str,
    reason: str,
    ops: Principal,
    before: Standing,
    now: datetime,
) -> m.Decision:
    """Keep a decision about the account (shown to the provider) and audit it."""
    decision = m.Decision(
        id=new_id(),
        provider_id=provider.id,
        action=action,
        reason=reason,
        decided_by=ops.subject,
        decided_at=now,
        from_status=before.status.value,
        to_status=provider.status,
    )
    repo.add(decision)
    repo.audit(
        now, ops.subject, action, provider_id=provider.id, reason=reason, details={"decision_id": decision.id}
    )
    return decision


async def start_review(ctx: Context, ops: Principal, provider_id: str) -> m.Provider:
    """Move an application into review."""
    async with ctx.database.unit_of_work() as uow:
        repo = ProviderRepository(uow.session)
        provider = await _load_for_ops(repo, provider_id)
        now = ctx.clock()
        set_standing(provider, domain.start_review(standing_of(provider)), now)
        repo.audit(now, ops.subject, "review_started", provider_id=provider.id)
        await uow.commit()
    return provider


@dataclass(frozen=True)
class CheckData:
    kind: str
    outcome: CheckOutcome
    evidence_ref: str
    category: str | None = None
    expires_at: datetime | None = None
    note: str = ""
    document_id: str | None = None


async def submit_document(
    ctx: Context,
    principal: Principal,
    provider_id: str,
    *,
    kind: str,
    reference: str,
    expires_at: datetime | None = None,
    category: str | None = None,
) -> m.Document:
    """Submit a document (e.g. a renewed insurance certificate) for ops to check."""
    if kind not in allowed_check_kinds(ctx.settings) - {"siret"}:
        raise Invalid(f"no document of kind {kind!r} is expected", field="kind")
    async with ctx.database.unit_of_work() as uow:
        repo = ProviderRepository(uow.session)
        provider = await load_own(repo, principal, provider_id)
        if standing_of(provider).is_final:
            raise IllegalTransition("provider", provider.status, "submit a document for")
        if category is not None and category not in provider.categories:
            raise Invalid("you did not apply for this category", field="category")
        now = ctx.clock()
        if expires_at is not None and expires_at <= now:
            raise Invalid("the document has already expired", field="expires_at")
        document = m.Document(
            id=new_id(),
            provider_id=provider.id,
            kind=kind,
            category=category,
            reference=reference,
            expires_at=expires_at,
            submitted_at=now,
            status="pending",
        )
        repo.add(document)
        repo.audit(
            now,
            principal.subject,
            "document_submitted",
            provider_id=provider.id,
            details={"document_id": document.id, "kind": kind},
        )
        await uow.commit()
    return document


async def list_documents(
    ctx: Context, principal: Principal, provider_id: str | None, status: str | None = None
) -> Sequence[m.Document]:
    """Return a provider's documents, or (ops, no provider) every document in a status."""
    async with read_only(ctx.database) as uow:
        repo = ProviderRepository(uow.session)
        if provider_id is None:
            return await repo.documents(status=status)
        provider = await load_own(repo, principal, provider_id)
        return await repo.documents(provider.id, status)


def allowed_check_kinds(settings: ProvidersSettings) -> set[str]:
    kinds = set(settings.base_checks) | {"urssaf_vigilance"}
    for extra in settings.category_checks.values():
        kinds |= set(extra)
    return kinds


def validate_check(
    data: CheckData, settings: ProvidersSettings, provider: m.Provider, now: datetime
) -> datetime | None:
    """Check a check makes sense; return its expiry (URSSAF: six months unless given)."""
    kinds = allowed_check_kinds(settings)
    if data.kind not in kinds:
        raise Invalid(f"unknown check kind {data.kind!r}; known: {', '.join(sorted(kinds))}", field="kind")
    if data.category is not None and data.category not in provider.categories:
        raise Invalid("the provider did not apply for this category", field="category")
    expires_at = data.expires_at
    if data.kind == "urssaf_vigilance" and expires_at is None:
        expires_at = now + timedelta(days=settings.urssaf_validity_days)
    if data.outcome is CheckOutcome.passed:
        if data.kind == "insurance" and expires_at is None:
            raise Invalid("an insurance check needs the policy's expiry date", field="expires_at")
        if expires_at is not None and expires_at <= now:
            raise Invalid("the document has already expired", field="expires_at")
    return expires_at


async def record_check(ctx: Context, ops: Principal, provider_id: str, data: CheckData) -> m.Check:
    """Record one vetting check with who, when, evidence and outcome; re-evaluate qualifications."""
    async with ctx.database.unit_of_work() as uow:
        repo = ProviderRepository(uow.session)
        provider = await _load_for_ops(repo, provider_id)
        now = ctx.clock()
        standing = standing_of(provider)
        if standing.is_final:
            raise IllegalTransition("provider", standing.status.value, "record a check for")
        expires_at = validate_check(data, ctx.settings, provider, now)
        check = m.Check(
            id=new_id(),
            provider_id=provider.id,
            kind=data.kind,
            category=data.category,
            outcome=data.outcome.value,
            evidence_ref=data.evidence_ref,
            note=data.note,
            checked_by=ops.subject,
            checked_at=now,
            expires_at=expires_at,
        )
        repo.add(check)
        if data.document_id is not None:
            document = await repo.document(data.document_id)
            if document is None or document.provider_id != provider.id:
                raise NotFound("document not found", field="document_id")
            if document.status != "pending":
                raise IllegalTransition("document", document.status, "check")
            document.status, document.check_id = "reviewed", check.id
        if standing.status is ProviderStatus.applied:
            set_standing(provider, domain.start_review(standing), now)
        repo.audit(
            now,
            ops.subject,
            "check_recorded",
            provider_id=provider.id,
            details={"check_id": check.id, "kind": data.kind, "outcome": data.outcome.value},
        )
        await repo.flush()
        await reevaluate(uow, repo, ctx, provider, f"{data.kind} check recorded", now)
        await uow.commit()
    return check


async def list_checks(ctx: Context, principal: Principal, provider_id: str) -> Sequence[m.Check]:
    """Return the checks recorded for a provider."""
    async with read_only(ctx.database) as uow:
        repo = ProviderRepository(uow.session)
        provider = await load_own(repo, principal, provider_id)
        return await repo.checks(provider.id)


async def check_registry(ctx: Context, actor: Principal, provider_id: str) -> m.Provider:
    """Ask the company registry about the provider's SIRET and store its answer."""
    if ctx.sirene is None:
        raise Conflict("the company registry check is not configured (PROVIDERS_SIRENE_URL)")
    async with ctx.database.unit_of_work() as uow:
        provider = await ProviderRepository(uow.session).get(provider_id)
        if provider is None:
            raise ProviderNotFound()
        siret = provider.siret
    answer = await ctx.sirene.lookup(siret)  # no transaction held open across the network call
    return await store_registry_answer(ctx, actor, provider_id, answer)


async def store_registry_answer(
    ctx: Context, actor: Principal, provider_id: str, answer: RegistryAnswer
) -> m.Provider:
    """Keep the registry's answer and re-evaluate (an inactive company blocks activation)."""
    async with ctx.database.unit_of_work() as uow:
        repo = ProviderRepository(uow.session)
        provider = await _load_for_ops(repo, provider_id)
        now = ctx.clock()
        provider.registry_status = answer.status
        provider.registry_activity_code = answer.activity_code
        provider.registry_legal_form = answer.legal_form
        provider.registry_checked_at = now
        repo.audit(
            now,
            actor.subject,
            "registry_checked",
            provider_id=provider.id,
            details={"status": answer.status, "activity_code": answer.activity_code},
        )
        await reevaluate(uow, repo, ctx, provider, "company registry checked", now)
        await uow.commit()
    return provider


async def approve(ctx: Context, ops: Principal, provider_id: str, reason: str) -> m.Provider:
    """Approve an application once every vetting check passed; activate it if a category is met."""
    if ctx.sirene is not None:
        async with ctx.database.unit_of_work() as uow:
            provider = await ProviderRepository(uow.session).get(provider_id)
            if provider is None:
                raise ProviderNotFound()
            needs_registry = provider.registry_checked_at is None
        if needs_registry:
            await check_registry(ctx, ops, provider_id)
    async with ctx.database.unit_of_work() as uow:
        repo = ProviderRepository(uow.session)
        provider = await _load_for_ops(repo, provider_id)
        now = ctx.clock()
        before = standing_of(provider)
        after = domain.approve(before)
        evaluation = await evaluate_provider(repo, ctx, provider, now)
        blockers = evaluation.general_blockers
        if blockers:
            raise RequirementsNotMet(
                f"cannot approve: {summarise(blockers)}",
                extra={"missing": [b.item for b in blockers], "current_state": before.status.value},
            )
        set_standing(provider, after, now)
        record_decision(repo, provider, "approve", reason, ops, before, now)
        await reevaluate(uow, repo, ctx, provider, "approved", now)
        await uow.commit()
    return provider


async def reject(ctx: Context, ops: Principal, provider_id: str, reason: str) -> m.Provider:
    """Reject an application with a written reason (final)."""
    return await _decide(ctx, ops, provider_id, reason, "reject")


async def suspend(ctx: Context, ops: Principal, provider_id: str, reason: str) -> m.Provider:
    """Suspend a provider by a person's decision with a written reason."""
    return await _decide(ctx, ops, provider_id, reason, "suspend")


async def reinstate(ctx: Context, ops: Principal, provider_id: str, reason: str) -> m.Provider:
    """Lift a decided suspension (needs a qualified category)."""
    return await _decide(ctx, ops, provider_id, reason, "reinstate")


async def offboard(ctx: Context, ops: Principal, provider_id: str, reason: str) -> m.Provider:
    """End the relationship with a provider (final), with a written reason."""
    return await _decide(ctx, ops, provider_id, reason, "offboard")


async def _decide(ctx: Context, ops: Principal, provider_id: str, reason: str, action: str) -> m.Provider:
    async with ctx.database.unit_of_work() as uow:
        repo = ProviderRepository(uow.session)
        provider = await _load_for_ops(repo, provider_id)
        now = ctx.clock()
        before = standing_of(provider)
        if action == "reject":
            after = domain.reject(before)
        elif action == "suspend":
            after = domain.suspend(before)
        elif action == "offboard":
            after = domain.offboard(before)
        else:
            evaluation = await evaluate_provider(repo, ctx, provider, now)
            provider.qualified = list(evaluation.qualified)
            after = domain.reinstate(before, evaluation.qualified)
        set_standing(provider, after, now)
        record_decision(repo, provider, action, reason, ops, before, now)
        if action in ("suspend", "offboard"):
            go_off_duty(uow, provider)
            if before.status is ProviderStatus.active or action == "offboard":
                uow.add_event(
                    ProviderSuspended(provider_id=provider.id, status=after.status.value, reason=reason)
                )
        elif action == "reinstate":
            uow.add_event(activated_event(provider))
        await uow.commit()
    return provider


async def list_decisions(ctx: Context, principal: Principal, provider_id: str) -> Sequence[m.Decision]:
    """Return every decision about the provider's account with its reason."""
    async with read_only(ctx.database) as uow:
        repo = ProviderRepository(uow.session)
        provider = await load_own(repo, principal, provider_id)
        return await repo.decisions(provider.id)


async def list_audit(
    ctx: Context, provider_id: str | None = None, limit: int = 500
) -> Sequence[m.AuditEntry]:
    """Return the audit log, newest first (ops)."""
    async with read_only(ctx.database) as uow:
        return await ProviderRepository(uow.session).audit_entries(provider_id, limit)


async def request_review(
    ctx: Context, principal: Principal, provider_id: str, decision_id: str, message: str
) -> m.ReviewRequest:
    """Ask for a human review of a decision; ops must answer within the deadline."""
    async with ctx.database.unit_of_work() as uow:
        repo = ProviderRepository(uow.session)
        provider = await load_own(repo, principal, provider_id)
        decision = await repo.decision(decision_id)
        if decision is None or decision.provider_id != provider.id:
            raise NotFound("decision not found", field="decision_id")
        if any(
            r.decision_id == decision_id and r.answered_at is None for r in await repo.reviews(provider.id)
        ):
            raise Conflict("a review of this decision is already open")
        now = ctx.clock()
        review = m.ReviewRequest(
            id=new_id(),
            provider_id=provider.id,
            decision_id=decision_id,
            message=message,
            requested_at=now,
            due_at=now + timedelta(days=ctx.settings.review_deadline_days),
        )
        repo.add(review)
        repo.audit(
            now,
            principal.subject,
            "review_requested",
            provider_id=provider.id,
            details={"review_id": review.id},
        )
        await uow.commit()
    return review


async def list_reviews(
    ctx: Context, principal: Principal, provider_id: str | None
) -> Sequence[m.ReviewRequest]:
    """Return review requests: a provider's own, or all of them for ops."""
    async with read_only(ctx.database) as uow:
        repo = ProviderRepository(uow.session)
        if provider_id is not None:
            provider = await load_own(repo, principal, provider_id)
            return await repo.reviews(provider.id)
        return await repo.reviews()


async def answer_review(
    ctx: Context, ops: Principal, review_id: str, answer: str, outcome: str
) -> m.ReviewRequest:
    """Answer a review request in writing (upheld or overturned)."""
    async with ctx.database.unit_of_work() as uow:
        repo = ProviderRepository(uow.session)
        review = await repo.review(review_id)
        if review is None:
            raise NotFound("review not found")
        if review.answered_at is not None:
            raise IllegalTransition("review", "answered", "answer")
        now = ctx.clock()
        review.answer, review.outcome = answer, outcome
        review.answered_by, review.answered_at = ops.subject, now
        repo.audit(
            now,
            ops.subject,
            "review_answered",
            provider_id=review.provider_id,
            reason=answer,
            details={"review_id": review.id, "outcome": outcome},
        )
        await uow.commit()
    return review
