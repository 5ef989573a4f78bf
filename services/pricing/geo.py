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
