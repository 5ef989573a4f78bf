"""Every service's Alembic migrations build exactly the schema its models describe, on PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from services.platform import COMPONENTS
from shared.config import PlatformSettings
from shared.db import Database, InfraBase
from shared.migrations import upgrade

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("service", list(COMPONENTS))
async def test_migrations_match_the_models(
    service: str, postgres_url: str, unique: Callable[[str], str]
) -> None:
    database = Database(postgres_url, schema=unique(service))
    component = COMPONENTS[service](PlatformSettings(), database=database)
    assert component.migrations_dir is not None
    try:
        await upgrade(database, component.migrations_dir)
        await upgrade(database, component.migrations_dir)  # a second run is a no-op

        def diff(connection: Connection) -> list[object]:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return list(compare_metadata(context, [InfraBase.metadata, component.metadata]))

        async with database.engine.connect() as conn:
            differences = await conn.run_sync(diff)
        assert differences == [], f"{service}: models and migrations differ: {differences}"
    finally:
        await database.drop_schema()
        await database.dispose()
