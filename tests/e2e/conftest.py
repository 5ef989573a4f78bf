"""The two modes as session fixtures: each stack starts once and is stopped even on failure."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.scenario import Stack
from tests.e2e.stacks import DistributedStack, EmbeddedStack

# The simulator's day runs on the distributed stack after every other e2e test: the main-flow
# scenario needs a platform with no grid in force (it asserts that, then publishes grid v1 and
# resolves its postcodes to its own zone), which a simulator run before it would have changed.
RUNS_LAST = "test_simulate_distributed.py"

# Orders and matching run as two processes each: the scenario then also shows that replicas of a
# service share its consumer group's work without assigning an order twice.
DISTRIBUTED_REPLICAS = {"orders": 2, "matching": 2}


@pytest.fixture(scope="session")
def embedded_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """`dispatch serve` on a free port, SQLite in a temp folder, no demo providers."""
    with EmbeddedStack(tmp_path_factory.mktemp("e2e-embedded")) as stack:
        yield stack


@pytest.fixture(scope="session")
def distributed_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DistributedStack]:
    """`deploy/platform.sh up` on a fresh database and topic prefix, free ports; `down` afterwards."""
    url, kafka = os.environ.get("TEST_DATABASE_URL"), os.environ.get("TEST_KAFKA_BOOTSTRAP")
    if not url or not kafka:
        pytest.fail("TEST_DATABASE_URL and TEST_KAFKA_BOOTSTRAP must be set: run the suite with `make test`")
    state: Path = tmp_path_factory.mktemp("e2e-distributed")
    platform = DistributedStack(state, database_url=url, kafka_bootstrap=kafka, replicas=DISTRIBUTED_REPLICAS)
    with platform:
        yield platform


@pytest.fixture(scope="session")
def distributed_stack(distributed_platform: DistributedStack) -> Stack:
    """The distributed platform's public API."""
    return distributed_platform.stack


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Move the simulator's test right after the last other test of this folder."""
    here = Path(__file__).parent
    last = [item for item in items if item.path.name == RUNS_LAST and item.path.parent == here]
    if not last:
        return
    rest = [item for item in items if item not in last]
    after = max((k for k, item in enumerate(rest) if item.path.parent == here), default=len(rest) - 1)
    items[:] = rest[: after + 1] + last + rest[after + 1 :]
