"""Travel time between two points, behind an interface a road-network router can replace."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

EARTH_RADIUS_KM = 6371.0088
FloatArray = npt.NDArray[np.float64]


@runtime_checkable
class TravelModel(Protocol):
    """Minutes to travel from one point to another in a zone."""

    def minutes(self, lat1: float, lng1: float, lat2: float, lng2: float, zone: str) -> float:
        """Return the travel time in minutes."""
        ...


def haversine_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Return the great-circle distance in km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def haversine_km_many(lat1: FloatArray, lng1: FloatArray, lat2: FloatArray, lng2: FloatArray) -> FloatArray:
    """Return great-circle distances in km, element-wise (broadcasting)."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.subtract(lng2, lng1))
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    result: FloatArray = 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(a)))
    return result


class HaversineTravel:
    """Straight-line distance times a detour factor, at a speed per zone."""

    def __init__(
        self,
        detour_factor: float = 1.3,
        speed_kmh_by_zone: Mapping[str, float] | None = None,
        default_speed_kmh: float = 25.0,
    ) -> None:
        if detour_factor < 1 or default_speed_kmh <= 0:
            raise ValueError("detour factor must be >= 1 and speeds > 0")
        self.detour_factor = detour_factor
        self.speed_kmh_by_zone = dict(speed_kmh_by_zone or {})
        if any(s <= 0 for s in self.speed_kmh_by_zone.values()):
            raise ValueError("speeds must be > 0")
        self.default_speed_kmh = default_speed_kmh

    def speed_kmh(self, zone: str) -> float:
        """Return the speed used in a zone."""
        return self.speed_kmh_by_zone.get(zone, self.default_speed_kmh)

    def minutes(self, lat1: float, lng1: float, lat2: float, lng2: float, zone: str) -> float:
        """Return the travel time in minutes."""
        km = haversine_km(lat1, lng1, lat2, lng2) * self.detour_factor
        return km / self.speed_kmh(zone) * 60.0

    def minutes_many(
        self,
        lat1: FloatArray,
        lng1: FloatArray,
        lat2: FloatArray,
        lng2: FloatArray,
        speed_kmh: FloatArray,
    ) -> FloatArray:
        """Return travel minutes element-wise, given each pair's speed (the order's zone)."""
        km = haversine_km_many(lat1, lng1, lat2, lng2) * self.detour_factor
        result: FloatArray = km / speed_kmh * 60.0
        return result

    def min_minutes_per_km(self) -> float:
        """Return a lower bound of minutes per straight-line km (used to prune the search)."""
        fastest = max([self.default_speed_kmh, *self.speed_kmh_by_zone.values()])
        return self.detour_factor / fastest * 60.0
