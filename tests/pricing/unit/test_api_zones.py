from __future__ import annotations

from pathlib import Path

import pytest

from services.pricing.geo import CommuneIndex
from tests.pricing.conftest import Pricing
from tests.pricing.unit.helpers import OPS, TOKENS, draft, make_zones


class TestCreateZone:
    async def test_ops_create_a_zone(self, pricing: Pricing) -> None:
        r = await pricing.client.post(
            "/v1/zones", json={"code": "lyon", "name": "Lyon", "postcodes": ["69001", "69002"]}, headers=OPS
        )
        assert r.status_code == 201
        assert r.json()["postcodes"] == ["69001", "69002"]
        assert (await pricing.client.get("/v1/zones/lyon")).json()["name"] == "Lyon"

    async def test_refuses_a_provider(self, pricing: Pricing) -> None:
        r = await pricing.client.post(
            "/v1/zones",
            json={"code": "lyon", "name": "Lyon", "postcodes": ["69"]},
            headers=TOKENS.provider("p1"),
        )
        assert r.status_code == 403

    async def test_refuses_without_token(self, pricing: Pricing) -> None:
        r = await pricing.client.post("/v1/zones", json={"code": "lyon", "name": "Lyon", "postcodes": ["69"]})
        assert r.status_code == 401

    async def test_refuses_an_overlap_and_names_the_other_zone(self, pricing: Pricing) -> None:
        await make_zones(pricing.client)
        r = await pricing.client.post(
            "/v1/zones", json={"code": "other", "name": "x", "postcodes": ["75001", "92100"]}, headers=OPS
        )
        assert r.status_code == 409
        detail = r.json()["detail"][0]
        assert detail["zone"] == "paris-centre" and detail["postcodes"] == ["75001"]
        assert (await pricing.client.get("/v1/zones/other")).status_code == 404

    async def test_refuses_a_duplicate_code(self, pricing: Pricing) -> None:
        await make_zones(pricing.client)
        r = await pricing.client.post(
            "/v1/zones", json={"code": "paris", "name": "x", "postcodes": ["13"]}, headers=OPS
        )
        assert r.status_code == 409

    @pytest.mark.parametrize(
        "body",
        [
            {"code": "Bad Code", "name": "x", "postcodes": ["75"]},
            {"code": "ok", "name": "x", "postcodes": []},
            {"code": "ok", "name": "x", "postcodes": ["75a"]},
            {"code": "ok", "name": "", "postcodes": ["75"]},
            {"code": "ok", "name": "x", "postcodes": "75"},
        ],
    )
    async def test_refuses_bad_bodies_with_422(self, pricing: Pricing, body: dict[str, object]) -> None:
        r = await pricing.client.post("/v1/zones", json=body, headers=OPS)
        assert r.status_code == 422


class TestUpdateAndDeleteZone:
    async def test_update_refuses_overlap(self, pricing: Pricing) -> None:
        await make_zones(pricing.client)
        r = await pricing.client.put("/v1/zones/paris", json={"postcodes": ["75", "75004"]}, headers=OPS)
        assert r.status_code == 409
        r = await pricing.client.put("/v1/zones/paris", json={"postcodes": ["75", "77"]}, headers=OPS)
        assert r.status_code == 200 and r.json()["postcodes"] == ["75", "77"]

    async def test_delete_refuses_a_zone_in_a_grid(self, pricing: Pricing) -> None:
        await make_zones(pricing.client)
        await draft(pricing.client)
        assert (await pricing.client.delete("/v1/zones/paris", headers=OPS)).status_code == 409

    async def test_delete_an_unused_zone(self, pricing: Pricing) -> None:
        await make_zones(pricing.client)
        assert (await pricing.client.delete("/v1/zones/paris", headers=OPS)).status_code == 204
        assert (await pricing.client.get("/v1/zones/paris")).status_code == 404
        assert (await pricing.client.delete("/v1/zones/paris", headers=OPS)).status_code == 404


class TestResolveZone:
    async def test_longest_prefix_wins(self, pricing: Pricing) -> None:
        await make_zones(pricing.client)
        r = await pricing.client.get("/v1/zones/resolve", params={"postcode": "75002"})
        assert r.json()["code"] == "paris-centre"
        r = await pricing.client.get("/v1/zones/resolve", params={"postcode": "75011"})
        assert r.json()["code"] == "paris"

    async def test_unserved_postcode_is_404_not_served(self, pricing: Pricing) -> None:
        await make_zones(pricing.client)
        r = await pricing.client.get("/v1/zones/resolve", params={"postcode": "13001"})
        assert r.status_code == 404
        assert r.json()["detail"][0]["type"] == "not_served"

    async def test_resolves_a_position(self, pricing: Pricing) -> None:
        await make_zones(pricing.client)
        # Place de la Bastille side of Paris 11e, then the Louvre (1er).
        r = await pricing.client.get("/v1/zones/resolve", params={"lat": 48.859, "lng": 2.379})
        assert r.status_code == 200 and r.json()["code"] == "paris"
        r = await pricing.client.get("/v1/zones/resolve", params={"lat": 48.8606, "lng": 2.3376})
        assert r.json() == {"code": "paris-centre", "name": "paris-centre", "postcode": "75001"}

    async def test_a_position_at_sea_is_not_served(self, pricing: Pricing) -> None:
        await make_zones(pricing.client)
        r = await pricing.client.get("/v1/zones/resolve", params={"lat": 46.0, "lng": -5.0})
        assert r.status_code == 404

    async def test_needs_a_postcode_or_a_position(self, pricing: Pricing) -> None:
        assert (await pricing.client.get("/v1/zones/resolve")).status_code == 422
        assert (await pricing.client.get("/v1/zones/resolve", params={"postcode": "7"})).status_code == 422
        r = await pricing.client.get("/v1/zones/resolve", params={"lat": "nan", "lng": 2})
        assert r.status_code == 422


class TestWithoutOpenData:
    async def test_positions_are_503_but_postcodes_still_work(self, pricing: Pricing, tmp_path: Path) -> None:
        pricing.component.service.communes = CommuneIndex(tmp_path / "missing.csv")
        await make_zones(pricing.client)
        r = await pricing.client.get("/v1/zones/resolve", params={"lat": 48.86, "lng": 2.34})
        assert r.status_code == 503
        r = await pricing.client.get("/v1/zones/resolve", params={"postcode": "75001"})
        assert r.status_code == 200
