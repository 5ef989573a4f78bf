"""Settings of the providers service (env prefix PROVIDERS_); defaults from DOMAIN.md."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.providers.domain import CompliancePolicy

# NAF rév. 2 activity codes (prefixes) that cover each category; a registry answer outside
# them blocks only that category. 88.10 / 97.00 (household services) cover the home services.
DEFAULT_ACTIVITY_CODES: dict[str, list[str]] = {
    "cleaning": ["81.2", "88.10", "97.00", "96.0"],
    "gardening": ["81.30", "01.6", "88.10", "97.00"],
    "handyman": ["43.", "81.10", "95.2", "88.10", "97.00"],
    "tutoring": ["85.", "88.10", "97.00"],
    "childcare": ["88.91", "88.10", "97.00"],
    "it_help": ["62.0", "95.1", "88.10", "97.00"],
    "moving_help": ["49.42", "52.2", "88.10"],
    "transport": ["49.3", "88.10"],
}


class ProvidersSettings(BaseSettings):
    """What the providers service reads; every figure is a setting with a safe default."""

    model_config = SettingsConfigDict(env_prefix="PROVIDERS_", extra="ignore")

    consumer_group: str = Field(default="providers", min_length=1, description="Kafka consumer group")

    base_checks: list[str] = Field(default=["identity", "right_to_work", "siret", "insurance"])
    category_checks: dict[str, list[str]] = Field(default={"childcare": ["criminal_record"]})
    activity_codes: dict[str, list[str]] = Field(default=DEFAULT_ACTIVITY_CODES)
    # URSSAF attestation de vigilance: needed past 5,000 EUR excl. tax, re-checked every 6 months.
    urssaf_threshold_cents: int = Field(default=500_000, ge=0)
    urssaf_validity_days: int = Field(default=183, gt=0)
    urssaf_grace_days: int = Field(default=30, ge=0)
    # Micro-entrepreneur turnover ceiling for services (83,600 EUR in 2026-2028).
    turnover_ceiling_cents: int = Field(default=8_360_000, gt=0)
    turnover_alert_ratios: list[float] = Field(default=[0.8, 1.0])
    # L7342-1: 13% of the annual social-security ceiling (about 6,250 EUR in 2026).
    legal_threshold_cents: int = Field(default=625_000, ge=0)
    training_contribution_rate: Decimal = Field(default=Decimal("0.002"), ge=0)
    dependency_share_alert: float = Field(default=0.8, gt=0, le=1)
    renewal_notice_days: int = Field(default=30, ge=0)
    review_deadline_days: int = Field(default=14, gt=0)
    retraining_due_days: int = Field(default=30, gt=0)
    reputation_threshold: float = Field(default=3.5, ge=1, le=5)
    reputation_min_count: int = Field(default=5, ge=1)
    reputation_window: int = Field(default=50, ge=1)
    expiry_check_interval_s: float = Field(default=3600.0, gt=0)
    # INSEE Sirene registry check: off unless a URL is given.
    sirene_url: str | None = None
    sirene_key: str | None = None
    sirene_timeout_s: float = Field(default=5.0, gt=0)
    # Ed25519 key signing exported records: PEM text, or a file (generated on first start).
    signing_key_pem: str | None = None
    signing_key_path: Path | None = None

    @property
    def sirene_enabled(self) -> bool:
        return bool(self.sirene_url)

    def compliance_policy(self) -> CompliancePolicy:
        """Return the vetting and compliance rules these settings describe."""
        return CompliancePolicy(
            base_checks=tuple(self.base_checks),
            category_checks={k: tuple(v) for k, v in self.category_checks.items()},
            urssaf_threshold_cents=self.urssaf_threshold_cents,
            urssaf_grace_days=self.urssaf_grace_days,
            registry_required=self.sirene_enabled,
            activity_codes={k: tuple(v) for k, v in self.activity_codes.items()},
            renewal_notice_days=self.renewal_notice_days,
        )
