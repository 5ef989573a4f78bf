"""Wiring of the matching service: its component for the platform, and a stand-alone app."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi import APIRouter, FastAPI

from services.matching.config import MatchingSettings
from services.matching.dispatch import BatchReport, Dispatcher
from services.matching.engine.workers import available_cores
from services.matching.handlers import build_router
from services.matching.insight import DispatchInsight
from services.matching.models import Base
from services.matching.service import MatchingService
from services.matching.solver_worker import SolverWorker, is_worker_wanted
from shared.app import create_app
from shared.bus.base import Subscription
from shared.component import Component, Runtime
from shared.config import PlatformSettings
from shared.db import Database
from shared.events.registry import topic_for


class MatchingComponent(Component):
    name = "matching"
    metadata = Base.metadata
    migrations_dir = Path(__file__).parent / "migrations"

    def __init__(
        self,
        settings: PlatformSettings,
        database: Database | None = None,
        matching_settings: MatchingSettings | None = None,
    ) -> None:
        super().__init__(settings, database)
        self.settings = matching_settings or MatchingSettings()
        # Use cases read the time through a lambda so tests can replace self.clock later.
        self.service = MatchingService(self.database, self.settings, lambda: self.clock())
        self.dispatcher = Dispatcher(self.database, self.settings, lambda: self.clock())
        self.insight = DispatchInsight(self.database, self.settings, lambda: self.clock())
        self.events = build_router(self.database, lambda: self.clock())
        self._next_batch_at = 0.0
        self.solver_worker = SolverWorker(
            is_worker_wanted(
                self.settings.solver_worker,
                mode=settings.mode,
                is_postgres=self.database.is_postgres,
                cores=available_cores(),
            )
        )

    def routers(self) -> list[APIRouter]:
        from services.matching.routes import dispatch, missions, offers

        return [offers, missions, dispatch]

    def subscriptions(self) -> list[Subscription]:
        return [
            Subscription(
                group=self.settings.consumer_group,
                topics=[topic_for("providers"), topic_for("orders")],
                handler=self.events,
                name="matching",
            )
        ]

    async def on_start(self, runtime: Runtime) -> None:
        await self.solver_worker.start()
        self.dispatcher.workers = self.solver_worker.engine_workers
        if self.settings.is_dispatch_enabled:
            tick = min(self.settings.fast_batch_interval_s, self.settings.batch_interval_s)
            self.run_periodically("dispatch", tick, self.dispatch_when_due)

    async def on_stop(self) -> None:
        self.dispatcher.workers = 1
        await self.solver_worker.stop()

    async def dispatch_when_due(self) -> BatchReport | None:
        """Run a batch when its interval has passed; sooner when the pool is large."""
        if time.monotonic() < self._next_batch_at:
            return None
        report = await self.dispatcher.run_batch()
        is_large = await self.dispatcher.pool_size() >= self.settings.large_pool_size
        interval = self.settings.fast_batch_interval_s if is_large else self.settings.batch_interval_s
        self._next_batch_at = time.monotonic() + interval
        return report


def create_matching_app(settings: PlatformSettings | None = None) -> FastAPI:
    """Build the matching service alone (distributed mode)."""
    settings = settings or PlatformSettings()
    return create_app([MatchingComponent(settings)], settings)
