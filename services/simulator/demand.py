"""The demand model: when orders come over a day, where, for what and how long (pure).

Every sampler takes the caller's seeded `random.Random`; nothing touches global state.
"""

from __future__ import annotations

import bisect
import itertools
import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from services.demo.city import City, Position, Weight

MINUTES_PER_DAY = 24 * 60
MAX_PLACE_DRAWS = 100_000  # draws of the city before a restricted place is given up

# Orders placed per hour of a weekday (Europe/Paris local), relative: home services are
# booked from the morning, with a peak late morning, a lunch dip, an afternoon plateau
# and an after-work bump, and almost nothing at night.
HOURLY_WEIGHTS: tuple[float, ...] = (
    0.2,
    0.1,
    0.1,
    0.1,
    0.1,
    0.3,  # 00-05
    1.0,
    3.0,
    6.0,
    8.0,
    8.5,
    7.0,  # 06-11
    5.0,
    5.0,
    6.5,
    7.0,
    7.0,
    7.5,  # 12-17
    6.5,
    4.5,
    3.0,
    2.0,
    1.0,
    0.5,  # 18-23
)

# Share of orders per category (cleaning dominates home services) and the lengths booked.
CATEGORY_MIX: dict[str, float] = {
    "cleaning": 0.30,
    "handyman": 0.14,
    "gardening": 0.10,
    "tutoring": 0.12,
    "childcare": 0.10,
    "it_help": 0.08,
    "moving_help": 0.06,
    "transport": 0.10,
}
DURATIONS_MIN: dict[str, tuple[int, ...]] = {
    "cleaning": (90, 120, 120, 180),
    "handyman": (60, 90, 120),
    "gardening": (90, 120, 180),
    "tutoring": (60, 60, 90),
    "childcare": (120, 180, 240),
    "it_help": (60, 60, 90),
    "moving_help": (120, 180, 240),
    "transport": (30, 45, 60),
}
DEFAULT_DURATIONS_MIN: tuple[int, ...] = (60, 90, 120)


@dataclass(frozen=True)
class PlannedOrder:
    """One order of the day as a client will place it."""

    index: int
    client_id: str
    sim_minute: float  # when in the simulated day the client orders (0 = midnight)
    category: str
    duration_min: int
    postcode: str
    commune: str
    lat: float
    lng: float


def hourly_shares(weights: Sequence[float] = HOURLY_WEIGHTS) -> list[float]:
    """Return the share of the day's orders placed in each hour (sums to 1)."""
    if len(weights) != 24 or any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError("weights must be 24 non-negative numbers, not all zero")
    total = sum(weights)
    return [w / total for w in weights]


def sample_minute(rng: random.Random, weights: Sequence[float] = HOURLY_WEIGHTS) -> float:
    """Draw a minute of the day following the hourly curve (uniform inside the hour)."""
    cumulative = list(itertools.accumulate(hourly_shares(weights)))
    hour = min(bisect.bisect_right(cumulative, rng.random() * cumulative[-1]), 23)
    return hour * 60 + rng.random() * 60


def category_weights(available: Sequence[str]) -> dict[str, float]:
    """Return the mix restricted to the categories on sale (unknown ones get a small share)."""
    if not available:
        raise ValueError("no category on sale")
    weights = {c: CATEGORY_MIX.get(c, 0.05) for c in available}
    total = sum(weights.values())
    return {c: w / total for c, w in weights.items()}


def sample_category(rng: random.Random, weights: dict[str, float]) -> str:
    """Draw a category from a mix."""
    names = sorted(weights)
    cumulative = list(itertools.accumulate(weights[n] for n in names))
    return names[min(bisect.bisect_right(cumulative, rng.random() * cumulative[-1]), len(names) - 1)]


def sample_duration(rng: random.Random, category: str) -> int:
    """Draw a booked length in minutes for a category."""
    return rng.choice(DURATIONS_MIN.get(category, DEFAULT_DURATIONS_MIN))


def plan_day(
    city: City,
    rng: random.Random,
    orders: int,
    categories: Sequence[str],
    client_prefix: str = "sim-c",
    repeat_share: float = 0.15,
    weights: Sequence[float] = HOURLY_WEIGHTS,
    where: Collection[str] | None = None,
) -> list[PlannedOrder]:
    """Plan a day of `orders` orders, sorted by time, placed where households live.

    About `repeat_share` of the orders come from a client who already ordered that day.
    `where`, when given, keeps the places to those postcodes (where the grid in force sells).
    """
    if orders < 0:
        raise ValueError("orders must be >= 0")
    mix = category_weights(categories)
    minutes = sorted(sample_minute(rng, weights) for _ in range(orders))
    planned: list[PlannedOrder] = []
    homes: dict[str, tuple[str, str, float, float]] = {}
    for index, minute in enumerate(minutes):
        if homes and rng.random() < repeat_share:
            client_id = rng.choice(sorted(homes))
            postcode, commune, lat, lng = homes[client_id]
        else:
            client_id = f"{client_prefix}-{len(homes):05d}"
            place = sample_place(city, rng, "households", where)
            postcode, commune, lat, lng = place.postcode, place.commune.name, place.lat, place.lng
            homes[client_id] = (postcode, commune, lat, lng)
        category = sample_category(rng, mix)
        planned.append(
            PlannedOrder(
                index=index,
                client_id=client_id,
                sim_minute=minute,
                category=category,
                duration_min=sample_duration(rng, category),
                postcode=postcode,
                commune=commune,
                lat=lat,
                lng=lng,
            )
        )
    return planned


def sample_place(
    city: City, rng: random.Random, weight: Weight, where: Collection[str] | None = None
) -> Position:
    """Draw a place of the city; with `where`, one in those postcodes (the city's draw, conditioned).

    Without `where` the draws are the city's own, so a seed gives the same day as before.
    """
    if where is None:
        return city.sample_position(rng, weight)
    if not any(city.communes_in(postcode) for postcode in where):
        raise ValueError(f"none of the postcodes {sorted(where)[:5]} is in {city.name}")
    for _ in range(MAX_PLACE_DRAWS):
        place = city.sample_position(rng, weight)
        if place.postcode in where:
            return place
    raise ValueError(f"no place drawn in {sorted(where)[:5]} after {MAX_PLACE_DRAWS} draws")


def real_offset_s(sim_minute: float, duration_s: float) -> float:
    """Map a minute of the simulated day to seconds after the start of the run."""
    return sim_minute / MINUTES_PER_DAY * duration_s


def compression(duration_s: float) -> float:
    """Return how many simulated seconds pass per real second."""
    if duration_s <= 0:
        raise ValueError("duration must be positive")
    return MINUTES_PER_DAY * 60 / duration_s


@dataclass(frozen=True)
class Shift:
    """When a provider is on duty in the simulated day, in minutes from midnight."""

    start_min: float
    end_min: float

    def covers(self, sim_minute: float) -> bool:
        """Say whether the provider is on duty at this minute."""
        return self.start_min <= sim_minute < self.end_min

    @property
    def hours(self) -> float:
        """Return the shift's length in hours."""
        return (self.end_min - self.start_min) / 60


def sample_shift(rng: random.Random) -> Shift:
    """Draw a working day: start between 7:00 and 15:00, work 6 to 10 hours."""
    start_hour = 7 + rng.random() * 8
    length_h = 6 + rng.random() * 4
    start = start_hour * 60
    return Shift(start, min(start + length_h * 60, MINUTES_PER_DAY - 1))


def sample_provider_categories(rng: random.Random, categories: Sequence[str]) -> list[str]:
    """Draw one to three categories a provider works in, following the demand mix."""
    mix = category_weights(categories)
    count = min(len(mix), rng.choice((1, 1, 2, 2, 3)))
    chosen: list[str] = []
    while len(chosen) < count:
        category = sample_category(rng, {c: w for c, w in mix.items() if c not in chosen})
        chosen.append(category)
    return sorted(chosen)
