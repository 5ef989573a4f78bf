"""Seeding for demos and tests: zones and a published grid from plain data, in one call.

Example (the demo seeder, with the component the platform runs)::

    from services.pricing.seed import seed_pricing

    published = await seed_pricing(
        platform_app.state.components["pricing"],
        zones=[{"code": "lyon-centre", "name": "Lyon centre", "postcodes": ["69001", "69002"]}],
        grid={
            "name": "Lyon 2026",
            "cells": [
                {"category": "cleaning", "zone": "lyon-centre", "hourly_rate_cents": 2800,
                 "min_billable_min": 60, "travel_fee_cents": 300, "commission_rate": "0.20",
                 "avg_travel_min": 20,
                 "surcharges": {"evening": "0.10", "night": "0.25", "sunday": "0.20",
                                "holiday": "0.50", "urgent": "0.15"}},
            ],
        },
    )
    published["version"]  # -> 1

Zones may be mappings or objects with `code`, `name` and `postcodes` attributes (such as
`services.demo.city.Zone`). A zone that already exists with the same postcodes is kept; one
that exists with other postcodes, or overlaps another, is refused. The grid passes the same
checks as through the API (known categories and zones, the fair-pay floor: `Invalid` lists
every offending cell) and is published in the same transaction as the zones, so either all
of it is in or nothing is. `services.demo.grid.demo_cells(zone_codes)` gives a publishable grid for any zones.

The app must have started (its lifespan migrates the database) before seeding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from services.pricing import views
from services.pricing.app import PricingComponent
from services.pricing.domain.grid import grid_from_cells
from services.pricing.domain.zones import Zone, check_no_overlap, normalise_entries
from services.pricing.models import GridRow, ZoneRow
from services.pricing.repository import PricingRepository
from services.pricing.service import new_id, zone_of
from shared.auth import Principal, Role
from shared.errors import Conflict


def _field(zone: Mapping[str, Any] | Any, name: str) -> Any:
    return zone[name] if isinstance(zone, Mapping) else getattr(zone, name)


async def seed_pricing(
    component: PricingComponent,
    *,
    zones: Sequence[Mapping[str, Any] | Any],
    grid: Mapping[str, Any],
    published_by: str = "seed",
    reason: str = "seed",
) -> dict[str, Any]:
    """Create the zones and publish `grid` ({"name", "cells"}) as the next version; return it."""
    actor = Principal(subject=published_by, role=Role.ops)
    service = component.service
    async with component.database.unit_of_work() as uow:
        repo = PricingRepository(uow.session)
        now = component.clock()
        existing = {z.code: z for z in [zone_of(r) for r in await repo.zones()]}
        for raw in zones:
            zone = Zone(_field(raw, "code"), _field(raw, "name"), normalise_entries(_field(raw, "postcodes")))
            if zone.code in existing:
                if set(existing[zone.code].postcodes) != set(zone.postcodes):
                    raise Conflict(f"zone {zone.code} exists with other postcodes", field="zones")
                continue
            check_no_overlap(zone, list(existing.values()))
            repo.add(
                ZoneRow(
                    code=zone.code,
                    name=zone.name,
                    postcodes=list(zone.postcodes),
                    created_at=now,
                    updated_at=now,
                )
            )
            existing[zone.code] = zone
        cells = grid_from_cells(grid.get("cells") or [], known_zones=set(existing))
        row = GridRow(
            id=new_id(),
            name=str(grid.get("name") or "seeded grid"),
            status="draft",
            version=None,
            cells=cells.to_list(),
            created_by=published_by,
            created_at=now,
            updated_at=now,
            payout_decreases=[],
        )
        repo.add(row)
        await repo.flush()
        await service.publish_in(uow, repo, row, actor, None, reason, rolled_back_from=None)
        await uow.commit()
        return views.grid_view(row, now)
