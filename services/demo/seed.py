"""Seed the embedded platform with the demo city on first start.

A published price grid over the Lyon area's six zones and a few hundred
vetted, on-duty providers placed where people live, each through the
services' own seeding use cases (so the same events flow as in real life).
Seeding runs once: a marker row (the published grid) tells it already ran.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

import structlog

from services.demo.city import load_city
from services.demo.grid import demo_cells
from services.pricing.seed import seed_pricing
from services.providers.service import seed_active_provider
from services.providers.siret import luhn_ok
from shared.component import Component

log = structlog.get_logger(__name__)

FIRST_NAMES = (
    "Amina", "Lucas", "Chloé", "Mehdi", "Inès", "Hugo", "Sarah", "Yanis", "Léa", "Karim",
    "Manon", "Théo", "Fatou", "Nathan", "Camille", "Samir", "Julie", "Moussa", "Emma", "Rayan",
)
LAST_NAMES = (
    "Martin", "Bernard", "Diallo", "Petit", "Nguyen", "Moreau", "Haddad", "Laurent", "Traoré",
    "Garcia", "Rousseau", "Benali", "Fournier", "Lefebvre", "Mercier", "Da Silva",
)
# How often each category is offered by a provider: cleaning dominates household services.
CATEGORY_WEIGHTS = {
    "cleaning": 8, "gardening": 3, "handyman": 4, "tutoring": 3, "childcare": 3,
    "it_help": 2, "moving_help": 2, "transport": 1,
}


@dataclass(frozen=True)
class DemoSummary:
    seeded: bool
    zones: int
    providers: int
    provider_ids: tuple[str, ...]


def demo_siret(index: int) -> str:
    """Return a valid SIRET (Luhn-valid SIREN, Luhn over all 14 digits), distinct per provider."""
    siren = _with_check_digit(f"9{index:07d}")
    return _with_check_digit(f"{siren}0001")


def _with_check_digit(body: str) -> str:
    for check in "0123456789":
        if luhn_ok(body + check):
            return body + check
    raise AssertionError("unreachable: one check digit always fits")


def demo_provider_id(index: int) -> str:
    return f"demo-p-{index:04d}"


async def seed_demo(components: dict[str, Component], *, providers: int = 300, seed: int = 7) -> DemoSummary:
    """Seed zones, a grid and `providers` active providers unless the demo is already there."""
    from services.pricing.repository import PricingRepository

    pricing: Any = components["pricing"]
    async with pricing.database.sessions() as session:
        if await PricingRepository(session).latest_version() > 0:  # a grid exists: seeded already
            return DemoSummary(False, 0, 0, ())
    city = load_city()
    zones = list(city.zones())
    await seed_pricing(
        pricing, zones=zones, grid={"name": "Lyon demo grid", "cells": demo_cells([z.code for z in zones])}
    )
    rng = random.Random(seed)
    ctx = components["providers"].ctx  # type: ignore[attr-defined]
    ids: list[str] = []
    categories = list(CATEGORY_WEIGHTS)
    weights = list(CATEGORY_WEIGHTS.values())
    for index in range(1, providers + 1):
        place = city.sample_position(rng, weight="population")
        chosen = sorted(set(rng.choices(categories, weights=weights, k=rng.choice((1, 1, 2, 3)))))
        provider_id = demo_provider_id(index)
        await seed_active_provider(
            ctx,
            provider_id=provider_id,
            first_name=rng.choice(FIRST_NAMES),
            last_name=rng.choice(LAST_NAMES),
            categories=chosen,
            home_lat=round(place.lat, 5),
            home_lng=round(place.lng, 5),
            postcode=place.postcode,
            siret=demo_siret(index),
            travel_radius_km=rng.choice((5.0, 8.0, 10.0, 15.0)),
            weekly_hours_target=rng.choice((15.0, 20.0, 30.0, 35.0)),
            on_duty=True,
            address=f"{rng.randint(1, 120)} rue de la République, {place.commune.name}",
        )
        ids.append(provider_id)
    log.info("demo_seeded", zones=len(zones), providers=len(ids))
    return DemoSummary(True, len(zones), len(ids), tuple(ids))
