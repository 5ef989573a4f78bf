"""Zones: named sets of French postcodes or postcode prefixes.

A postcode belongs to the zone whose entry is its longest matching prefix (an
exact five-digit postcode is the longest possible). Two zones may not hold the
same entry: that would make the answer ambiguous, so it is refused when the
zone is created or changed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from shared.errors import Conflict, Invalid

POSTCODE_ENTRY = re.compile(r"^\d{1,5}$")
POSTCODE = re.compile(r"^\d{5}$")
ZONE_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


@dataclass(frozen=True)
class Zone:
    """A served area: a code used in grids and quotes, a name, postcode entries."""

    code: str
    name: str
    postcodes: tuple[str, ...]


def normalise_entries(entries: Iterable[str]) -> tuple[str, ...]:
    """Return entries stripped, de-duplicated and sorted; Invalid on a malformed one."""
    cleaned: set[str] = set()
    for i, raw in enumerate(entries):
        entry = raw.strip().upper()
        if not POSTCODE_ENTRY.match(entry):
            raise Invalid(
                f"{raw!r} is neither a five-digit postcode nor a postcode prefix",
                field=f"postcodes.{i}",
            )
        cleaned.add(entry)
    if not cleaned:
        raise Invalid("a zone needs at least one postcode or prefix", field="postcodes")
    return tuple(sorted(cleaned))


def check_no_overlap(candidate: Zone, others: Sequence[Zone]) -> None:
    """Refuse a zone holding an entry another zone already holds (Conflict names both)."""
    mine = set(candidate.postcodes)
    for other in others:
        if other.code == candidate.code:
            continue
        shared = sorted(mine & set(other.postcodes))
        if shared:
            raise Conflict(
                f"postcodes {', '.join(shared)} already belong to zone {other.code}",
                field="postcodes",
                extra={"zone": other.code, "postcodes": shared},
            )


def resolve_postcode(postcode: str, zones: Sequence[Zone]) -> Zone | None:
    """Return the zone whose entry is the longest prefix of `postcode`, or None (not served)."""
    best: tuple[int, Zone] | None = None
    for zone in zones:
        for entry in zone.postcodes:
            if postcode.startswith(entry) and (best is None or len(entry) > best[0]):
                best = (len(entry), zone)
    return best[1] if best else None
