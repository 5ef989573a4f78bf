"""Wiring of the providers service: its component for the platform, and a stand-alone app."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI

from services.providers.config import ProvidersSettings
from services.providers.handlers import build_router
from services.providers.models import Base
from services.providers.routes import ROUTERS
from services.providers.service import Context
from services.providers.signing import RecordSigner
from services.providers.sirene import SireneClient
from services.providers.training import run_expiry_check
from shared.app import create_app
from shared.bus.base import Subscription
from shared.component import Component, Runtime
from shared.config import PlatformSettings
from shared.db import Database
from shared.events.registry import topic_for


class ProvidersComponent(Component):
    name = "providers"
    metadata = Base.metadata
    migrations_dir = Path(__file__).parent / "migrations"

    def __init__(
        self,
        settings: PlatformSettings,
        database: Database | None = None,
        providers_settings: ProvidersSettings | None = None,
    ) -> None:
        super().__init__(settings, database)
        self.settings = providers_settings or ProvidersSettings()
        # The clock is read through the component so that tests can move it.
        self.ctx = Context(self.database, self.settings, clock=lambda: self.clock())
        self._signer: RecordSigner | None = None

    @property
    def signer(self) -> RecordSigner:
        """Return the record signer: the configured key, or one generated into var/ on first use."""
        if self._signer is None:
            if self.settings.signing_key_pem:
                self._signer = RecordSigner.from_pem(self.settings.signing_key_pem)
            else:
                path = self.settings.signing_key_path or self.platform.var_dir / "providers-signing-key.pem"
                self._signer = RecordSigner.load_or_create(path)
        return self._signer

    def routers(self) -> list[APIRouter]:
        return list(ROUTERS)

    def subscriptions(self) -> list[Subscription]:
        return [
            Subscription(
                group=self.settings.consumer_group,
                topics=[topic_for("matching"), topic_for("orders")],
                handler=build_router(self.database, self.ctx),
                name="providers",
            )
        ]

    async def on_start(self, runtime: Runtime) -> None:
        _ = self.signer  # load or create the key at start, not on the first export
        if self.settings.sirene_url:
            self.ctx.sirene = SireneClient(
                runtime.http,
                self.settings.sirene_url,
                self.settings.sirene_key,
                self.settings.sirene_timeout_s,
            )
        self.run_periodically("expiry-check", self.settings.expiry_check_interval_s, self._expiry_check)

    async def _expiry_check(self) -> None:
        await run_expiry_check(self.ctx)


def create_providers_app(settings: PlatformSettings | None = None) -> FastAPI:
    """Build the providers service alone (distributed mode)."""
    settings = settings or PlatformSettings()
    return create_app([ProvidersComponent(settings)], settings)
