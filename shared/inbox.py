"""The idempotent consumer: handled event ids recorded in the handler's transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import structlog
from sqlalchemy import DateTime, String, select
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Database, InfraBase, UnitOfWork
from shared.events import registry
from shared.events.envelope import Envelope, utcnow
from shared.events.registry import EventPayload

log = structlog.get_logger(__name__)


class InboxRow(InfraBase):
    __tablename__ = "inbox"

    consumer: Mapped[str] = mapped_column(String(100), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(100))
    handled_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


async def claim(uow: UnitOfWork, consumer: str, envelope: Envelope) -> bool:
    """Record `envelope` as handled by `consumer` in this transaction; False if it already was.

    A concurrent duplicate that slips past the check fails on the primary key
    at commit, its transaction rolls back, and its retry finds the row.
    """
    existing = await uow.session.scalar(
        select(InboxRow.event_id).where(
            InboxRow.consumer == consumer, InboxRow.event_id == str(envelope.event_id)
        )
    )
    if existing is not None:
        return False
    uow.session.add(InboxRow(consumer=consumer, event_id=str(envelope.event_id), event_type=envelope.type))
    return True


P = TypeVar("P", bound=EventPayload)
EventUseCase = Callable[[UnitOfWork, Any, Envelope], Awaitable[None]]


class EventRouter:
    """Routes envelopes by type to idempotent handlers that share one transaction with the inbox."""

    def __init__(self, database: Database, consumer: str) -> None:
        self.database = database
        self.consumer = consumer
        self._handlers: dict[str, EventUseCase] = {}

    def on(self, model: type[P]) -> Callable[[EventUseCase], EventUseCase]:
        """Register `fn(uow, payload, envelope)` for events of `model`'s type."""

        def decorate(fn: EventUseCase) -> EventUseCase:
            self._handlers[model.event_type] = fn
            return fn

        return decorate

    def add(self, model: type[EventPayload], fn: EventUseCase) -> None:
        self._handlers[model.event_type] = fn

    @property
    def types(self) -> list[str]:
        return sorted(self._handlers)

    async def __call__(self, envelope: Envelope) -> None:
        """Handle one envelope exactly once; types this consumer ignores are skipped."""
        fn = self._handlers.get(envelope.type)
        if fn is None:
            return
        payload = registry.parse(envelope)
        async with self.database.unit_of_work() as uow:
            if not await claim(uow, self.consumer, envelope):
                log.info("event_duplicate_skipped", consumer=self.consumer, event_id=str(envelope.event_id))
                return
            await fn(uow, payload, envelope)
            await uow.commit()
