"""HTTP routes of orders: parse -> call a use case -> schema; no SQL, no commit."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from services.orders.config import OrdersSettings
from services.orders.domain import FINAL_STATUSES, DisputeStatus, OrderStatus
from services.orders.feedback import FeedbackService
from services.orders.idempotency import Answer, IdempotentRequest
from services.orders.schemas import (
    CancellationPolicyIn,
    CancellationPolicyRead,
    DisputeCreate,
    DisputeNote,
    DisputeRead,
    DisputeResolve,
    OrderCancel,
    OrderCreate,
    OrderRead,
    RatingCreate,
    RatingRead,
    SeriesRead,
    SeriesSkip,
    WebhookIn,
    WebhookRead,
)
from services.orders.series import SeriesService
from services.orders.service import OrdersService
from shared.auth import ClientOrOps, ClientUser, CurrentPrincipal, OpsUser, Role, require_roles
from shared.auth import Principal as PrincipalT


class ChangeFeed:
    """Wakes the live streams of this process when any order changes (they poll as well)."""

    def __init__(self) -> None:
        self._waiters: set[asyncio.Event] = set()

    def notify(self) -> None:
        for waiter in self._waiters:
            waiter.set()

    def subscribe(self) -> asyncio.Event:
        waiter = asyncio.Event()
        self._waiters.add(waiter)
        return waiter

    def unsubscribe(self, waiter: asyncio.Event) -> None:
        self._waiters.discard(waiter)


@dataclass
class UseCases:
    """What the routes call, built by the component."""

    orders: OrdersService
    feedback: FeedbackService
    series: SeriesService
    feed: ChangeFeed
    settings: OrdersSettings


async def use_cases(request: Request) -> UseCases:
    """Return the orders component's use cases."""
    found: UseCases = request.app.state.components["orders"].use_cases
    return found


UseCasesDep = Annotated[UseCases, Depends(use_cases)]
ClientOrProvider = Annotated[PrincipalT, Depends(require_roles(Role.client, Role.provider))]
IdempotencyKey = Annotated[
    str,
    Header(alias="Idempotency-Key", min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$",
           description="a unique key per intended order; a replay returns the first answer"),
]
OptionalIdempotencyKey = Annotated[
    str | None,
    Header(alias="Idempotency-Key", min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$"),
]
# No NUL (U+0000): PostgreSQL cannot compare text holding one, and would answer 500.
NoNul = r"^[^\x00]*$"
OrderId = Annotated[str, Path(min_length=1, max_length=100, pattern=NoNul)]
Limit = Annotated[int, Query(ge=1, le=200)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


def answer(result: Answer) -> Response:
    if result.raw is not None:
        return Response(result.raw, status_code=result.status_code, media_type="application/json")
    return JSONResponse(result.body, status_code=result.status_code)


orders = APIRouter(prefix="/v1/orders", tags=["orders"])
ratings = APIRouter(prefix="/v1/ratings", tags=["ratings"])
disputes = APIRouter(prefix="/v1/disputes", tags=["disputes"])


@orders.post("", status_code=201, response_model=OrderRead)
async def confirm_order(
    body: OrderCreate, principal: ClientUser, uc: UseCasesDep, idempotency_key: IdempotencyKey
) -> Response:
    """Confirm an order from a pricing quote, with address, access notes and time window."""
    return answer(await uc.orders.confirm_order(principal, body, idempotency_key))


@orders.get("", response_model=list[OrderRead])
async def list_orders(
    principal: CurrentPrincipal,
    uc: UseCasesDep,
    status: OrderStatus | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """List the caller's orders (ops: all; providers: their missions' orders)."""
    return await uc.orders.list_orders(principal, status, limit, offset)


@orders.get("/cancellation-policy", response_model=CancellationPolicyRead)
async def get_cancellation_policy(_: CurrentPrincipal, uc: UseCasesDep) -> CancellationPolicyRead:
    """Return the cancellation fee tiers in force and the provider's share of a fee."""
    return await uc.orders.get_policy()


@orders.put("/cancellation-policy", response_model=CancellationPolicyRead)
async def set_cancellation_policy(
    body: CancellationPolicyIn, principal: OpsUser, uc: UseCasesDep
) -> CancellationPolicyRead:
    """Replace the cancellation policy (ops)."""
    return await uc.orders.set_policy(principal, body)


@orders.get("/notification-webhook", response_model=WebhookRead)
async def get_webhook(principal: ClientUser, uc: UseCasesDep) -> WebhookRead:
    """Return the client's notification webhook, if any."""
    return WebhookRead(url=await uc.orders.get_webhook(principal))


@orders.put("/notification-webhook", response_model=WebhookRead)
async def set_webhook(body: WebhookIn, principal: ClientUser, uc: UseCasesDep) -> WebhookRead:
    """Send the client's status notifications to this URL (POST, JSON)."""
    return WebhookRead(url=await uc.orders.set_webhook(principal, str(body.url)))


@orders.delete("/notification-webhook", status_code=204)
async def delete_webhook(principal: ClientUser, uc: UseCasesDep) -> Response:
    """Stop webhook notifications (the log transport is used again)."""
    await uc.orders.set_webhook(principal, None)
    return Response(status_code=204)


@orders.get("/series", response_model=list[SeriesRead])
async def list_series(principal: ClientOrOps, uc: UseCasesDep) -> list[dict[str, Any]]:
    """List the client's recurring series (ops: all)."""
    return await uc.series.list_series(principal)


@orders.get("/series/{series_id}", response_model=SeriesRead)
async def get_series(series_id: OrderId, principal: ClientOrOps, uc: UseCasesDep) -> dict[str, Any]:
    """Return a recurring series and its next occurrences."""
    return await uc.series.get_series(principal, series_id)


@orders.post("/series/{series_id}/skip", response_model=SeriesRead)
async def skip_occurrence(
    series_id: OrderId, body: SeriesSkip, principal: ClientOrOps, uc: UseCasesDep
) -> dict[str, Any]:
    """Skip one occurrence of a series (its order is cancelled if already made)."""
    return await uc.series.skip_occurrence(principal, series_id, body.day)


@orders.post("/series/{series_id}/end", response_model=SeriesRead)
async def end_series(series_id: OrderId, principal: ClientOrOps, uc: UseCasesDep) -> dict[str, Any]:
    """End a series: no further occurrence is made."""
    return await uc.series.end_series(principal, series_id)


@orders.get("/{order_id}", response_model=OrderRead | dict[str, Any])
async def get_order(order_id: OrderId, principal: CurrentPrincipal, uc: UseCasesDep) -> dict[str, Any]:
    """Return an order with its history, provider profile, start code and position when relevant."""
    return await uc.orders.get_order(principal, order_id)


@orders.get("/{order_id}/events", response_class=StreamingResponse)
async def order_events(
    order_id: OrderId, request: Request, principal: ClientOrOps, uc: UseCasesDep
) -> StreamingResponse:
    """Stream the order's status changes (server-sent events) until it reaches a final state."""
    await uc.orders.check_visible(principal, order_id)
    return StreamingResponse(
        status_stream(request, uc, order_id),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def status_stream(request: Request, uc: UseCases, order_id: str) -> AsyncIterator[str]:
    waiter = uc.feed.subscribe()
    loop = asyncio.get_running_loop()
    last_sent = loop.time()
    last_id = 0
    try:
        while True:
            waiter.clear()
            for row_id, row in await uc.orders.history_after(order_id, last_id):
                last_id = row_id
                last_sent = loop.time()
                data = {"order_id": order_id, "status": row.to_status, "from_status": row.from_status,
                        "at": row.at.isoformat(), "message": row.reason}
                yield f"id: {row_id}\nevent: status\ndata: {json.dumps(data)}\n\n"
                if OrderStatus(row.to_status) in FINAL_STATUSES:
                    return
            if await request.is_disconnected():
                return
            if loop.time() - last_sent >= uc.settings.sse_heartbeat_s:
                last_sent = loop.time()
                yield ": keep-alive\n\n"
            try:
                await asyncio.wait_for(waiter.wait(), timeout=uc.settings.sse_poll_s)
            except TimeoutError:
                pass
    finally:
        uc.feed.unsubscribe(waiter)


@orders.post("/{order_id}/cancel", response_model=OrderRead)
async def cancel_order(
    order_id: OrderId, body: OrderCancel, principal: ClientOrOps, uc: UseCasesDep
) -> dict[str, Any]:
    """Cancel an order before it starts, with the fee the policy sets for the time left."""
    return await uc.orders.cancel_order(principal, order_id, body)


@orders.post("/{order_id}/rating", status_code=201, response_model=RatingRead)
async def rate_order(
    order_id: OrderId,
    body: RatingCreate,
    principal: ClientOrProvider,
    uc: UseCasesDep,
    idempotency_key: OptionalIdempotencyKey = None,
) -> Response:
    """Rate the other side of a completed order (double-blind, once)."""
    idem = IdempotentRequest.of(principal.subject, idempotency_key, f"rate:{order_id}",
                                body.model_dump(mode="json"))
    return answer(await uc.feedback.rate_order(principal, order_id, body, idem))


@orders.get("/{order_id}/ratings", response_model=list[RatingRead])
async def order_ratings(
    order_id: OrderId, principal: CurrentPrincipal, uc: UseCasesDep
) -> list[dict[str, Any]]:
    """Return the order's ratings the caller may see (their own; the other's once revealed)."""
    return await uc.feedback.order_ratings(principal, order_id)


@orders.post("/{order_id}/disputes", status_code=201, response_model=DisputeRead)
async def open_dispute(
    order_id: OrderId,
    body: DisputeCreate,
    principal: ClientUser,
    uc: UseCasesDep,
    idempotency_key: OptionalIdempotencyKey = None,
) -> Response:
    """Open a dispute on a completed order."""
    idem = IdempotentRequest.of(principal.subject, idempotency_key, f"dispute:{order_id}",
                                body.model_dump(mode="json"))
    return answer(await uc.feedback.open_dispute(principal, order_id, body, idem))


@ratings.get("", response_model=list[RatingRead])
async def list_ratings(
    principal: CurrentPrincipal,
    uc: UseCasesDep,
    provider_id: Annotated[str | None, Query(max_length=100, pattern=NoNul)] = None,
    client_id: Annotated[str | None, Query(max_length=100, pattern=NoNul)] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """List revealed ratings about the caller (ops: any, by provider or client)."""
    return await uc.feedback.list_ratings(principal, provider_id, client_id, limit, offset)


@disputes.get("", response_model=list[DisputeRead])
async def list_disputes(
    principal: ClientOrOps,
    uc: UseCasesDep,
    status: DisputeStatus | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> list[dict[str, Any]]:
    """List disputes (the client's own; ops: all)."""
    return await uc.feedback.list_disputes(principal, status, limit, offset)


@disputes.get("/{dispute_id}", response_model=DisputeRead)
async def get_dispute(dispute_id: OrderId, principal: ClientOrOps, uc: UseCasesDep) -> dict[str, Any]:
    """Return a dispute with its audit trail."""
    return await uc.feedback.get_dispute(principal, dispute_id)


@disputes.post("/{dispute_id}/notes", response_model=DisputeRead)
async def note_dispute(
    dispute_id: OrderId, body: DisputeNote, principal: OpsUser, uc: UseCasesDep
) -> dict[str, Any]:
    """Add a note to a dispute's audit trail (ops)."""
    return await uc.feedback.note_dispute(principal, dispute_id, body.note)


@disputes.post("/{dispute_id}/resolve", response_model=DisputeRead)
async def resolve_dispute(
    dispute_id: OrderId, body: DisputeResolve, principal: OpsUser, uc: UseCasesDep
) -> dict[str, Any]:
    """Resolve a dispute (ops): refund, partial refund or reject."""
    return await uc.feedback.resolve_dispute(principal, dispute_id, body)


ROUTERS = [orders, ratings, disputes]
