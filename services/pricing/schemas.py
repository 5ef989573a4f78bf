"""The HTTP contract: request bodies with constraints (422 names the field) and responses."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL: refuse it as a 422, never a 500
ZoneCode = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$", description="e.g. paris-centre")]
PostcodeEntry = Annotated[str, Field(min_length=1, max_length=5, pattern=r"^\s*\d{1,5}\s*$")]
Rate = Annotated[Decimal, Field(ge=0, le=5, max_digits=8, decimal_places=4)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ZoneCreate(Strict):
    code: ZoneCode
    name: str = Field(pattern=NO_NUL, min_length=1, max_length=200)
    postcodes: list[PostcodeEntry] = Field(min_length=1, max_length=5000)


class ZoneUpdate(Strict):
    name: str | None = Field(pattern=NO_NUL, default=None, min_length=1, max_length=200)
    postcodes: list[PostcodeEntry] | None = Field(default=None, min_length=1, max_length=5000)


class LatLng(BaseModel):
    lat: float
    lng: float


class ZoneGeometry(BaseModel):
    """Where a zone is, for maps: its communes' mean centre and the convex outline of their centres."""

    centroid: LatLng | None
    outline: list[LatLng]
    communes: int


class ZoneRead(BaseModel):
    code: str
    name: str
    postcodes: list[str]
    created_at: datetime
    updated_at: datetime
    geometry: ZoneGeometry | None = Field(default=None, description="only with ?with_geometry=true")


class SurchargesIn(Strict):
    evening: Rate = Decimal(0)
    night: Rate = Decimal(0)
    sunday: Rate = Decimal(0)
    holiday: Rate = Decimal(0)
    urgent: Rate = Decimal(0)


class CellIn(Strict):
    category: str = Field(pattern=NO_NUL, min_length=1, max_length=40)
    zone: ZoneCode
    hourly_rate_cents: int = Field(ge=1, le=1_000_000)
    min_billable_min: int = Field(ge=15, le=1440)
    travel_fee_cents: int = Field(default=0, ge=0, le=100_000)
    commission_rate: Decimal = Field(ge=0, lt=1, max_digits=6, decimal_places=4)
    avg_travel_min: int = Field(default=0, ge=0, le=240)
    surcharges: SurchargesIn = Field(default_factory=SurchargesIn)

    def plain(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


class GridCreate(Strict):
    name: str = Field(pattern=NO_NUL, min_length=1, max_length=200)
    cells: list[CellIn] = Field(default_factory=list, max_length=5000)
    from_version: int | None = Field(default=None, ge=1, description="start from a published version")


class GridUpdate(Strict):
    name: str | None = Field(pattern=NO_NUL, default=None, min_length=1, max_length=200)
    cells: list[CellIn] | None = Field(default=None, max_length=5000)


class GridPublish(Strict):
    effective_at: AwareDatetime | None = Field(
        default=None, description="not before now; at least the notice period when payouts go down"
    )
    reason: str = Field(pattern=NO_NUL, default="", max_length=2000, description="kept in the audit trail")


class CommentCreate(Strict):
    body: str = Field(pattern=NO_NUL, min_length=1, max_length=4000)
    category: str | None = Field(pattern=NO_NUL, default=None, max_length=40)
    zone: str | None = Field(pattern=NO_NUL, default=None, max_length=64)


class QuoteCreate(Strict):
    category: str = Field(pattern=NO_NUL, min_length=1, max_length=40)
    postcode: str | None = Field(default=None, pattern=r"^\d{5}$")
    lat: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False)
    lng: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False)
    start_at: AwareDatetime
    duration_min: int = Field(ge=15, le=12 * 60)

    @model_validator(mode="after")
    def _where(self) -> QuoteCreate:
        if self.postcode is None and (self.lat is None or self.lng is None):
            raise ValueError("give a postcode, or lat and lng")
        if (self.lat is None) != (self.lng is None):
            raise ValueError("lat and lng go together")
        return self


class TaxCreditRead(BaseModel):
    eligible: bool
    amount_cents: int
    rate: str
    annual_ceiling_cents: int | None
    reason: str


class QuoteRead(BaseModel):
    """A stored quote (the contract orders relies on)."""

    id: str
    category: str
    zone: str
    postcode: str
    lat: float | None
    lng: float | None
    start_at: datetime
    duration_min: int
    price_cents: int
    payout_cents: int
    commission_cents: int
    currency: str
    grid_version: int
    quoted_at: datetime
    expires_at: datetime
    client_id: str | None
    breakdown: dict[str, Any]
    tax_credit: TaxCreditRead


class QuoteBatch(BaseModel):
    """Several stored quotes read at once: unknown ids left out, expired ones listed as such."""

    quotes: list[QuoteRead]
    expired: list[str] = Field(description="ids of the quotes above that can no longer be ordered")
