"""No input produces a 500: garbage bodies to every write endpoint."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.pricing.conftest import Pricing
from tests.pricing.unit.helpers import OPS, TOKENS, published_grid

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)
field_values = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)


def near_miss(template: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Bodies shaped like the real one with some fields replaced by garbage."""
    return st.fixed_dictionaries(
        {k: st.one_of(st.just(v), field_values, json_values) for k, v in template.items()}
    )


CELL = {
    "category": "cleaning",
    "zone": "paris",
    "hourly_rate_cents": 3000,
    "min_billable_min": 60,
    "travel_fee_cents": 300,
    "commission_rate": "0.2",
    "avg_travel_min": 20,
    "surcharges": {"night": "0.2"},
}
TEMPLATES: dict[str, dict[str, Any]] = {
    "/v1/zones": {"code": "lyon", "name": "Lyon", "postcodes": ["69001"]},
    "/v1/price-grids": {"name": "g", "cells": [CELL]},
    "/v1/quotes": {
        "category": "cleaning",
        "postcode": "75011",
        "start_at": "2026-11-27T09:00:00Z",
        "duration_min": 60,
    },
    "/v1/price-grids/versions/1/rollback": {"effective_at": None, "reason": "r"},
}
GARBAGE_SETTINGS = settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@GARBAGE_SETTINGS
@given(body=json_values, path=st.sampled_from(sorted(TEMPLATES)))
async def test_random_json_never_500(pricing: Pricing, body: Any, path: str) -> None:
    r = await pricing.client.post(path, json=body, headers=OPS)
    assert r.status_code < 500, r.text


@GARBAGE_SETTINGS
@given(data=st.data(), path=st.sampled_from(sorted(TEMPLATES)))
async def test_near_miss_bodies_never_500(pricing: Pricing, data: st.DataObject, path: str) -> None:
    body = data.draw(near_miss(TEMPLATES[path]))
    r = await pricing.client.post(path, json=body, headers=TOKENS.client("c1") if "quotes" in path else OPS)
    assert r.status_code < 500, r.text


@GARBAGE_SETTINGS
@given(cell=near_miss(CELL))
async def test_garbage_cells_never_500(pricing: Pricing, cell: dict[str, Any]) -> None:
    r = await pricing.client.post("/v1/price-grids", json={"name": "g", "cells": [cell]}, headers=OPS)
    assert r.status_code < 500, r.text


async def test_garbage_to_the_other_write_endpoints(pricing: Pricing) -> None:
    grid = await published_grid(pricing.client)
    bad_bodies: list[Any] = [
        None,
        [],
        "x",
        3,
        {"body": ""},
        {"body": 5},
        {"name": None},
        {"effective_at": "yesterday"},
        {"cells": "all"},
        {"x": {"y": []}},
    ]
    paths = [
        ("put", "/v1/zones/paris"),
        ("put", f"/v1/price-grids/{grid['id']}"),
        ("post", f"/v1/price-grids/{grid['id']}/publish"),
        ("post", f"/v1/price-grids/{grid['id']}/comments"),
        ("post", "/v1/price-grids/import?format=json"),
        ("post", "/v1/price-grids/import?format=csv"),
    ]
    for method, path in paths:
        for body in bad_bodies:
            r = await pricing.client.request(method, path, json=body, headers=OPS)
            assert r.status_code < 500, (path, body, r.text)
        r = await pricing.client.request(method, path, content=b"\x00\xff{", headers=OPS)
        assert r.status_code < 500, (path, r.text)
    comments = f"/v1/price-grids/{grid['id']}/comments"
    r = await pricing.client.post(comments, json={"body": "x"}, headers=TOKENS.client("c1"))
    assert r.status_code == 403


@GARBAGE_SETTINGS
@given(text=st.text(max_size=300), header=st.booleans())
async def test_garbage_csv_imports_never_500(pricing: Pricing, text: str, header: bool) -> None:
    prefix = "category,zone,hourly_rate_cents,min_billable_min,travel_fee_cents\n" if header else ""
    r = await pricing.client.post("/v1/price-grids/import?format=csv", content=prefix + text, headers=OPS)
    assert r.status_code < 500, r.text
