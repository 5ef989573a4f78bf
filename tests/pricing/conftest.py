"""Fixtures of the pricing tests: the service on SQLite with the in-process bus and a movable clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from services.pricing.app import PricingComponent
from services.pricing.config import PricingSettings
from shared.app import create_app
from shared.bus.memory import InMemoryBus
from shared.config import PlatformSettings
from shared.testing import running_app


@dataclass
class FakeClock:
    now: datetime = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@dataclass
class Pricing:
    client: httpx.AsyncClient
    component: PricingComponent
    bus: InMemoryBus
    clock: FakeClock


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def pricing_settings() -> PricingSettings:
    return PricingSettings()


@pytest.fixture
async def pricing(
    settings: PlatformSettings, clock: FakeClock, pricing_settings: PricingSettings
) -> AsyncIterator[Pricing]:
    component = PricingComponent(settings, pricing=pricing_settings)
    component.clock = clock
    bus = InMemoryBus()
    app = create_app([component], settings, bus=bus)
    async with running_app(app) as client:
        yield Pricing(client, component, bus, clock)
