"""The fair-pay floor policy is an ops setting: providers read it, ops change it (audited), batches use it."""

from __future__ import annotations

from typing import Any

from services.matching.config import MatchingSettings
from shared.config import PlatformSettings
from tests.matching.support import (
    PARIS,
    Harness,
    matching_harness,
    on_duty,
    order_confirmed,
    provider_activated,
)

URL = "/v1/dispatch/floor-policy"


async def below_floor_pair(h: Harness) -> None:
    """One order of 60 minutes paid 13 EUR (10.24 EUR net) 3.3 km from its only provider:
    about 10 minutes of travel bring the pay to about 8.7 EUR/h, below the 9.52 EUR/h floor."""
    await h.given(
        provider_activated("p1"),
        on_duty("p1"),
        order_confirmed(
            "o1", now=h.clock.now, lat=PARIS[0] + 0.03, lng=PARIS[1], duration_min=60, payout_cents=1300
        ),
    )


async def put_mode(h: Harness, mode: Any, headers: dict[str, str] | None = None, **extra: Any) -> Any:
    body = {"mode": mode, "reason": "season of long trips", **extra}
    return await h.client.put(URL, json=body, headers=headers or h.ops())


class TestReadFloorPolicy:
    async def test_defaults_to_the_service_setting(self, h: Harness) -> None:
        got = (await h.client.get(URL, headers=h.provider("p1"))).json()
        assert (got["mode"], got["updated_by"], got["updated_at"]) == ("supplement", None, None)
        assert got["floor_cents_per_hour"] == 952

    async def test_the_environment_chooses_the_default(self, settings: PlatformSettings) -> None:
        rule_out = MatchingSettings(is_dispatch_enabled=False, floor_policy="rule_out")
        async with matching_harness(settings, matching=rule_out) as h:
            assert (await h.client.get(URL, headers=h.ops())).json()["mode"] == "rule_out"

    async def test_clients_cannot_read_it(self, h: Harness) -> None:
        assert (await h.client.get(URL, headers=h.tokens.client("c1"))).status_code == 403


class TestChangeFloorPolicy:
    async def test_the_next_batch_follows_the_mode_ops_chose(self, h: Harness) -> None:
        await below_floor_pair(h)
        assert (await put_mode(h, "rule_out")).status_code == 200
        preview = (await h.client.post("/v1/dispatch/dry-run", headers=h.ops())).json()
        assert preview["floor_policy"] == "rule_out" and preview["assignments"] == []
        assert (await h.batch()).offered == 0
        assert await h.live_offer("p1") is None
        (waiting,) = (await h.client.get("/v1/dispatch/pool", headers=h.ops())).json()["orders"]
        assert "fair-pay floor" in waiting["reason"]

        assert (await put_mode(h, "supplement")).status_code == 200
        assert (await h.batch()).offered == 1
        offer = await h.live_offer("p1")
        assert offer is not None and offer["order_id"] == "o1"
        assert offer["travel_supplement_cents"] > 0, "the operator pays the way up to the floor"

    async def test_the_change_is_audited_with_before_and_after(self, h: Harness) -> None:
        response = await put_mode(h, "rule_out")
        assert response.status_code == 200
        assert (response.json()["mode"], response.json()["updated_by"]) == ("rule_out", "ops-1")
        got = (await h.client.get(URL, headers=h.provider("p1"))).json()
        assert (got["mode"], got["updated_by"]) == ("rule_out", "ops-1")
        (entry,) = (await h.client.get("/v1/dispatch/audit", headers=h.ops())).json()["entries"]
        assert entry["action"] == "dispatch.floor_policy" and entry["actor"] == "ops-1"
        assert entry["reason"] == "season of long trips"
        assert entry["details"] == {"before": {"mode": "supplement"}, "after": {"mode": "rule_out"}}

    async def test_providers_and_clients_cannot_change_it(self, h: Harness) -> None:
        assert (await put_mode(h, "rule_out", h.provider("p1"))).status_code == 403
        assert (await put_mode(h, "rule_out", h.tokens.client("c1"))).status_code == 403
        assert (await h.client.get(URL, headers=h.ops())).json()["mode"] == "supplement"
        assert (await h.client.get("/v1/dispatch/audit", headers=h.ops())).json()["entries"] == []

    async def test_a_bad_body_is_422_naming_the_field(self, h: Harness) -> None:
        for mode in ("pay", "", None, 1, "RULE_OUT"):
            response = await put_mode(h, mode)
            assert response.status_code == 422, mode
            assert response.json()["detail"][0]["loc"][-1] == "mode"
        no_reason = await h.client.put(URL, json={"mode": "rule_out"}, headers=h.ops())
        assert no_reason.status_code == 422 and no_reason.json()["detail"][0]["loc"][-1] == "reason"
        extra = await put_mode(h, "rule_out", floor_cents_per_hour=0)
        assert extra.status_code == 422 and extra.json()["detail"][0]["loc"][-1] == "floor_cents_per_hour"
        assert (await h.client.get(URL, headers=h.ops())).json()["mode"] == "supplement"
