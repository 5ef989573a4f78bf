"""Demo city data: the Métropole de Lyon, from French open data, for seeding and simulation.

`communes-lyon.csv` is the Métropole de Lyon's subset of `../shared/data/communes-fr.csv`
(INSEE Code officiel géographique, February 2024, and Base du comparateur de territoires,
June 2024; La Poste, Base officielle des codes postaux, August 2024; Licence Ouverte):
its 57 communes plus the City of Lyon as its 9 arrondissements (`ARM` rows, postcodes
69001–69009), one row per commune and postcode, every source column kept as it is.
`communes-lyon-neighbours.csv` holds, with the same columns, the rows just outside the
Métropole (every commune or former commune whose centroid is within 15 km of one of the
Métropole's), so samplers can keep points on the side pricing resolves to the Métropole.
Regenerate both with `python -m services.demo.extract ../shared/data/communes-fr.csv`.

`services.demo.city.load_city()` reads them (and nothing else) into a `City`: communes with
coordinates, population and households, the postcodes, the bounds, seeded samplers that
place people where people live, and a proposal of six named zones by postcode.
"""
