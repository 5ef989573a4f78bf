"""Fixtures of the orders tests: one stub pricing server per session, reset for each test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from shared.config import PlatformSettings
from tests.orders.support import Harness, PricingStub, harness


@pytest.fixture(scope="session")
def pricing_server() -> Iterator[PricingStub]:
    stub = PricingStub()
    stub.start()
    yield stub
    stub.stop()


@pytest.fixture
def pricing(pricing_server: PricingStub) -> Iterator[PricingStub]:
    pricing_server.reset()
    if pricing_server._server is None:  # a test stopped it (outage): bring it back
        pricing_server.start()
    yield pricing_server
    pricing_server.reset()


@pytest.fixture
async def h(settings: PlatformSettings, pricing: PricingStub) -> AsyncIterator[Harness]:
    async with harness(settings, pricing) as running:
        yield running
