"""SPEC.md's main flow end to end, the same scenario against both modes, through the public API."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import DISTRIBUTED_REPLICAS
from tests.e2e.scenario import Api, Scenario, Stack
from tests.e2e.stacks import DistributedStack

pytestmark = pytest.mark.integration


async def play(stack: Stack) -> None:
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=15) as http:
        scenario = Scenario(Api(http, stack))
        try:
            await scenario.run()
        finally:
            print(f"--- {stack.mode} ({stack.base_url})", *scenario.log, sep="\n")


def counted(metrics_text: str, family: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples of one counter family from a /metrics page, by their labels."""
    return {
        tuple(sorted(sample.labels.items())): sample.value
        for metric in text_string_to_metric_families(metrics_text)
        if metric.name == family
        for sample in metric.samples
        if sample.name == f"{family}_total"
    }


async def test_main_flow_embedded(embedded_stack: Stack) -> None:
    """Four services in one process, SQLite, the in-process bus."""
    await play(embedded_stack)


async def test_main_flow_distributed(distributed_platform: DistributedStack) -> None:
    """Four services as processes behind nginx (orders and matching twice), PostgreSQL, Kafka."""
    await play(distributed_platform.stack)
    # The scenario found every order assigned at most once; now check both processes of each
    # replicated service took part. Which process handles an event depends on its key's partition,
    # and the scenario's few keys (4 orders, 1 provider) can all land on one member's partitions:
    # so per process we require membership with partitions of its own and public requests served
    # (nginx alternates), and events handled only across the service's processes.
    async with httpx.AsyncClient(timeout=5) as http:
        for service, replicas in DISTRIBUTED_REPLICAS.items():
            members = await distributed_platform.consumer_group(service)
            assert len(members) == replicas, (service, members)
            assert all(members.values()), f"a {service} process holds no partition: {members}"
            handled = 0.0
            for url in distributed_platform.process_urls(service):
                metrics = (await http.get(f"{url}/metrics")).text
                served = sum(
                    n
                    for labels, n in counted(metrics, "http_requests").items()
                    if dict(labels)["route"].startswith("/v1/")
                )
                assert served > 0, f"{service} at {url} served no public request"
                events = sum(counted(metrics, "events_handled").values())
                print(f"{service} at {url}: {served:.0f} requests, {events:.0f} events handled")
                handled += events
            assert handled > 0, f"no {service} process handled an event"
