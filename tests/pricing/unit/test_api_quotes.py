from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from services.pricing.domain.grid import cell_from_dict
from services.pricing.domain.quote import price_mission
from tests.pricing.conftest import Pricing
from tests.pricing.unit.helpers import OPS, TOKENS, make_zones, published_grid

CONTRACT = {
    "id",
    "category",
    "zone",
    "postcode",
    "lat",
    "lng",
    "start_at",
    "duration_min",
    "price_cents",
    "payout_cents",
    "commission_cents",
    "grid_version",
    "expires_at",
    "client_id",
    "breakdown",
    "tax_credit",
}


def quote_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "category": "cleaning",
        "postcode": "75002",
        "start_at": "2026-11-27T09:00:00Z",  # a Friday, 10:00 in Paris
        "duration_min": 90,
    }
    body.update(overrides)
    return body


class TestCreateQuote:
    async def test_anonymous_quote_keeps_the_contract(self, pricing: Pricing) -> None:
        await published_grid(pricing.client)
        r = await pricing.client.post("/v1/quotes", json=quote_body())
        assert r.status_code == 201, r.text
        quote = r.json()
        assert set(quote) >= CONTRACT
        assert quote["client_id"] is None and quote["zone"] == "paris-centre" and quote["grid_version"] == 1
        assert quote["price_cents"] == 4500 + 300
        assert quote["commission_cents"] == 900 and quote["payout_cents"] == 3900
        lines = quote["breakdown"]["lines"]
        assert sum(x["amount_cents"] for x in lines) == quote["price_cents"]
        assert quote["tax_credit"]["eligible"] is True and quote["tax_credit"]["amount_cents"] == 2400
        assert quote["expires_at"] == "2026-11-26T09:30:00Z"
        # a postcode alone is placed at its commune's centre (orders and matching need a position)
        assert quote["postcode"] == "75002"
        assert abs(quote["lat"] - 48.868) < 0.01 and abs(quote["lng"] - 2.343) < 0.02
        fetched = await pricing.client.get(f"/v1/quotes/{quote['id']}")
        assert fetched.status_code == 200 and fetched.json() == quote

    async def test_a_client_token_records_the_client(self, pricing: Pricing) -> None:
        await published_grid(pricing.client)
        r = await pricing.client.post("/v1/quotes", json=quote_body(), headers=TOKENS.client("c42"))
        assert r.json()["client_id"] == "c42"

    async def test_a_bad_token_is_401(self, pricing: Pricing) -> None:
        await published_grid(pricing.client)
        r = await pricing.client.post("/v1/quotes", json=quote_body(), headers={"Authorization": "Bearer x"})
        assert r.status_code == 401

    async def test_surcharges_show_as_lines(self, pricing: Pricing) -> None:
        await published_grid(pricing.client)
        # Sunday 29 Nov 2026 at 22:00 in Paris
        r = await pricing.client.post("/v1/quotes", json=quote_body(start_at="2026-11-29T21:00:00Z"))
        codes = [x["code"] for x in r.json()["breakdown"]["lines"]]
        assert codes == ["base", "surcharge_night", "surcharge_sunday", "travel_fee"]

    async def test_urgent_and_minimum_billing(self, pricing: Pricing) -> None:
        await published_grid(pricing.client)
        r = await pricing.client.post(
            "/v1/quotes", json=quote_body(start_at="2026-11-26T10:00:00Z", duration_min=30)
        )
        codes = [x["code"] for x in r.json()["breakdown"]["lines"]]
        assert codes == ["base", "minimum_billing", "surcharge_urgent", "travel_fee"]

    async def test_quote_by_position(self, pricing: Pricing) -> None:
        await published_grid(pricing.client)
        body = quote_body(lat=48.8606, lng=2.3376)
        del body["postcode"]
        quote = (await pricing.client.post("/v1/quotes", json=body)).json()
        assert quote["postcode"] == "75001" and quote["zone"] == "paris-centre" and quote["lat"] == 48.8606

    async def test_no_tax_credit_for_moving_help(self, pricing: Pricing) -> None:
        await published_grid(pricing.client)
        quote = (
            await pricing.client.post("/v1/quotes", json=quote_body(category="moving_help", postcode="75011"))
        ).json()
        assert quote["tax_credit"]["eligible"] is False and quote["tax_credit"]["amount_cents"] == 0


class TestReproducibleQuote:
    async def test_a_stored_quote_is_recomputed_from_its_grid_version(self, pricing: Pricing) -> None:
        await published_grid(pricing.client)
        for start in ("2026-11-29T21:00:00Z", "2026-11-26T10:00:00Z", "2026-12-25T08:00:00Z"):
            quote = (await pricing.client.post("/v1/quotes", json=quote_body(start_at=start))).json()
            version = await pricing.client.get(
                f"/v1/price-grids/versions/{quote['grid_version']}", headers=OPS
            )
            cell = next(
                c
                for c in version.json()["cells"]
                if (c["category"], c["zone"]) == (quote["category"], quote["zone"])
            )
            again = price_mission(
                cell_from_dict(cell),
                datetime.fromisoformat(quote["start_at"]),
                quote["duration_min"],
                datetime.fromisoformat(quote["quoted_at"]),
                pricing.component.settings.time_rules(),
                pricing.component.settings.tax_rules(),
            )
            assert again.breakdown() == quote["breakdown"]
            assert (again.price_cents, again.payout_cents, again.commission_cents) == (
                quote["price_cents"],
                quote["payout_cents"],
                quote["commission_cents"],
            )


class TestQuoteRefusals:
    async def test_unknown_zone_names_the_field(self, pricing: Pricing) -> None:
        await published_grid(pricing.client)
        r = await pricing.client.post("/v1/quotes", json=quote_body(postcode="13001"))
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["body", "postcode"]
        assert "unknown zone" in r.json()["detail"][0]["msg"]

    async def test_unknown_category_names_the_field(self, pricing: Pricing) -> None:
        await published_grid(pricing.client)
        r = await pricing.client.post("/v1/quotes", json=quote_body(category="plumbing"))
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "category"]

    async def test_category_not_offered_in_the_zone(self, pricing: Pricing) -> None:
        await published_grid(pricing.client)
        r = await pricing.client.post("/v1/quotes", json=quote_body(category="tutoring"))
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "category"]

    async def test_start_in_the_past(self, pricing: Pricing) -> None:
        await published_grid(pricing.client)
        r = await pricing.client.post("/v1/quotes", json=quote_body(start_at="2026-11-26T08:00:00Z"))
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "start_at"]

    async def test_no_grid_in_force_is_503(self, pricing: Pricing) -> None:
        await make_zones(pricing.client)
        assert (await pricing.client.post("/v1/quotes", json=quote_body())).status_code == 503

    @pytest.mark.parametrize(
        "overrides",
        [
            {"postcode": None},
            {"postcode": "7500"},
            {"start_at": "2026-11-27T09:00:00"},  # naive
            {"duration_min": 0},
            {"duration_min": "long"},
            {"lat": 48.0},
            {"extra": 1},
        ],
    )
    async def test_bad_bodies_are_422(self, pricing: Pricing, overrides: dict[str, Any]) -> None:
        r = await pricing.client.post("/v1/quotes", json=quote_body(**overrides))
        assert r.status_code == 422


class TestGetQuote:
    async def test_an_expired_quote_is_410(self, pricing: Pricing) -> None:
        await published_grid(pricing.client)
        quote = (await pricing.client.post("/v1/quotes", json=quote_body())).json()
        pricing.clock.advance(minutes=29)
        assert (await pricing.client.get(f"/v1/quotes/{quote['id']}")).status_code == 200
        pricing.clock.advance(minutes=1)
        r = await pricing.client.get(f"/v1/quotes/{quote['id']}")
        assert r.status_code == 410 and r.json()["detail"][0]["type"] == "quote_expired"

    async def test_an_unknown_quote_is_404(self, pricing: Pricing) -> None:
        assert (await pricing.client.get("/v1/quotes/nope")).status_code == 404

    async def test_several_quotes_are_read_at_once(self, pricing: Pricing) -> None:
        await published_grid(pricing.client)
        first = (await pricing.client.post("/v1/quotes", json=quote_body())).json()
        pricing.clock.advance(minutes=20)
        second = (await pricing.client.post("/v1/quotes", json=quote_body(duration_min=120))).json()
        pricing.clock.advance(minutes=10)  # the first one has expired, the second has not
        r = await pricing.client.get("/v1/quotes", params={"ids": f"{first['id']},nope,{second['id']}"})
        assert r.status_code == 200, r.text
        by_id = {q["id"]: q for q in r.json()["quotes"]}
        assert set(by_id) == {first["id"], second["id"]}  # the unknown id is left out
        assert by_id[second["id"]] == second and set(by_id[first["id"]]) >= CONTRACT
        assert r.json()["expired"] == [first["id"]]

    async def test_reading_several_quotes_refuses_bad_lists(self, pricing: Pricing) -> None:
        for ids, reason in ((",", "at least one"), (",".join(f"q{i}" for i in range(101)), "at most 100")):
            r = await pricing.client.get("/v1/quotes", params={"ids": ids})
            assert r.status_code == 422, r.text
            detail = r.json()["detail"][0]
            assert detail["loc"] == ["query", "ids"] and reason in detail["msg"]
        assert (await pricing.client.get("/v1/quotes")).status_code == 422

    async def test_a_quote_keeps_its_grid_version_after_a_new_grid(self, pricing: Pricing) -> None:
        grid = await published_grid(pricing.client)
        quote = (await pricing.client.post("/v1/quotes", json=quote_body())).json()
        r = await pricing.client.post("/v1/price-grids/versions/1/rollback", json={}, headers=OPS)
        assert r.json()["version"] == 2
        again = (await pricing.client.get(f"/v1/quotes/{quote['id']}")).json()
        assert again["grid_version"] == 1 and again["price_cents"] == quote["price_cents"]
        assert grid["version"] == 1
