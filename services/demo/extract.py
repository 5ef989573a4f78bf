"""Extract the Métropole de Lyon's rows from the national communes file (development tool).

    python -m services.demo.extract ../shared/data/communes-fr.csv [services/demo/communes-lyon.csv]

Keeps every column of the source, and the rows that are current communes (`COM`) of the
Métropole, or arrondissements (`ARM`) of the City of Lyon (INSEE 69123, which has no row
of its own). Former communes (`COMD`) repeat the figures of the commune they merged into
and are left out. The output is sorted by postcode, then INSEE code, so a rerun on the
same source writes the same bytes.

Next to it (`communes-lyon-neighbours.csv` for the default name), the same columns for the
rows just outside the Métropole: every row with a position and a postcode, current commune
or former one, that is neither the Métropole's nor a former commune of it, whose centroid is
within `NEIGHBOUR_RADIUS_KM` of a Métropole centroid. Pricing resolves a position to the
postcode of the nearest centroid of any such row, so the sampler needs them to keep its points
on the Métropole's side (`services.demo.city`). Sorted by postcode, INSEE code, then name.
"""

from __future__ import annotations

import csv
import math
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

LYON = "69123"
# Far more than needed: a sampled point is within 2.2 km of its town hall (Métropole's widest
# sampling disc), so a centroid nearer to it than that town hall is within 4.4 km of the hall.
NEIGHBOUR_RADIUS_KM = 15.0
EARTH_RADIUS_KM = 6371.0

# The communes of the Métropole de Lyon (EPCI 200046977) in the February 2024 geography:
# 58, Lyon included; Oullins and Pierre-Bénite merged into Oullins-Pierre-Bénite (69149) on
# 1 January 2024, which is why older lists say 59.
# fmt: off
METROPOLE_DE_LYON: frozenset[str] = frozenset(
    (
        "69003", "69029", "69033", "69034", "69040", "69044", "69046", "69063", "69068", "69069",
        "69071", "69072", "69081", "69085", "69087", "69088", "69089", "69091", "69096", "69100",
        "69116", "69117", "69123", "69127", "69142", "69143", "69149", "69153", "69163", "69168",
        "69191", "69194", "69199", "69202", "69204", "69205", "69207", "69233", "69244", "69250",
        "69256", "69259", "69260", "69266", "69271", "69273", "69275", "69276", "69278", "69279",
        "69282", "69283", "69284", "69286", "69290", "69292", "69293", "69296",
    )
)
# fmt: on


def is_in_metropole(row: dict[str, str]) -> bool:
    """Say whether a source row is a current commune or a Lyon arrondissement of the Métropole."""
    if row["commune_type"] == "ARM":
        return row["insee_parente"] == LYON
    return row["commune_type"] == "COM" and row["insee_com"] in METROPOLE_DE_LYON


def select_rows(rows: Iterable[dict[str, str]]) -> Iterator[dict[str, str]]:
    """Yield the Métropole's rows sorted by postcode and INSEE code."""
    chosen = [row for row in rows if is_in_metropole(row)]
    yield from sorted(chosen, key=lambda row: (row["code_postal"], row["insee_com"]))


def is_of_metropole(row: dict[str, str]) -> bool:
    """Say whether a source row is the Métropole's, a former commune of it included."""
    former = row["insee_com"] in METROPOLE_DE_LYON or row["insee_parente"] in METROPOLE_DE_LYON
    return is_in_metropole(row) or former


def has_position_and_postcode(row: dict[str, str]) -> bool:
    """Say whether a source row has what pricing needs to resolve a position to it."""
    postcode = row["code_postal"]
    return bool(row["lat"] and row["lng"]) and len(postcode) == 5 and postcode.isdigit()


def distance_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Return the great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(a))


def select_neighbours(
    rows: Iterable[dict[str, str]],
    metropole: list[dict[str, str]],
    radius_km: float = NEIGHBOUR_RADIUS_KM,
) -> list[dict[str, str]]:
    """Return the rows outside the Métropole within `radius_km` of one of its centroids, sorted."""
    centres = [(float(row["lat"]), float(row["lng"])) for row in metropole]
    # a degree of latitude is 111 km: rows further north or south than that are out of reach
    margin = radius_km / 111.0
    low, high = min(lat for lat, _ in centres) - margin, max(lat for lat, _ in centres) + margin
    chosen = [
        row
        for row in rows
        if has_position_and_postcode(row)
        and not is_of_metropole(row)
        and low <= float(row["lat"]) <= high
        and any(
            distance_km(lat, lng, float(row["lat"]), float(row["lng"])) <= radius_km for lat, lng in centres
        )
    ]
    return sorted(chosen, key=lambda row: (row["code_postal"], row["insee_com"], row["commune"]))


def neighbours_path(destination: Path) -> Path:
    """Return where the neighbours of the Métropole file `destination` go."""
    return destination.with_name(f"{destination.stem}-neighbours{destination.suffix}")


def write_rows(destination: Path, fields: list[str], rows: list[dict[str, str]]) -> None:
    """Write `rows` with the source's columns, LF line ends."""
    with destination.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def extract(source: Path, destination: Path) -> tuple[int, int]:
    """Write the Métropole's rows of `source` to `destination`, its neighbours beside; return both counts."""
    with source.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        fields = list(reader.fieldnames or [])
        source_rows = list(reader)
    rows = list(select_rows(source_rows))
    found = {row["insee_parente"] or row["insee_com"] for row in rows}
    missing = sorted(METROPOLE_DE_LYON - found)
    if missing:
        raise SystemExit(f"communes missing from {source}: {', '.join(missing)}")
    neighbours = select_neighbours(source_rows, rows)
    write_rows(destination, fields, rows)
    write_rows(neighbours_path(destination), fields, neighbours)
    return len(rows), len(neighbours)


def main(argv: list[str]) -> None:
    """Run the extraction from the command line."""
    if not 1 <= len(argv) <= 2:
        raise SystemExit(__doc__)
    destination = Path(argv[1]) if len(argv) == 2 else Path(__file__).with_name("communes-lyon.csv")
    count, neighbours = extract(Path(argv[0]), destination)
    print(f"wrote {count} rows to {destination}", file=sys.stderr)
    print(f"wrote {neighbours} rows to {neighbours_path(destination)}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
