"""Wiring of the pricing service: its component for the platform, and a stand-alone app."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI

from services.pricing.config import PricingSettings
from services.pricing.models import Base
from services.pricing.payouts import LedgerHandlers, LedgerService
from services.pricing.routes import ROUTERS
from services.pricing.service import PricingService
from shared.app import create_app
from shared.bus.base import Subscription
from shared.component import Component
from shared.config import PlatformSettings
from shared.db import Database
from shared.events import topic_for
from shared.events.matching import MissionCompleted
from shared.events.orders import OrderCancelled
from shared.events.providers import BonusAwarded
from shared.inbox import EventRouter


class PricingComponent(Component):
    name = "pricing"
    metadata = Base.metadata
    migrations_dir = Path(__file__).parent / "migrations"

    def __init__(
        self,
        settings: PlatformSettings,
        database: Database | None = None,
        pricing: PricingSettings | None = None,
    ) -> None:
        super().__init__(settings, database)
        self.settings = pricing or PricingSettings()
        # the lambda reads self.clock at call time, so tests may replace the clock later
        self.service = PricingService(self.database, self.settings, lambda: self.clock())
        self.ledger = LedgerService(self.database, self.settings)
        self.handlers = LedgerHandlers(lambda: self.clock())

    def routers(self) -> list[APIRouter]:
        return list(ROUTERS)

    def subscriptions(self) -> list[Subscription]:
        router = EventRouter(self.database, consumer="pricing")
        router.add(MissionCompleted, self.handlers.on_mission_completed)
        router.add(OrderCancelled, self.handlers.on_order_cancelled)
        router.add(BonusAwarded, self.handlers.on_bonus_awarded)
        return [
            Subscription(
                group=self.settings.consumer_group,
                topics=[topic_for("matching"), topic_for("orders"), topic_for("providers")],
                handler=router,
                name="pricing-ledger",
            )
        ]


def create_pricing_app(settings: PlatformSettings | None = None) -> FastAPI:
    """Build the pricing service alone (distributed mode)."""
    settings = settings or PlatformSettings()
    return create_app([PricingComponent(settings)], settings)
