"""Use cases of onboarding, vetting, training, availability and account decisions.

Each use case is one unit of work: load -> decide (domain) -> persist ->
events through `uow.add_event` -> one commit. Retention, reputation, watches
and the record export live in `activity.py`.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.exc import IntegrityError

from services.providers import domain
from services.providers import models as m
from services.providers.availability import Slot, ensure_position_allowed, validate_schedule
from services.providers.config import ProvidersSettings
from services.providers.domain import (
    CheckOutcome,
    Evaluation,
    ProviderStatus,
    Standing,
    SuspensionKind,
)
from services.providers.errors import AlreadyApplied, ProviderNotFound, RequirementsNotMet
from services.providers.repository import ProviderRepository
from services.providers.sirene import RegistryAnswer, SireneClient
from services.providers.siret import validate_siret
from shared.auth import Principal
from shared.categories import is_known_category
from shared.db import Database, UnitOfWork
from shared.errors import Conflict, IllegalTransition, Invalid, NotFound
from shared.events.providers import (
    AvailabilityChanged,
    PositionUpdated,
    ProviderActivated,
    ProviderSuspended,
    QualificationsChanged,
    WeeklySlot,
)


@dataclass
class Context:
    """What use cases need: the database, the settings, the clock, optional registry client."""

    database: Database
    settings: ProvidersSettings
    clock: Callable[[], datetime]
    sirene: SireneClient | None = None

    @property
    def policy(self) -> domain.CompliancePolicy:
        return self.settings.compliance_policy()


@asynccontextmanager
async def read_only(database: Database) -> AsyncIterator[UnitOfWork]:
    """Open a unit of work for reading; what it loaded stays readable after it closes."""
    async with database.unit_of_work() as uow:
        yield uow
        uow.session.expunge_all()


async def commit_unique(uow: UnitOfWork, conflict: Conflict) -> None:
    """Commit; a concurrent twin that won the unique key becomes `conflict` (409), not a 500."""
    try:
        await uow.commit()
    except IntegrityError as exc:
        raise conflict from exc


def new_id() -> str:
    return uuid.uuid4().hex


# --- shared steps ---------------------------------------------------------------------------


async def load_own(repo: ProviderRepository, principal: Principal, provider_id: str) -> m.Provider:
    """Return the provider a principal may see: ops any, a provider only itself (else 404)."""
    if not principal.is_ops and principal.subject != provider_id:
        raise ProviderNotFound()
    provider = await repo.get(provider_id)
    if provider is None:
        raise ProviderNotFound()
    return provider


def standing_of(provider: m.Provider) -> Standing:
    suspension = SuspensionKind(provider.suspension) if provider.suspension else None
    return Standing(ProviderStatus(provider.status), suspension)


def set_standing(provider: m.Provider, standing: Standing, now: datetime) -> None:
    provider.status = standing.status.value
    provider.suspension = standing.suspension.value if standing.suspension else None
    provider.updated_at = now


async def evaluate_provider(
    repo: ProviderRepository, ctx: Context, provider: m.Provider, now: datetime
) -> Evaluation:
    """Return what the provider is qualified for now, and what blocks the rest."""
    checks, completions, retrainings, registry = await repo.facts(provider)
    return domain.evaluate(
        categories=list(provider.categories),
        checks=checks,
        requirements=await repo.requirements(),
        completions=completions,
        policy=ctx.policy,
        now=now,
        retrainings=retrainings,
        registry=registry,
        cumulative_payout_cents=await repo.cumulative_payout_cents(provider.id),
        urssaf_required_since=provider.urssaf_required_since,
    )


def activated_event(provider: m.Provider) -> ProviderActivated:
    return ProviderActivated(
        provider_id=provider.id,
        first_name=provider.first_name,
        categories=list(provider.qualified),
        home_lat=provider.home_lat,
        home_lng=provider.home_lng,
        postcode=provider.postcode,
        travel_radius_km=provider.travel_radius_km,
        weekly_hours_target=provider.weekly_hours_target,
        photo_ref=provider.photo_ref,
    )


def availability_event(provider: m.Provider) -> AvailabilityChanged:
    return AvailabilityChanged(
        provider_id=provider.id,
        on_duty=provider.on_duty,
        weekly_schedule=[WeeklySlot(**s) for s in provider.weekly_schedule],
        travel_radius_km=provider.travel_radius_km,
        weekly_hours_target=provider.weekly_hours_target,
    )


def go_off_duty(uow: UnitOfWork, provider: m.Provider) -> None:
    """Take the provider off duty and forget the position (none is kept off duty)."""
    was_on_duty = provider.on_duty
    provider.on_duty = False
    provider.position_lat = provider.position_lng = None
    provider.position_at = None
    if was_on_duty:
        uow.add_event(availability_event(provider))


def summarise(items: Sequence[domain.MissingItem]) -> str:
    return "; ".join(f"{i.item}: {i.reason}" for i in items)


async def reevaluate(
    uow: UnitOfWork, repo: ProviderRepository, ctx: Context, provider: m.Provider, reason: str, now: datetime
) -> Evaluation | None:
    """Recompute qualifications of a vetted provider; persist and announce what changed."""
    standing = standing_of(provider)
    if standing.status not in domain.VETTED_STATUSES:
        return None
    evaluation = await evaluate_provider(repo, ctx, provider, now)
    old = list(provider.qualified)
    new = list(evaluation.qualified)
    after = domain.follow_qualifications(standing, new)
    provider.qualified = new
    set_standing(provider, after, now)
    if after != standing and after.status is ProviderStatus.active:
        provider.activated_at = provider.activated_at or now
        uow.add_event(activated_event(provider))
    if after != standing and after.suspension is SuspensionKind.lapsed:
        go_off_duty(uow, provider)
        uow.add_event(
            ProviderSuspended(
                provider_id=provider.id,
                status=ProviderStatus.suspended.value,
                reason=f"no qualified category left: {summarise(evaluation.missing)}",
            )
        )
    if old != new or after != standing:
        lapsed = [c for c in old if c not in new]
        uow.add_event(
            QualificationsChanged(
                provider_id=provider.id,
                status=after.status.value,
                categories=new,
                lapsed=lapsed,
                reason=reason if not lapsed else f"{reason}: {summarise(evaluation.missing)}",
            )
        )
        repo.audit(
            now,
            "system",
            "qualifications_changed",
            provider_id=provider.id,
            reason=reason,
            details={"before": old, "after": new, "status": after.status.value},
        )
    return evaluation


# --- application ----------------------------------------------------------------------------


@dataclass(frozen=True)
class ApplicationData:
    first_name: str
    last_name: str
    email: str
    phone: str
    date_of_birth: date
    nationality: str
    right_to_work_ref: str
    siret: str
    categories: list[str]
    address: str
    postcode: str
    home_lat: float
    home_lng: float
    travel_radius_km: float
    weekly_hours_target: float
    photo_ref: str | None = None


def validate_application(data: ApplicationData, now: datetime) -> str:
    """Check what pydantic cannot: SIRET checksum, categories, age; return the SIRET."""
    siret = validate_siret(data.siret)
    unknown = [c for c in data.categories if not is_known_category(c)]
    if unknown:
        raise Invalid(f"unknown categories: {', '.join(unknown)}", field="categories")
    if len(set(data.categories)) != len(data.categories):
        raise Invalid("a category is listed twice", field="categories")
    today = now.date()
    age = (
        today.year
        - data.date_of_birth.year
        - ((today.month, today.day) < (data.date_of_birth.month, data.date_of_birth.day))
    )
    if age < 18:
        raise Invalid("a provider must be at least 18 years old", field="date_of_birth")
    if age > 100:
        raise Invalid("date of birth is implausible", field="date_of_birth")
    return siret


def new_provider(provider_id: str, data: ApplicationData, siret: str, now: datetime) -> m.Provider:
    return m.Provider(
        id=provider_id,
        status=ProviderStatus.applied.value,
        suspension=None,
        first_name=data.first_name,
        last_name=data.last_name,
        email=data.email,
        phone=data.phone,
        date_of_birth=data.date_of_birth,
        nationality=data.nationality.upper(),
        right_to_work_ref=data.right_to_work_ref,
        siret=siret,
        categories=list(data.categories),
        address=data.address,
        postcode=data.postcode,
        home_lat=data.home_lat,
        home_lng=data.home_lng,
        travel_radius_km=data.travel_radius_km,
        weekly_hours_target=data.weekly_hours_target,
        photo_ref=data.photo_ref,
        qualified=[],
        on_duty=False,
        weekly_schedule=[],
        applied_at=now,
        updated_at=now,
    )


async def apply(ctx: Context, principal: Principal, data: ApplicationData) -> m.Provider:
    """Record a provider's application; the token's subject becomes the provider id."""
    now = ctx.clock()
    siret = validate_application(data, now)
    if len(principal.subject) > 100:
        raise Invalid("the token subject is too long to be a provider id", field=["header", "Authorization"])
    async with ctx.database.unit_of_work() as uow:
        repo = ProviderRepository(uow.session)
        if await repo.get(principal.subject) is not None:
            raise AlreadyApplied("you have already applied")
        provider = new_provider(principal.subject, data, siret, now)
        repo.add(provider)
        repo.audit(now, principal.subject, "applied", provider_id=provider.id)
        await commit_unique(uow, AlreadyApplied("you have already applied"))
    return provider


async def get_provider(ctx: Context, principal: Principal, provider_id: str) -> tuple[m.Provider, Evaluation]:
    """Return a provider's profile and current qualification evaluation."""
    async with read_only(ctx.database) as uow:
        repo = ProviderRepository(uow.session)
        provider = await load_own(repo, principal, provider_id)
        return provider, await evaluate_provider(repo, ctx, provider, ctx.clock())


async def list_providers(
    ctx: Context, statuses: Sequence[str] | None = None
) -> list[tuple[m.Provider, Evaluation]]:
    """Return providers (optionally by status) with what each is missing (ops)."""
    async with read_only(ctx.database) as uow:
        repo = ProviderRepository(uow.session)
        now = ctx.clock()
        return [(p, await evaluate_provider(repo, ctx, p, now)) for p in await repo.list_providers(statuses)]


async def vetting_queue(ctx: Context) -> list[tuple[m.Provider, Evaluation]]:
    """Return applications waiting for ops (applied, under review, approved but not active)."""
    return await list_providers(
        ctx,
        [ProviderStatus.applied.value, ProviderStatus.under_review.value, ProviderStatus.approved.value],
    )


# --- vetting --------------------------------------------------------------------------------


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


# --- reviews --------------------------------------------------------------------------------


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


# --- training -------------------------------------------------------------------------------


async def create_module(
    ctx: Context, ops: Principal, code: str, title: str, validity_days: int | None, min_score: int | None
) -> m.TrainingModule:
    """Define a training module (ops)."""
    async with ctx.database.unit_of_work() as uow:
        repo = ProviderRepository(uow.session)
        if await repo.module_by_code(code) is not None:
            raise Conflict(f"a module with code {code!r} exists")
        now = ctx.clock()
        module = m.TrainingModule(
            id=new_id(),
            code=code,
            title=title,
            validity_days=validity_days,
            min_score=min_score,
            created_at=now,
        )
        repo.add(module)
        repo.audit(now, ops.subject, "module_created", details={"module_id": module.id, "code": code})
        await commit_unique(uow, Conflict(f"a module with code {code!r} exists"))
    return module


UNSET: object = object()


async def update_module(
    ctx: Context,
    ops: Principal,
    module_id: str,
    *,
    title: str | None = None,
    validity_days: int | None | object = UNSET,
    min_score: int | None | object = UNSET,
) -> tuple[m.TrainingModule, int]:
    """Change a module's title, validity or pass score; every vetted provider is re-evaluated."""
    async with ctx.database.unit_of_work() as uow:
        repo = ProviderRepository(uow.session)
        module = await repo.module(module_id)
        if module is None:
            raise NotFound("training module not found")
        now = ctx.clock()
        if title is not None:
            module.title = title
        if validity_days is not UNSET:
            module.validity_days = validity_days  # type: ignore[assignment]
        if min_score is not UNSET:
            module.min_score = min_score  # type: ignore[assignment]
        repo.audit(
            now,
            ops.subject,
            "module_changed",
            details={
                "module_id": module.id,
                "validity_days": module.validity_days,
                "min_score": module.min_score,
            },
        )
        await repo.flush()
        changed = await _reevaluate_all(uow, repo, ctx, f"training module {module.code} changed", now)
        await uow.commit()
    return module, changed


async def list_modules(ctx: Context) -> tuple[Sequence[m.TrainingModule], dict[str, list[str]]]:
    """Return the modules and the modules required per category."""
    async with read_only(ctx.database) as uow:
        repo = ProviderRepository(uow.session)
        required: dict[str, list[str]] = {}
        for row in await repo.requirement_rows():
            required.setdefault(row.category, []).append(row.module_id)
        return await repo.modules(), required


async def set_requirements(ctx: Context, ops: Principal, category: str, module_ids: list[str]) -> int:
    """Replace a category's required modules and re-evaluate every vetted provider; return changes."""
    if not is_known_category(category):
        raise NotFound(f"unknown category {category!r}")
    async with ctx.database.unit_of_work() as uow:
        repo = ProviderRepository(uow.session)
        for index, module_id in enumerate(module_ids):
            if await repo.module(module_id) is None:
                raise Invalid("unknown module", field=f"module_ids.{index}")
        now = ctx.clock()
        await repo.delete_requirements(category)
        await repo.flush()
        for module_id in dict.fromkeys(module_ids):
            repo.add(m.CategoryRequirement(category=category, module_id=module_id, added_at=now))
        repo.audit(
            now, ops.subject, "requirements_changed", details={"category": category, "modules": module_ids}
        )
        await repo.flush()
        changed = await _reevaluate_all(uow, repo, ctx, f"training requirements of {category} changed", now)
        await uow.commit()
    return changed


async def _reevaluate_all(
    uow: UnitOfWork, repo: ProviderRepository, ctx: Context, reason: str, now: datetime
) -> int:
    changed = 0
    vetted = [s.value for s in domain.VETTED_STATUSES]
    for provider in await repo.list_providers(vetted, for_update=True):
        before = (list(provider.qualified), provider.status)
        await reevaluate(uow, repo, ctx, provider, reason, now)
        changed += before != (list(provider.qualified), provider.status)
    return changed


async def run_expiry_check(ctx: Context) -> int:
    """Lapse what expired (documents, trainings, retraining deadlines); return providers changed.

    One short transaction per provider (row locked), so that the job never holds
    every provider at once nor overwrites a decision taken meanwhile.
    """
    vetted = [s.value for s in domain.VETTED_STATUSES]
    async with read_only(ctx.database) as uow:
        ids = await ProviderRepository(uow.session).provider_ids(vetted)
    changed = 0
    for provider_id in ids:
        async with ctx.database.unit_of_work() as uow:
            repo = ProviderRepository(uow.session)
            provider = await repo.get(provider_id, for_update=True)
            if provider is None or provider.status not in vetted:
                continue
            before = (list(provider.qualified), provider.status)
            await reevaluate(uow, repo, ctx, provider, "expiry check", ctx.clock())
            if before != (list(provider.qualified), provider.status):
                changed += 1
                await uow.commit()
    return changed


async def record_completion(
    ctx: Context,
    principal: Principal,
    provider_id: str,
    module_id: str,
    completed_at: datetime | None,
    score: int | None,
) -> m.TrainingCompletion:
    """Record a completed training module with its date and score; re-evaluate qualifications."""
    async with ctx.database.unit_of_work() as uow:
        repo = ProviderRepository(uow.session)
        provider = await load_own(repo, principal, provider_id)
        if ProviderStatus(provider.status) in domain.FINAL_STATUSES:
            raise IllegalTransition("provider", provider.status, "record a training for")
        module = await repo.module(module_id)
        if module is None:
            raise Invalid("unknown module", field="module_id")
        now = ctx.clock()
        when = completed_at or now
        if when > now:
            raise Invalid("a completion cannot be in the future", field="completed_at")
        if module.min_score is not None and score is None:
            raise Invalid("this module is scored: give the score", field="score")
        completion = m.TrainingCompletion(
            id=new_id(),
            provider_id=provider.id,
            module_id=module.id,
            completed_at=when,
            score=score,
            recorded_by=principal.subject,
        )
        repo.add(completion)
        repo.audit(
            now,
            principal.subject,
            "training_completed",
            provider_id=provider.id,
            details={"module_id": module.id, "score": score},
        )
        await repo.flush()
        await reevaluate(uow, repo, ctx, provider, f"training {module.code} completed", now)
        await uow.commit()
    return completion


async def list_completions(
    ctx: Context, principal: Principal, provider_id: str
) -> Sequence[m.TrainingCompletion]:
    """Return the provider's training completions."""
    async with read_only(ctx.database) as uow:
        repo = ProviderRepository(uow.session)
        provider = await load_own(repo, principal, provider_id)
        return await repo.completions(provider.id)


# --- availability ---------------------------------------------------------------------------


async def set_availability(
    ctx: Context,
    principal: Principal,
    provider_id: str,
    *,
    on_duty: bool | None = None,
    weekly_schedule: list[Slot] | None = None,
    travel_radius_km: float | None = None,
    weekly_hours_target: float | None = None,
) -> m.Provider:
    """Change duty, weekly schedule, radius or hours target; off duty forgets the position."""
    async with ctx.database.unit_of_work() as uow:
        repo = ProviderRepository(uow.session)
        provider = await load_own(repo, principal, provider_id)
        standing = standing_of(provider)
        if standing.is_final:
            raise IllegalTransition("provider", standing.status.value, "change the availability of")
        now = ctx.clock()
        if weekly_schedule is not None:
            provider.weekly_schedule = [
                {"weekday": s.weekday, "start": s.start, "end": s.end}
                for s in validate_schedule(weekly_schedule)
            ]
        if travel_radius_km is not None:
            provider.travel_radius_km = travel_radius_km
        if weekly_hours_target is not None:
            provider.weekly_hours_target = weekly_hours_target
        if on_duty is True and standing.status is not ProviderStatus.active:
            raise IllegalTransition("provider", standing.status.value, "go on duty as")
        if on_duty is False:
            provider.position_lat = provider.position_lng = None
            provider.position_at = None
        if on_duty is not None:
            provider.on_duty = on_duty
        provider.updated_at = now
        uow.add_event(availability_event(provider))
        await uow.commit()
    return provider


async def update_position(
    ctx: Context, principal: Principal, provider_id: str, lat: float, lng: float, recorded_at: datetime | None
) -> m.Provider:
    """Record the provider's current position; refused while off duty."""
    async with ctx.database.unit_of_work() as uow:
        repo = ProviderRepository(uow.session)
        provider = await load_own(repo, principal, provider_id)
        ensure_position_allowed(provider.on_duty)
        now = ctx.clock()
        when = recorded_at or now
        if when > now + timedelta(minutes=1):
            raise Invalid("a position cannot be recorded in the future", field="recorded_at")
        if provider.position_at is not None and when < provider.position_at:
            raise Conflict("a newer position is already recorded")
        provider.position_lat, provider.position_lng, provider.position_at = lat, lng, when
        uow.add_event(PositionUpdated(provider_id=provider.id, lat=lat, lng=lng, recorded_at=when))
        await uow.commit()
    return provider


# --- seeding --------------------------------------------------------------------------------


async def seed_active_provider(
    ctx: Context,
    *,
    provider_id: str,
    first_name: str,
    last_name: str,
    categories: list[str],
    home_lat: float,
    home_lng: float,
    postcode: str,
    siret: str = "73282932000074",
    travel_radius_km: float = 10.0,
    weekly_hours_target: float = 30.0,
    on_duty: bool = False,
    email: str | None = None,
    phone: str = "+33600000000",
    address: str = "1 rue de la Paix",
    date_of_birth: date = date(1990, 1, 1),
    actor: str = "seed",
) -> m.Provider:
    """Create an already-vetted, active provider in one transaction (demo seeding only).

    Records every base and category check as passed (insurance valid one year,
    URSSAF certificate six months), completes every training module currently
    required for `categories` with a full score, approves, activates and
    publishes `provider-activated` + `qualifications-changed` (and
    `availability-changed` when `on_duty`), exactly as the real flow would.
    Raises Invalid for a bad SIRET or category, AlreadyApplied if the id exists.
    """
    now = ctx.clock()
    data = ApplicationData(
        first_name=first_name,
        last_name=last_name,
        email=email or f"{provider_id}@example.org",
        phone=phone,
        date_of_birth=date_of_birth,
        nationality="FR",
        right_to_work_ref="seed",
        siret=siret,
        categories=categories,
        address=address,
        postcode=postcode,
        home_lat=home_lat,
        home_lng=home_lng,
        travel_radius_km=travel_radius_km,
        weekly_hours_target=weekly_hours_target,
    )
    checked = validate_application(data, now)
    async with ctx.database.unit_of_work() as uow:
        repo = ProviderRepository(uow.session)
        if await repo.get(provider_id) is not None:
            raise AlreadyApplied(f"provider {provider_id} exists")
        provider = new_provider(provider_id, data, checked, now)
        repo.add(provider)
        kinds: list[tuple[str, str | None]] = [(k, None) for k in ctx.settings.base_checks]
        kinds.append(("urssaf_vigilance", None))
        kinds += [(k, c) for c in categories for k in ctx.settings.category_checks.get(c, [])]
        for kind, category in kinds:
            expires = now + timedelta(
                days=365 if kind != "urssaf_vigilance" else ctx.settings.urssaf_validity_days
            )
            repo.add(
                m.Check(
                    id=new_id(),
                    provider_id=provider_id,
                    kind=kind,
                    category=category,
                    outcome="passed",
                    evidence_ref="seed",
                    note="seeded",
                    checked_by=actor,
                    checked_at=now,
                    expires_at=expires if kind in ("insurance", "urssaf_vigilance") else None,
                )
            )
        requirements = await repo.requirements()
        for module in {r.module_id: r for c in categories for r in requirements.get(c, [])}.values():
            repo.add(
                m.TrainingCompletion(
                    id=new_id(),
                    provider_id=provider_id,
                    module_id=module.module_id,
                    completed_at=now,
                    score=100,
                    recorded_by=actor,
                )
            )
        provider.registry_status = "active" if ctx.sirene is not None else None
        provider.registry_checked_at = now if ctx.sirene is not None else None
        set_standing(provider, Standing(ProviderStatus.approved), now)
        repo.audit(now, actor, "seeded", provider_id=provider_id)
        await repo.flush()
        await reevaluate(uow, repo, ctx, provider, "seeded", now)
        if on_duty and provider.status == ProviderStatus.active.value:
            provider.on_duty = True
            uow.add_event(availability_event(provider))
        await uow.commit()
    return provider


def utc(value: datetime) -> datetime:
    """Return an aware datetime in UTC (naive input is read as UTC)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
