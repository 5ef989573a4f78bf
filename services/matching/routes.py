"""Routes of /v1/offers, /v1/missions and /v1/dispatch: parse, call a use case, shape the answer."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from services.matching.app import MatchingComponent
from services.matching.domain import MissionStatus, OfferStatus, is_booked_later
from services.matching.models import Mission, Offer, Order
from services.matching.schemas import (
    Document,
    FloorPolicyUpdate,
    MissionDrop,
    MissionRead,
    MissionReassign,
    MissionStart,
    OfferDecline,
    OfferRead,
    ReassignRead,
    SlotProposal,
    WeightsUpdate,
    document,
)
from shared.auth import OpsUser, ProviderOrOps, ProviderUser
from shared.fairpay import net_of_contributions


def get_matching(request: Request) -> MatchingComponent:
    """Return the running matching component."""
    component: MatchingComponent = request.app.state.components["matching"]
    return component


MatchingDep = Annotated[MatchingComponent, Depends(get_matching)]
LIVE_MISSION = (MissionStatus.assigned.value, MissionStatus.started.value)

offers = APIRouter(prefix="/v1/offers", tags=["offers"])
missions = APIRouter(prefix="/v1/missions", tags=["missions"])
dispatch = APIRouter(prefix="/v1/dispatch", tags=["dispatch"])


def offer_read(m: MatchingComponent, offer: Offer, order: Order | None) -> OfferRead:
    """Shape an offer for its provider: the address only once accepted and still live."""
    assert order is not None
    is_live = offer.status == OfferStatus.accepted.value and order.status in ("assigned", "started")
    return OfferRead(
        id=offer.id,
        order_id=offer.order_id,
        status=offer.status,
        category=order.category,
        district=order.district,
        address=order.address if is_live else None,
        access_notes=order.access_notes if is_live else None,
        window_start=order.window_start,
        window_end=order.window_end,
        scheduled_start=offer.scheduled_start,
        duration_min=order.duration_min,
        expires_at=offer.expires_at,
        payout_cents=order.payout_cents,
        net_payout_cents=net_of_contributions(
            order.payout_cents + offer.travel_supplement_cents, m.settings.contribution_rate
        ),
        travel_supplement_cents=offer.travel_supplement_cents,
        travel_min=offer.travel_min,
        is_booked_later=is_booked_later(order.window_start, m.clock(), m.settings.booked_later_after_min),
    )


def mission_read(m: MatchingComponent, mission: Mission, order: Order | None) -> MissionRead:
    """Shape a mission: the address only while it is live."""
    is_live = mission.status in LIVE_MISSION
    return MissionRead(
        id=mission.id,
        order_id=mission.order_id,
        provider_id=mission.provider_id,
        status=mission.status,
        category=order.category if order else None,
        district=order.district if order else None,
        address=order.address if order and is_live else None,
        access_notes=order.access_notes if order and is_live else None,
        scheduled_start=mission.scheduled_start,
        duration_min=mission.duration_min,
        payout_cents=order.payout_cents if order else None,
        net_payout_cents=(
            net_of_contributions(
                order.payout_cents + mission.travel_supplement_cents, m.settings.contribution_rate
            )
            if order
            else None
        ),
        travel_supplement_cents=mission.travel_supplement_cents,
        started_at=mission.started_at,
        completed_at=mission.completed_at,
        cancelled_at=mission.cancelled_at,
        reason=mission.reason,
    )


# offers
@offers.get("", response_model=list[OfferRead])
async def list_offers(
    m: MatchingDep, principal: ProviderUser, status: Literal["live", "all"] = "live"
) -> list[OfferRead]:
    """List my offers (live ones by default)."""
    statuses = [OfferStatus.pending.value] if status == "live" else [s.value for s in OfferStatus]
    rows = await m.service.list_offers(principal.subject, statuses)
    return [offer_read(m, o, order) for o, order in rows if order is not None]


@offers.get("/{offer_id}", response_model=OfferRead)
async def get_offer(offer_id: str, m: MatchingDep, principal: ProviderUser) -> OfferRead:
    """Show one of my offers."""
    offer, order = await m.service.get_offer(offer_id, principal.subject)
    return offer_read(m, offer, order)


@offers.post("/{offer_id}/accept", response_model=MissionRead)
async def accept_offer(offer_id: str, m: MatchingDep, principal: ProviderUser) -> MissionRead:
    """Accept an offer: it becomes my mission."""
    mission, order = await m.service.accept_offer_with_order(offer_id, principal.subject)
    return mission_read(m, mission, order)


@offers.post("/{offer_id}/decline", response_model=OfferRead)
async def decline_offer(
    offer_id: str, m: MatchingDep, principal: ProviderUser, body: OfferDecline | None = None
) -> OfferRead:
    """Decline an offer, with an optional reason; declining is never penalised."""
    offer = await m.service.decline_offer(offer_id, principal.subject, (body or OfferDecline()).reason)
    __, order = await m.service.get_offer(offer.id, principal.subject)
    return offer_read(m, offer, order)


@offers.post("/{offer_id}/propose", response_model=MissionRead)
async def propose_slot(
    offer_id: str, body: SlotProposal, m: MatchingDep, principal: ProviderUser
) -> MissionRead:
    """Take an order booked for later at another start inside the client's window."""
    mission, order = await m.service.accept_offer_with_order(
        offer_id, principal.subject, start_at=body.start_at
    )
    return mission_read(m, mission, order)


# missions
@missions.get("", response_model=list[MissionRead])
async def list_missions(
    m: MatchingDep,
    principal: ProviderOrOps,
    status: Annotated[list[MissionStatus] | None, Query()] = None,
    provider_id: Annotated[str | None, Query(max_length=64)] = None,
) -> list[MissionRead]:
    """List my missions (ops: everyone's, optionally one provider's)."""
    who = provider_id if principal.is_ops else principal.subject
    rows = await m.service.list_missions(who, [s.value for s in status] if status else None)
    return [mission_read(m, mission, order) for mission, order in rows]


@missions.get("/{mission_id}", response_model=MissionRead)
async def get_mission(mission_id: str, m: MatchingDep, principal: ProviderOrOps) -> MissionRead:
    """Show a mission (mine, or any for ops)."""
    mission, order = await m.service.get_mission(mission_id, principal)
    return mission_read(m, mission, order)


@missions.post("/{mission_id}/start", response_model=MissionRead)
async def start_mission(
    mission_id: str, body: MissionStart, m: MatchingDep, principal: ProviderUser
) -> MissionRead:
    """Start my mission with the client's start code."""
    mission = await m.service.start_mission(mission_id, principal.subject, body.code)
    __, order = await m.service.get_mission(mission.id, principal)
    return mission_read(m, mission, order)


@missions.post("/{mission_id}/complete", response_model=MissionRead)
async def complete_mission(mission_id: str, m: MatchingDep, principal: ProviderUser) -> MissionRead:
    """Complete my started mission."""
    mission = await m.service.complete_mission(mission_id, principal.subject)
    __, order = await m.service.get_mission(mission.id, principal)
    return mission_read(m, mission, order)


@missions.post("/{mission_id}/cancel", response_model=MissionRead)
async def drop_mission(
    mission_id: str, m: MatchingDep, principal: ProviderUser, body: MissionDrop | None = None
) -> MissionRead:
    """Give back my mission before it starts; the order is dispatched to someone else."""
    mission = await m.service.drop_mission(mission_id, principal.subject, (body or MissionDrop()).reason)
    __, order = await m.service.get_mission(mission.id, principal)
    return mission_read(m, mission, order)


@missions.post("/{mission_id}/reassign", response_model=ReassignRead)
async def reassign_mission(
    mission_id: str, body: MissionReassign, m: MatchingDep, principal: OpsUser
) -> ReassignRead:
    """Ops: take a mission from its provider by hand, with a reason (audited)."""
    result = await m.service.reassign_mission(mission_id, principal.subject, body.reason, body.provider_id)
    return ReassignRead(**result)


# dispatch
@dispatch.get("/pool", response_model=Document)
async def get_pool(m: MatchingDep, _: OpsUser) -> Document:
    """Ops: list the orders waiting for a provider, and why."""
    return document({"orders": await m.insight.pool()})


@dispatch.get("/board", response_model=Document)
async def get_board(m: MatchingDep, _: OpsUser) -> Document:
    """Ops: the live board (pool, live offers, missions, unassignable orders, providers on duty)."""
    return document(await m.insight.board())


@dispatch.post("/dry-run", response_model=Document)
async def dry_run(m: MatchingDep, _: OpsUser) -> Document:
    """Ops: preview what the next batch would decide; nothing changes."""
    return document(await m.dispatcher.preview())


@dispatch.get("/weights", response_model=Document)
async def get_weights(m: MatchingDep, _: ProviderOrOps) -> Document:
    """Read the weights the next batch uses (providers may read them too)."""
    return document(await m.insight.weights())


@dispatch.put("/weights", response_model=Document)
async def put_weights(body: WeightsUpdate, m: MatchingDep, principal: OpsUser) -> Document:
    """Ops: change the weights, with a reason (audited); the next batch uses them."""
    values = body.model_dump(exclude={"reason"})
    return document(await m.insight.set_weights(values, principal.subject, body.reason))


@dispatch.get("/floor-policy", response_model=Document)
async def get_floor_policy(m: MatchingDep, _: ProviderOrOps) -> Document:
    """Read what the next batch does with a pair below the fair-pay floor (providers may read it too)."""
    return document(await m.insight.floor_policy())


@dispatch.put("/floor-policy", response_model=Document)
async def put_floor_policy(body: FloorPolicyUpdate, m: MatchingDep, principal: OpsUser) -> Document:
    """Ops: choose supplement or rule_out for below-floor pairs, with a reason (audited)."""
    return document(await m.insight.set_floor_policy(body.mode, principal.subject, body.reason))


@dispatch.get("/fairness", response_model=Document)
async def get_fairness(m: MatchingDep, _: OpsUser) -> Document:
    """Ops: offers per provider against the median of comparable providers."""
    return document(await m.insight.fairness())


@dispatch.get("/fairness/me", response_model=Document)
async def get_my_fairness(m: MatchingDep, principal: ProviderUser) -> Document:
    """My offers against the median of comparable providers."""
    data = await m.insight.fairness(principal.subject)
    rows = data.pop("providers")
    return document({**data, **(rows[0] if rows else {"offers": 0, "peer_median": None, "peers": 0})})


@dispatch.get("/decisions/{order_id}", response_model=Document)
async def get_decision(order_id: str, m: MatchingDep, principal: ProviderOrOps) -> Document:
    """Explain a dispatch decision (ops: any order; a provider: only a mission offered to them)."""
    return document(await m.insight.decisions(order_id, principal))


@dispatch.get("/audit", response_model=Document)
async def get_audit(m: MatchingDep, _: OpsUser) -> Document:
    """Ops: the audit log of manual decisions in dispatch."""
    return document({"entries": await m.insight.audit()})
