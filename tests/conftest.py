"""Fixtures shared by every test suite: settings, tokens, and the real servers.

Integration tests read the real PostgreSQL and Kafka that `make test` starts
through deploy/ and exports as TEST_DATABASE_URL and TEST_KAFKA_BOOTSTRAP.
A missing server is a failure, never a skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from shared.config import PlatformSettings
from shared.db import Database
from shared.testing import Tokens

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def tokens() -> Tokens:
    return Tokens()


@pytest.fixture
def settings(tmp_path: Path) -> PlatformSettings:
    """Embedded-mode settings with SQLite files in a fresh folder."""
    return PlatformSettings(var_dir=tmp_path, outbox_poll_s=0.05, bus_retry_backoff_s=0.01)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        pytest.fail("TEST_DATABASE_URL is not set: run the suite with `make test`, which starts PostgreSQL")
    return url


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    servers = os.environ.get("TEST_KAFKA_BOOTSTRAP")
    if not servers:
        pytest.fail("TEST_KAFKA_BOOTSTRAP is not set: run the suite with `make test`, which starts Kafka")
    return servers


@pytest.fixture
def unique() -> Callable[[str], str]:
    """Return a maker of unique names (schemas, topics, groups) for test isolation."""
    token = uuid.uuid4().hex[:8]
    return lambda prefix: f"{prefix}_{token}"


@pytest.fixture
async def pg_database(postgres_url: str, unique: Callable[[str], str]) -> AsyncIterator[Database]:
    """A Database on its own fresh PostgreSQL schema, dropped after the test."""
    database = Database(postgres_url, schema=unique("t"))
    await database.create_schema()
    yield database
    await database.drop_schema()
    await database.dispose()
