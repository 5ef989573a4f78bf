from __future__ import annotations

import json

from shared.db import wait_for
from shared.events import topic_for
from shared.events.envelope import Envelope
from tests.pricing.builders import cell_data
from tests.pricing.conftest import Pricing
from tests.pricing.unit.helpers import OPS, TOKENS, default_cells, draft, make_zones, publish, published_grid

PROVIDER = TOKENS.provider("p1")


async def published_events(p: Pricing, type_: str, count: int = 1) -> list[Envelope]:
    """Wait until the outbox relay has published `count` events of `type_`; return them."""

    async def seen() -> list[Envelope] | None:
        envelopes = [Envelope.from_json(m.value) for m in p.bus.messages(topic_for("pricing"))]
        found = [e for e in envelopes if e.type == type_]
        return found if len(found) >= count else None

    result: list[Envelope] = await wait_for(seen, timeout=5)
    return result


class TestDraftGrid:
    async def test_ops_create_and_edit_a_draft(self, pricing: Pricing) -> None:
        await make_zones(pricing.client)
        grid = await draft(pricing.client)
        assert grid["status"] == "draft" and grid["version"] is None and len(grid["cells"]) == 4
        r = await pricing.client.put(
            f"/v1/price-grids/{grid['id']}", json={"name": "renamed", "cells": [cell_data()]}, headers=OPS
        )
        assert r.status_code == 200 and r.json()["name"] == "renamed" and len(r.json()["cells"]) == 1

    async def test_refuses_a_cell_in_an_unknown_zone(self, pricing: Pricing) -> None:
        await make_zones(pricing.client)
        r = await pricing.client.post(
            "/v1/price-grids", json={"name": "g", "cells": [cell_data(zone="atlantis")]}, headers=OPS
        )
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["body", "cells", "0", "zone"]

    async def test_refuses_an_unknown_category(self, pricing: Pricing) -> None:
        await make_zones(pricing.client)
        r = await pricing.client.post(
            "/v1/price-grids", json={"name": "g", "cells": [cell_data(category="plumbing")]}, headers=OPS
        )
        assert r.status_code == 422
        assert r.json()["detail"][0]["loc"] == ["body", "cells", "0", "category"]

    async def test_providers_may_not_edit_or_see_drafts(self, pricing: Pricing) -> None:
        await make_zones(pricing.client)
        grid = await draft(pricing.client)
        r = await pricing.client.post("/v1/price-grids", json={"name": "g", "cells": []}, headers=PROVIDER)
        assert r.status_code == 403
        r = await pricing.client.put(f"/v1/price-grids/{grid['id']}", json={"name": "x"}, headers=PROVIDER)
        assert r.status_code == 403
        assert (
            await pricing.client.get(f"/v1/price-grids/{grid['id']}", headers=PROVIDER)
        ).status_code == 404
        r = await pricing.client.get("/v1/price-grids", headers=PROVIDER)
        assert r.json() == []
        r = await pricing.client.post(f"/v1/price-grids/{grid['id']}/publish", json={}, headers=PROVIDER)
        assert r.status_code == 403

    async def test_clients_may_not_read_grids(self, pricing: Pricing) -> None:
        r = await pricing.client.get("/v1/price-grids", headers=TOKENS.client("c1"))
        assert r.status_code == 403


class TestPublishGrid:
    async def test_publishes_version_1_in_force_now(self, pricing: Pricing) -> None:
        grid = await published_grid(pricing.client)
        assert grid["version"] == 1 and grid["state"] == "published"
        assert grid["effective_at"] == "2026-11-26T09:00:00Z"
        assert grid["published_by"] == "ops-1" and grid["publish_reason"] == "first grid"
        current = (await pricing.client.get("/v1/price-grids/current", headers=PROVIDER)).json()
        assert current["id"] == grid["id"]
        (event,) = await published_events(pricing, "grid-published")
        assert event.payload["version"] == 1 and event.payload["payout_decreases"] == []

    async def test_refuses_a_grid_below_the_floor_with_every_offending_cell(self, pricing: Pricing) -> None:
        await make_zones(pricing.client)
        cells = [
            cell_data(),
            cell_data(zone="paris", hourly_rate_cents=1100),
            cell_data(category="tutoring", zone="paris", commission_rate="0.7"),
        ]
        grid = await draft(pricing.client, cells)
        r = await publish(pricing.client, grid["id"])
        assert r.status_code == 422
        detail = r.json()["detail"][0]
        assert detail["loc"] == ["body", "cells"]
        offending = {(c["category"], c["zone"]): c for c in detail["offending_cells"]}
        assert set(offending) == {("cleaning", "paris"), ("tutoring", "paris")}
        assert all(c["shortfall_cents_per_hour"] > 0 for c in offending.values())
        assert all(c["floor_cents_per_hour"] == 952 for c in offending.values())
        # nothing published
        assert (await pricing.client.get("/v1/price-grids/current", headers=OPS)).status_code == 404
        again = (await pricing.client.get(f"/v1/price-grids/{grid['id']}", headers=OPS)).json()
        assert again["status"] == "draft" and again["version"] is None
        check = (await pricing.client.get(f"/v1/price-grids/{grid['id']}/floor-check", headers=OPS)).json()
        assert check["publishable"] is False and len(check["offending_cells"]) == 2

    async def test_refuses_an_empty_grid(self, pricing: Pricing) -> None:
        await make_zones(pricing.client)
        grid = await draft(pricing.client, [])
        assert (await publish(pricing.client, grid["id"])).status_code == 422

    async def test_a_published_version_is_immutable(self, pricing: Pricing) -> None:
        grid = await published_grid(pricing.client)
        r = await pricing.client.put(f"/v1/price-grids/{grid['id']}", json={"name": "x"}, headers=OPS)
        assert r.status_code == 409
        assert (await publish(pricing.client, grid["id"])).status_code == 409

    async def test_unknown_grid_is_404(self, pricing: Pricing) -> None:
        assert (await publish(pricing.client, "nope")).status_code == 404
        assert (await pricing.client.get("/v1/price-grids/nope", headers=OPS)).status_code == 404

    async def test_refuses_an_effective_date_in_the_past(self, pricing: Pricing) -> None:
        await make_zones(pricing.client)
        grid = await draft(pricing.client)
        r = await publish(pricing.client, grid["id"], effective_at="2020-01-01T00:00:00Z")
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "effective_at"]


class TestConsultation:
    async def test_lower_payouts_wait_for_the_notice_period(self, pricing: Pricing) -> None:
        v1 = await published_grid(pricing.client)
        cells = default_cells()
        cells[0] = cell_data(hourly_rate_cents=2900)
        grid = await draft(pricing.client, cells)
        r = await publish(pricing.client, grid["id"])
        v2 = r.json()
        assert v2["version"] == 2 and v2["state"] == "pending"
        assert v2["payout_decreases"] == [
            {
                "category": "cleaning",
                "zone": "paris-centre",
                "old_payout_cents_per_hour": 2400,
                "new_payout_cents_per_hour": 2320,
            }
        ]
        event = (await published_events(pricing, "grid-published", 2))[-1]
        assert event.payload["effective_at"].startswith("2026-12-03T09:00")
        assert event.payload["payout_decreases"][0]["new_payout_cents_per_hour"] == 2320
        assert (await pricing.client.get("/v1/price-grids/current", headers=OPS)).json()["version"] == 1
        # providers see old beside new and comment; ops read the comments beside the grid
        changes = (
            await pricing.client.get(f"/v1/price-grids/{v2['id']}/payout-changes", headers=PROVIDER)
        ).json()
        assert changes["compared_with_version"] == 1
        row = next(c for c in changes["cells"] if c["zone"] == "paris-centre")
        assert row == {
            "category": "cleaning",
            "zone": "paris-centre",
            "old_payout_cents_per_hour": 2400,
            "new_payout_cents_per_hour": 2320,
            "is_decrease": True,
        }
        r = await pricing.client.post(
            f"/v1/price-grids/{v2['id']}/comments",
            json={"body": "Travel in the centre is slow", "category": "cleaning", "zone": "paris-centre"},
            headers=PROVIDER,
        )
        assert r.status_code == 201
        await pricing.client.post(
            f"/v1/price-grids/{v2['id']}/comments", json={"body": "ok"}, headers=TOKENS.provider("p2")
        )
        ops_view = (await pricing.client.get(f"/v1/price-grids/{v2['id']}/comments", headers=OPS)).json()
        assert [c["author_id"] for c in ops_view] == ["p1", "p2"]
        beside = (await pricing.client.get(f"/v1/price-grids/{v2['id']}", headers=OPS)).json()
        assert [c["body"] for c in beside["comments"]] == ["Travel in the centre is slow", "ok"]
        assert (
            "comments"
            not in (await pricing.client.get(f"/v1/price-grids/{v2['id']}", headers=PROVIDER)).json()
        )
        mine = (await pricing.client.get(f"/v1/price-grids/{v2['id']}/comments", headers=PROVIDER)).json()
        assert [c["body"] for c in mine] == ["Travel in the centre is slow"]
        # after the notice period the new version is in force; consultation closes
        body = {
            "category": "cleaning",
            "postcode": "75001",
            "start_at": "2026-12-27T09:00:00Z",
            "duration_min": 60,
        }
        assert (await pricing.client.post("/v1/quotes", json=body)).json()["grid_version"] == 1
        pricing.clock.advance(days=7)
        assert (await pricing.client.get("/v1/price-grids/current", headers=OPS)).json()["version"] == 2
        quote = (await pricing.client.post("/v1/quotes", json=body)).json()
        assert quote["grid_version"] == 2 and quote["breakdown"]["base_cents"] == 2900
        r = await pricing.client.post(
            f"/v1/price-grids/{v2['id']}/comments", json={"body": "late"}, headers=PROVIDER
        )
        assert r.status_code == 409
        assert v1["version"] == 1

    async def test_a_raise_takes_effect_at_once(self, pricing: Pricing) -> None:
        await published_grid(pricing.client)
        cells = default_cells()
        cells[0] = cell_data(hourly_rate_cents=3300)
        grid = await draft(pricing.client, cells)
        v2 = (await publish(pricing.client, grid["id"])).json()
        assert v2["state"] == "published" and v2["payout_decreases"] == []
        assert (await pricing.client.get("/v1/price-grids/current", headers=OPS)).json()["version"] == 2
        body = {
            "category": "cleaning",
            "postcode": "75001",
            "start_at": "2026-11-27T09:00:00Z",
            "duration_min": 60,
        }
        quote = (await pricing.client.post("/v1/quotes", json=body)).json()
        assert quote["grid_version"] == 2 and quote["breakdown"]["base_cents"] == 3300

    async def test_notice_period_is_a_setting(self, pricing: Pricing) -> None:
        pricing.component.settings.notice_period_days = 14
        await published_grid(pricing.client)
        cells = default_cells()
        cells[0] = cell_data(travel_fee_cents=100)
        grid = await draft(pricing.client, cells)
        v2 = (await publish(pricing.client, grid["id"])).json()
        assert v2["effective_at"].startswith("2026-12-10T09:00")


class TestVersions:
    async def test_list_diff_and_rollback(self, pricing: Pricing) -> None:
        await published_grid(pricing.client)
        cells = default_cells()
        cells[0] = cell_data(hourly_rate_cents=3300)
        del cells[3]
        grid = await draft(pricing.client, cells)
        await publish(pricing.client, grid["id"])
        listed = (await pricing.client.get("/v1/price-grids?published_only=true", headers=OPS)).json()
        assert [g["version"] for g in listed] == [2, 1]
        diff = (await pricing.client.get("/v1/price-grids/versions/1/diff/2", headers=OPS)).json()
        changes = {(c["category"], c["zone"]): c for c in diff["changes"]}
        assert changes[("cleaning", "paris-centre")]["fields"] == ["hourly_rate_cents"]
        assert changes[("moving_help", "paris")]["change"] == "removed"
        assert len(changes) == 2
        r = await pricing.client.post(
            "/v1/price-grids/versions/1/rollback", json={"reason": "oops"}, headers=OPS
        )
        assert r.status_code == 201
        v3 = r.json()
        assert v3["version"] == 3 and v3["rolled_back_from"] == 1
        assert (
            v3["cells"]
            == (await pricing.client.get("/v1/price-grids/versions/1", headers=OPS)).json()["cells"]
        )
        # going back lowers a payout: the rollback waits for the notice period too
        assert v3["state"] == "pending"
        assert (await pricing.client.get("/v1/price-grids/versions/9/diff/1", headers=OPS)).status_code == 404
        r = await pricing.client.post("/v1/price-grids/versions/9/rollback", json={}, headers=OPS)
        assert r.status_code == 404

    async def test_a_new_draft_may_start_from_a_version(self, pricing: Pricing) -> None:
        await published_grid(pricing.client)
        r = await pricing.client.post(
            "/v1/price-grids", json={"name": "next", "from_version": 1}, headers=OPS
        )
        assert r.status_code == 201 and len(r.json()["cells"]) == 4
        r = await pricing.client.post(
            "/v1/price-grids", json={"name": "next", "from_version": 7}, headers=OPS
        )
        assert r.status_code == 422


class TestImportExport:
    async def test_csv_round_trip(self, pricing: Pricing) -> None:
        grid = await published_grid(pricing.client)
        r = await pricing.client.get(f"/v1/price-grids/{grid['id']}/export?format=csv", headers=OPS)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        assert r.text.splitlines()[0].startswith("category,zone,hourly_rate_cents")
        r2 = await pricing.client.post(
            "/v1/price-grids/import?format=csv&name=from-csv", content=r.text, headers=OPS
        )
        assert r2.status_code == 201, r2.text
        assert r2.json()["cells"] == grid["cells"] and r2.json()["name"] == "from-csv"

    async def test_json_round_trip(self, pricing: Pricing) -> None:
        grid = await published_grid(pricing.client)
        r = await pricing.client.get(f"/v1/price-grids/{grid['id']}/export", headers=OPS)
        data = json.loads(r.text)
        r2 = await pricing.client.post("/v1/price-grids/import?format=json", content=r.text, headers=OPS)
        assert r2.status_code == 201 and r2.json()["cells"] == data["cells"]

    async def test_bad_files_are_422(self, pricing: Pricing) -> None:
        await make_zones(pricing.client)
        for content, fmt in [
            ("not,a,grid\n1,2,3", "csv"),
            (
                "category,zone,hourly_rate_cents,min_billable_min,travel_fee_cents,commission_rate\n"
                "cleaning,paris,abc,60,0,0.2",
                "csv",
            ),
            ("", "csv"),
            ("{nope", "json"),
            ("[1,2]", "json"),
            ('{"cells": [{"category": 3}]}', "json"),
        ]:
            r = await pricing.client.post(
                f"/v1/price-grids/import?format={fmt}", content=content, headers=OPS
            )
            assert r.status_code == 422, (content, r.text)
        r = await pricing.client.post("/v1/price-grids/import", content=b"\xff\xfe", headers=OPS)
        assert r.status_code == 422


class TestAuditLog:
    async def test_ops_decisions_are_kept_with_who_when_and_why(self, pricing: Pricing) -> None:
        grid = await published_grid(pricing.client)
        await pricing.client.put("/v1/zones/paris", json={"name": "Paris"}, headers=TOKENS.ops("ops-2"))
        await pricing.client.post("/v1/price-grids/versions/1/rollback", json={"reason": "test"}, headers=OPS)
        log = (await pricing.client.get("/v1/price-grids/audit", headers=OPS)).json()
        actions = [(e["action"], e["actor"]) for e in log]
        assert ("zone-created", "ops-1") in actions and ("zone-updated", "ops-2") in actions
        assert ("grid-created", "ops-1") in actions and ("grid-rolled-back", "ops-1") in actions
        published = next(e for e in log if e["action"] == "grid-published")
        assert published["subject"] == grid["id"] and published["reason"] == "first grid"
        assert published["details"]["version"] == 1 and published["at"] == "2026-11-26T09:00:00Z"
        only = (
            await pricing.client.get("/v1/price-grids/audit", params={"subject": "paris"}, headers=OPS)
        ).json()
        assert {e["action"] for e in only} == {"zone-created", "zone-updated"}
        assert (await pricing.client.get("/v1/price-grids/audit", headers=PROVIDER)).status_code == 403

    async def test_a_refused_publication_leaves_no_trace(self, pricing: Pricing) -> None:
        await make_zones(pricing.client)
        grid = await draft(pricing.client, [cell_data(hourly_rate_cents=1000)])
        assert (await publish(pricing.client, grid["id"])).status_code == 422
        log = (await pricing.client.get("/v1/price-grids/audit", headers=OPS)).json()
        assert "grid-published" not in {e["action"] for e in log}
