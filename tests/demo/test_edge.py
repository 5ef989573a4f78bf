"""Points sampled near the Métropole's edge resolve, through pricing's own lookup, to the Métropole."""

from __future__ import annotations

import csv
import math
import random
from pathlib import Path

import pytest

from services.demo.city import City, Commune, Neighbour, load_city
from services.demo.extract import NEIGHBOUR_RADIUS_KM, extract
from services.pricing.config import PricingSettings
from services.pricing.geo import CommuneIndex

DEMO_DIR = Path(__file__).resolve().parents[2] / "services" / "demo"
# pricing's lookup ranks the whole country; rows further than this from the area's box can
# never be the nearest to a point sampled within 2.2 km of a town hall of the area
PAD_DEGREES = 0.4


class ScriptedRandom:
    """A random source that returns the given numbers in order (a hand-written fake)."""

    def __init__(self, *numbers: float) -> None:
        self.numbers = list(numbers)
        self.drawn = 0

    def random(self) -> float:
        self.drawn += 1
        return self.numbers.pop(0)


def make_commune(**overrides: object) -> Commune:
    fields: dict[str, object] = {
        "insee": "99001",
        "name": "Edge",
        "postcode": "99100",
        "kind": "COM",
        "lat": 45.9,
        "lng": 4.8,
        "area_km2": 10.0,
        "population": 1000,
        "households": 400,
    }
    fields.update(overrides)
    return Commune(**fields)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def pricing_index(tmp_path_factory: pytest.TempPathFactory) -> CommuneIndex:
    """Return pricing's CommuneIndex over the rows of its own file around the demo city."""
    bounds = load_city().bounds
    path = tmp_path_factory.mktemp("pricing") / "communes-near-lyon.csv"
    with PricingSettings().communes_csv.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        rows = [
            row
            for row in reader
            if row["lat"]
            and row["lng"]
            and bounds.min_lat - PAD_DEGREES <= float(row["lat"]) <= bounds.max_lat + PAD_DEGREES
            and bounds.min_lng - PAD_DEGREES <= float(row["lng"]) <= bounds.max_lng + PAD_DEGREES
        ]
        fields = list(reader.fieldnames or [])
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return CommuneIndex(path)


class TestSampleStaysInTheArea:
    @pytest.mark.parametrize("weight", ["population", "households"])
    def test_every_sample_resolves_to_a_postcode_of_the_metropole(
        self, pricing_index: CommuneIndex, weight: str
    ) -> None:
        # without the redraw, 28 to 56 of these points resolved outside (01600 in the Ain, 69480)
        city = load_city()
        postcodes = set(city.postcodes)
        positions = city.sample_positions(random.Random(20261126), 50_000, weight)  # type: ignore[arg-type]
        outside = []
        for p in positions:
            place = pricing_index.nearest(p.lat, p.lng)
            if place is None or place.postcode not in postcodes:
                outside.append((p, place))
        assert outside == []

    def test_redraws_a_point_nearer_to_a_neighbour(self) -> None:
        commune = make_commune()
        radius_deg_lng = commune.jitter_radius_km / (111.32 * math.cos(math.radians(commune.lat)))
        # east of the town hall, 1.5 sampling radii away: the disc's eastern edge is nearer to it
        neighbour = Neighbour("99002", "Over", "99200", commune.lat, commune.lng + 1.5 * radius_deg_lng)
        city = City("Edge", (commune,), (neighbour,))
        # pick, then radius 1 and angle a quarter turn (due east, the edge), then radius 0
        rng = ScriptedRandom(0.5, 1.0, 0.25, 0.0, 0.25)
        position = city.sample_position(rng)
        assert rng.drawn == 5
        assert (position.lat, position.lng) == (commune.lat, commune.lng)
        assert position.commune == commune

    def test_keeps_a_point_when_no_neighbour_is_nearer(self) -> None:
        commune = make_commune()
        city = City("Edge", (commune,), ())
        rng = ScriptedRandom(0.5, 1.0, 0.25)
        position = city.sample_position(rng)
        assert rng.drawn == 3
        assert position.lng > commune.lng

    def test_is_inside_compares_the_nearest_centroids(self) -> None:
        commune = make_commune()
        neighbour = Neighbour("99002", "Over", "99200", commune.lat, commune.lng + 0.02)
        city = City("Edge", (commune,), (neighbour,))
        assert city.is_inside(commune.lat, commune.lng + 0.009, commune)
        assert not city.is_inside(commune.lat, commune.lng + 0.011, commune)


class TestNeighbours:
    def test_are_outside_the_metropole_and_in_reach_of_every_disc(self) -> None:
        city = load_city()
        assert len(city.neighbours) > 100
        assert not {n.insee for n in city.neighbours} & {c.insee for c in city.communes}
        # a centroid nearer to a point of a disc than its town hall is within two radii of it
        assert max(2 * c.jitter_radius_km for c in city.communes) < NEIGHBOUR_RADIUS_KM
        assert {"01600", "69480"} <= {n.postcode for n in city.neighbours}

    def test_extract_keeps_the_metropole_and_its_neighbours_only(self, tmp_path: Path) -> None:
        # A national file in miniature: the Métropole (every commune of it, or extract refuses),
        # a neighbour 10 km out, a former commune of a neighbour, and places out of reach.
        fields = next(csv.reader((DEMO_DIR / "communes-lyon.csv").open(encoding="utf-8")))
        metropole = [dict(zip(fields, row, strict=True)) for row in csv.reader(
            (DEMO_DIR / "communes-lyon.csv").open(encoding="utf-8"))][1:]
        genay = next(r for r in metropole if r["commune"] == "Genay")

        def row(insee: str, name: str, postcode: str, kind: str, lat: float, lng: float) -> dict[str, str]:
            return {**genay, "insee_com": insee, "commune": name, "commune_article": name,
                    "code_postal": postcode, "commune_type": kind, "insee_parente": "",
                    "lat": f"{lat}", "lng": f"{lng}"}

        lat, lng = float(genay["lat"]), float(genay["lng"])
        near = row("01999", "Près", "01600", "COM", lat + 10 / 111, lng)
        former = row("01998", "Ancien", "01601", "COMD", lat + 12 / 111, lng)
        far = row("01997", "Loin", "01602", "COM", lat + 40 / 111, lng)
        no_postcode = row("01996", "Sans", "", "COM", lat + 1 / 111, lng)
        source = tmp_path / "communes-fr.csv"
        with source.open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=fields)
            writer.writeheader()
            writer.writerows([far, *metropole, no_postcode, former, near])
        assert extract(source, tmp_path / "communes-lyon.csv") == (len(metropole), 2)
        assert (tmp_path / "communes-lyon.csv").read_bytes() == (DEMO_DIR / "communes-lyon.csv").read_bytes()
        kept = list(csv.DictReader((tmp_path / "communes-lyon-neighbours.csv").open(encoding="utf-8")))
        assert [r["commune"] for r in kept] == ["Près", "Ancien"]  # sorted by postcode
