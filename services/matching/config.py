"""Settings of the matching service (env prefix MATCHING_), each with a safe default."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

FloorMode = Literal["supplement", "rule_out"]


class MatchingSettings(BaseSettings):
    """Dispatch loop, offers, radius widening, fair pay and fairness figures."""

    model_config = SettingsConfigDict(env_prefix="MATCHING_", extra="ignore")

    is_dispatch_enabled: bool = Field(
        default=True, description="run the dispatch loop in the background (tests drive it by hand)"
    )
    consumer_group: str = Field(default="matching", min_length=1, description="Kafka consumer group")
    batch_interval_s: float = Field(default=2.0, gt=0, description="time between two batches")
    fast_batch_interval_s: float = Field(
        default=0.5, gt=0, description="time between two batches when the pool is large"
    )
    large_pool_size: int = Field(default=200, ge=1, description="pool size that makes batches sooner")
    offer_ttl_s: int = Field(default=90, ge=5, description="how long a provider has to answer an offer")
    booked_later_after_min: int = Field(
        default=120, ge=0, description="an order starting later than this is 'booked for later'"
    )
    radius_steps: list[float] = Field(
        default=[1.0, 1.25, 1.5, 2.0],
        min_length=1,
        description="radius multipliers used as the order's dispatch deadline nears (equal time steps)",
    )
    explanation_alternatives: int = Field(default=3, ge=0, le=20)
    fairness_period_days: int = Field(default=7, ge=1, le=90)
    fairness_duty_band_h: float = Field(
        default=10.0, gt=0, description="providers whose hours on duty fall in the same band are comparable"
    )
    floor_cents_per_hour: int = Field(default=952, ge=0, description="fair-pay floor, net €/h in cents")
    contribution_rate: Decimal = Field(default=Decimal("0.212"), ge=0, lt=1)
    floor_policy: FloorMode = Field(
        default="supplement",
        description="below-floor pairs: pay or rule out, until ops choose (PUT /v1/dispatch/floor-policy)",
    )
    travel_detour_factor: float = Field(
        default=1.3, ge=1, allow_inf_nan=False, description="road distance over straight-line distance"
    )
    travel_default_speed_kmh: float = Field(
        default=25.0, gt=0, allow_inf_nan=False, description="travel speed in a zone not listed below"
    )
    travel_speed_kmh_by_zone: dict[str, Annotated[float, Field(gt=0, allow_inf_nan=False)]] = Field(
        default_factory=dict,
        description='travel speed per zone, km/h (env as JSON: {"paris": 18})',
    )
    peak_hours: list[int] = Field(
        default=[7, 8, 17, 18, 19], description="local (Europe/Paris) hours counted as peak"
    )
    solver_worker: Literal["auto", "on", "off"] = Field(
        default="auto",
        description="the engine's worker process for large batches, started with the service: "
        "auto = on for a distributed-mode service on PostgreSQL with two cores or more, off otherwise",
    )
    time_zone: str = "Europe/Paris"
    seed: int = 0
