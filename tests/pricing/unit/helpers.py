"""Shared steps of the pricing API tests."""

from __future__ import annotations

from typing import Any

import httpx

from shared.testing import Tokens
from tests.pricing.builders import cell_data

TOKENS = Tokens()
OPS = TOKENS.ops()


async def make_zones(client: httpx.AsyncClient) -> None:
    for code, postcodes in (("paris-centre", ["75001", "75002", "75003", "75004"]), ("paris", ["75"])):
        r = await client.post(
            "/v1/zones", json={"code": code, "name": code, "postcodes": postcodes}, headers=OPS
        )
        assert r.status_code == 201, r.text


async def draft(client: httpx.AsyncClient, cells: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body = {"name": "grid", "cells": cells if cells is not None else default_cells()}
    r = await client.post("/v1/price-grids", json=body, headers=OPS)
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


async def publish(client: httpx.AsyncClient, grid_id: str, **body: Any) -> httpx.Response:
    return await client.post(f"/v1/price-grids/{grid_id}/publish", json=body, headers=OPS)


def default_cells() -> list[dict[str, Any]]:
    return [
        cell_data(),
        cell_data(zone="paris", hourly_rate_cents=2800),
        cell_data(category="gardening", zone="paris", hourly_rate_cents=3200),
        cell_data(category="moving_help", zone="paris", hourly_rate_cents=3500),
    ]


async def published_grid(client: httpx.AsyncClient) -> dict[str, Any]:
    await make_zones(client)
    grid = await draft(client)
    r = await publish(client, grid["id"], reason="first grid")
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()
    return result
