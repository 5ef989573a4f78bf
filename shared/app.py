"""The application factory: one FastAPI app for one or several service components."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx
import structlog
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from shared.asyncapi import asyncapi_document
from shared.auth import TokenSettings
from shared.bus.base import DeliveryPolicy, EventBus
from shared.bus.memory import InMemoryBus
from shared.component import Component, Runtime
from shared.config import Mode, PlatformSettings
from shared.errors import install_error_handlers
from shared.migrations import upgrade
from shared.observability import TraceMiddleware, configure_logging, metrics_endpoint
from shared.outbox import OutboxRelay

log = structlog.get_logger(__name__)


def make_bus(settings: PlatformSettings, client_id: str) -> EventBus:
    """Return the bus the mode asks for: Kafka when distributed, in-process when embedded."""
    policy = DeliveryPolicy(max_attempts=settings.bus_max_attempts, backoff_s=settings.bus_retry_backoff_s)
    if settings.mode is Mode.distributed:
        from shared.bus.kafka import KafkaBus

        return KafkaBus(
            settings.kafka_bootstrap_servers,
            client_id=client_id,
            policy=policy,
            topic_prefix=settings.kafka_topic_prefix,
        )
    return InMemoryBus(policy)


async def prepare_database(component: Component) -> None:
    """Create or migrate a component's schema (Alembic when it has migrations)."""
    if component.migrations_dir is not None:
        await upgrade(component.database, component.migrations_dir)
    else:
        await component.database.create_all(component.metadata)


def create_app(
    components: Sequence[Component],
    settings: PlatformSettings,
    *,
    bus: EventBus | None = None,
    title: str | None = None,
    http: httpx.AsyncClient | None = None,
    on_started: Sequence[Callable[[FastAPI], Awaitable[None]]] = (),
    freeze_heap: bool = False,
) -> FastAPI:
    """Build the app serving `components`, with probes, metrics, errors and the event relay."""
    names = "+".join(c.name for c in components)
    the_bus = bus or make_bus(settings, client_id=names)
    relays = [OutboxRelay(c.database, the_bus, poll_interval_s=settings.outbox_poll_s) for c in components]

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        client = http or httpx.AsyncClient(timeout=httpx.Timeout(5.0))
        runtime = Runtime(settings=settings, bus=the_bus, http=client)
        for component in components:
            await prepare_database(component)
            for subscription in component.subscriptions():
                the_bus.subscribe(subscription)
        await the_bus.start()
        for relay in relays:
            relay.start()
        for component in components:
            await component.start(runtime)
        log.info("started", services=names, mode=settings.mode.value)
        for hook in on_started:
            await hook(app)
        if freeze_heap:
            # What start-up built lives as long as the process: moved out of the collector's
            # sight, full collections no longer walk it, which shortens the pauses that make
            # a request's 99th percentile. Only for a server process: an app built and
            # dropped many times (tests) would keep its frozen objects.
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            for component in reversed(components):
                await component.stop()
            for relay in relays:
                await relay.stop()
            await the_bus.stop()
            if http is None:
                await client.aclose()
            for component in components:
                await component.database.dispose()

    configure_logging(settings.log_level, settings.log_json)
    app = FastAPI(
        title=title or f"Coup de main — {names}",
        version="0.1.0",
        lifespan=lifespan,
        description="Operator-model dispatch platform for on-demand local services.",
        # Our own trace ids and Prometheus metrics cover this; FastAPI's OpenTelemetry hook asks
        # the global providers on every request otherwise (about 3% of a small request's CPU).
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.settings = settings
    app.state.bus = the_bus
    app.state.token_settings = TokenSettings(
        secret=settings.jwt_secret, algorithm=settings.jwt_algorithm, ttl_s=settings.token_ttl_s
    )
    app.state.components = {c.name: c for c in components}
    app.state.relays = relays
    install_error_handlers(app)
    app.add_middleware(TraceMiddleware, service=names)

    @app.get("/healthz", tags=["probes"])
    async def healthz() -> dict[str, str]:
        """Say the process is alive."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["probes"])
    async def readyz() -> JSONResponse:
        """Say whether every database and the broker answer."""
        checks: dict[str, str] = {}
        for component in components:
            try:
                await component.database.ping()
                checks[f"database:{component.name}"] = "ok"
            except Exception as exc:
                checks[f"database:{component.name}"] = f"down: {type(exc).__name__}"
        try:
            await the_bus.ping()
            checks["broker"] = "ok"
        except Exception as exc:
            checks["broker"] = f"down: {type(exc).__name__}"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    app.add_route("/metrics", metrics_endpoint, include_in_schema=False)

    @app.get("/asyncapi.json", tags=["probes"])
    async def asyncapi() -> dict[str, Any]:
        """Return the event catalogue as an AsyncAPI document."""
        return asyncapi_document()

    for component in components:
        for router in component.routers():
            app.include_router(router)
    return app
