"""A position to a postcode: the nearest commune (or arrondissement) centroid, open data."""

from __future__ import annotations

import asyncio
import csv
import math
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from shared.errors import Unavailable

MAX_DISTANCE_KM = 25.0


@dataclass(frozen=True)
class Place:
    postcode: str
    commune: str
    distance_km: float


class CommuneIndex:
    """Nearest-centroid lookup over communes-fr.csv, loaded on first use."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._loaded = False
        self._lat = np.zeros(0)
        self._lng = np.zeros(0)
        self._postcodes: list[str] = []
        self._names: list[str] = []
        self._by_postcode: dict[str, list[int]] = {}

    async def load(self) -> None:
        """Load the open data off the event loop (the first lookup would block it otherwise)."""
        if not self._loaded:
            await asyncio.to_thread(self._load)

    def _load(self) -> None:
        with self._lock:
            if self._loaded:
                return
            if not self.path.is_file():
                raise Unavailable(f"position lookup unavailable: {self.path} is missing", field="lat")
            lats: list[float] = []
            lngs: list[float] = []
            with self.path.open(newline="", encoding="utf-8") as f:
                for row in csv.DictReader(f):
                    try:
                        lat, lng = float(row["lat"]), float(row["lng"])
                    except (KeyError, ValueError):
                        continue
                    postcode = (row.get("code_postal") or "").strip()
                    if len(postcode) != 5 or not postcode.isdigit():
                        continue
                    self._by_postcode.setdefault(postcode, []).append(len(lats))
                    lats.append(lat)
                    lngs.append(lng)
                    self._postcodes.append(postcode)
                    self._names.append(row.get("commune", ""))
            self._lat = np.radians(np.array(lats))
            self._lng = np.radians(np.array(lngs))
            self._loaded = True

    def centroid(self, postcode: str) -> tuple[float, float] | None:
        """Return the mean centre of the communes with this postcode (else its prefix's), or None."""
        self._load()
        for length in (5, 3, 2):
            prefix = postcode[:length]
            hits = (
                [i for i, p in enumerate(self._postcodes) if p.startswith(prefix)]
                if length < 5
                else (self._by_postcode.get(postcode, []))
            )
            if hits:
                lat = math.degrees(float(np.mean(self._lat[hits])))
                lng = math.degrees(float(np.mean(self._lng[hits])))
                return round(lat, 5), round(lng, 5)
        return None

    def places(self, entries: list[str]) -> list[tuple[float, float]]:
        """Return the centres (lat, lng in degrees) of the communes a zone's postcode entries cover."""
        self._load()
        prefixes = tuple(e.strip() for e in entries if e.strip())
        if not prefixes:
            return []
        return [
            (round(math.degrees(float(self._lat[i])), 5), round(math.degrees(float(self._lng[i])), 5))
            for i, postcode in enumerate(self._postcodes)
            if postcode.startswith(prefixes)
        ]

    def nearest(self, lat: float, lng: float) -> Place | None:
        """Return the nearest commune's postcode, or None when nothing is within 25 km."""
        self._load()
        if not self._postcodes:
            return None
        la, lo = math.radians(lat), math.radians(lng)
        x = (self._lng - lo) * np.cos((self._lat + la) / 2)
        y = self._lat - la
        d2 = x * x + y * y
        i = int(np.argmin(d2))
        distance = math.sqrt(float(d2[i])) * 6371.0
        if distance > MAX_DISTANCE_KM:
            return None
        return Place(self._postcodes[i], self._names[i], distance)


def outline_of(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Return the convex hull of points (lat, lng), counter-clockwise (Andrew's monotone chain)."""
    unique = sorted(set(points), key=lambda p: (p[1], p[0]))
    if len(unique) <= 2:
        return unique

    def cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
        return (a[1] - o[1]) * (b[0] - o[0]) - (a[0] - o[0]) * (b[1] - o[1])

    lower: list[tuple[float, float]] = []
    upper: list[tuple[float, float]] = []
    for p in unique:
        while len(lower) >= 2 and cross(lower[-2], lower[-1], p) <= 0:
            lower.pop()
        lower.append(p)
    for p in reversed(unique):
        while len(upper) >= 2 and cross(upper[-2], upper[-1], p) <= 0:
            upper.pop()
        upper.append(p)
    return lower[:-1] + upper[:-1]
