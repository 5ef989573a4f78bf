"""The HTTP contract of the orders service (never the ORM classes)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    UrlConstraints,
)

from services.orders.domain import DisputeOutcome, Frequency

# Every length below is at most its column's in models.py: PostgreSQL refuses a longer value
# (a 500 at insert) where SQLite would have stored it.
WEBHOOK_URL_MAX = 500  # ClientWebhook.url


def _no_nul(value: str) -> str:
    # PostgreSQL text cannot hold U+0000: refused here rather than failing at insert.
    if "\x00" in value:
        raise ValueError("must not contain the NUL character (U+0000)")
    return value


def _fits_url_column(url: AnyHttpUrl) -> AnyHttpUrl:
    # The URL is stored normalised (percent-encoded, punycode), which can be longer than sent.
    if len(str(url)) > WEBHOOK_URL_MAX:
        raise ValueError(
            f"URL should have at most {WEBHOOK_URL_MAX} characters once normalised"
            f" (percent-encoding makes it {len(str(url))})"
        )
    return url


Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,100}$")]
Text = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_no_nul)]
Reason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000), AfterValidator(_no_nul)
]
WebhookUrl = Annotated[
    AnyHttpUrl, UrlConstraints(max_length=WEBHOOK_URL_MAX), AfterValidator(_fits_url_column)
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Address(Strict):
    street: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=3, max_length=200), AfterValidator(_no_nul)
    ]
    postcode: Annotated[str, StringConstraints(pattern=r"^\d{5}$")] = Field(
        description="French postcode, 5 digits"
    )
    city: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), AfterValidator(_no_nul)
    ]
    lat: float = Field(ge=-90, le=90)
    lng: float = Field(ge=-180, le=180)


class Window(Strict):
    start: AwareDatetime
    end: AwareDatetime


class Recurrence(Strict):
    frequency: Frequency


class OrderCreate(Strict):
    """Confirm an order from a quote: where, when, how to get in."""

    quote_id: Id
    address: Address
    access_notes: Text = ""
    window: Window
    recurrence: Recurrence | None = None


class ProviderProfile(BaseModel):
    """What a client may see of the provider: never a phone number or an address."""

    provider_id: str
    first_name: str | None
    rating: float | None
    photo_ref: str | None


class Position(BaseModel):
    lat: float
    lng: float
    recorded_at: datetime


class HistoryEntry(BaseModel):
    from_status: str | None
    to_status: str
    at: datetime
    actor: str
    reason: str


class OrderRead(BaseModel):
    id: str
    client_id: str
    status: str
    category: str
    zone: str
    address: Address
    access_notes: str
    window: Window
    duration_min: int
    dispatch_deadline: datetime
    price_cents: int
    quote_id: str
    grid_version: int
    quote: dict[str, Any]
    series_id: str | None
    start_code: str | None = Field(description="shown once a provider is assigned, until the start")
    provider: ProviderProfile | None
    provider_position: Position | None = Field(description="only while the provider is on the way")
    cancelled_by: str | None
    cancel_reason: str | None
    fee_cents: int
    created_at: datetime
    completed_at: datetime | None
    history: list[HistoryEntry] = Field(default_factory=list)


class ProviderOrderRead(BaseModel):
    """An order as its mission's provider sees it here (address and contact go through matching)."""

    id: str
    status: str
    category: str
    city: str
    window: Window
    duration_min: int
    payout_cents: int
    completed_at: datetime | None


class OrderCancel(Strict):
    reason: Reason
    waive_fee: bool = Field(default=False, description="ops only: cancel without a fee")


class TierIn(Strict):
    min_hours_before: float = Field(ge=0, le=24 * 365)
    fee_percent: Decimal = Field(ge=0, le=100, max_digits=5, decimal_places=2)


class CancellationPolicyIn(Strict):
    tiers: list[TierIn] = Field(min_length=1, max_length=20)
    provider_share_percent: Decimal = Field(ge=0, le=100, max_digits=5, decimal_places=2)
    reason: Reason


class CancellationPolicyRead(BaseModel):
    tiers: list[TierIn]
    provider_share_percent: Decimal
    updated_by: str | None
    updated_at: datetime | None


class WebhookIn(Strict):
    url: WebhookUrl


class WebhookRead(BaseModel):
    url: str | None


class RatingCreate(Strict):
    score: int = Field(ge=1, le=5)
    comment: Text = ""


class RatingRead(BaseModel):
    id: str
    order_id: str
    rater_role: str
    score: int
    comment: str
    created_at: datetime
    revealed: bool
    revealed_at: datetime | None


class DisputeCreate(Strict):
    reason: Reason


class DisputeResolve(Strict):
    outcome: DisputeOutcome
    refund_cents: int | None = Field(default=None, ge=0, le=10_000_000)
    note: Reason


class DisputeNote(Strict):
    note: Reason


class AuditEntry(BaseModel):
    at: datetime
    actor: str
    actor_role: str
    action: str
    note: str


class DisputeRead(BaseModel):
    id: str
    order_id: str
    client_id: str
    status: str
    reason: str
    outcome: str | None
    refund_cents: int
    opened_at: datetime
    resolved_at: datetime | None
    audit: list[AuditEntry] = Field(default_factory=list)


class SeriesRead(BaseModel):
    id: str
    client_id: str
    frequency: str
    status: str
    first_start: datetime
    next_index: int
    skipped: list[int]
    preferred_provider_id: str | None
    upcoming: list[datetime]


class SeriesSkip(Strict):
    day: date = Field(description="the Paris-local date of the occurrence to skip")
