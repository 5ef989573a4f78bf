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
from shared.observability import bind_trace_id

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


async def already_claimed(uow: UnitOfWork, consumer: str, event_ids: list[str]) -> set[str]:
    """Return which of `event_ids` `consumer` has already handled (one query for a batch)."""
    rows = await uow.session.scalars(
        select(InboxRow.event_id).where(InboxRow.consumer == consumer, InboxRow.event_id.in_(event_ids))
    )
    return set(rows)


P = TypeVar("P", bound=EventPayload)
EventUseCase = Callable[[UnitOfWork, Any, Envelope], Awaitable[None]]
# The same use case for a run of consecutive events of one type: [(payload, envelope), ...]
EventsUseCase = Callable[[UnitOfWork, list[tuple[Any, Envelope]]], Awaitable[None]]


class EventRouter:
    """Routes envelopes by type to idempotent handlers that share one transaction with the inbox."""

    def __init__(self, database: Database, consumer: str) -> None:
        self.database = database
        self.consumer = consumer
        self._handlers: dict[str, EventUseCase] = {}
        self._run_handlers: dict[str, EventsUseCase] = {}

    def on(self, model: type[P]) -> Callable[[EventUseCase], EventUseCase]:
        """Register `fn(uow, payload, envelope)` for events of `model`'s type."""

        def decorate(fn: EventUseCase) -> EventUseCase:
            self._handlers[model.event_type] = fn
            return fn

        return decorate

    def add(self, model: type[EventPayload], fn: EventUseCase, many: EventsUseCase | None = None) -> None:
        """Register `fn` for events of `model`'s type; `many`, if given, takes a run of them in
        one call inside a batch (e.g. one query for all) and must do what `fn` does for each."""
        self._handlers[model.event_type] = fn
        if many is not None:
            self._run_handlers[model.event_type] = many

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

    async def handle_batch(self, envelopes: list[Envelope]) -> None:
        """Handle consecutive envelopes of one partition, in order, in ONE transaction.

        One inbox look-up, one flush and one commit for the lot instead of one each. All or
        nothing: if any handler fails the whole batch rolls back and the caller delivers the
        envelopes one by one (retries, dead-lettering), so no event is half-applied.
        """
        todo: list[tuple[EventUseCase, Any, Envelope]] = []
        ids: set[str] = set()
        for envelope in envelopes:
            fn = self._handlers.get(envelope.type)
            event_id = str(envelope.event_id)
            if fn is None or event_id in ids:  # a duplicate inside the batch counts once
                continue
            ids.add(event_id)
            todo.append((fn, registry.parse(envelope), envelope))
        if not todo:
            return
        async with self.database.unit_of_work() as uow:
            done = await already_claimed(uow, self.consumer, list(ids))
            run: list[tuple[Any, Envelope]] = []  # consecutive events of one type with a `many` form
            for fn, payload, envelope in todo:
                event_id = str(envelope.event_id)
                if event_id in done:
                    log.info("event_duplicate_skipped", consumer=self.consumer, event_id=event_id)
                    continue
                uow.session.add(InboxRow(consumer=self.consumer, event_id=event_id, event_type=envelope.type))
                if run and run[0][1].type != envelope.type:
                    await self._run(uow, run)
                if envelope.type in self._run_handlers:
                    run.append((payload, envelope))
                    continue
                bind_trace_id(envelope.trace_id)  # events this handler stages carry its trace
                await fn(uow, payload, envelope)
            await self._run(uow, run)
            await uow.commit()

    async def _run(self, uow: UnitOfWork, run: list[tuple[Any, Envelope]]) -> None:
        """Hand a run of same-type events to their `many` use case, and empty the run."""
        if run:
            bind_trace_id(run[0][1].trace_id)
            await self._run_handlers[run[0][1].type](uow, list(run))
            run.clear()
