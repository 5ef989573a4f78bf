"""HTTP routes of the providers service: parse -> call a use case -> schema."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from services.providers import activity, service, training
from services.providers import models as m
from services.providers import schemas as s
from services.providers import vetting as vetting_uc
from services.providers.availability import Slot
from services.providers.domain import Evaluation, ProviderStatus
from services.providers.service import ApplicationData, Context
from services.providers.signing import ALGORITHM, RecordSigner
from services.providers.siret import vat_number
from services.providers.vetting import CheckData
from shared.auth import CurrentPrincipal, OpsUser, ProviderOrOps, ProviderUser
from shared.errors import Invalid

ProviderId = Annotated[str, Path(min_length=1, max_length=100)]
ItemId = Annotated[str, Path(min_length=1, max_length=64)]


def get_context(request: Request) -> Context:
    """Return the providers component's use-case context."""
    ctx: Context = request.app.state.components["providers"].ctx
    return ctx


def get_signer(request: Request) -> RecordSigner:
    """Return the operator's record signer."""
    signer: RecordSigner = request.app.state.components["providers"].signer
    return signer


Ctx = Annotated[Context, Depends(get_context)]
Signer = Annotated[RecordSigner, Depends(get_signer)]

providers = APIRouter(prefix="/v1/providers", tags=["providers"])
vetting = APIRouter(prefix="/v1/vetting", tags=["vetting"])
trainings = APIRouter(prefix="/v1/trainings", tags=["trainings"])
bonus_rules = APIRouter(prefix="/v1/bonus-rules", tags=["bonus-rules"])


def provider_read(provider: m.Provider, evaluation: Evaluation) -> s.ProviderRead:
    return s.ProviderRead(
        id=provider.id,
        status=provider.status,
        suspension=provider.suspension,
        first_name=provider.first_name,
        last_name=provider.last_name,
        email=provider.email,
        phone=provider.phone,
        date_of_birth=provider.date_of_birth,
        nationality=provider.nationality,
        siret=provider.siret,
        siren=provider.siret[:9],
        vat_number=vat_number(provider.siret[:9]),
        categories=list(provider.categories),
        address=provider.address,
        postcode=provider.postcode,
        home_lat=provider.home_lat,
        home_lng=provider.home_lng,
        travel_radius_km=provider.travel_radius_km,
        weekly_hours_target=provider.weekly_hours_target,
        photo_ref=provider.photo_ref,
        on_duty=provider.on_duty,
        applied_at=provider.applied_at,
        activated_at=provider.activated_at,
        registry=s.RegistryRead(
            status=provider.registry_status,
            activity_code=provider.registry_activity_code,
            legal_form=provider.registry_legal_form,
            checked_at=provider.registry_checked_at,
        ),
        qualifications=s.QualificationsRead.of(evaluation),
    )


async def read_provider(ctx: Context, principal: CurrentPrincipal, provider_id: str) -> s.ProviderRead:
    provider, evaluation = await service.get_provider(ctx, principal, provider_id)
    return provider_read(provider, evaluation)


def availability_read(provider: m.Provider) -> s.AvailabilityRead:
    position = None
    if provider.on_duty and provider.position_lat is not None:
        position = {
            "lat": provider.position_lat,
            "lng": provider.position_lng,
            "recorded_at": provider.position_at,
        }
    return s.AvailabilityRead(
        provider_id=provider.id,
        on_duty=provider.on_duty,
        weekly_schedule=list(provider.weekly_schedule),
        travel_radius_km=provider.travel_radius_km,
        weekly_hours_target=provider.weekly_hours_target,
        position=position,
    )


def review_read(review: m.ReviewRequest, ctx: Context) -> s.ReviewRead:
    return s.ReviewRead(
        id=review.id,
        provider_id=review.provider_id,
        decision_id=review.decision_id,
        message=review.message,
        requested_at=review.requested_at,
        due_at=review.due_at,
        is_overdue=review.answered_at is None and ctx.clock() > review.due_at,
        answer=review.answer,
        outcome=review.outcome,
        answered_by=review.answered_by,
        answered_at=review.answered_at,
    )


# --- /v1/providers: static paths first --------------------------------------------------------


@providers.post("", status_code=201)
async def apply(ctx: Ctx, principal: ProviderUser, body: s.ProviderCreate) -> s.ProviderRead:
    """Apply to become a provider (your token's subject becomes your provider id)."""
    data = ApplicationData(**body.model_dump())
    await service.apply(ctx, principal, data)
    return await read_provider(ctx, principal, principal.subject)


@providers.get("")
async def list_providers(ctx: Ctx, _: OpsUser, status: ProviderStatus | None = None) -> list[s.ProviderRead]:
    """List providers with what each is missing (ops)."""
    rows = await service.list_providers(ctx, [status.value] if status else None)
    return [provider_read(p, e) for p, e in rows]


@providers.get("/records/public-key")
async def public_key(signer: Signer) -> s.PublicKeyRead:
    """Publish the operator's public key that signs exported records."""
    return s.PublicKeyRead(
        algorithm=ALGORITHM,
        key_id=signer.key_id,
        public_key_pem=signer.public_pem,
        public_key_b64=signer.public_raw_b64,
    )


@providers.post("/records/verify")
async def verify_record(signer: Signer, body: s.VerifyRequest) -> s.VerifyResult:
    """Say whether a record (JSON) or a PDF (base64) was signed by the operator and not altered."""
    document = None
    if body.document_b64 is not None:
        try:
            document = base64.b64decode(body.document_b64, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise Invalid("document_b64 is not base64", field="document_b64") from exc
    return s.VerifyResult(
        is_valid=activity.verify(signer, body.signature, body.record, document), key_id=signer.key_id
    )


@providers.get("/reputation-policy")
async def get_reputation_policy(ctx: Ctx, _: CurrentPrincipal) -> s.ReputationPolicyRead:
    """Return the reputation threshold, minimum count and window in force."""
    p = await activity.get_reputation_policy(ctx)
    return s.ReputationPolicyRead(threshold=p.threshold, min_count=p.min_count, window=p.window)


@providers.put("/reputation-policy")
async def set_reputation_policy(
    ctx: Ctx, ops: OpsUser, body: s.ReputationPolicyUpdate
) -> s.ReputationPolicyRead:
    """Set the reputation threshold below which retraining is recommended (ops)."""
    p = await activity.set_reputation_policy(ctx, ops, body.threshold, body.min_count, body.window)
    return s.ReputationPolicyRead(threshold=p.threshold, min_count=p.min_count, window=p.window)


@providers.get("/turnover-watch")
async def turnover_watch_all(ctx: Ctx, _: OpsUser) -> list[dict[str, object]]:
    """List every vetted provider's turnover watch of the year (ops)."""
    return [{"provider_id": p.id, **w.__dict__} for p, w in await activity.list_watch(ctx)]


# --- /v1/providers/{provider_id} ----------------------------------------------------------------


@providers.get("/{provider_id}")
async def get_provider(ctx: Ctx, principal: ProviderOrOps, provider_id: ProviderId) -> s.ProviderRead:
    """Return a provider's profile, status and qualifications (yours, or any for ops)."""
    return await read_provider(ctx, principal, provider_id)


@providers.get("/{provider_id}/qualifications")
async def get_qualifications(
    ctx: Ctx, principal: ProviderOrOps, provider_id: ProviderId
) -> s.QualificationsRead:
    """Return per category whether you are qualified and what to provide, complete or renew."""
    _, evaluation = await service.get_provider(ctx, principal, provider_id)
    return s.QualificationsRead.of(evaluation)


@providers.get("/{provider_id}/checks")
async def get_checks(ctx: Ctx, principal: ProviderOrOps, provider_id: ProviderId) -> list[s.CheckRead]:
    """Return the vetting checks recorded about a provider."""
    return [s.CheckRead.model_validate(c) for c in await vetting_uc.list_checks(ctx, principal, provider_id)]


@providers.post("/{provider_id}/documents", status_code=201)
async def submit_document(
    ctx: Ctx, principal: ProviderUser, provider_id: ProviderId, body: s.DocumentCreate
) -> s.DocumentRead:
    """Submit a document (e.g. a renewed certificate) for ops to check."""
    document = await vetting_uc.submit_document(
        ctx,
        principal,
        provider_id,
        kind=body.kind,
        reference=body.reference,
        expires_at=body.expires_at,
        category=body.category,
    )
    return s.DocumentRead.model_validate(document)


@providers.get("/{provider_id}/documents")
async def get_documents(ctx: Ctx, principal: ProviderOrOps, provider_id: ProviderId) -> list[s.DocumentRead]:
    """Return the documents a provider submitted and whether they were checked."""
    rows = await vetting_uc.list_documents(ctx, principal, provider_id)
    return [s.DocumentRead.model_validate(d) for d in rows]


@providers.get("/{provider_id}/availability")
async def get_availability(ctx: Ctx, principal: ProviderOrOps, provider_id: ProviderId) -> s.AvailabilityRead:
    """Return duty, weekly schedule and (only while on duty) the position."""
    provider, _ = await service.get_provider(ctx, principal, provider_id)
    return availability_read(provider)


@providers.put("/{provider_id}/availability")
async def set_availability(
    ctx: Ctx, principal: ProviderUser, provider_id: ProviderId, body: s.AvailabilityUpdate
) -> s.AvailabilityRead:
    """Go on or off duty, set the weekly schedule, radius or hours target (off duty forgets the position)."""
    slots = (
        [Slot(x.weekday, x.start, x.end) for x in body.weekly_schedule]
        if body.weekly_schedule is not None
        else None
    )
    provider = await service.set_availability(
        ctx,
        principal,
        provider_id,
        on_duty=body.on_duty,
        weekly_schedule=slots,
        travel_radius_km=body.travel_radius_km,
        weekly_hours_target=body.weekly_hours_target,
    )
    return availability_read(provider)


@providers.put("/{provider_id}/position")
async def update_position(
    ctx: Ctx, principal: ProviderUser, provider_id: ProviderId, body: s.PositionUpdate
) -> s.AvailabilityRead:
    """Share your current position while on duty (refused off duty)."""
    provider = await service.update_position(
        ctx, principal, provider_id, body.lat, body.lng, body.recorded_at
    )
    return availability_read(provider)


@providers.post("/{provider_id}/suspend")
async def suspend(ctx: Ctx, ops: OpsUser, provider_id: ProviderId, body: s.DecisionCreate) -> s.ProviderRead:
    """Suspend a provider: a person's decision with a written reason (ops)."""
    await vetting_uc.suspend(ctx, ops, provider_id, body.reason)
    return await read_provider(ctx, ops, provider_id)


@providers.post("/{provider_id}/reinstate")
async def reinstate(
    ctx: Ctx, ops: OpsUser, provider_id: ProviderId, body: s.DecisionCreate
) -> s.ProviderRead:
    """Lift a suspension with a written reason (ops)."""
    await vetting_uc.reinstate(ctx, ops, provider_id, body.reason)
    return await read_provider(ctx, ops, provider_id)


@providers.post("/{provider_id}/offboard")
async def offboard(ctx: Ctx, ops: OpsUser, provider_id: ProviderId, body: s.DecisionCreate) -> s.ProviderRead:
    """End the relationship with a provider, with a written reason (ops)."""
    await vetting_uc.offboard(ctx, ops, provider_id, body.reason)
    return await read_provider(ctx, ops, provider_id)


@providers.get("/{provider_id}/decisions")
async def get_decisions(ctx: Ctx, principal: ProviderOrOps, provider_id: ProviderId) -> list[s.DecisionRead]:
    """Return every decision about the account with who took it and why."""
    return [
        s.DecisionRead.model_validate(d) for d in await vetting_uc.list_decisions(ctx, principal, provider_id)
    ]


@providers.post("/{provider_id}/reviews", status_code=201)
async def request_review(
    ctx: Ctx, principal: ProviderUser, provider_id: ProviderId, body: s.ReviewCreate
) -> s.ReviewRead:
    """Ask a person to review a decision; the answer is due within the review deadline."""
    review = await vetting_uc.request_review(ctx, principal, provider_id, body.decision_id, body.message)
    return review_read(review, ctx)


@providers.get("/{provider_id}/reviews")
async def get_reviews(ctx: Ctx, principal: ProviderOrOps, provider_id: ProviderId) -> list[s.ReviewRead]:
    """Return your review requests with their deadline (shown overdue when late)."""
    return [review_read(r, ctx) for r in await vetting_uc.list_reviews(ctx, principal, provider_id)]


@providers.post("/{provider_id}/trainings", status_code=201)
async def record_completion(
    ctx: Ctx, principal: ProviderOrOps, provider_id: ProviderId, body: s.CompletionCreate
) -> s.CompletionRead:
    """Record a completed training module with its date and score."""
    completion = await training.record_completion(
        ctx, principal, provider_id, body.module_id, body.completed_at, body.score
    )
    return s.CompletionRead.model_validate(completion)


@providers.get("/{provider_id}/trainings")
async def get_completions(
    ctx: Ctx, principal: ProviderOrOps, provider_id: ProviderId
) -> list[s.CompletionRead]:
    """Return a provider's completed trainings."""
    return [
        s.CompletionRead.model_validate(c)
        for c in await training.list_completions(ctx, principal, provider_id)
    ]


@providers.get("/{provider_id}/bonuses")
async def get_bonuses(ctx: Ctx, principal: ProviderOrOps, provider_id: ProviderId) -> list[s.AwardRead]:
    """Return the bonuses awarded to a provider."""
    return [s.AwardRead.model_validate(a) for a in await activity.list_awards(ctx, principal, provider_id)]


@providers.get("/{provider_id}/reputation")
async def get_reputation(ctx: Ctx, principal: ProviderOrOps, provider_id: ProviderId) -> s.ReputationRead:
    """Return what the rating is made of and the reliability (excused absences never count)."""
    view = await activity.get_reputation(ctx, principal, provider_id)
    rep, policy = view.reputation, view.policy
    return s.ReputationRead(
        provider_id=provider_id,
        rating_average=rep.rating_average,
        rating_count=rep.rating_count,
        window_count=rep.window_count,
        distribution={str(k): v for k, v in rep.distribution.items()},
        verdict=rep.verdict.value,
        policy=s.ReputationPolicyRead(
            threshold=policy.threshold, min_count=policy.min_count, window=policy.window
        ),
        reliability=view.reliability.__dict__,
    )


@providers.post("/{provider_id}/absences", status_code=201)
async def declare_absence(
    ctx: Ctx, principal: ProviderUser, provider_id: ProviderId, body: s.AbsenceCreate
) -> s.AbsenceRead:
    """Declare an excused absence (illness, care of a relative, strike)."""
    absence = await activity.declare_absence(
        ctx, principal, provider_id, body.start_at, body.end_at, body.reason
    )
    return s.AbsenceRead.model_validate(absence)


@providers.get("/{provider_id}/absences")
async def get_absences(ctx: Ctx, principal: ProviderOrOps, provider_id: ProviderId) -> list[s.AbsenceRead]:
    """Return the declared absences."""
    return [
        s.AbsenceRead.model_validate(a) for a in await activity.list_absences(ctx, principal, provider_id)
    ]


@providers.get("/{provider_id}/recommendations")
async def get_recommendations(
    ctx: Ctx, principal: ProviderOrOps, provider_id: ProviderId
) -> list[s.RecommendationRead]:
    """Return what the system recommended about a provider and what people decided."""
    rows = await activity.list_recommendations(ctx, principal, provider_id)
    return [s.RecommendationRead.model_validate(r) for r in rows]


@providers.post("/{provider_id}/recommendations/{recommendation_id}/decision")
async def decide_recommendation(
    ctx: Ctx, ops: OpsUser, provider_id: ProviderId, recommendation_id: ItemId, body: s.RecommendationDecision
) -> s.RecommendationRead:
    """Confirm (assigning a retraining module) or dismiss a recommendation (ops)."""
    row = await activity.decide_recommendation(
        ctx,
        ops,
        provider_id,
        recommendation_id,
        confirm=body.confirm,
        reason=body.reason,
        module_id=body.module_id,
        due_days=body.due_days,
    )
    return s.RecommendationRead.model_validate(row)


@providers.get("/{provider_id}/turnover-watch")
async def get_turnover_watch(
    ctx: Ctx,
    principal: ProviderOrOps,
    provider_id: ProviderId,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
) -> dict[str, object]:
    """Compare the year's platform earnings with the micro-entrepreneur turnover ceiling."""
    return (await activity.get_turnover_watch(ctx, principal, provider_id, year)).__dict__


@providers.get("/{provider_id}/dependency-watch")
async def get_dependency_watch(
    ctx: Ctx, principal: ProviderOrOps, provider_id: ProviderId
) -> dict[str, object]:
    """Share of your declared activity that comes from the platform; this week's hours vs your target."""
    return (await activity.get_dependency_watch(ctx, principal, provider_id)).__dict__


@providers.put("/{provider_id}/declared-activity", status_code=204)
async def declare_activity(
    ctx: Ctx, principal: ProviderUser, provider_id: ProviderId, body: s.DeclaredActivityUpdate
) -> Response:
    """Declare your total turnover of a year, all clients included (dependency watch)."""
    await activity.declare_activity(ctx, principal, provider_id, body.year, body.turnover_cents)
    return Response(status_code=204)


@providers.get("/{provider_id}/record")
async def export_record(
    ctx: Ctx, signer: Signer, principal: ProviderOrOps, provider_id: ProviderId
) -> s.SignedRecord:
    """Export your record as JSON, signed by the operator."""
    record = await activity.build_record(ctx, principal, provider_id)
    return s.SignedRecord(**activity.sign_record(signer, record))


@providers.get("/{provider_id}/record.pdf", response_class=Response)
async def export_record_pdf(
    ctx: Ctx, signer: Signer, principal: ProviderOrOps, provider_id: ProviderId
) -> Response:
    """Export your record as a PDF; the X-Signature header signs its exact bytes."""
    record = await activity.build_record(ctx, principal, provider_id)
    pdf, signature = activity.record_pdf(signer, record)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "X-Signature": signature,
            "X-Signature-Algorithm": ALGORITHM,
            "X-Signature-Key-Id": signer.key_id,
            "Content-Disposition": f'attachment; filename="record-{provider_id}.pdf"',
        },
    )


# --- /v1/vetting ----------------------------------------------------------------------------------


@vetting.get("/queue")
async def queue(ctx: Ctx, _: OpsUser) -> list[s.ProviderRead]:
    """List applications waiting for a decision with what each is missing (ops)."""
    return [provider_read(p, e) for p, e in await service.vetting_queue(ctx)]


@vetting.get("/audit")
async def audit(
    ctx: Ctx,
    _: OpsUser,
    provider_id: Annotated[str | None, Query(max_length=100)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 500,
) -> list[s.AuditRead]:
    """Read the append-only audit log, newest first (ops)."""
    return [s.AuditRead.model_validate(e) for e in await vetting_uc.list_audit(ctx, provider_id, limit)]


@vetting.get("/reviews")
async def reviews(ctx: Ctx, _: OpsUser, overdue_only: bool = False) -> list[s.ReviewRead]:
    """List review requests by deadline; overdue ones are flagged (ops)."""
    rows = [review_read(r, ctx) for r in await vetting_uc.list_reviews(ctx, _, None)]
    return [r for r in rows if r.is_overdue] if overdue_only else rows


@vetting.get("/documents")
async def pending_documents(ctx: Ctx, ops: OpsUser) -> list[s.DocumentRead]:
    """List submitted documents waiting for a check, oldest first (ops)."""
    rows = await vetting_uc.list_documents(ctx, ops, None, "pending")
    return [s.DocumentRead.model_validate(d) for d in rows]


@vetting.get("/recommendations")
async def open_recommendations(ctx: Ctx, _: OpsUser) -> list[s.RecommendationRead]:
    """List what the system recommends and a person has not yet decided (ops)."""
    rows = await activity.list_open_recommendations(ctx)
    return [s.RecommendationRead.model_validate(r) for r in rows]


@vetting.post("/reviews/{review_id}/answer")
async def answer_review(ctx: Ctx, ops: OpsUser, review_id: ItemId, body: s.ReviewAnswer) -> s.ReviewRead:
    """Answer a review request in writing (ops)."""
    return review_read(await vetting_uc.answer_review(ctx, ops, review_id, body.answer, body.outcome), ctx)


@vetting.post("/expiry-check")
async def expiry_check(ctx: Ctx, _: OpsUser) -> s.ExpiryRun:
    """Run the expiry check now (it also runs periodically)."""
    return s.ExpiryRun(providers_changed=await training.run_expiry_check(ctx))


@vetting.post("/{provider_id}/start-review")
async def start_review(ctx: Ctx, ops: OpsUser, provider_id: ProviderId) -> s.ProviderRead:
    """Move an application into review (ops)."""
    await vetting_uc.start_review(ctx, ops, provider_id)
    return await read_provider(ctx, ops, provider_id)


@vetting.post("/{provider_id}/checks", status_code=201)
async def record_check(ctx: Ctx, ops: OpsUser, provider_id: ProviderId, body: s.CheckCreate) -> s.CheckRead:
    """Record one check with its evidence and outcome (ops)."""
    check = await vetting_uc.record_check(ctx, ops, provider_id, CheckData(**body.model_dump()))
    return s.CheckRead.model_validate(check)


@vetting.post("/{provider_id}/registry-check")
async def registry_check(ctx: Ctx, ops: OpsUser, provider_id: ProviderId) -> s.ProviderRead:
    """Ask the company registry (INSEE Sirene) whether the company is active (ops)."""
    await vetting_uc.check_registry(ctx, ops, provider_id)
    return await read_provider(ctx, ops, provider_id)


@vetting.post("/{provider_id}/approve")
async def approve(ctx: Ctx, ops: OpsUser, provider_id: ProviderId, body: s.ApproveCreate) -> s.ProviderRead:
    """Approve an application whose checks all passed; it becomes active once a category is met."""
    await vetting_uc.approve(ctx, ops, provider_id, body.reason or "all checks passed")
    return await read_provider(ctx, ops, provider_id)


@vetting.post("/{provider_id}/reject")
async def reject(ctx: Ctx, ops: OpsUser, provider_id: ProviderId, body: s.DecisionCreate) -> s.ProviderRead:
    """Reject an application with a written reason (ops)."""
    await vetting_uc.reject(ctx, ops, provider_id, body.reason)
    return await read_provider(ctx, ops, provider_id)


# --- /v1/trainings ---------------------------------------------------------------------------------


@trainings.get("/modules")
async def catalogue(ctx: Ctx, _: CurrentPrincipal) -> s.TrainingCatalogue:
    """Return the training modules, which ones each category requires, and the checks required."""
    modules, required = await training.list_modules(ctx)
    return s.TrainingCatalogue(
        modules=[s.ModuleRead.model_validate(x) for x in modules],
        requirements=required,
        base_checks=list(ctx.policy.base_checks),
        category_checks={k: list(v) for k, v in ctx.policy.category_checks.items()},
    )


@trainings.post("/modules", status_code=201)
async def create_module(ctx: Ctx, ops: OpsUser, body: s.ModuleCreate) -> s.ModuleRead:
    """Define a training module with its validity and pass score (ops)."""
    module = await training.create_module(ctx, ops, body.code, body.title, body.validity_days, body.min_score)
    return s.ModuleRead.model_validate(module)


@trainings.patch("/modules/{module_id}")
async def update_module(ctx: Ctx, ops: OpsUser, module_id: ItemId, body: s.ModuleUpdate) -> s.ModuleChanged:
    """Change a module's title, validity or pass score; every provider is re-evaluated (ops)."""
    given = body.model_fields_set
    module, changed = await training.update_module(
        ctx,
        ops,
        module_id,
        title=body.title,
        validity_days=body.validity_days if "validity_days" in given else service.UNSET,
        min_score=body.min_score if "min_score" in given else service.UNSET,
    )
    return s.ModuleChanged(module=s.ModuleRead.model_validate(module), providers_changed=changed)


@trainings.post("/preview")
async def preview_change(ctx: Ctx, _: OpsUser, body: s.ChangePreview) -> s.ChangePreviewRead:
    """Dry run (ops): which providers a requirement or module change would disqualify; nothing changes."""
    given = body.model_fields_set
    result = await training.preview_change(
        ctx,
        category=body.category,
        module_ids=body.module_ids,
        module_id=body.module_id,
        validity_days=body.validity_days if "validity_days" in given else service.UNSET,
        min_score=body.min_score if "min_score" in given else service.UNSET,
    )
    return s.ChangePreviewRead.model_validate(result)


@trainings.put("/requirements/{category}")
async def set_requirements(
    ctx: Ctx, ops: OpsUser, category: Annotated[str, Path(max_length=30)], body: s.RequirementsUpdate
) -> s.RequirementsChanged:
    """Set the modules a category requires; every provider is re-evaluated (ops)."""
    changed = await training.set_requirements(ctx, ops, category, body.module_ids)
    return s.RequirementsChanged(category=category, module_ids=body.module_ids, providers_changed=changed)


# --- /v1/bonus-rules -------------------------------------------------------------------------------


@bonus_rules.get("")
async def list_rules(ctx: Ctx, _: ProviderOrOps) -> list[s.BonusRuleRead]:
    """Return the published bonus rules."""
    return [s.BonusRuleRead.model_validate(r) for r in await activity.list_bonus_rules(ctx)]


@bonus_rules.post("", status_code=201)
async def create_rule(ctx: Ctx, ops: OpsUser, body: s.BonusRuleCreate) -> s.BonusRuleRead:
    """Publish a bonus rule (ops)."""
    rule = await activity.create_bonus_rule(ctx, ops, activity.BonusRuleData(**body.model_dump()))
    return s.BonusRuleRead.model_validate(rule)


@bonus_rules.patch("/{rule_id}")
async def update_rule(ctx: Ctx, ops: OpsUser, rule_id: ItemId, body: s.BonusRuleUpdate) -> s.BonusRuleRead:
    """Switch a bonus rule on or off (ops)."""
    return s.BonusRuleRead.model_validate(
        await activity.set_bonus_rule_active(ctx, ops, rule_id, body.is_active)
    )


ROUTERS = [providers, vetting, trainings, bonus_rules]
