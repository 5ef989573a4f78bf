"""City-like test instances: orders and providers placed where people live.

Points are drawn in proportion to the 2021 population of the real communes (and Paris, Lyon,
Marseille arrondissements) within a radius of a city centre, read from the open-data CSV
`communes-fr.csv` whose path is given; no network. Deterministic for a seed.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from services.matching.engine.model import Commitment, OrderRequest, ProviderState
from services.matching.engine.travel import haversine_km

LYON = (45.7640, 4.8357)
PARIS = (48.8566, 2.3522)
CATEGORIES: tuple[str, ...] = (
    "cleaning",
    "gardening",
    "handyman",
    "tutoring",
    "childcare",
    "it_help",
    "moving_help",
    "transport",
)
DEFAULT_NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
PARIS_TZ = ZoneInfo("Europe/Paris")


@dataclass(frozen=True)
class Place:
    """A commune (or arrondissement) with its postcode, centre, population and size."""

    postcode: str
    name: str
    lat: float
    lng: float
    population: int
    spread_km: float  # a typical distance of a home from the centre point


def load_places(
    csv_path: str | Path, centre: tuple[float, float] = LYON, radius_km: float = 25.0
) -> list[Place]:
    """Return the populated places within radius_km of a centre, from communes-fr.csv."""
    places: dict[str, Place] = {}
    with open(csv_path, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["commune_type"] not in ("COM", "ARM") or row["insee_com"] in places:
                continue
            try:
                lat, lng = float(row["lat"]), float(row["lng"])
                population = int(float(row["population_2021"] or 0))
                area = float(row["superficie_km2"] or 1.0)
            except ValueError:
                continue
            if population <= 0 or haversine_km(lat, lng, *centre) > radius_km:
                continue
            places[row["insee_com"]] = Place(
                row["code_postal"],
                row["commune"],
                lat,
                lng,
                population,
                math.sqrt(max(area, 0.01) / math.pi) / 2,
            )
    if not places:
        raise ValueError(f"no populated commune within {radius_km} km of {centre}")
    return [places[key] for key in sorted(places)]


def _points(
    places: Sequence[Place], count: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw points in proportion to population, spread around each place's centre."""
    weights = np.array([p.population for p in places], np.float64)
    chosen = rng.choice(len(places), size=count, p=weights / weights.sum())
    lat0 = np.array([p.lat for p in places])[chosen]
    lng0 = np.array([p.lng for p in places])[chosen]
    spread = np.array([p.spread_km for p in places])[chosen]
    dy = rng.normal(0.0, 1.0, count) * spread
    dx = rng.normal(0.0, 1.0, count) * spread
    lat = lat0 + dy / 111.2
    lng = lng0 + dx / (111.2 * np.cos(np.radians(lat0)))
    return lat, lng, chosen


def city_instance(
    csv_path: str | Path,
    n_orders: int,
    n_providers: int,
    *,
    seed: int = 0,
    centre: tuple[float, float] = LYON,
    radius_km: float = 25.0,
    now: datetime = DEFAULT_NOW,
    skill_share: float = 0.7,
    zone: str = "metro",
    places: Sequence[Place] | None = None,
    booked_share: float = 0.0,
    busy_share: float = 0.0,
) -> tuple[list[OrderRequest], list[ProviderState]]:
    """Return (orders, providers) of an on-demand batch in a city, deterministic for a seed.

    Each provider holds each category with probability `skill_share` (0.7: 30% of pairs are
    ruled out by skills); providers are on duty, free, with a radius of 5 to 15 km, a rating
    (70% with enough ratings for a verdict), hours this week and a weekly target; orders want
    a start within 30 to 120 minutes, last 1 to 3 hours, and pay 13 to 25 € an hour.

    With `booked_share`, that share of orders is booked for the next day (a two-hour window
    between 8:00 and 18:00 Paris time); with `busy_share`, that share of providers is off duty
    with a weekly schedule (weekdays 8:00-18:00, Paris time) and already holds one mission
    next day somewhere in the city, so that their calendar and travel between missions count.
    """
    places = list(places) if places is not None else load_places(csv_path, centre, radius_km)
    rng = np.random.default_rng(seed)
    o_lat, o_lng, o_place = _points(places, n_orders, rng)
    p_lat, p_lng, _ = _points(places, n_providers, rng)
    o_cat = rng.integers(0, len(CATEGORIES), n_orders)
    duration = rng.choice([60, 90, 120, 180], size=n_orders)
    rate = rng.uniform(13.0, 25.0, n_orders)
    window = rng.uniform(30.0, 120.0, n_orders)
    booked = rng.random(n_orders) < booked_share
    tomorrow = datetime.combine(
        (now.astimezone(PARIS_TZ) + timedelta(days=1)).date(), time(8), tzinfo=PARIS_TZ
    )
    booked_start = rng.uniform(0, 8 * 60, n_orders)
    orders = [
        OrderRequest(
            id=f"o{i:06d}",
            category=CATEGORIES[int(o_cat[i])],
            lat=float(o_lat[i]),
            lng=float(o_lng[i]),
            window_start=(tomorrow + timedelta(minutes=float(booked_start[i]))).astimezone(UTC)
            if booked[i]
            else now,
            window_end=(tomorrow + timedelta(minutes=float(booked_start[i]) + 120)).astimezone(UTC)
            if booked[i]
            else now + timedelta(minutes=float(window[i])),
            duration_min=float(duration[i]),
            payout_cents=int(rate[i] * duration[i] / 60 * 100),
            zone=zone,
        )
        for i in range(n_orders)
    ]
    skills = rng.random((n_providers, len(CATEGORIES))) < skill_share
    radius = rng.uniform(5.0, 15.0, n_providers)
    rated = rng.random(n_providers) < 0.7
    rating = np.clip(rng.normal(4.6, 0.3, n_providers), 1.0, 5.0)
    count = np.where(rated, rng.integers(5, 200, n_providers), rng.integers(0, 5, n_providers))
    target = rng.uniform(10.0, 40.0, n_providers)
    hours = target * rng.uniform(0.0, 1.2, n_providers)
    busy = rng.random(n_providers) < busy_share
    c_lat, c_lng, _ = _points(places, n_providers, rng)
    c_start = rng.uniform(0, 9 * 60, n_providers)
    c_length = rng.choice([60, 120, 180], size=n_providers)
    weekdays = tuple((day, 8 * 60, 18 * 60) for day in range(5))
    providers = [
        ProviderState(
            id=f"p{j:06d}",
            categories=frozenset(c for c, ok in zip(CATEGORIES, skills[j], strict=True) if ok),
            lat=float(p_lat[j]),
            lng=float(p_lng[j]),
            travel_radius_km=float(radius[j]),
            on_duty=not busy[j],
            weekly_schedule=weekdays if busy[j] else (),
            commitments=(
                Commitment(
                    f"c{j:06d}",
                    (tomorrow + timedelta(minutes=float(c_start[j]))).astimezone(UTC),
                    (tomorrow + timedelta(minutes=float(c_start[j] + c_length[j]))).astimezone(UTC),
                    float(c_lat[j]),
                    float(c_lng[j]),
                ),
            )
            if busy[j]
            else (),
            rating=float(round(rating[j], 2)) if count[j] else None,
            rating_count=int(count[j]),
            hours_this_week=float(round(hours[j], 1)),
            weekly_target_h=float(round(target[j], 1)),
            zone=zone,
        )
        for j in range(n_providers)
    ]
    return orders, providers
