"""What ops and providers do before the day starts, through the API: zones, a grid, providers."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from services.demo.city import City
from services.demo.grid import DEMO_RATES_CENTS, demo_cells
from services.simulator.api import Api, SimulationError, Who, detail_of
from services.simulator.demand import Shift, sample_place, sample_provider_categories, sample_shift
from shared.auth import Role

OPS = "sim-ops"
AS_OPS: Who = (Role.ops, OPS)
ONBOARDING_ROUNDS = 4


@dataclass
class Market:
    """What is on sale in the city: zone codes and categories of the grid in force."""

    grid_version: int
    categories: list[str]
    zones: list[str]
    created: bool  # True when the simulator published the grid itself
    postcodes: list[str] = field(default_factory=list)  # where the grid sells (its zones' postcodes)


@dataclass
class SimProvider:
    """A provider the simulator drives: who, where, when on duty."""

    id: str
    categories: list[str]
    home_lat: float
    home_lng: float
    shift: Shift
    lat: float = 0.0
    lng: float = 0.0
    is_new: bool = True
    notes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.lat and not self.lng:
            self.lat, self.lng = self.home_lat, self.home_lng


async def ensure_market(api: Api, city: City) -> Market:
    """Reuse the grid in force, or create the city's zones and publish a demo grid."""
    current = await api.call("GET", "/v1/price-grids/current", who=AS_OPS)
    if current.status_code == 200:
        grid = current.json()
        cells = grid.get("cells") or []
        zone_codes = sorted({c["zone"] for c in cells})
        zones = await api.ok("GET", "/v1/zones")
        sold = sorted({p for z in zones if z["code"] in zone_codes for p in z.get("postcodes") or []})
        return Market(
            int(grid.get("version") or 0), sorted({c["category"] for c in cells}), zone_codes, False, sold
        )
    if current.status_code != 404:
        raise SimulationError(f"GET /v1/price-grids/current: {current.status_code} {detail_of(current)}")
    existing = {z["code"]: z for z in await api.ok("GET", "/v1/zones")}
    for zone in city.zones():
        if zone.code in existing:
            continue
        body = {"code": zone.code, "name": zone.name, "postcodes": list(zone.postcodes)}
        response = await api.call("POST", "/v1/zones", who=AS_OPS, json=body)
        if response.status_code not in (201, 409):
            raise SimulationError(f"creating zone {zone.code}: {response.status_code} {detail_of(response)}")
    codes = [z.code for z in city.zones()]
    draft = await api.ok(
        "POST",
        "/v1/price-grids",
        who=AS_OPS,
        json={"name": f"{city.name} (simulator)", "cells": demo_cells(codes)},
    )
    published = await api.ok(
        "POST",
        f"/v1/price-grids/{draft['id']}/publish",
        who=AS_OPS,
        json={"reason": "simulator: no grid was published"},
    )
    return Market(
        int(published.get("version") or 1),
        sorted(DEMO_RATES_CENTS),
        codes,
        True,
        sorted(p for z in city.zones() for p in z.postcodes),
    )


def make_siret(rng: random.Random) -> str:
    """Return a random SIRET whose SIREN and whole number pass the Luhn check."""
    siren_body = "".join(str(rng.randint(0, 9)) for _ in range(8))
    siren = siren_body + _luhn_digit(siren_body)
    nic_body = "".join(str(rng.randint(0, 9)) for _ in range(4))
    return siren + nic_body + _luhn_digit(siren + nic_body)


def _luhn_digit(body: str) -> str:
    for digit in "0123456789":
        if _luhn_ok(body + digit):
            return digit
    raise AssertionError("unreachable: one digit always completes a Luhn number")


def _luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


FIRST_NAMES = (
    "Amina",
    "Lucas",
    "Chloé",
    "Karim",
    "Léa",
    "Mamadou",
    "Inès",
    "Hugo",
    "Sofia",
    "Yanis",
    "Camille",
    "Nadia",
    "Théo",
    "Fatou",
    "Julien",
    "Manon",
    "Bilal",
    "Emma",
    "Rayan",
    "Zoé",
)
LAST_NAMES = (
    "Martin",
    "Bernard",
    "Diallo",
    "Moreau",
    "Benali",
    "Lefebvre",
    "Nguyen",
    "Garcia",
    "Petit",
    "Haddad",
    "Roux",
    "Traoré",
    "Fournier",
    "Mercier",
    "Da Silva",
    "Girard",
)


def plan_providers(
    city: City,
    rng: random.Random,
    count: int,
    categories: list[str],
    prefix: str,
    where: Collection[str] | None = None,
) -> list[SimProvider]:
    """Draw `count` providers living where people live (in `where`'s postcodes if given)."""
    providers = []
    for i in range(count):
        home = sample_place(city, rng, "population", where)
        providers.append(
            SimProvider(
                id=f"{prefix}-{i:04d}",
                categories=sample_provider_categories(rng, categories),
                home_lat=home.lat,
                home_lng=home.lng,
                shift=sample_shift(rng),
            )
        )
    return providers


def application(provider: SimProvider, rng: random.Random, city: City) -> dict[str, Any]:
    """Return the application form a provider fills in the app."""
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    commune = min(
        city.communes, key=lambda c: (c.lat - provider.home_lat) ** 2 + (c.lng - provider.home_lng) ** 2
    )
    return {
        "first_name": first,
        "last_name": last,
        "email": f"{provider.id}@example.org",
        "phone": f"+336{rng.randint(10_000_000, 99_999_999)}",
        "date_of_birth": f"{rng.randint(1965, 2003)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
        "nationality": "FR",
        "right_to_work_ref": f"CNI-{rng.randint(100000, 999999)}",
        "siret": make_siret(rng),
        "categories": provider.categories,
        "address": f"{rng.randint(1, 120)} rue de la République, {commune.name}",
        "postcode": commune.postcode,
        "home_lat": provider.home_lat,
        "home_lng": provider.home_lng,
        "travel_radius_km": round(8 + rng.random() * 8, 1),
        "weekly_hours_target": float(rng.choice((20, 25, 30, 35))),
    }


async def onboard_provider(api: Api, provider: SimProvider, rng: random.Random, city: City) -> None:
    """Apply, get vetted and trained until active; reuse an account that already exists."""
    pid = provider.id
    as_provider: Who = (Role.provider, pid)
    as_ops: Who = (Role.ops, OPS)
    found = await api.call("GET", f"/v1/providers/{pid}", who=as_provider)
    if found.status_code == 404:
        await api.ok("POST", "/v1/providers", json=application(provider, rng, city), who=as_provider)
    elif found.status_code == 200:
        provider.is_new = False
        record = found.json()
        provider.categories = list(record["categories"])
        provider.home_lat, provider.home_lng = float(record["home_lat"]), float(record["home_lng"])
        provider.lat, provider.lng = provider.home_lat, provider.home_lng
    else:
        raise SimulationError(f"GET provider {pid}: {found.status_code} {detail_of(found)}")
    modules: dict[str, str] | None = None
    expires = (datetime.now(UTC) + timedelta(days=365)).isoformat()
    for _ in range(ONBOARDING_ROUNDS):
        record = await api.ok("GET", f"/v1/providers/{pid}", who=as_provider)
        status = record["status"]
        if status == "active":
            return
        if status in ("rejected", "offboarded") or (
            status == "suspended" and record.get("suspension") == "decision"
        ):
            raise SimulationError(f"provider {pid} is {status}: cannot be driven")
        qualifications = record["qualifications"]
        gaps = list(qualifications["missing_for_all"])
        for category in qualifications["categories"]:
            gaps.extend(category["missing"])
        for gap in gaps:
            item = str(gap["item"])
            if item.startswith(("training:", "retraining:")):
                if modules is None:
                    catalogue = await api.ok("GET", "/v1/trainings/modules", who=as_provider)
                    modules = {m["code"]: m["id"] for m in catalogue["modules"]}
                    modules.update({m["id"]: m["id"] for m in catalogue["modules"]})
                code = item.split(":", 1)[1]
                if code in modules:
                    await api.ok(
                        "POST",
                        f"/v1/providers/{pid}/trainings",
                        who=as_provider,
                        json={"module_id": modules[code], "score": 95},
                    )
            elif gap["action"] in ("provide", "renew"):
                body = {
                    "kind": item,
                    "outcome": "passed",
                    "evidence_ref": f"sim:{item}:{pid}",
                    "expires_at": expires,
                }
                if gap.get("category"):
                    body["category"] = gap["category"]
                await api.ok("POST", f"/v1/vetting/{pid}/checks", json=body, who=as_ops)
        if status in ("applied", "under_review"):
            response = await api.call("POST", f"/v1/vetting/{pid}/approve", json={}, who=as_ops)
            if response.status_code not in (200, 409):
                raise SimulationError(f"approving {pid}: {response.status_code} {detail_of(response)}")
    record = await api.ok("GET", f"/v1/providers/{pid}", who=as_provider)
    if record["status"] != "active":
        raise SimulationError(f"provider {pid} still {record['status']} after onboarding")


async def list_active(api: Api) -> list[dict[str, Any]]:
    """Return the active providers (ops), ours first (`sim-p...`), then by id."""
    rows = await api.ok("GET", "/v1/providers", who=AS_OPS, params={"status": "active"})
    return sorted(rows, key=lambda r: (not str(r["id"]).startswith("sim-p"), str(r["id"])))


def adopt(record: dict[str, Any], rng: random.Random) -> SimProvider:
    """Drive a provider who already exists, as they registered."""
    return SimProvider(
        id=str(record["id"]),
        categories=list(record["categories"]),
        home_lat=float(record["home_lat"]),
        home_lng=float(record["home_lng"]),
        shift=sample_shift(rng),
        is_new=False,
    )


async def set_duty(api: Api, provider_id: str, on_duty: bool, lat: float, lng: float) -> bool:
    """Put a provider on or off duty as their app would (with a position when on); say if it worked."""
    who: Who = (Role.provider, provider_id)
    path = f"/v1/providers/{provider_id}"
    response = await api.call("PUT", f"{path}/availability", who=who, json={"on_duty": on_duty})
    if response.status_code != 200:
        return False
    if on_duty:
        response = await api.call("PUT", f"{path}/position", who=who, json={"lat": lat, "lng": lng})
    return response.status_code == 200


async def onboard_all(
    api: Api,
    providers: list[SimProvider],
    rng: random.Random,
    city: City,
    concurrency: int,
    on_done: Callable[[], None],
) -> list[str]:
    """Onboard every provider (bounded concurrency); return the problems of those that failed."""
    slots = asyncio.Semaphore(concurrency)
    problems: list[str] = []
    seeds = {p.id: rng.random() for p in providers}

    async def one(provider: SimProvider) -> None:
        async with slots:
            try:
                await onboard_provider(api, provider, random.Random(seeds[provider.id]), city)
            except SimulationError as exc:
                problems.append(str(exc))
                provider.notes.append(str(exc))
            finally:
                on_done()

    await asyncio.gather(*(one(p) for p in providers))
    return problems
