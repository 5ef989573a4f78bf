"""Render rows as the HTTP contract says each viewer may see them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.orders.domain import OrderStatus
from services.orders.models import Dispute, DisputeAudit, Order, OrderHistory, Rating
from services.orders.schemas import (
    Address,
    AuditEntry,
    DisputeRead,
    HistoryEntry,
    OrderRead,
    Position,
    ProviderOrderRead,
    ProviderProfile,
    RatingRead,
    Window,
)


def history_entry(row: OrderHistory) -> HistoryEntry:
    return HistoryEntry.model_construct(
        from_status=row.from_status, to_status=row.to_status, at=row.at, actor=row.actor, reason=row.reason
    )


def order_read(order: Order, history: Sequence[OrderHistory]) -> OrderRead:
    """The client's (and ops') view: start code and position only while they are useful.

    A stored position reaches this row only if its client may see it now: the repository
    blanks it otherwise when reading (`domain.is_position_shown`).

    Built without validation (`model_construct`): every value comes from our own rows.
    """
    status = OrderStatus(order.status)
    on_the_way = status is OrderStatus.assigned
    provider = None
    if order.provider_id is not None and status in (
        OrderStatus.assigned, OrderStatus.in_progress, OrderStatus.completed
    ):
        provider = ProviderProfile.model_construct(
            provider_id=order.provider_id,
            first_name=order.provider_first_name,
            rating=order.provider_rating,
            photo_ref=order.provider_photo_ref,
        )
    position = None
    if on_the_way and order.provider_position_at is not None:
        assert order.provider_lat is not None and order.provider_lng is not None
        position = Position.model_construct(
            lat=order.provider_lat, lng=order.provider_lng, recorded_at=order.provider_position_at
        )
    return OrderRead.model_construct(
        id=order.id,
        client_id=order.client_id,
        status=order.status,
        category=order.category,
        zone=order.zone,
        address=Address.model_construct(
            street=order.street, postcode=order.postcode, city=order.city, lat=order.lat, lng=order.lng
        ),
        access_notes=order.access_notes,
        window=Window.model_construct(start=order.window_start, end=order.window_end),
        duration_min=order.duration_min,
        dispatch_deadline=order.dispatch_deadline,
        price_cents=order.price_cents,
        quote_id=order.quote_id,
        grid_version=order.grid_version,
        quote=order.quote,
        series_id=order.series_id,
        start_code=order.start_code if on_the_way else None,
        provider=provider,
        provider_position=position,
        cancelled_by=order.cancelled_by,
        cancel_reason=order.cancel_reason,
        fee_cents=order.fee_cents,
        created_at=order.created_at,
        completed_at=order.completed_at,
        history=[history_entry(h) for h in history],
    )


def provider_order_read(order: Order) -> ProviderOrderRead:
    return ProviderOrderRead(
        id=order.id,
        status=order.status,
        category=order.category,
        city=order.city,
        window=Window.model_construct(start=order.window_start, end=order.window_end),
        duration_min=order.duration_min,
        payout_cents=order.payout_cents,
        completed_at=order.completed_at,
    )


def rating_read(rating: Rating) -> RatingRead:
    return RatingRead(
        id=rating.id,
        order_id=rating.order_id,
        rater_role=rating.rater_role,
        score=rating.score,
        comment=rating.comment,
        created_at=rating.created_at,
        revealed=rating.revealed_at is not None,
        revealed_at=rating.revealed_at,
    )


def dispute_read(dispute: Dispute, audit: Sequence[DisputeAudit]) -> DisputeRead:
    return DisputeRead(
        id=dispute.id,
        order_id=dispute.order_id,
        client_id=dispute.client_id,
        status=dispute.status,
        reason=dispute.reason,
        outcome=dispute.outcome,
        refund_cents=dispute.refund_cents,
        opened_at=dispute.opened_at,
        resolved_at=dispute.resolved_at,
        audit=[
            AuditEntry(at=a.at, actor=a.actor, actor_role=a.actor_role, action=a.action, note=a.note)
            for a in audit
        ],
    )


def dump(model: Any) -> dict[str, Any]:
    """Return a schema as JSON-ready data (what the idempotency store keeps)."""
    data: dict[str, Any] = model.model_dump(mode="json")
    return data
