"""Database access: one engine per service, its own schema (PostgreSQL) or file (SQLite).

Each service owns its data: on PostgreSQL every service gets its own schema
(set as the connection's search_path), in the embedded mode its own SQLite
file. Use cases run in one `UnitOfWork`: one transaction, committed once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, MetaData, TypeDecorator, event, text
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """DateTime(timezone=True) that refuses naive values and always reads back UTC-aware.

    SQLite stores no offset and returns naive datetimes; PostgreSQL returns the
    session's zone. Either way every service sees UTC-aware datetimes.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def make_metadata() -> MetaData:
    """Return a MetaData with the project's constraint naming convention."""
    return MetaData(naming_convention=NAMING_CONVENTION)


class InfraBase(DeclarativeBase):
    """Tables every service has in its own schema: the outbox and the inbox."""

    metadata = make_metadata()


class Database:
    """A service's engine and session factory, bound to its own schema or file."""

    def __init__(self, url: str, schema: str, *, pool_size: int = 10, echo: bool = False) -> None:
        self.url = make_url(url)
        self.schema = schema
        self.is_postgres = self.url.get_backend_name() == "postgresql"
        # pg_stat_activity then says which service holds which connection.
        self.server_settings = {"search_path": schema, "application_name": f"coupdemain:{schema}"[:63]}
        # No pre-ping: on asyncpg it is three round trips (begin, select, rollback) on every
        # checkout, 3-10% of each service's CPU (profiled). A connection the server dropped
        # fails its statement instead; SQLAlchemy then invalidates the pool, the request gets
        # a 503 and the next one reconnects. Recycling keeps connections from going stale.
        kwargs: dict[str, Any] = {"echo": echo, "pool_pre_ping": False, "pool_recycle": 1800}
        if self.is_postgres:
            kwargs["connect_args"] = {"server_settings": self.server_settings}
            kwargs["pool_size"] = pool_size
            kwargs["max_overflow"] = pool_size
        else:
            database = self.url.database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30}
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if not self.is_postgres:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._after_commit: list[Callable[[], None]] = []

    async def create_schema(self) -> None:
        """Create this service's PostgreSQL schema if it does not exist (no-op on SQLite)."""
        if self.is_postgres:
            async with self.engine.begin() as conn:
                await conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"'))

    async def create_all(self, *metadatas: MetaData) -> None:
        """Create every table of the given metadata (tests and the embedded mode)."""
        await self.create_schema()
        async with self.engine.begin() as conn:
            for metadata in (InfraBase.metadata, *metadatas):
                await conn.run_sync(metadata.create_all)

    async def drop_schema(self) -> None:
        """Drop this service's schema and everything in it (tests only)."""
        if self.is_postgres:
            async with self.engine.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE'))

    async def ping(self) -> None:
        """Raise if the database does not answer."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    def on_commit(self, callback: Callable[[], None]) -> None:
        """Call `callback` after every unit of work commits (e.g. to wake the outbox relay)."""
        self._after_commit.append(callback)

    def notify_committed(self) -> None:
        for callback in self._after_commit:
            callback()

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[UnitOfWork]:
        """Open one transaction; commit it with `uow.commit()`, else it rolls back."""
        async with self.sessions() as session:
            uow = UnitOfWork(self, session)
            if not self.is_postgres:
                # SQLite ignores FOR UPDATE, and pysqlite starts a transaction only at the
                # first write, so two use cases could each read a row, then both write it. The
                # write lock taken up front serialises writing use cases (reads stay free).
                await session.execute(text("BEGIN IMMEDIATE"))
            try:
                yield uow
            finally:
                if not uow.committed:
                    await session.rollback()

    async def dispose(self) -> None:
        await self.engine.dispose()


class UnitOfWork:
    """One use case's transaction: its session, its outbox, one commit."""

    def __init__(self, database: Database, session: AsyncSession) -> None:
        self.database = database
        self.session = session
        self.committed = False
        self.has_events = False

    def add_event(self, payload: Any, *, aggregate_id: str | None = None) -> None:
        """Record an event in the outbox, in this transaction."""
        from shared.outbox import add_to_outbox

        add_to_outbox(self.session, payload, aggregate_id=aggregate_id)
        self.has_events = True

    async def commit(self) -> None:
        await self.session.commit()
        self.committed = True
        if self.has_events:  # wake the relay only when there is something to publish
            self.database.notify_committed()

    async def rollback(self) -> None:
        await self.session.rollback()


def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


async def wait_for(predicate: Callable[[], Any], timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Poll an async predicate until it returns a truthy value (used by probes and tests)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await predicate()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(interval)
