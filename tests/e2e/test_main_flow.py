"""SPEC.md's main flow end to end, the same scenario against both modes, through the public API."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.scenario import Api, Scenario, Stack

pytestmark = pytest.mark.integration


async def play(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=15) as http:
        scenario = Scenario(Api(http, stack))
        try:
            await scenario.run()
        finally:
            print(f"--- {stack.mode} ({stack.base_url})", *scenario.log, sep="\n")


async def test_main_flow_embedded(embedded_stack: Stack) -> None:
    """Four services in one process, SQLite, the in-process bus."""
    await play(embedded_stack)


async def test_main_flow_distributed(distributed_stack: Stack) -> None:
    """Four processes behind nginx, PostgreSQL, Kafka."""
    await play(distributed_stack)
