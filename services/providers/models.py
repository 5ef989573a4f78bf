"""SQLAlchemy tables of the providers service (its own schema); no behaviour."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import UTCDateTime, make_metadata


class Base(DeclarativeBase):
    metadata = make_metadata()
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Provider(Base):
    __tablename__ = "provider"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    suspension: Mapped[str | None] = mapped_column(String(20))
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(30))
    date_of_birth: Mapped[date] = mapped_column(Date)
    nationality: Mapped[str] = mapped_column(String(2))
    right_to_work_ref: Mapped[str] = mapped_column(String(200))
    siret: Mapped[str] = mapped_column(String(14))
    categories: Mapped[list[Any]] = mapped_column(JSON)
    address: Mapped[str] = mapped_column(String(300))
    postcode: Mapped[str] = mapped_column(String(5))
    home_lat: Mapped[float] = mapped_column(Float)
    home_lng: Mapped[float] = mapped_column(Float)
    travel_radius_km: Mapped[float] = mapped_column(Float)
    weekly_hours_target: Mapped[float] = mapped_column(Float)
    photo_ref: Mapped[str | None] = mapped_column(String(200))
    qualified: Mapped[list[Any]] = mapped_column(JSON, default=list)
    on_duty: Mapped[bool] = mapped_column(Boolean, default=False)
    weekly_schedule: Mapped[list[Any]] = mapped_column(JSON, default=list)
    position_lat: Mapped[float | None] = mapped_column(Float)
    position_lng: Mapped[float | None] = mapped_column(Float)
    position_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    registry_status: Mapped[str | None] = mapped_column(String(20))
    registry_activity_code: Mapped[str | None] = mapped_column(String(10))
    registry_legal_form: Mapped[str | None] = mapped_column(String(10))
    registry_checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    urssaf_required_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime)
    activated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Check(Base):
    """One vetting check, recorded by a person with its evidence; never updated."""

    __tablename__ = "check"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    provider_id: Mapped[str] = mapped_column(String(100), index=True)
    kind: Mapped[str] = mapped_column(String(50))
    category: Mapped[str | None] = mapped_column(String(30))
    outcome: Mapped[str] = mapped_column(String(10))
    evidence_ref: Mapped[str] = mapped_column(String(300))
    note: Mapped[str] = mapped_column(Text, default="")
    checked_by: Mapped[str] = mapped_column(String(100))
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Document(Base):
    """A document the provider submitted (a new or renewed certificate), waiting for a check."""

    __tablename__ = "document"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    provider_id: Mapped[str] = mapped_column(String(100), index=True)
    kind: Mapped[str] = mapped_column(String(50))
    category: Mapped[str | None] = mapped_column(String(30))
    reference: Mapped[str] = mapped_column(String(300))
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(20), index=True)  # pending | reviewed
    check_id: Mapped[str | None] = mapped_column(String(36))


class TrainingModule(Base):
    __tablename__ = "training_module"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    code: Mapped[str] = mapped_column(String(50), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    validity_days: Mapped[int | None] = mapped_column(Integer)
    min_score: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CategoryRequirement(Base):
    """Module `module_id` is required for `category`."""

    __tablename__ = "category_requirement"

    category: Mapped[str] = mapped_column(String(30), primary_key=True)
    module_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)


class TrainingCompletion(Base):
    __tablename__ = "training_completion"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    provider_id: Mapped[str] = mapped_column(String(100), index=True)
    module_id: Mapped[str] = mapped_column(String(36))
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    score: Mapped[int | None] = mapped_column(Integer)
    recorded_by: Mapped[str] = mapped_column(String(100))


class Retraining(Base):
    __tablename__ = "retraining"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    provider_id: Mapped[str] = mapped_column(String(100), index=True)
    module_id: Mapped[str] = mapped_column(String(36))
    reason: Mapped[str] = mapped_column(Text)
    assigned_by: Mapped[str] = mapped_column(String(100))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Recommendation(Base):
    """Something the system recommends about a provider; a person confirms or dismisses it."""

    __tablename__ = "recommendation"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    provider_id: Mapped[str] = mapped_column(String(100), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_by: Mapped[str | None] = mapped_column(String(100))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Decision(Base):
    """A decision about a provider's account, taken by a person with a written reason."""

    __tablename__ = "decision"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    provider_id: Mapped[str] = mapped_column(String(100), index=True)
    action: Mapped[str] = mapped_column(String(30))
    reason: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(100))
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)
    from_status: Mapped[str] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))


class ReviewRequest(Base):
    __tablename__ = "review_request"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    provider_id: Mapped[str] = mapped_column(String(100), index=True)
    decision_id: Mapped[str] = mapped_column(String(36))
    message: Mapped[str] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answer: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(20))
    answered_by: Mapped[str | None] = mapped_column(String(100))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """Append-only: who did what, when and why (the repository only inserts and reads)."""

    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(50))
    provider_id: Mapped[str | None] = mapped_column(String(100), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class MissionRecord(Base):
    """A completed mission (from matching), the source of counters, bonuses and watches."""

    __tablename__ = "mission_record"

    mission_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    provider_id: Mapped[str] = mapped_column(String(100), index=True)
    order_id: Mapped[str] = mapped_column(String(100))
    category: Mapped[str] = mapped_column(String(30))
    payout_cents: Mapped[int] = mapped_column(BigInteger)
    travel_supplement_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    worked_min: Mapped[int] = mapped_column(Integer)
    is_peak: Mapped[bool] = mapped_column(Boolean, default=False)
    completed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class RatingRecord(Base):
    """A revealed client rating of a provider (from orders)."""

    __tablename__ = "rating_record"

    rating_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    provider_id: Mapped[str] = mapped_column(String(100), index=True)
    order_id: Mapped[str] = mapped_column(String(100))
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    revealed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OfferOutcome(Base):
    """An offer the provider accepted or let pass (declined or expired), for reliability."""

    __tablename__ = "offer_outcome"

    offer_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    provider_id: Mapped[str] = mapped_column(String(100), index=True)
    outcome: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class Absence(Base):
    __tablename__ = "absence"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    provider_id: Mapped[str] = mapped_column(String(100), index=True)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str] = mapped_column(String(30))
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DeclaredActivity(Base):
    """The provider's own declaration of their total turnover for a year (dependency watch)."""

    __tablename__ = "declared_activity"

    provider_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    turnover_cents: Mapped[int] = mapped_column(BigInteger)
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BonusRule(Base):
    __tablename__ = "bonus_rule"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    min_missions: Mapped[int] = mapped_column(Integer)
    min_rating: Mapped[float | None] = mapped_column(Float)
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    peak_supplement_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class BonusAward(Base):
    """At most one award per rule, provider and period (the unique key makes it so)."""

    __tablename__ = "bonus_award"
    __table_args__ = (UniqueConstraint("rule_id", "provider_id", "period", name="uq_bonus_award_once"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(36))
    provider_id: Mapped[str] = mapped_column(String(100), index=True)
    period: Mapped[str] = mapped_column(String(7))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    awarded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ReputationPolicy(Base):
    """The reputation threshold ops set (one row; settings give the defaults)."""

    __tablename__ = "reputation_policy"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    threshold: Mapped[float] = mapped_column(Float)
    min_count: Mapped[int] = mapped_column(Integer)
    window: Mapped[int] = mapped_column(Integer)
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
