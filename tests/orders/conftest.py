"""Fixtures of the orders tests: one stub pricing server per session, reset for each test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator

import pytest

from shared.config import PlatformSettings
from tests.orders.support import Harness, PricingStub, harness, harness_on_postgres


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


@pytest.fixture(params=["sqlite", "postgres"])
async def h_on_both_databases(
    request: pytest.FixtureRequest, settings: PlatformSettings, pricing: PricingStub,
    unique: Callable[[str], str],
) -> AsyncIterator[Harness]:
    """The harness on SQLite (embedded mode) and on PostgreSQL, where row locks really apply."""
    if request.param == "sqlite":
        async with harness(settings, pricing) as running:
            yield running
    else:
        postgres_url: str = request.getfixturevalue("postgres_url")
        async with harness_on_postgres(postgres_url, unique("orders"), pricing) as running:
            yield running
