"""Extract the Métropole de Lyon's rows from the national communes file (development tool).

    python -m services.demo.extract ../shared/data/communes-fr.csv [services/demo/communes-lyon.csv]

Keeps every column of the source, and the rows that are current communes (`COM`) of the
Métropole, or arrondissements (`ARM`) of the City of Lyon (INSEE 69123, which has no row
of its own). Former communes (`COMD`) repeat the figures of the commune they merged into
and are left out. The output is sorted by postcode, then INSEE code, so a rerun on the
same source writes the same bytes.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path

LYON = "69123"

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


def extract(source: Path, destination: Path) -> int:
    """Write the Métropole's rows of `source` to `destination`; return how many."""
    with source.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        fields = list(reader.fieldnames or [])
        rows = list(select_rows(reader))
    found = {row["insee_parente"] or row["insee_com"] for row in rows}
    missing = sorted(METROPOLE_DE_LYON - found)
    if missing:
        raise SystemExit(f"communes missing from {source}: {', '.join(missing)}")
    with destination.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def main(argv: list[str]) -> None:
    """Run the extraction from the command line."""
    if not 1 <= len(argv) <= 2:
        raise SystemExit(__doc__)
    destination = Path(argv[1]) if len(argv) == 2 else Path(__file__).with_name("communes-lyon.csv")
    count = extract(Path(argv[0]), destination)
    print(f"wrote {count} rows to {destination}", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
