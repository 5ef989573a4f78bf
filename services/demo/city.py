"""The demo city, the Métropole de Lyon: communes, postcodes, bounds, zones, where people live.

Pure: the only inputs are the packaged `communes-lyon.csv` and `communes-lyon-neighbours.csv`
(read through importlib.resources, so they work from an installed package and from any
working directory). Samplers take the caller's seeded random source and never touch global
state.

Pricing resolves a position to the postcode of the nearest commune centroid in France, so a
point sampled near the Métropole's edge can belong to a commune outside it (a postcode no
zone serves). The neighbours file holds the centroids just outside; the sampler redraws a
point nearer to one of them than to every Métropole centroid.

Figures are per row of the file, that is per commune and postcode. A commune served by
several postcodes (Oullins-Pierre-Bénite: 69310 and 69600) has its population and households
split evenly between its postcodes, since the open data has no finer figure; totals are kept.
"""

from __future__ import annotations

import bisect
import csv
import io
import itertools
import math
from dataclasses import dataclass
from functools import cache, cached_property
from importlib import resources
from typing import Literal, NamedTuple, Protocol

Weight = Literal["population", "households"]

DATA_FILE = "communes-lyon.csv"
NEIGHBOURS_FILE = "communes-lyon-neighbours.csv"
KM_PER_DEGREE_LAT = 111.32
EARTH_RADIUS_KM = 6371.0
# Points fall in a disc around the town hall whose radius is this share of the radius of a
# disc with the commune's area: mostly inside the commune, never far outside it.
JITTER_SHARE = 0.7


class RandomSource(Protocol):
    """What the samplers need from a random generator: `random.Random` or `numpy.random.Generator`."""

    def random(self) -> float: ...


@dataclass(frozen=True)
class Commune:
    """A commune (or a Lyon arrondissement) for one of its postcodes, with this row's share of people."""

    insee: str
    name: str
    postcode: str
    kind: Literal["COM", "ARM"]
    lat: float
    lng: float
    area_km2: float
    population: int
    households: int

    @property
    def jitter_radius_km(self) -> float:
        """Return how far from the town hall sampled points may fall."""
        return JITTER_SHARE * math.sqrt(self.area_km2 / math.pi)


@dataclass(frozen=True)
class Neighbour:
    """A commune centroid just outside the area, for one of its postcodes."""

    insee: str
    name: str
    postcode: str
    lat: float
    lng: float


@dataclass(frozen=True)
class Bounds:
    """A latitude/longitude box."""

    min_lat: float
    min_lng: float
    max_lat: float
    max_lng: float

    def contains(self, lat: float, lng: float) -> bool:
        """Say whether the point is inside the box (edges included)."""
        return self.min_lat <= lat <= self.max_lat and self.min_lng <= lng <= self.max_lng


@dataclass(frozen=True)
class Zone:
    """A proposed pricing zone: a code (pricing's zone code format), a name, five-digit postcodes."""

    code: str
    name: str
    postcodes: tuple[str, ...]


class Position(NamedTuple):
    """A sampled place: its postcode, coordinates, and the commune it falls in."""

    postcode: str
    lat: float
    lng: float
    commune: Commune


# Six zones by postcode, drawn by hand from the map (bearing from Lyon's centre): the nine
# arrondissements, Villeurbanne alone (157,000 people), then four crowns. Every postcode of
# the Métropole is in exactly one of them (tested).
# fmt: off
_ZONES: tuple[Zone, ...] = (
    Zone(
        "lyon-centre",
        "Lyon centre",
        ("69001", "69002", "69003", "69004", "69005", "69006", "69007", "69008", "69009"),
    ),
    Zone("lyon-villeurbanne", "Villeurbanne", ("69100",)),
    Zone(
        "lyon-est",
        "Est lyonnais",
        ("69120", "69150", "69330", "69500", "69680", "69800"),
    ),
    Zone(
        "lyon-sud",
        "Sud — vallée du Rhône",
        (
            "69190", "69200", "69230", "69310", "69320", "69350", "69360", "69390", "69520",
            "69540", "69600", "69700", "69780", "69960",
        ),
    ),
    Zone(
        "lyon-ouest",
        "Ouest lyonnais",
        ("69110", "69130", "69160", "69260", "69280", "69290", "69340", "69570", "69890"),
    ),
    Zone(
        "lyon-nord",
        "Nord — Val de Saône et monts d'Or",
        (
            "69140", "69250", "69270", "69300", "69370", "69380", "69410", "69450", "69580",
            "69650", "69660", "69730", "69760",
        ),
    ),
)
# fmt: on


@dataclass(frozen=True)
class City:
    """A metropolitan area: its communes, postcodes, bounds and samplers.

    `neighbours` are the centroids just outside the area (within twice the widest sampling
    radius of a town hall at least); sampled points nearer to one of them are redrawn.
    """

    name: str
    communes: tuple[Commune, ...]
    neighbours: tuple[Neighbour, ...] = ()

    @property
    def postcodes(self) -> tuple[str, ...]:
        """Return every postcode of the area, sorted, once each."""
        return tuple(sorted({c.postcode for c in self.communes}))

    @property
    def population(self) -> int:
        """Return the area's population."""
        return sum(c.population for c in self.communes)

    @property
    def households(self) -> int:
        """Return the area's number of households."""
        return sum(c.households for c in self.communes)

    @property
    def bounds(self) -> Bounds:
        """Return the box holding every commune's sampling disc (so every sampled point)."""
        boxes = [_disc_box(c) for c in self.communes]
        return Bounds(
            min_lat=min(b.min_lat for b in boxes),
            min_lng=min(b.min_lng for b in boxes),
            max_lat=max(b.max_lat for b in boxes),
            max_lng=max(b.max_lng for b in boxes),
        )

    @property
    def centre(self) -> tuple[float, float]:
        """Return the population-weighted centre (lat, lng)."""
        total = self.population
        lat = sum(c.lat * c.population for c in self.communes) / total
        lng = sum(c.lng * c.population for c in self.communes) / total
        return lat, lng

    def communes_in(self, postcode: str) -> tuple[Commune, ...]:
        """Return the communes (rows) served by `postcode`; empty when it is not the area's."""
        return tuple(c for c in self.communes if c.postcode == postcode)

    def zones(self) -> tuple[Zone, ...]:
        """Propose the area's zones: every postcode in exactly one."""
        return _ZONES

    def zone_of(self, postcode: str) -> Zone | None:
        """Return the proposed zone holding `postcode`, or None outside the area."""
        return next((z for z in _ZONES if postcode in z.postcodes), None)

    def sample_position(self, rng: RandomSource, weight: Weight = "population") -> Position:
        """Draw a place where a person (or a household) of the area lives.

        A commune is chosen in proportion to its population (or households), then a point
        uniformly in a disc around its town hall scaled to its area, redrawn (in the same
        commune, so communes keep their shares) while it is nearer to a neighbour's centroid
        than to every centroid of the area: pricing would place it outside the area.
        """
        commune = self._pick(rng, weight)
        # Ends: the town hall is its own nearest centroid, so a draw near it is kept.
        while True:
            radius_km = commune.jitter_radius_km * math.sqrt(rng.random())
            angle = 2 * math.pi * rng.random()
            lat = commune.lat + radius_km * math.cos(angle) / KM_PER_DEGREE_LAT
            lng = commune.lng + radius_km * math.sin(angle) / _km_per_degree_lng(commune.lat)
            lat, lng = round(lat, 6), round(lng, 6)
            if self.is_inside(lat, lng, commune):
                return Position(commune.postcode, lat, lng, commune)

    def is_inside(self, lat: float, lng: float, commune: Commune) -> bool:
        """Say whether a point of `commune`'s disc is nearer to an area centroid than to any neighbour's."""
        rivals = self._rivals.get(commune)
        if rivals is None:
            return True
        ours, theirs = rivals
        la, lo = math.radians(lat), math.radians(lng)
        nearest_ours = min(_distance2(la, lo, c) for c in ours)
        return all(_distance2(la, lo, c) > nearest_ours for c in theirs)

    def sample_positions(
        self, rng: RandomSource, count: int, weight: Weight = "population"
    ) -> list[Position]:
        """Draw `count` places (see `sample_position`)."""
        return [self.sample_position(rng, weight) for _ in range(count)]

    @cached_property
    def _cumulative(self) -> dict[Weight, tuple[int, ...]]:
        return {
            "population": tuple(itertools.accumulate(c.population for c in self.communes)),
            "households": tuple(itertools.accumulate(c.households for c in self.communes)),
        }

    @cached_property
    def _rivals(self) -> dict[Commune, tuple[list[_Radians], list[_Radians]]]:
        """Map each commune with a neighbour in reach to the area's and the neighbours' centroids in reach.

        A centroid nearer to a point of the disc than the town hall is within twice the disc's
        radius of the town hall; the margin covers the flat-earth metric and the rounding.
        """
        rivals = {}
        for commune in self.communes:
            reach_km = 2.2 * commune.jitter_radius_km + 0.1
            theirs = [_radians(n.lat, n.lng) for n in self.neighbours if _within(commune, n, reach_km)]
            if theirs:
                ours = [_radians(c.lat, c.lng) for c in self.communes if _within(commune, c, reach_km)]
                rivals[commune] = (ours, theirs)
        return rivals

    def _pick(self, rng: RandomSource, weight: Weight) -> Commune:
        cumulative = self._cumulative.get(weight)
        if cumulative is None:
            raise ValueError(f"weight must be 'population' or 'households', not {weight!r}")
        point = rng.random() * cumulative[-1]
        return self.communes[min(bisect.bisect_right(cumulative, point), len(cumulative) - 1)]


class _Radians(NamedTuple):
    lat: float
    lng: float


def _radians(lat: float, lng: float) -> _Radians:
    return _Radians(math.radians(lat), math.radians(lng))


def _distance2(lat: float, lng: float, centroid: _Radians) -> float:
    """Return the squared distance (radians) as pricing ranks centroids (services/pricing/geo.py)."""
    x = (centroid.lng - lng) * math.cos((centroid.lat + lat) / 2)
    y = centroid.lat - lat
    return x * x + y * y


def _within(commune: Commune, other: Commune | Neighbour, km: float) -> bool:
    here = _radians(commune.lat, commune.lng)
    return math.sqrt(_distance2(here.lat, here.lng, _radians(other.lat, other.lng))) * EARTH_RADIUS_KM <= km


def _km_per_degree_lng(lat: float) -> float:
    return KM_PER_DEGREE_LAT * math.cos(math.radians(lat))


def _disc_box(commune: Commune) -> Bounds:
    # the rounding of sampled coordinates to 6 decimals moves a point by under 0.1 m: pad 1e-6
    dlat = commune.jitter_radius_km / KM_PER_DEGREE_LAT + 1e-6
    dlng = commune.jitter_radius_km / _km_per_degree_lng(commune.lat) + 1e-6
    return Bounds(commune.lat - dlat, commune.lng - dlng, commune.lat + dlat, commune.lng + dlng)


def _split(total: int, parts: int, index: int) -> int:
    """Return part `index` of `total` split in `parts` integers as even as possible, summing to it."""
    return total // parts + (1 if index < total % parts else 0)


def parse_communes(text: str) -> tuple[Commune, ...]:
    """Parse the packaged CSV text into communes, one per row, figures split between postcodes."""
    rows = list(csv.DictReader(io.StringIO(text)))
    postcodes_of: dict[str, list[str]] = {}
    for row in rows:
        postcodes_of.setdefault(row["insee_com"], []).append(row["code_postal"])
    communes = []
    for row in rows:
        shares = postcodes_of[row["insee_com"]]
        index, parts = shares.index(row["code_postal"]), len(shares)
        kind: Literal["COM", "ARM"] = "ARM" if row["commune_type"] == "ARM" else "COM"
        communes.append(
            Commune(
                insee=row["insee_com"],
                name=row["commune_article"] or row["commune"],
                postcode=row["code_postal"],
                kind=kind,
                lat=float(row["lat"]),
                lng=float(row["lng"]),
                area_km2=float(row["superficie_km2"]),
                population=_split(int(row["population_2021"]), parts, index),
                households=_split(int(row["menages_2021"]), parts, index),
            )
        )
    return tuple(communes)


def parse_neighbours(text: str) -> tuple[Neighbour, ...]:
    """Parse the packaged neighbours CSV text into centroids, one per row."""
    return tuple(
        Neighbour(
            insee=row["insee_com"],
            name=row["commune_article"] or row["commune"],
            postcode=row["code_postal"],
            lat=float(row["lat"]),
            lng=float(row["lng"]),
        )
        for row in csv.DictReader(io.StringIO(text))
    )


@cache
def load_city() -> City:
    """Return the Métropole de Lyon from the packaged open-data subset (read once)."""
    package = resources.files("services.demo")
    return City(
        name="Métropole de Lyon",
        communes=parse_communes(package.joinpath(DATA_FILE).read_text(encoding="utf-8")),
        neighbours=parse_neighbours(package.joinpath(NEIGHBOURS_FILE).read_text(encoding="utf-8")),
    )


def zones() -> tuple[Zone, ...]:
    """Propose the demo city's zones (see `City.zones`)."""
    return load_city().zones()


__all__ = [
    "Bounds",
    "City",
    "Commune",
    "Neighbour",
    "Position",
    "RandomSource",
    "Weight",
    "Zone",
    "load_city",
    "parse_communes",
    "parse_neighbours",
    "zones",
]
