"""Fixtures of the providers API tests: the service alone on SQLite with the in-memory bus."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.providers.app import ProvidersComponent
from services.providers.config import ProvidersSettings
from shared.app import create_app
from shared.bus.memory import InMemoryBus
from shared.config import PlatformSettings
from shared.db import wait_for
from shared.events.registry import topic_for
from shared.outbox import pending_count
from shared.testing import Tokens, running_app
from tests.providers.unit.builders import NOW

VALID_SIRET = "73282932000074"


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@dataclass
class Harness:
    """The running service, its bus, clock and tokens, with helpers for the common steps."""

    http: httpx.AsyncClient
    bus: InMemoryBus
    clock: Clock
    tokens: Tokens
    component: ProvidersComponent
    ops: dict[str, str] = field(default_factory=dict)

    def events(self, type_: str | None = None) -> list[dict[str, Any]]:
        """Return the envelopes published on providers.events (optionally of one type)."""
        envelopes = [json.loads(m.value) for m in self.bus.messages(topic_for("providers"))]
        return [e for e in envelopes if type_ is None or e["type"] == type_]

    async def settle(self) -> None:
        """Wait until the relay published the outbox and consumers caught up."""

        async def outbox_empty() -> bool:
            return await pending_count(self.component.database) == 0

        await wait_for(outbox_empty, timeout=10, interval=0.01)
        await self.bus.drain()

    async def apply(self, provider_id: str, **overrides: Any) -> httpx.Response:
        body = application(**overrides)
        return await self.http.post("/v1/providers", json=body, headers=self.tokens.provider(provider_id))

    async def check(self, provider_id: str, kind: str, **overrides: Any) -> httpx.Response:
        body: dict[str, Any] = {"kind": kind, "outcome": "passed", "evidence_ref": f"doc-{kind}"}
        if kind == "insurance":
            body["expires_at"] = (self.clock.now + timedelta(days=365)).isoformat()
        body.update(overrides)
        return await self.http.post(f"/v1/vetting/{provider_id}/checks", json=body, headers=self.ops)

    async def vet(
        self, provider_id: str, kinds: tuple[str, ...] = ("identity", "right_to_work", "siret", "insurance")
    ) -> None:
        for kind in kinds:
            response = await self.check(provider_id, kind)
            assert response.status_code == 201, response.text

    async def activate(self, provider_id: str, **overrides: Any) -> dict[str, Any]:
        """Apply, vet, approve: an active provider."""
        assert (await self.apply(provider_id, **overrides)).status_code == 201
        await self.vet(provider_id)
        response = await self.http.post(f"/v1/vetting/{provider_id}/approve", json={}, headers=self.ops)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body


def application(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "first_name": "Awa",
        "last_name": "Diallo",
        "email": "awa@example.org",
        "phone": "+33612345678",
        "date_of_birth": "1990-05-01",
        "nationality": "FR",
        "right_to_work_ref": "id-card-123",
        "siret": VALID_SIRET,
        "categories": ["cleaning"],
        "address": "3 rue des Lilas, Lyon",
        "postcode": "69003",
        "home_lat": 45.76,
        "home_lng": 4.85,
        "travel_radius_km": 8,
        "weekly_hours_target": 25,
    }
    body.update(overrides)
    return body


@pytest.fixture
def providers_settings() -> ProvidersSettings:
    return ProvidersSettings()


@pytest.fixture
def make_harness(tmp_path: Path, tokens: Tokens) -> Callable[[ProvidersSettings], Any]:
    """Return an async context factory building a harness with given service settings."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def make(providers_settings: ProvidersSettings) -> AsyncIterator[Harness]:
        settings = PlatformSettings(
            var_dir=tmp_path,
            outbox_poll_s=0.05,
            bus_retry_backoff_s=0.01,
            log_json=False,
            log_level="WARNING",
        )
        component = ProvidersComponent(settings, providers_settings=providers_settings)
        clock = Clock()
        component.clock = clock
        bus = InMemoryBus()
        app = create_app([component], settings, bus=bus)
        async with running_app(app) as http:
            yield Harness(http, bus, clock, tokens, component, tokens.ops("ops-7"))

    return make


@pytest.fixture
async def h(
    make_harness: Callable[[ProvidersSettings], Any], providers_settings: ProvidersSettings
) -> AsyncIterator[Harness]:
    async with make_harness(providers_settings) as harness:
        yield harness
