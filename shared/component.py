"""A service as a component the platform runs: its routers, database, consumers and jobs.

The same component runs alone (distributed mode, one process per service) or
beside the other three in one process (embedded mode); only the bus and the
database URL differ, chosen by configuration in one place (`shared.app`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx
import structlog
from fastapi import APIRouter
from sqlalchemy import MetaData

from shared.bus.base import EventBus, Subscription
from shared.config import PlatformSettings
from shared.db import Database
from shared.events.envelope import utcnow

log = structlog.get_logger(__name__)


@dataclass
class Runtime:
    """What a running component may use: the platform settings, the bus, an HTTP client."""

    settings: PlatformSettings
    bus: EventBus
    http: httpx.AsyncClient


class Component:
    """Base class of the four services; subclasses fill in the class attributes and hooks."""

    name: str = ""
    metadata: MetaData
    migrations_dir: Path | None = None

    def __init__(self, settings: PlatformSettings, database: Database | None = None) -> None:
        self.platform = settings
        self.database = database or Database(settings.database_url_for(self.name), schema=self.name)
        self.runtime: Runtime | None = None
        # Every use case reads the time from here, so tests can move it.
        self.clock: Callable[[], datetime] = utcnow
        self._jobs: list[asyncio.Task[None]] = []
        self._first_pass: dict[str, asyncio.Event] = {}  # job name -> set once it has run

    def routers(self) -> list[APIRouter]:
        """Return the routers this service serves (its path prefixes only)."""
        return []

    def subscriptions(self) -> list[Subscription]:
        """Return what this service consumes."""
        return []

    async def on_start(self, runtime: Runtime) -> None:
        """Start background jobs; called once the database is migrated and the bus is up."""

    async def on_stop(self) -> None:
        """Release what on_start took."""

    def run_periodically(
        self, name: str, interval_s: float, job: Callable[[], Awaitable[object]]
    ) -> None:
        """Run `job` every `interval_s` seconds until the component stops; a failure is logged."""

        async def loop() -> None:
            while True:
                try:
                    await job()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning("periodic_job_failed", service=self.name, job=name, error=repr(exc))
                self._first_pass[name].set()
                await asyncio.sleep(interval_s)

        self._first_pass[name] = asyncio.Event()
        self._jobs.append(asyncio.create_task(loop(), name=f"{self.name}:{name}"))

    async def first_passes_done(self, timeout_s: float = 30.0) -> None:
        """Wait until every periodic job has run once (the first pass starts with the component).

        Tests that move the clock wait for it first: a start-up pass that ran late (waiting
        for SQLite's write lock) would otherwise see the moved clock and race the test.
        """
        async with asyncio.timeout(timeout_s):
            for first_pass in self._first_pass.values():
                await first_pass.wait()

    async def start(self, runtime: Runtime) -> None:
        self.runtime = runtime
        await self.on_start(runtime)

    async def stop(self) -> None:
        for job in self._jobs:
            job.cancel()
        await asyncio.gather(*self._jobs, return_exceptions=True)
        self._jobs.clear()
        await self.on_stop()


@dataclass
class ComponentSet:
    """The components one process runs, by name."""

    components: dict[str, Component] = field(default_factory=dict)

    def __getitem__(self, name: str) -> Component:
        return self.components[name]
