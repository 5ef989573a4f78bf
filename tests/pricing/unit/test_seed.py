from __future__ import annotations

from dataclasses import dataclass

import pytest

from services.demo.grid import demo_cells
from services.pricing.seed import seed_pricing
from shared.errors import Conflict, Invalid
from tests.pricing.builders import cell_data
from tests.pricing.conftest import Pricing


@dataclass(frozen=True)
class DemoZone:
    code: str
    name: str
    postcodes: tuple[str, ...]


ZONES = [
    {"code": "lyon-centre", "name": "Lyon centre", "postcodes": ["69001", "69002"]},
    DemoZone("lyon-villeurbanne", "Villeurbanne", ("69100",)),
]


class TestSeedPricing:
    async def test_creates_zones_and_publishes_in_one_call(self, pricing: Pricing) -> None:
        grid = {"name": "Lyon", "cells": demo_cells(["lyon-centre", "lyon-villeurbanne"])}
        published = await seed_pricing(pricing.component, zones=ZONES, grid=grid)
        assert published["version"] == 1 and published["state"] == "published"
        assert len(published["cells"]) == 16
        r = await pricing.client.post(
            "/v1/quotes",
            json={
                "category": "cleaning",
                "postcode": "69100",
                "start_at": "2026-11-27T09:00:00Z",
                "duration_min": 60,
            },
        )
        assert r.status_code == 201 and r.json()["zone"] == "lyon-villeurbanne"

    async def test_seeding_twice_keeps_the_zones(self, pricing: Pricing) -> None:
        grid = {"name": "Lyon", "cells": demo_cells(["lyon-centre"])}
        await seed_pricing(pricing.component, zones=ZONES, grid=grid)
        again = await seed_pricing(pricing.component, zones=ZONES, grid=grid)
        assert again["version"] == 2

    async def test_refuses_a_grid_below_the_floor_and_leaves_nothing(self, pricing: Pricing) -> None:
        cells = [cell_data(zone="lyon-centre", hourly_rate_cents=900)]
        with pytest.raises(Invalid) as caught:
            await seed_pricing(pricing.component, zones=ZONES, grid={"name": "x", "cells": cells})
        assert caught.value.extra["offending_cells"][0]["zone"] == "lyon-centre"
        assert (await pricing.client.get("/v1/zones")).json() == []

    async def test_refuses_conflicting_zones(self, pricing: Pricing) -> None:
        await seed_pricing(pricing.component, zones=ZONES, grid={"cells": demo_cells(["lyon-centre"])})
        other = [{"code": "lyon-centre", "name": "x", "postcodes": ["69003"]}]
        with pytest.raises(Conflict):
            await seed_pricing(pricing.component, zones=other, grid={"cells": demo_cells(["lyon-centre"])})
