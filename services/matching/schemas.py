"""HTTP contract of the matching service (never the ORM classes)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from services.matching.config import FloorMode

Reason = Annotated[str, Field(max_length=500)]
RequiredReason = Annotated[str, Field(min_length=3, max_length=500)]
Weight = Annotated[float, Field(ge=0, le=1_000_000, allow_inf_nan=False)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OfferDecline(Body):
    reason: Reason = ""


class SlotProposal(Body):
    start_at: AwareDatetime = Field(description="another start inside the client's window")


class MissionStart(Body):
    code: str = Field(min_length=4, max_length=12, pattern=r"^\d+$", description="the client's start code")


class MissionDrop(Body):
    reason: Reason = ""


class MissionReassign(Body):
    reason: RequiredReason
    provider_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="offer it to this provider; empty: back to the pool",
    )


class WeightsUpdate(Body):
    travel: Weight
    lateness: Weight
    reputation: Weight
    fairness: Weight
    supplement: Weight
    reason: RequiredReason


class FloorPolicyUpdate(Body):
    mode: FloorMode = Field(
        description="a pair below the fair-pay floor: supplement = the operator pays the difference, "
        "rule_out = not offered"
    )
    reason: RequiredReason


class OfferRead(BaseModel):
    id: str
    order_id: str
    status: str
    category: str
    district: str
    address: str | None = Field(description="shown once the offer is accepted")
    access_notes: str | None = None
    window_start: datetime
    window_end: datetime
    scheduled_start: datetime
    duration_min: int
    expires_at: datetime
    payout_cents: int
    net_payout_cents: int = Field(description="payout net of micro-entrepreneur contributions")
    travel_supplement_cents: int
    travel_min: float
    is_booked_later: bool = Field(description="a slot inside the client's window may be proposed")


class MissionRead(BaseModel):
    id: str
    order_id: str
    provider_id: str
    status: str
    category: str | None
    district: str | None
    address: str | None = Field(description="only while the mission is live")
    access_notes: str | None = None
    scheduled_start: datetime
    duration_min: int
    payout_cents: int | None
    net_payout_cents: int | None
    travel_supplement_cents: int
    started_at: datetime | None
    completed_at: datetime | None
    cancelled_at: datetime | None
    reason: str


class ReassignRead(BaseModel):
    mission_id: str
    status: str
    order_id: str
    offer_id: str | None
    to_provider_id: str | None


class Document(BaseModel):
    """A free-form JSON answer (board, explanations, spreads)."""

    model_config = ConfigDict(extra="allow")


def document(data: dict[str, Any]) -> Document:
    """Wrap a dict as a response document."""
    return Document.model_validate(data)
