"""The demo city: the packaged Métropole de Lyon data, its samplers and its zones."""

from __future__ import annotations

import math
import random
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import chisquare

from services.demo.city import City, Commune, load_city, parse_communes, zones

ZONE_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")  # pricing's zone code format
SAMPLES = 40_000


@pytest.fixture(scope="module")
def city() -> City:
    return load_city()


def distance_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Return the great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(a))


class TestLoadCity:
    def test_holds_the_metropole_lyon_as_arrondissements(self, city: City) -> None:
        arrondissements = [c for c in city.communes if c.kind == "ARM"]
        assert sorted(c.postcode for c in arrondissements) == [f"6900{i}" for i in range(1, 10)]
        assert all(c.name.startswith("Lyon ") for c in arrondissements)
        # 57 communes besides Lyon (2024 geography: Oullins-Pierre-Bénite is one commune)
        assert len({c.insee for c in city.communes if c.kind == "COM"}) == 57
        assert len(city.postcodes) == 52
        assert all(p.startswith("69") and len(p) == 5 for p in city.postcodes)

    def test_keeps_the_open_data_figures(self, city: City) -> None:
        villeurbanne = city.communes_in("69100")
        assert [(c.name, c.population, c.households) for c in villeurbanne] == [
            ("Villeurbanne", 156928, 78842)
        ]
        assert 1_400_000 < city.population < 1_450_000
        assert 600_000 < city.households < 700_000

    def test_splits_a_commune_with_two_postcodes_keeping_its_totals(self, city: City) -> None:
        rows = [c for c in city.communes if c.insee == "69149"]  # Oullins-Pierre-Bénite
        assert sorted(c.postcode for c in rows) == ["69310", "69600"]
        assert sum(c.population for c in rows) == 37628
        assert sum(c.households for c in rows) == 17656
        assert max(c.population for c in rows) - min(c.population for c in rows) <= 1

    def test_every_commune_has_coordinates_area_and_people(self, city: City) -> None:
        for c in city.communes:
            assert 45.5 < c.lat < 46.0 and 4.6 < c.lng < 5.1, c
            assert c.area_km2 > 0 and c.population > 0 and 0 < c.households < c.population, c

    def test_reads_the_packaged_file_from_any_working_directory(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.chdir(tmp_path)
        load_city.cache_clear()
        try:
            assert len(load_city().communes) == 67
        finally:
            load_city.cache_clear()

    def test_parse_splits_figures_evenly_between_postcodes(self) -> None:
        header = (
            "insee_com,commune,commune_article,code_postal,commune_type,"
            "lat,lng,superficie_km2,population_2021,menages_2021"
        )
        text = "\n".join(
            [
                header,
                "99001,X,Le X,99100,COM,45.0,4.0,3.0,1001,11",
                "99001,X,Le X,99200,COM,45.0,4.0,3.0,1001,11",
                "99002,Y,,99300,COM,45.1,4.1,1.0,10,4",
            ]
        )
        communes = parse_communes(text)
        assert [(c.postcode, c.name, c.population, c.households) for c in communes] == [
            ("99100", "Le X", 501, 6),
            ("99200", "Le X", 500, 5),
            ("99300", "Y", 10, 4),
        ]


class TestSamplePosition:
    def test_is_reproducible_with_a_seed(self, city: City) -> None:
        first = city.sample_positions(random.Random(7), 50)
        again = city.sample_positions(random.Random(7), 50)
        other = city.sample_positions(random.Random(8), 50)
        assert first == again
        assert first != other

    @pytest.mark.parametrize("weight", ["population", "households"])
    def test_places_people_in_proportion_to_weight(self, city: City, weight: str) -> None:
        rng = random.Random(20261126)
        counts = Counter(p.commune for p in city.sample_positions(rng, SAMPLES, weight))  # type: ignore[arg-type]
        weights = np.array([getattr(c, weight) for c in city.communes], dtype=float)
        expected = weights / weights.sum() * SAMPLES
        observed = np.array([counts[c] for c in city.communes], dtype=float)
        # every commune within 3 points of its share, or 25 % relative for the big ones
        shares_observed, shares_expected = observed / SAMPLES, expected / SAMPLES
        assert np.all(np.abs(shares_observed - shares_expected) < np.maximum(0.003, 0.25 * shares_expected))
        # and the whole histogram is a plausible draw from those weights
        assert chisquare(observed, expected).pvalue > 0.001

    def test_population_and_households_weights_differ(self, city: City) -> None:
        # Lyon 1er has small households: more of the area's households than of its people
        lyon_1 = city.communes_in("69001")[0]
        by_people = sum(
            p.commune == lyon_1 for p in city.sample_positions(random.Random(3), SAMPLES, "population")
        )
        by_households = sum(
            p.commune == lyon_1 for p in city.sample_positions(random.Random(3), SAMPLES, "households")
        )
        assert by_households > by_people * 1.1

    def test_points_stay_near_their_town_hall_and_inside_the_bounds(self, city: City) -> None:
        bounds = city.bounds
        for position in city.sample_positions(random.Random(11), 5_000, "households"):
            commune: Commune = position.commune
            assert position.postcode == commune.postcode
            assert bounds.contains(position.lat, position.lng), position
            assert (
                distance_km(commune.lat, commune.lng, position.lat, position.lng)
                <= commune.jitter_radius_km * 1.01 + 0.001
            ), position

    def test_jitter_spreads_points_over_the_commune(self, city: City) -> None:
        villeurbanne = city.communes_in("69100")[0]
        points = [p for p in city.sample_positions(random.Random(5), 20_000) if p.commune == villeurbanne]
        distances = [distance_km(villeurbanne.lat, villeurbanne.lng, p.lat, p.lng) for p in points]
        # uniform in a disc: median distance = radius / sqrt(2)
        median = sorted(distances)[len(distances) // 2]
        assert median == pytest.approx(villeurbanne.jitter_radius_km / math.sqrt(2), rel=0.1)

    def test_accepts_a_numpy_generator(self, city: City) -> None:
        position = city.sample_position(np.random.default_rng(1))
        assert position.postcode in city.postcodes

    def test_refuses_an_unknown_weight(self, city: City) -> None:
        with pytest.raises(ValueError, match="weight"):
            city.sample_position(random.Random(1), "income")  # type: ignore[arg-type]

    def test_bounds_hold_every_town_hall(self, city: City) -> None:
        assert all(city.bounds.contains(c.lat, c.lng) for c in city.communes)
        assert city.bounds.contains(*city.centre)
        assert not city.bounds.contains(48.8566, 2.3522)  # Paris


class TestZones:
    def test_every_postcode_is_in_exactly_one_zone(self, city: City) -> None:
        held = Counter(p for zone in city.zones() for p in zone.postcodes)
        assert set(held) == set(city.postcodes)
        assert all(n == 1 for n in held.values()), {p: n for p, n in held.items() if n != 1}

    def test_proposes_three_to_six_named_zones(self, city: City) -> None:
        proposed = city.zones()
        assert 3 <= len(proposed) <= 6
        assert len({z.code for z in proposed}) == len(proposed)
        assert all(ZONE_CODE.match(z.code) and z.name and z.postcodes for z in proposed)
        centre = next(z for z in proposed if z.code == "lyon-centre")
        assert centre.postcodes == tuple(f"6900{i}" for i in range(1, 10))

    def test_zone_of_finds_a_postcode_and_nothing_outside(self, city: City) -> None:
        zone = city.zone_of("69100")
        assert zone is not None and zone.name == "Villeurbanne"
        assert city.zone_of("75001") is None

    def test_every_zone_holds_a_real_share_of_people(self, city: City) -> None:
        for zone in zones():
            people = sum(c.population for p in zone.postcodes for c in city.communes_in(p))
            assert people > 0.05 * city.population, zone.code
