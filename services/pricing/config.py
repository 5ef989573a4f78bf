"""Settings of the pricing service (env prefix PRICING_), each with a safe default (DOMAIN.md)."""

from __future__ import annotations

from datetime import time
from decimal import Decimal
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.pricing.domain.quote import TaxCreditRules, TimeRules
from services.pricing.domain.statement import StatementRules
from shared.fairpay import FairPaySettings


class PricingSettings(BaseSettings):
    """Floor, time rules, quotes, consultation and statements figures."""

    model_config = SettingsConfigDict(env_prefix="PRICING_", extra="ignore")

    floor_cents_per_hour: int = Field(
        default=952, ge=0, description="fair-pay floor, net €/h in cents (SMIC 2026 net)"
    )
    contribution_rate: Decimal = Field(
        default=Decimal("0.212"), ge=0, lt=1, description="micro-entrepreneur BIC services rate"
    )
    quote_ttl_min: int = Field(default=30, ge=1, le=7 * 24 * 60, description="quote lifetime")
    max_quote_ahead_days: int = Field(default=365, ge=1, description="furthest start a quote accepts")
    notice_period_days: int = Field(
        default=7, ge=0, description="delay before a grid that lowers payouts takes effect"
    )
    evening_start: time = time(19, 0)
    night_start: time = time(22, 0)
    night_end: time = time(6, 0)
    urgent_within_min: int = Field(default=120, ge=0, description="a start sooner than this is urgent")
    tax_credit_rate: Decimal = Field(default=Decimal("0.5"), ge=0, le=1)
    annual_social_security_ceiling_cents: int = Field(default=4_806_000, ge=0, description="PASS 2026")
    obligation_threshold_share: Decimal = Field(
        default=Decimal("0.13"), ge=0, le=1, description="share of the PASS past which obligations apply"
    )
    training_contribution_rate: Decimal = Field(default=Decimal("0.002"), ge=0, le=1)
    accident_insurance_rate: Decimal = Field(
        default=Decimal("0.0105"),
        ge=0,
        le=1,
        description="accident-insurance reimbursement as a share of earnings (stand-in for the premium)",
    )
    communes_csv: Path = Field(
        default=Path(__file__).parent / "data" / "communes-postcodes.csv",
        description="open-data communes (postcode, lat, lng) used to resolve a position to a postcode",
    )
    consumer_group: str = "pricing"

    def fair_pay(self) -> FairPaySettings:
        return FairPaySettings(
            floor_cents_per_hour=self.floor_cents_per_hour, contribution_rate=self.contribution_rate
        )

    def time_rules(self) -> TimeRules:
        return TimeRules(
            evening_start=self.evening_start,
            night_start=self.night_start,
            night_end=self.night_end,
            urgent_within_min=self.urgent_within_min,
        )

    def tax_rules(self) -> TaxCreditRules:
        return TaxCreditRules(rate=self.tax_credit_rate)

    def statement_rules(self) -> StatementRules:
        return StatementRules(
            contribution_rate=self.contribution_rate,
            annual_social_security_ceiling_cents=self.annual_social_security_ceiling_cents,
            obligation_threshold_share=self.obligation_threshold_share,
            training_contribution_rate=self.training_contribution_rate,
            accident_insurance_rate=self.accident_insurance_rate,
        )
