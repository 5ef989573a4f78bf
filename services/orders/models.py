"""SQLAlchemy tables of the orders service (its own schema); no behaviour."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Float,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import UTCDateTime, make_metadata

AutoId = BigInteger().with_variant(Integer, "sqlite")


class Base(DeclarativeBase):
    metadata = make_metadata()
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(100), index=True)
    status: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(40))
    zone: Mapped[str] = mapped_column(String(100))
    street: Mapped[str] = mapped_column(String(200))
    postcode: Mapped[str] = mapped_column(String(10))
    city: Mapped[str] = mapped_column(String(100))
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    access_notes: Mapped[str] = mapped_column(Text, default="")
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    duration_min: Mapped[int] = mapped_column(Integer)
    dispatch_deadline: Mapped[datetime]
    price_cents: Mapped[int] = mapped_column(Integer)
    payout_cents: Mapped[int] = mapped_column(Integer)
    commission_cents: Mapped[int] = mapped_column(Integer)
    quote_id: Mapped[str] = mapped_column(String(100))
    grid_version: Mapped[int] = mapped_column(Integer)
    quote: Mapped[dict[str, Any]] = mapped_column(JSON)
    start_code: Mapped[str] = mapped_column(String(6))
    start_code_hash: Mapped[str] = mapped_column(String(64))
    series_id: Mapped[str | None] = mapped_column(String(32), index=True)
    occurrence_index: Mapped[int] = mapped_column(Integer, default=0)
    preferred_provider_id: Mapped[str | None] = mapped_column(String(100))
    provider_id: Mapped[str | None] = mapped_column(String(100), index=True)
    mission_id: Mapped[str | None] = mapped_column(String(100))
    provider_first_name: Mapped[str | None] = mapped_column(String(100))
    provider_rating: Mapped[float | None] = mapped_column(Float)
    provider_photo_ref: Mapped[str | None] = mapped_column(String(300))
    provider_lat: Mapped[float | None] = mapped_column(Float)
    provider_lng: Mapped[float | None] = mapped_column(Float)
    provider_position_at: Mapped[datetime | None]
    cancelled_by: Mapped[str | None] = mapped_column(String(20))
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    fee_cents: Mapped[int] = mapped_column(Integer, default=0)
    provider_share_cents: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    started_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]

    __table_args__ = (UniqueConstraint("quote_id", "occurrence_index"),)


class OrderHistory(Base):
    """Every status change of an order; also the notification outbox (notify_state)."""

    __tablename__ = "order_history"

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(String(32), index=True)
    client_id: Mapped[str] = mapped_column(String(100))
    from_status: Mapped[str | None] = mapped_column(String(20))
    to_status: Mapped[str] = mapped_column(String(20))
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(120))
    reason: Mapped[str] = mapped_column(Text, default="")
    notify_state: Mapped[str] = mapped_column(String(10), default="pending")
    notify_attempts: Mapped[int] = mapped_column(Integer, default=0)
    notify_after: Mapped[datetime]
    notify_error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index(
            "ix_order_history_pending",
            "notify_after",
            postgresql_where=notify_state == "pending",
            sqlite_where=notify_state == "pending",
        ),
    )


class IdempotencyKey(Base):
    """The first answer to a creating POST, by caller and key, stored with what it created."""

    __tablename__ = "idempotency_keys"

    subject: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(100))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    response: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime]


class Rating(Base):
    __tablename__ = "ratings"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(32), index=True)
    rater_role: Mapped[str] = mapped_column(String(10))
    rater_id: Mapped[str] = mapped_column(String(100))
    client_id: Mapped[str] = mapped_column(String(100), index=True)
    provider_id: Mapped[str] = mapped_column(String(100), index=True)
    score: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]
    closes_at: Mapped[datetime]
    revealed_at: Mapped[datetime | None] = mapped_column()

    __table_args__ = (
        UniqueConstraint("order_id", "rater_role"),
        Index("ix_ratings_unrevealed", "closes_at", postgresql_where=revealed_at.is_(None),
              sqlite_where=revealed_at.is_(None)),
    )


class Dispute(Base):
    __tablename__ = "disputes"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(32), index=True)
    client_id: Mapped[str] = mapped_column(String(100), index=True)
    provider_id: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(20))
    refund_cents: Mapped[int] = mapped_column(Integer, default=0)
    opened_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str | None] = mapped_column(String(100))


class DisputeAudit(Base):
    """Append-only trail of a dispute: who did what, when and why."""

    __tablename__ = "dispute_audit"

    id: Mapped[int] = mapped_column(AutoId, primary_key=True, autoincrement=True)
    dispute_id: Mapped[str] = mapped_column(String(32), index=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(100))
    actor_role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(40))
    note: Mapped[str] = mapped_column(Text, default="")


class Series(Base):
    """A recurring booking: the terms locked at booking and where generation has got to."""

    __tablename__ = "series"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(100), index=True)
    frequency: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20))
    first_start: Mapped[datetime]
    window_length_min: Mapped[int] = mapped_column(Integer)
    template: Mapped[dict[str, Any]] = mapped_column(JSON)
    next_index: Mapped[int] = mapped_column(Integer, default=1)
    skipped: Mapped[list[Any]] = mapped_column(JSON, default=list)
    last_provider_id: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]


class ClientWebhook(Base):
    __tablename__ = "client_webhooks"

    client_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    url: Mapped[str] = mapped_column(String(500))
    updated_at: Mapped[datetime]


class CancellationPolicyRow(Base):
    """The policy ops set (one row, id 'current'); absent means the settings' default."""

    __tablename__ = "cancellation_policy"

    id: Mapped[str] = mapped_column(String(20), primary_key=True)
    tiers: Mapped[list[Any]] = mapped_column(JSON)
    provider_share_percent: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    updated_by: Mapped[str] = mapped_column(String(100))
    updated_at: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text, default="")
