"""SQLAlchemy tables of the matching service (its own schema); no behaviour."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Float, Index, Integer, String, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.db import UTCDateTime, make_metadata


class Base(DeclarativeBase):
    metadata = make_metadata()
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


LIVE_OFFER = text("status = 'pending'")
HELD_MISSION = text("status != 'cancelled'")


class Provider(Base):
    """Read model of a provider, fed by providers.events."""

    __tablename__ = "provider"

    provider_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), default="unknown")
    first_name: Mapped[str] = mapped_column(String(100), default="")
    photo_ref: Mapped[str | None] = mapped_column(String(300), nullable=True)
    categories: Mapped[list[Any]] = mapped_column(default=list)
    postcode: Mapped[str] = mapped_column(String(10), default="")
    home_lat: Mapped[float] = mapped_column(Float, default=0.0)
    home_lng: Mapped[float] = mapped_column(Float, default=0.0)
    lat: Mapped[float] = mapped_column(Float, default=0.0)
    lng: Mapped[float] = mapped_column(Float, default=0.0)
    position_at: Mapped[datetime | None] = mapped_column(nullable=True)
    travel_radius_km: Mapped[float] = mapped_column(Float, default=10.0)
    weekly_hours_target: Mapped[float] = mapped_column(Float, default=35.0)
    is_on_duty: Mapped[bool] = mapped_column(Boolean, default=False)
    weekly_schedule: Mapped[list[Any]] = mapped_column(default=list)
    rating_average: Mapped[float | None] = mapped_column(Float, nullable=True)
    rating_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime | None] = mapped_column(nullable=True)


class DutyPeriod(Base):
    """A stretch of time a provider was on duty (for comparing like with like)."""

    __tablename__ = "duty_period"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider_id: Mapped[str] = mapped_column(String(64), index=True)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Order(Base):
    """Read model of an order to dispatch, fed by orders.events, with its dispatch state."""

    __tablename__ = "dispatch_order"

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(20), index=True)
    client_id: Mapped[str] = mapped_column(String(64))
    category: Mapped[str] = mapped_column(String(40))
    zone: Mapped[str] = mapped_column(String(64), index=True)
    postcode: Mapped[str] = mapped_column(String(10))
    district: Mapped[str] = mapped_column(String(200))
    lat: Mapped[float] = mapped_column(Float)
    lng: Mapped[float] = mapped_column(Float)
    address: Mapped[str] = mapped_column(String(500))
    access_notes: Mapped[str] = mapped_column(Text, default="")
    window_start: Mapped[datetime]
    window_end: Mapped[datetime]
    duration_min: Mapped[int] = mapped_column(Integer)
    dispatch_deadline: Mapped[datetime]
    price_cents: Mapped[int] = mapped_column(Integer)
    payout_cents: Mapped[int] = mapped_column(Integer)
    start_code_hash: Mapped[str] = mapped_column(String(128))
    preferred_provider_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    confirmed_at: Mapped[datetime]
    last_reason: Mapped[str] = mapped_column(Text, default="")
    closed_at: Mapped[datetime | None] = mapped_column(nullable=True)


class Exclusion(Base):
    """A provider who declined (or let lapse) an order: never offered that order again."""

    __tablename__ = "exclusion"

    order_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    provider_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    cause: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(Text, default="")
    at: Mapped[datetime]


class Offer(Base):
    """An offer of one order to one provider; at most one pending per order and per provider."""

    __tablename__ = "offer"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64), index=True)
    provider_id: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(20))
    zone: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    decided_at: Mapped[datetime | None] = mapped_column(nullable=True)
    scheduled_start: Mapped[datetime]
    travel_min: Mapped[float] = mapped_column(Float, default=0.0)
    travel_supplement_cents: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(Text, default="")
    batch_id: Mapped[str] = mapped_column(String(64), default="")

    __table_args__ = (
        Index(
            "ux_offer_live_order",
            "order_id",
            unique=True,
            postgresql_where=LIVE_OFFER,
            sqlite_where=LIVE_OFFER,
        ),
        Index(
            "ux_offer_live_provider",
            "provider_id",
            unique=True,
            postgresql_where=LIVE_OFFER,
            sqlite_where=LIVE_OFFER,
        ),
    )


class Mission(Base):
    """An accepted offer: the provider's commitment; at most one held mission per order."""

    __tablename__ = "mission"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64), index=True)
    provider_id: Mapped[str] = mapped_column(String(64), index=True)
    offer_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status: Mapped[str] = mapped_column(String(20))
    scheduled_start: Mapped[datetime]
    duration_min: Mapped[int] = mapped_column(Integer)
    travel_min: Mapped[float] = mapped_column(Float, default=0.0)
    travel_supplement_cents: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    started_at: Mapped[datetime | None] = mapped_column(nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    cancelled_at: Mapped[datetime | None] = mapped_column(nullable=True)
    reason: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (
        Index(
            "ux_mission_held_order",
            "order_id",
            unique=True,
            postgresql_where=HELD_MISSION,
            sqlite_where=HELD_MISSION,
        ),
    )


class Decision(Base):
    """What a batch decided for one order, and why: score components and rejected alternatives."""

    __tablename__ = "decision"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64), index=True)
    batch_id: Mapped[str] = mapped_column(String(64))
    decided_at: Mapped[datetime]
    provider_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    summary: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Setting(Base):
    """A persisted ops setting (the engine weights) by key."""

    __tablename__ = "setting"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(64))


class AuditEntry(Base):
    """Append-only log of ops decisions: who, when, what and why."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime]
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
