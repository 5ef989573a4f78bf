"""Settings of the orders service (env prefix ORDERS_), every one with a safe default."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class TierSetting(BaseModel):
    min_hours_before: float = Field(ge=0)
    fee_percent: Decimal = Field(ge=0, le=100)


def _default_tiers() -> list[TierSetting]:
    # Free until 24 h before; then 30 %; from 2 h before, half the price.
    return [
        TierSetting(min_hours_before=24, fee_percent=Decimal(0)),
        TierSetting(min_hours_before=2, fee_percent=Decimal(30)),
        TierSetting(min_hours_before=0, fee_percent=Decimal(50)),
    ]


class OrdersSettings(BaseSettings):
    """What the orders service reads from ORDERS_* variables."""

    model_config = SettingsConfigDict(env_prefix="ORDERS_", extra="ignore")

    pricing_url: str | None = Field(default=None, description="default: the platform's public_url")
    pricing_timeout_s: float = Field(default=2.0, gt=0)
    pricing_attempts: int = Field(default=3, ge=1, le=10)
    pricing_retry_backoff_s: float = Field(default=0.05, ge=0)

    dispatch_margin_min: int = Field(default=30, ge=0, description="deadline = latest start - this")
    max_window_slack_min: int = Field(default=240, ge=0)
    address_tolerance_km: float = Field(default=2.0, gt=0)

    cancellation_tiers: list[TierSetting] = Field(default_factory=_default_tiers)
    provider_fee_share_percent: Decimal = Field(default=Decimal(80), ge=0, le=100)

    rating_window_days: float = Field(default=14, gt=0)
    ratings_job_interval_s: float = Field(default=300, gt=0)
    dispute_window_days: float = Field(default=30, gt=0)

    position_lead_min: int = Field(
        default=90, ge=0,
        description="a client sees the provider's position from this long before the window start",
    )
    stuck_grace_min: int = Field(
        default=10, ge=0,
        description="a confirmed order this long past its dispatch deadline is given up by orders "
        "itself (matching's order-unassignable normally comes first)",
    )
    stuck_job_interval_s: float = Field(default=60, gt=0)

    series_horizon_days: float = Field(default=7, gt=0, description="occurrences created this far ahead")
    series_job_interval_s: float = Field(default=600, gt=0)

    notify_attempts: int = Field(default=5, ge=1)
    notify_backoff_s: float = Field(default=2.0, ge=0)
    notify_timeout_s: float = Field(default=3.0, gt=0)
    notify_interval_s: float = Field(default=1.0, gt=0)
    webhook_allow_private_hosts: bool = Field(
        default=False,
        description="let webhooks target loopback, private, link-local or reserved addresses (tests, labs)",
    )

    sse_poll_s: float = Field(default=1.0, gt=0)
    sse_heartbeat_s: float = Field(default=15.0, gt=0)
    db_pool_size: int = Field(default=10, ge=1)
    consumer_group: str = Field(default="orders", min_length=1)
