from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from shared.config import PlatformSettings
from tests.matching.support import Harness, matching_harness


@pytest.fixture
async def h(settings: PlatformSettings) -> AsyncIterator[Harness]:
    async with matching_harness(settings) as harness:
        yield harness
