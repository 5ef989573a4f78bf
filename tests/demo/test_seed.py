"""The embedded platform seeds the demo city once: zones, a published grid, active providers."""

from __future__ import annotations

from services.demo.seed import demo_siret, seed_demo
from services.platform import create_platform_app
from services.providers.siret import siret_error
from shared.config import PlatformSettings
from shared.testing import Tokens, running_app


def test_demo_sirets_are_valid_and_distinct() -> None:
    sirets = [demo_siret(i) for i in range(1, 400)]
    assert len(set(sirets)) == len(sirets)
    assert all(siret_error(s) is None for s in sirets)


async def test_first_start_seeds_the_demo_and_a_restart_keeps_it(
    settings: PlatformSettings, tokens: Tokens
) -> None:
    app = create_platform_app(settings, demo_providers=12)
    async with running_app(app) as http:
        grid = await http.get("/v1/price-grids/current", headers=tokens.ops())
        zones = await http.get("/v1/zones")
        providers = await http.get("/v1/providers", headers=tokens.ops())
        await app.state.bus.drain()
        pool = await http.get("/v1/dispatch/board", headers=tokens.ops())
    assert grid.status_code == 200
    cells = grid.json()["cells"]
    assert {c["zone"] for c in cells} == {z["code"] for z in zones.json()}
    assert len({c["category"] for c in cells}) >= 6
    listed = providers.json()
    items = listed["items"] if isinstance(listed, dict) else listed
    assert len(items) == 12
    assert all(p["status"] == "active" for p in items)
    assert pool.status_code == 200

    again = create_platform_app(settings, demo_providers=12)
    async with running_app(again) as http:
        summary = await seed_demo(again.state.components, providers=12)
        providers = await http.get("/v1/providers", headers=tokens.ops())
    assert summary.seeded is False
    listed = providers.json()
    assert len(listed["items"] if isinstance(listed, dict) else listed) == 12
