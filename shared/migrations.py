"""Alembic, per service: each service keeps its own migrations/ and version table.

`upgrade(component)` runs a service's migrations on its own schema or file;
each service's migrations/env.py is one call to `run_env(metadata)`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command, context
from alembic.config import Config
from sqlalchemy import Connection, MetaData

from shared import inbox, outbox  # noqa: F401  (registers the outbox and inbox tables)
from shared.db import Database, InfraBase


def alembic_config(migrations_dir: Path, connection: Connection | None = None) -> Config:
    """Return an Alembic config for one service's migrations folder."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    config.attributes["connection"] = connection
    return config


async def upgrade(database: Database, migrations_dir: Path, revision: str = "head") -> None:
    """Bring a service's schema up to `revision`."""
    await database.create_schema()

    def run(connection: Connection) -> None:
        command.upgrade(alembic_config(migrations_dir, connection), revision)

    async with database.engine.begin() as conn:
        await conn.run_sync(run)


def run_env(*metadatas: MetaData) -> None:
    """Body of a service's migrations/env.py: migrate with its tables plus the outbox and inbox."""
    target: list[MetaData] = [InfraBase.metadata, *metadatas]
    connection: Any = context.config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations with `dispatch migrate`, which provides the connection")
    context.configure(
        connection=connection,
        target_metadata=target,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def make_revision(database: Database, migrations_dir: Path, message: str) -> None:
    """Autogenerate a new revision from the difference between the models and the schema."""
    await upgrade(database, migrations_dir)

    def run(connection: Connection) -> None:
        existing = list((migrations_dir / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))
        command.revision(
            alembic_config(migrations_dir, connection),
            message=message,
            autogenerate=True,
            rev_id=f"{len(existing) + 1:04d}",
        )

    async with database.engine.begin() as conn:
        await conn.run_sync(run)
