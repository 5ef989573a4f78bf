"""Two matching processes on one PostgreSQL schema, each with its own engine and pool."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from services.matching.app import MatchingComponent
from services.matching.config import MatchingSettings
from services.matching.dispatch import Dispatcher
from services.matching.handlers import build_router
from services.matching.service import MatchingService
from shared.db import Database
from shared.events import to_envelope
from shared.events.envelope import utcnow
from shared.events.registry import EventPayload
from shared.migrations import upgrade


class Process:
    """One matching process: its own engine and pool on the shared schema."""

    def __init__(self, postgres_url: str, schema: str, clock: Callable[[], datetime] = utcnow) -> None:
        self.database = Database(postgres_url, schema=schema)
        settings = MatchingSettings(is_dispatch_enabled=False)
        self.dispatcher = Dispatcher(self.database, settings, clock)
        self.service = MatchingService(self.database, settings, clock)
        self.router = build_router(self.database, utcnow)

    async def given(self, *payloads: EventPayload) -> None:
        for payload in payloads:
            await self.router(to_envelope(payload))


@asynccontextmanager
async def two_processes(
    postgres_url: str, schema: str, clock: Callable[[], datetime] = utcnow
) -> AsyncIterator[tuple[Process, Process]]:
    """Migrate a fresh schema, run two processes on it, drop it afterwards."""
    a, b = Process(postgres_url, schema, clock), Process(postgres_url, schema, clock)
    assert MatchingComponent.migrations_dir is not None
    await upgrade(a.database, MatchingComponent.migrations_dir)
    try:
        yield a, b
    finally:
        await a.database.drop_schema()
        await a.database.dispose()
        await b.database.dispose()
