"""Rows to the plain data the API returns (the HTTP contract's shapes)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from services.pricing.domain.quote import TaxCredit
from services.pricing.models import AuditRow, GridCommentRow, GridRow, LedgerRow, QuoteRow, ZoneRow


def iso(at: datetime | None) -> str | None:
    """Return a UTC instant as ISO 8601 with a Z, like the pydantic-serialised fields."""
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z") if at is not None else None


def zone_view(row: ZoneRow) -> dict[str, Any]:
    return {
        "code": row.code,
        "name": row.name,
        "postcodes": list(row.postcodes),
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }


def grid_state(row: GridRow, now: datetime) -> str:
    """Return draft, pending (published, not yet effective) or published."""
    if row.status == "draft":
        return "draft"
    if row.effective_at is not None and row.effective_at > now:
        return "pending"
    return "published"


def grid_summary(row: GridRow, now: datetime) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "status": row.status,
        "state": grid_state(row, now),
        "version": row.version,
        "cell_count": len(row.cells),
        "created_by": row.created_by,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "published_by": row.published_by,
        "published_at": iso(row.published_at),
        "effective_at": iso(row.effective_at),
        "publish_reason": row.publish_reason,
        "rolled_back_from": row.rolled_back_from,
        "payout_decreases": list(row.payout_decreases or []),
    }


def grid_view(row: GridRow, now: datetime) -> dict[str, Any]:
    return {**grid_summary(row, now), "cells": list(row.cells)}


def comment_view(row: GridCommentRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "grid_id": row.grid_id,
        "author_id": row.author_id,
        "author_role": row.author_role,
        "category": row.category,
        "zone": row.zone,
        "body": row.body,
        "created_at": iso(row.created_at),
    }


def tax_credit_view(credit: TaxCredit) -> dict[str, Any]:
    return {
        "eligible": credit.eligible,
        "amount_cents": credit.amount_cents,
        "rate": str(credit.rate),
        "annual_ceiling_cents": credit.annual_ceiling_cents,
        "reason": credit.reason,
    }


def quote_view(row: QuoteRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "category": row.category,
        "zone": row.zone,
        "postcode": row.postcode,
        "lat": row.lat,
        "lng": row.lng,
        "start_at": iso(row.start_at),
        "duration_min": row.duration_min,
        "price_cents": row.price_cents,
        "payout_cents": row.payout_cents,
        "commission_cents": row.commission_cents,
        "currency": "EUR",
        "grid_version": row.grid_version,
        "quoted_at": iso(row.quoted_at),
        "expires_at": iso(row.expires_at),
        "client_id": row.client_id,
        "breakdown": dict(row.breakdown),
        "tax_credit": dict(row.tax_credit),
    }


def ledger_view(row: LedgerRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "provider_id": row.provider_id,
        "kind": row.kind,
        "amount_cents": row.amount_cents,
        "gross_cents": row.gross_cents,
        "commission_cents": row.commission_cents,
        "occurred_at": iso(row.occurred_at),
        "recorded_at": iso(row.recorded_at),
        "order_id": row.order_id,
        "mission_id": row.mission_id,
        "reference": row.reference,
        "description": row.description,
    }


def audit_view(row: AuditRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": iso(row.at),
        "actor": row.actor,
        "action": row.action,
        "subject": row.subject,
        "reason": row.reason,
        "details": dict(row.details or {}),
    }
