"""API: what the ops console needs from pricing: zone geometry for its map, every cell's floor figure."""

from __future__ import annotations

from tests.pricing.builders import cell_data
from tests.pricing.conftest import Pricing
from tests.pricing.unit.helpers import OPS, draft, make_zones


class TestZoneGeometry:
    async def test_zones_carry_their_centre_and_outline_only_when_asked(self, pricing: Pricing) -> None:
        await make_zones(pricing.client)
        plain = (await pricing.client.get("/v1/zones")).json()
        assert all("geometry" not in z for z in plain)
        zones = {z["code"]: z for z in (await pricing.client.get("/v1/zones?with_geometry=true")).json()}
        centre = zones["paris-centre"]["geometry"]
        assert centre["communes"] == 4 and 48.8 < centre["centroid"]["lat"] < 48.9
        assert 2.3 < centre["centroid"]["lng"] < 2.4
        paris = zones["paris"]["geometry"]
        assert paris["communes"] >= 20 and len(paris["outline"]) >= 3
        lats = [p["lat"] for p in paris["outline"]]
        lngs = [p["lng"] for p in paris["outline"]]
        assert min(lats) <= centre["centroid"]["lat"] <= max(lats)
        assert min(lngs) <= centre["centroid"]["lng"] <= max(lngs)

    async def test_a_zone_with_no_known_commune_has_no_centre(self, pricing: Pricing) -> None:
        r = await pricing.client.post(
            "/v1/zones", json={"code": "nowhere", "name": "Nowhere", "postcodes": ["00000"]}, headers=OPS
        )
        assert r.status_code == 201, r.text
        (zone,) = (await pricing.client.get("/v1/zones?with_geometry=1")).json()
        assert zone["geometry"]["communes"] == 0 and zone["geometry"]["outline"] == []
        assert zone["geometry"].get("centroid") is None


class TestFloorCheckCells:
    async def test_every_cell_has_its_net_hourly_pay_beside_the_floor(self, pricing: Pricing) -> None:
        await make_zones(pricing.client)
        grid = await draft(
            pricing.client,
            [cell_data(), cell_data(category="gardening", hourly_rate_cents=900)],
        )
        check = (await pricing.client.get(f"/v1/price-grids/{grid['id']}/floor-check", headers=OPS)).json()
        cells = {(c["category"], c["zone"]): c for c in check["cells"]}
        assert len(cells) == 2
        low = cells[("gardening", "paris-centre")]
        assert low["is_below_floor"] and low["net_hourly_cents"] < low["floor_cents_per_hour"]
        assert not cells[("cleaning", "paris-centre")]["is_below_floor"]
        (offending,) = check["offending_cells"]
        assert offending["net_hourly_cents"] == low["net_hourly_cents"]
