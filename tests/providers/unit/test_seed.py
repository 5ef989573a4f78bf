"""seed_active_provider: one call gives an active, dispatchable provider (demo seeding)."""

from __future__ import annotations

import pytest

from services.providers.errors import AlreadyApplied
from services.providers.service import seed_active_provider
from shared.errors import Invalid
from tests.providers.unit.conftest import Harness


async def test_seeds_an_active_provider_with_events(h: Harness) -> None:
    module = (
        await h.http.post(
            "/v1/trainings/modules",
            json={"code": "safety", "title": "Safety", "min_score": 70},
            headers=h.ops,
        )
    ).json()
    await h.http.put(
        "/v1/trainings/requirements/childcare", json={"module_ids": [module["id"]]}, headers=h.ops
    )
    provider = await seed_active_provider(
        h.component.ctx,
        provider_id="seed-1",
        first_name="Lina",
        last_name="Martin",
        categories=["childcare", "cleaning"],
        home_lat=48.85,
        home_lng=2.35,
        postcode="75011",
        on_duty=True,
    )
    assert provider.status == "active" and provider.qualified == ["childcare", "cleaning"]
    await h.settle()
    types = [e["type"] for e in h.events() if e["aggregate_id"] == "seed-1"]
    assert types == ["provider-activated", "qualifications-changed", "availability-changed"]
    body = (await h.http.get("/v1/providers/seed-1", headers=h.tokens.provider("seed-1"))).json()
    assert body["on_duty"] is True and body["qualifications"]["missing_for_all"] == []


async def test_refuses_duplicates_and_bad_input(h: Harness) -> None:
    ctx = h.component.ctx
    args = {"first_name": "A", "last_name": "B", "home_lat": 45.0, "home_lng": 4.0, "postcode": "69001"}
    await seed_active_provider(ctx, provider_id="s1", categories=["cleaning"], **args)  # type: ignore[arg-type]
    with pytest.raises(AlreadyApplied):
        await seed_active_provider(ctx, provider_id="s1", categories=["cleaning"], **args)  # type: ignore[arg-type]
    with pytest.raises(Invalid):
        await seed_active_provider(ctx, provider_id="s2", categories=["plumbing"], **args)  # type: ignore[arg-type]
    with pytest.raises(Invalid):
        await seed_active_provider(ctx, provider_id="s3", categories=["cleaning"], siret="123", **args)  # type: ignore[arg-type]
