"""One zone whose data the engine refuses does not stop the other zones, nor the dry run."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from sqlalchemy import update

from services.matching import planner
from services.matching.engine import OrderRequest
from services.matching.metrics import ZONES
from services.matching.models import Provider
from tests.matching.support import (
    Harness,
    on_duty,
    order_confirmed,
    provider_activated,
    two_providers_one_order,
)


@pytest.fixture
def engine_refuses_zone_a(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the engine raise, as on a malformed row, for any pool of zone "a"."""
    solve = planner.solve

    def refusing_solve(orders: Sequence[OrderRequest], *args: Any, **kwargs: Any) -> Any:
        if any(o.zone == "a" for o in orders):
            raise ValueError("order oa: window ends before it starts")
        return solve(orders, *args, **kwargs)

    monkeypatch.setattr(planner, "solve", refusing_solve)


async def two_zones(h: Harness) -> None:
    await h.given(
        provider_activated("p1"),
        on_duty("p1"),
        provider_activated("p2", home_lat=48.80, home_lng=2.30),
        on_duty("p2"),
        order_confirmed("oa", now=h.clock.now, zone="a"),
        order_confirmed("ob", now=h.clock.now, zone="b"),
    )


@pytest.mark.usefixtures("engine_refuses_zone_a")
async def test_a_batch_solves_the_later_zones_and_names_the_failed_one(h: Harness) -> None:
    await two_zones(h)
    failed_before = ZONES.labels("failed")._value.get()

    report = await h.batch()

    assert report.zones_failed == ["a"] and report.zones_solved == ["b"]
    assert report.offered == 1
    (offered,) = await h.events("mission-offered")
    assert offered.payload["order_id"] == "ob"
    assert ZONES.labels("failed")._value.get() == failed_before + 1
    pool = (await h.client.get("/v1/dispatch/pool", headers=h.ops())).json()["orders"]
    assert {o["order_id"]: o["status"] for o in pool} == {"oa": "pool", "ob": "offered"}


@pytest.mark.usefixtures("engine_refuses_zone_a")
async def test_the_dry_run_answers_with_the_zones_that_worked_and_names_the_failed_zone(
    h: Harness,
) -> None:
    await two_zones(h)

    response = await h.client.post("/v1/dispatch/dry-run", headers=h.ops())

    assert response.status_code == 200, response.text
    preview = response.json()
    assert preview["zones_solved"] == ["b"]
    assert preview["zones_failed"] == [{"zone": "a", "error": "order oa: window ends before it starts"}]
    assert [a["order_id"] for a in preview["assignments"]] == ["ob"]


async def test_a_provider_row_the_engine_refuses_is_left_out_not_the_whole_batch(h: Harness) -> None:
    await two_providers_one_order(h)
    async with h.component.database.unit_of_work() as uow:
        await uow.session.execute(update(Provider).where(Provider.provider_id == "p1").values(lat=123.0))
        await uow.commit()

    preview = (await h.client.post("/v1/dispatch/dry-run", headers=h.ops())).json()
    assert preview["providers_free"] == 1 and preview["zones_failed"] == []
    assert [(a["order_id"], a["provider_id"]) for a in preview["assignments"]] == [("o1", "p2")]
    report = await h.batch()

    assert report.zones_failed == [] and report.offered == 1
    offer = await h.live_offer("p2")
    assert offer is not None and offer["order_id"] == "o1"
