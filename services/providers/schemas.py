"""HTTP contract of the providers service (never the ORM classes)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from services.providers.domain import CheckOutcome, Evaluation, MissingItem
from services.providers.retention import AbsenceReason

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=10, max_length=2000)]
Latitude = Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
Category = Annotated[str, StringConstraints(pattern=r"^[a-z_]{2,30}$")]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ProviderCreate(Strict):
    first_name: Text
    last_name: Text
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=200)]
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ]{8,20}$")]
    date_of_birth: date
    nationality: Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2}$")]
    right_to_work_ref: Text = Field(description="reference of the identity / right-to-work document")
    siret: Annotated[str, StringConstraints(max_length=30)]
    categories: list[Category] = Field(min_length=1, max_length=8)
    address: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=300)]
    postcode: Annotated[str, StringConstraints(pattern=r"^\d{5}$")]
    home_lat: Latitude
    home_lng: Longitude
    travel_radius_km: float = Field(gt=0, le=100, allow_inf_nan=False)
    weekly_hours_target: float = Field(gt=0, le=70, allow_inf_nan=False)
    photo_ref: Text | None = None


class MissingItemRead(BaseModel):
    item: str
    reason: str
    action: str
    category: str | None
    expired_at: datetime | None

    @classmethod
    def of(cls, item: MissingItem) -> MissingItemRead:
        return cls(
            item=item.item,
            reason=item.reason,
            action=item.action,
            category=item.category,
            expired_at=item.expired_at,
        )


class CategoryQualification(BaseModel):
    category: str
    is_qualified: bool
    missing: list[MissingItemRead]


class QualificationsRead(BaseModel):
    qualified: list[str]
    categories: list[CategoryQualification]
    missing_for_all: list[MissingItemRead]
    notices: list[MissingItemRead]

    @classmethod
    def of(cls, evaluation: Evaluation) -> QualificationsRead:
        return cls(
            qualified=list(evaluation.qualified),
            categories=[
                CategoryQualification(
                    category=c,
                    is_qualified=c in evaluation.qualified,
                    missing=[MissingItemRead.of(i) for i in evaluation.blockers_of(c) if i.category == c],
                )
                for c in evaluation.categories
            ],
            missing_for_all=[MissingItemRead.of(i) for i in evaluation.general_blockers],
            notices=[MissingItemRead.of(i) for i in evaluation.notices],
        )


class RegistryRead(BaseModel):
    status: str | None
    activity_code: str | None
    legal_form: str | None
    checked_at: datetime | None


class ProviderRead(BaseModel):
    id: str
    status: str
    suspension: str | None
    first_name: str
    last_name: str
    email: str
    phone: str
    date_of_birth: date
    nationality: str
    siret: str
    siren: str
    vat_number: str
    categories: list[str]
    address: str
    postcode: str
    home_lat: float
    home_lng: float
    travel_radius_km: float
    weekly_hours_target: float
    photo_ref: str | None
    on_duty: bool
    applied_at: datetime
    activated_at: datetime | None
    registry: RegistryRead
    qualifications: QualificationsRead


class WeeklySlotIn(Strict):
    weekday: int = Field(ge=0, le=6, description="0 = Monday")
    start: Annotated[str, StringConstraints(pattern=r"^\d{2}:\d{2}$")]
    end: Annotated[str, StringConstraints(pattern=r"^\d{2}:\d{2}$")]


class AvailabilityUpdate(Strict):
    on_duty: bool | None = None
    weekly_schedule: list[WeeklySlotIn] | None = Field(default=None, max_length=50)
    travel_radius_km: float | None = Field(default=None, gt=0, le=100, allow_inf_nan=False)
    weekly_hours_target: float | None = Field(default=None, gt=0, le=70, allow_inf_nan=False)


class AvailabilityRead(BaseModel):
    provider_id: str
    on_duty: bool
    weekly_schedule: list[dict[str, Any]]
    travel_radius_km: float
    weekly_hours_target: float
    position: dict[str, Any] | None


class PositionUpdate(Strict):
    lat: Latitude
    lng: Longitude
    recorded_at: AwareDatetime | None = None


class CheckCreate(Strict):
    kind: Annotated[str, StringConstraints(pattern=r"^[a-z_]{2,50}$")]
    outcome: CheckOutcome
    evidence_ref: Text
    category: Category | None = None
    expires_at: AwareDatetime | None = None
    note: Annotated[str, StringConstraints(max_length=2000)] = ""
    document_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None


class DocumentCreate(Strict):
    kind: Annotated[str, StringConstraints(pattern=r"^[a-z_]{2,50}$")]
    reference: Text = Field(description="where the document is stored (upload reference)")
    expires_at: AwareDatetime | None = None
    category: Category | None = None


class DocumentRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    provider_id: str
    kind: str
    category: str | None
    reference: str
    expires_at: datetime | None
    submitted_at: datetime
    status: str
    check_id: str | None


class CheckRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    provider_id: str
    kind: str
    category: str | None
    outcome: str
    evidence_ref: str
    note: str
    checked_by: str
    checked_at: datetime
    expires_at: datetime | None


class DecisionCreate(Strict):
    reason: Reason = Field(description="written reason, shown to the provider")


class ApproveCreate(Strict):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] = "all checks passed"


class DecisionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    provider_id: str
    action: str
    reason: str
    decided_by: str
    decided_at: datetime
    from_status: str
    to_status: str


class AuditRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor: str
    action: str
    provider_id: str | None
    reason: str
    details: dict[str, Any]


class ReviewCreate(Strict):
    decision_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    message: Reason


class ReviewAnswer(Strict):
    answer: Reason
    outcome: Literal["upheld", "overturned"]


class ReviewRead(BaseModel):
    id: str
    provider_id: str
    decision_id: str
    message: str
    requested_at: datetime
    due_at: datetime
    is_overdue: bool
    answer: str | None
    outcome: str | None
    answered_by: str | None
    answered_at: datetime | None


class ModuleCreate(Strict):
    code: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]{2,50}$")]
    title: Text
    validity_days: int | None = Field(default=None, gt=0, le=3650)
    min_score: int | None = Field(default=None, ge=0, le=100)


class ModuleUpdate(Strict):
    """Only the fields given change; `null` removes a validity or a pass score."""

    title: Text | None = None
    validity_days: int | None = Field(default=None, gt=0, le=3650)
    min_score: int | None = Field(default=None, ge=0, le=100)


class ModuleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    code: str
    title: str
    validity_days: int | None
    min_score: int | None


class ModuleChanged(BaseModel):
    module: ModuleRead
    providers_changed: int


class TrainingCatalogue(BaseModel):
    modules: list[ModuleRead]
    requirements: dict[str, list[str]]
    base_checks: list[str] = Field(default_factory=list, description="checks every category needs")
    category_checks: dict[str, list[str]] = Field(
        default_factory=dict, description="checks a category needs besides (settings, e.g. childcare)"
    )


class RequirementsUpdate(Strict):
    module_ids: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = Field(max_length=50)


class RequirementsChanged(BaseModel):
    category: str
    module_ids: list[str]
    providers_changed: int


class ChangePreview(Strict):
    """A requirement change (category + module_ids) or a module change (module_id + fields) to try."""

    category: Category | None = None
    module_ids: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] | None = Field(
        default=None, max_length=50
    )
    module_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    validity_days: int | None = Field(default=None, gt=0, le=3650)
    min_score: int | None = Field(default=None, ge=0, le=100)

    @model_validator(mode="after")
    def _one_change(self) -> ChangePreview:
        if (self.category is None) == (self.module_id is None):
            raise ValueError("give either category (with module_ids) or module_id")
        if self.category is not None and self.module_ids is None:
            raise ValueError("module_ids: the category's new list of modules is required")
        return self


class ProviderLoss(BaseModel):
    provider_id: str
    categories: list[str]
    is_left_with_none: bool


class ProviderGain(BaseModel):
    provider_id: str
    categories: list[str]


class ChangePreviewRead(BaseModel):
    providers_disqualified: int
    providers_left_with_none: int
    providers_requalified: int
    disqualified: list[ProviderLoss]
    requalified: list[ProviderGain]


class CompletionCreate(Strict):
    module_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    completed_at: AwareDatetime | None = None
    score: int | None = Field(default=None, ge=0, le=100)


class CompletionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    provider_id: str
    module_id: str
    completed_at: datetime
    score: int | None
    recorded_by: str


class BonusRuleCreate(Strict):
    name: Text
    min_missions: int = Field(ge=1, le=10_000)
    min_rating: float | None = Field(default=None, ge=1, le=5)
    amount_cents: int = Field(ge=0, le=10_000_000)
    peak_supplement_cents: int = Field(default=0, ge=0, le=1_000_000)


class BonusRuleUpdate(Strict):
    is_active: bool


class BonusRuleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    min_missions: int
    min_rating: float | None
    amount_cents: int
    peak_supplement_cents: int
    is_active: bool
    created_at: datetime


class AwardRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    rule_id: str
    provider_id: str
    period: str
    amount_cents: int
    awarded_at: datetime


class ReputationPolicyUpdate(Strict):
    threshold: float = Field(ge=1, le=5)
    min_count: int = Field(ge=1, le=1000)
    window: int = Field(ge=1, le=10_000)


class ReputationPolicyRead(BaseModel):
    threshold: float
    min_count: int
    window: int


class ReputationRead(BaseModel):
    provider_id: str
    rating_average: float | None
    rating_count: int
    window_count: int
    distribution: dict[str, int]
    verdict: str
    policy: ReputationPolicyRead
    reliability: dict[str, Any]


class AbsenceCreate(Strict):
    start_at: AwareDatetime
    end_at: AwareDatetime
    reason: AbsenceReason


class AbsenceRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    start_at: datetime
    end_at: datetime
    reason: str
    declared_at: datetime


class RecommendationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    provider_id: str
    kind: str
    reason: str
    status: str
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None


class RecommendationDecision(Strict):
    confirm: bool
    reason: Reason
    module_id: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    due_days: int | None = Field(default=None, ge=1, le=365)


class DeclaredActivityUpdate(Strict):
    year: int = Field(ge=2000, le=2100)
    turnover_cents: int = Field(ge=0, le=10_000_000_000)


class SignedRecord(BaseModel):
    record: dict[str, Any]
    signature: str
    algorithm: str
    key_id: str


class VerifyRequest(Strict):
    signature: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    record: dict[str, Any] | None = None
    document_b64: Annotated[str, StringConstraints(max_length=10_000_000)] | None = None


class VerifyResult(BaseModel):
    is_valid: bool
    key_id: str


class PublicKeyRead(BaseModel):
    algorithm: str
    key_id: str
    public_key_pem: str
    public_key_b64: str


class ExpiryRun(BaseModel):
    providers_changed: int
