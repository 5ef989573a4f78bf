"""Settings shared by every service: mode, database, broker, tokens, logging.

Every setting has a safe default for the embedded mode and an environment
variable. A service subclasses `ServiceSettings` with its own env prefix.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEVELOPMENT_JWT_SECRET = "coupdemain-development-secret-change-me-0123456789"


class Mode(StrEnum):
    embedded = "embedded"
    distributed = "distributed"


class PlatformSettings(BaseSettings):
    """What every service reads: where state lives and how services meet."""

    model_config = SettingsConfigDict(env_prefix="COUPDEMAIN_", extra="ignore")

    mode: Mode = Mode.embedded
    var_dir: Path = Path("var")
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "COUPDEMAIN_DATABASE_URL"),
        description="PostgreSQL URL (postgresql+asyncpg://...); unset: one SQLite file per service in var/",
    )
    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:59092",
        validation_alias=AliasChoices("KAFKA_BOOTSTRAP_SERVERS", "COUPDEMAIN_KAFKA_BOOTSTRAP_SERVERS"),
    )
    kafka_topic_prefix: str = ""
    jwt_secret: str = DEVELOPMENT_JWT_SECRET
    jwt_algorithm: str = "HS256"
    token_ttl_s: int = 12 * 3600
    log_level: str = "INFO"
    log_json: bool = True
    outbox_poll_s: float = 0.5
    bus_max_attempts: int = 3
    bus_retry_backoff_s: float = 0.05
    public_url: str = "http://127.0.0.1:8000"

    @model_validator(mode="after")
    def _refuse_development_secret_when_distributed(self) -> PlatformSettings:
        if self.mode is Mode.distributed and self.jwt_secret == DEVELOPMENT_JWT_SECRET:
            import os

            # Tests and `make up` on one machine set COUPDEMAIN_ALLOW_DEV_SECRET=1 explicitly.
            if os.environ.get("COUPDEMAIN_ALLOW_DEV_SECRET") != "1":
                raise ValueError(
                    "jwt_secret: the development secret is refused in distributed mode; "
                    "set COUPDEMAIN_JWT_SECRET"
                )
        return self

    def database_url_for(self, service: str) -> str:
        """Return the database URL a service uses (its own SQLite file when embedded)."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.var_dir / f'{service}.db'}"
