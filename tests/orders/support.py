"""Test support for orders: a real stub pricing server, builders, and a movable clock."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from services.orders.app import OrdersComponent
from services.orders.config import OrdersSettings
from services.orders.notifications import NotificationTransport
from shared.app import create_app
from shared.bus.base import OutgoingMessage
from shared.bus.memory import InMemoryBus
from shared.config import PlatformSettings
from shared.db import Database
from shared.events import registry
from shared.events.registry import EventPayload
from shared.testing import running_app

PARIS_LAT, PARIS_LNG = 48.8566, 2.3522


@dataclass
class PricingStub:
    """A real HTTP server (uvicorn, own thread) serving canned quotes as pricing does."""

    quotes: dict[str, dict[str, Any]] = field(default_factory=dict)
    expired: set[str] = field(default_factory=set)
    delay_s: float = 0.0
    fail_next: int = 0  # answer 503 to the next N requests
    requests: int = 0
    batches: list[int] = field(default_factory=list)  # ids asked per GET /v1/quotes?ids=
    hooks: list[dict[str, Any]] = field(default_factory=list)
    hook_fail_next: int = 0
    hook_gate: threading.Event | None = None  # when set, webhooks wait for it (up to 20 s)
    hooks_waiting: int = 0
    url: str = ""
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None
    _sock: socket.socket | None = None
    _port: int = 0

    async def _answer_or_busy(self) -> JSONResponse | None:
        """Count the request, wait `delay_s`, and answer 503 while `fail_next` lasts."""
        self.requests += 1
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.fail_next > 0:
            self.fail_next -= 1
            return JSONResponse({"detail": "busy"}, status_code=503)
        return None

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.get("/v1/quotes")
        async def get_quotes(ids: str) -> JSONResponse:
            # Counted on arrival: a request a test gave up on (its timeout shorter than
            # `delay_s`) must not land in the next test's count when its delay ends.
            self.batches.append(len(ids.split(",")))
            busy = await self._answer_or_busy()
            if busy is not None:
                return busy
            known = [self.quotes[q] for q in dict.fromkeys(ids.split(",")) if q in self.quotes]
            expired = [q["id"] for q in known if q["id"] in self.expired]
            return JSONResponse({"quotes": known, "expired": expired})

        @app.post("/hooks/{client_id}")
        async def webhook(client_id: str, request: Request) -> Response:
            if self.hook_gate is not None:
                self.hooks_waiting += 1
                await asyncio.to_thread(self.hook_gate.wait, 20)
                self.hooks_waiting -= 1
            if self.hook_fail_next > 0:
                self.hook_fail_next -= 1
                return JSONResponse({"detail": "down"}, status_code=500)
            self.hooks.append({"client": client_id, **(await request.json())})
            return Response(status_code=204)

        return app

    def start(self) -> None:
        if self._port == 0:
            probe = socket.socket()
            probe.bind(("127.0.0.1", 0))
            self._port = probe.getsockname()[1]
            probe.close()
        config = uvicorn.Config(self.app(), host="127.0.0.1", port=self._port, log_level="error",
                                lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise TimeoutError("pricing stub did not start")
            time.sleep(0.01)
        self.url = f"http://127.0.0.1:{self._port}"

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
            self._server = None

    def reset(self) -> None:
        self.quotes.clear()
        self.expired.clear()
        self.batches.clear()
        self.delay_s = 0.0
        self.fail_next = 0
        self.requests = 0
        self.hooks.clear()
        self.hook_fail_next = 0
        self.hook_gate = None
        self.hooks_waiting = 0

    def add_quote(self, now: datetime, **overrides: Any) -> dict[str, Any]:
        start = overrides.pop("start_at", now + timedelta(days=2))
        quote: dict[str, Any] = {
            "id": f"q-{uuid.uuid4().hex[:12]}",
            "category": "cleaning",
            "zone": "paris",
            "postcode": "75004",
            "lat": PARIS_LAT,
            "lng": PARIS_LNG,
            "start_at": start.isoformat(),
            "duration_min": 120,
            "price_cents": 6000,
            "payout_cents": 4200,
            "commission_cents": 1800,
            "grid_version": 3,
            "expires_at": (now + timedelta(minutes=30)).isoformat(),
            "client_id": None,
            "breakdown": {"base_cents": 6000},
            "tax_credit": {"eligible": True, "amount_cents": 3000},
        }
        quote.update(overrides)
        self.quotes[quote["id"]] = quote
        return quote


class Clock:
    """The real time plus an offset the tests move forward (retries' back-off still elapses)."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    @property
    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.offset += timedelta(**kwargs)


def order_body(quote: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    start = datetime.fromisoformat(quote["start_at"])
    body: dict[str, Any] = {
        "quote_id": quote["id"],
        "address": {"street": "12 rue de Rivoli", "postcode": quote["postcode"], "city": "Paris",
                    "lat": quote["lat"], "lng": quote["lng"]},
        "access_notes": "code 1234, 3rd floor",
        "window": {"start": (start - timedelta(hours=1)).isoformat(),
                   "end": (start + timedelta(hours=3)).isoformat()},
    }
    body.update(overrides)
    return body


def orders_settings(stub: PricingStub, **overrides: Any) -> OrdersSettings:
    values: dict[str, Any] = {
        "pricing_url": stub.url,
        "pricing_timeout_s": 0.5,
        "pricing_attempts": 2,
        "pricing_retry_backoff_s": 0.01,
        "notify_interval_s": 0.05,
        "notify_backoff_s": 0.01,
        "sse_poll_s": 0.05,
        "ratings_job_interval_s": 3600,
        "series_job_interval_s": 3600,
        "stuck_job_interval_s": 3600,  # tests run the safety net by hand
        # The stub that receives the webhooks listens on 127.0.0.1, which production refuses.
        "webhook_allow_private_hosts": True,
    }
    values.update(overrides)
    return OrdersSettings(**values)


@dataclass
class Harness:
    http: httpx.AsyncClient
    component: OrdersComponent
    bus: InMemoryBus
    clock: Clock
    stub: PricingStub

    async def emit(self, payload: EventPayload) -> None:
        """Publish an event as its producer would (through the bus) and wait until handled."""
        envelope = registry.envelope(payload)
        kind = registry.kind(envelope.type, envelope.version)
        await self.bus.publish(
            [OutgoingMessage(topic=kind.topic, key=envelope.aggregate_id, value=envelope.to_json())]
        )
        await self.bus.drain()

    async def emit_envelope_twice(self, payload: EventPayload) -> None:
        envelope = registry.envelope(payload)
        kind = registry.kind(envelope.type, envelope.version)
        message = OutgoingMessage(topic=kind.topic, key=envelope.aggregate_id, value=envelope.to_json())
        await self.bus.publish([message, message])
        await self.bus.drain()


@asynccontextmanager
async def harness(
    settings: PlatformSettings, stub: PricingStub, **setting_overrides: Any
) -> AsyncIterator[Harness]:
    clock = Clock()
    bus = InMemoryBus()
    component = OrdersComponent(settings, orders_settings=orders_settings(stub, **setting_overrides))
    component.clock = clock
    app = create_app([component], settings, bus=bus)
    async with running_app(app) as http:
        yield Harness(http, component, bus, clock, stub)


@asynccontextmanager
async def harness_on_postgres(
    postgres_url: str,
    schema: str,
    stub: PricingStub,
    transport: NotificationTransport | None = None,
    **setting_overrides: Any,
) -> AsyncIterator[Harness]:
    """The orders app on its own PostgreSQL schema (dropped after), events on the in-memory bus."""
    database = Database(postgres_url, schema=schema)
    settings = PlatformSettings(outbox_poll_s=0.05)
    clock = Clock()
    bus = InMemoryBus()
    component = OrdersComponent(
        settings, database, orders_settings=orders_settings(stub, **setting_overrides), transport=transport
    )
    component.clock = clock
    app = create_app([component], settings, bus=bus)
    try:
        async with running_app(app) as http:
            yield Harness(http, component, bus, clock, stub)
    finally:
        await database.drop_schema()
        await database.dispose()
