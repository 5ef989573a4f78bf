"""The transactional outbox and its relay.

A use case adds its events to the outbox table in the same transaction as
its state change. The relay publishes unsent rows in id order (so in order
per aggregate), marks them sent, and survives a broker outage by retrying
with back-off: nothing is lost, nothing is published before its commit.
Only one relay of a service publishes at a time (a PostgreSQL advisory lock),
which keeps per-aggregate order when a service runs as several processes.
"""

from __future__ import annotations

import asyncio
import zlib
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import BigInteger, DateTime, Index, Integer, String, Text, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from shared.bus.base import EventBus, OutgoingMessage
from shared.db import Database, InfraBase
from shared.events import registry
from shared.events.envelope import utcnow
from shared.events.registry import EventPayload
from shared.observability import EVENTS_PUBLISHED

log = structlog.get_logger(__name__)


class OutboxRow(InfraBase):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    event_id: Mapped[str] = mapped_column(String(36), unique=True)
    topic: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(100))
    envelope: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)

    __table_args__ = (
        Index(
            "ix_outbox_unpublished",
            "id",
            postgresql_where=published_at.is_(None),
            sqlite_where=published_at.is_(None),
        ),
    )


def add_to_outbox(
    session: AsyncSession, payload: EventPayload, *, aggregate_id: str | None = None
) -> None:
    """Stage an event in the caller's transaction."""
    envelope = registry.envelope(payload, aggregate_id=aggregate_id)
    kind = registry.kind(envelope.type, envelope.version)
    session.add(
        OutboxRow(
            event_id=str(envelope.event_id),
            topic=kind.topic,
            key=envelope.aggregate_id,
            type=envelope.type,
            envelope=envelope.model_dump_json(),
            created_at=envelope.occurred_at,
        )
    )


class OutboxRelay:
    """Publishes a service's outbox to the bus, in order, until stopped."""

    def __init__(
        self,
        database: Database,
        bus: EventBus,
        *,
        poll_interval_s: float = 0.5,
        batch_size: int = 500,
        max_backoff_s: float = 5.0,
        coalesce_s: float = 0.005,
    ) -> None:
        self.database = database
        self.bus = bus
        self.poll_interval_s = poll_interval_s
        self.batch_size = batch_size
        self.max_backoff_s = max_backoff_s
        self.coalesce_s = coalesce_s
        self._wake = asyncio.Event()
        # One publisher at a time in this process (the advisory lock covers other processes).
        self._publish_lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._lock_id = zlib.crc32(f"outbox:{database.schema}".encode())
        database.on_commit(self.wake)

    def wake(self) -> None:
        """Ask the relay to look at the outbox now rather than at its next poll."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"outbox-relay-{self.database.schema}")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None

    async def _run(self) -> None:
        backoff = self.poll_interval_s
        while True:
            try:
                await self.publish_pending()
                backoff = self.poll_interval_s
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker or database down: keep everything, retry later
                log.warning("outbox_relay_failed", schema=self.database.schema, error=repr(exc))
                backoff = min(max(backoff * 2, 0.1), self.max_backoff_s)
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=backoff)
            except TimeoutError:
                pass
            else:
                # Woken by a commit: let the commits of the next few ms join this round (under
                # load one round per commit cost more CPU than the publishing itself).
                await asyncio.sleep(self.coalesce_s)

    async def publish_pending(self) -> int:
        """Publish every unsent row now; return how many were published."""
        total = 0
        async with self._publish_lock:
            while True:
                published, exhausted = await self._publish_batch()
                total += published
                if exhausted:
                    return total

    async def _publish_batch(self) -> tuple[int, bool]:
        async with self.database.sessions() as session, session.begin():
            if self.database.is_postgres:
                got_lock = await session.scalar(select(func.pg_try_advisory_xact_lock(self._lock_id)))
                if not got_lock:
                    return 0, True
            # Plain column rows, not ORM objects: the relay runs after nearly every commit.
            rows = (
                await session.execute(
                    select(OutboxRow.id, OutboxRow.topic, OutboxRow.key, OutboxRow.envelope)
                    .where(OutboxRow.published_at.is_(None))
                    .order_by(OutboxRow.id)
                    .limit(self.batch_size)
                )
            ).all()
            if not rows:
                return 0, True
            messages = [
                OutgoingMessage(topic=r.topic, key=r.key, value=r.envelope.encode()) for r in rows
            ]
            delivered, error = await self.bus.publish(messages)
            if delivered:
                ids = [r.id for r in rows[:delivered]]
                await session.execute(
                    update(OutboxRow).where(OutboxRow.id.in_(ids)).values(published_at=utcnow())
                )
                for r in rows[:delivered]:
                    EVENTS_PUBLISHED.labels(r.topic).inc()
        if error is not None:
            raise error
        return delivered, len(rows) < self.batch_size


async def pending_count(database: Database) -> int:
    """Return how many outbox rows wait to be published (for probes and tests)."""
    async with database.sessions() as session:
        count: Any = await session.scalar(
            select(func.count()).select_from(OutboxRow).where(OutboxRow.published_at.is_(None))
        )
        return int(count or 0)
