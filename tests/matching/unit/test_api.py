"""The HTTP surface: roles, ownership, garbage bodies, and the ops dispatch views."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest

from services.matching.domain import home_zone
from services.matching.models import DutyPeriod, Offer
from tests.matching.support import Harness, offered_to_p1, on_duty, order_confirmed, provider_activated


class TestRolesAndOwnership:
    async def test_no_token_is_401_and_wrong_role_403(self, h: Harness) -> None:
        assert (await h.client.get("/v1/offers")).status_code == 401
        assert (await h.client.get("/v1/offers", headers=h.tokens.client("c1"))).status_code == 403
        assert (await h.client.get("/v1/dispatch/board", headers=h.provider("p1"))).status_code == 403
        assert (await h.client.get("/v1/missions", headers=h.tokens.client("c1"))).status_code == 403
        put = await h.client.put(
            "/v1/dispatch/weights",
            headers=h.provider("p1"),
            json={
                "travel": 1,
                "lateness": 1,
                "reputation": 1,
                "fairness": 1,
                "supplement": 1,
                "reason": "mine",
            },
        )
        assert put.status_code == 403

    async def test_another_providers_offer_is_404(self, h: Harness) -> None:
        offer = await offered_to_p1(h)
        for path in ("accept", "decline"):
            response = await h.client.post(f"/v1/offers/{offer['id']}/{path}", headers=h.provider("p2"))
            assert response.status_code == 404
        assert (await h.client.get(f"/v1/offers/{offer['id']}", headers=h.provider("p2"))).status_code == 404
        assert (await h.live_offer("p1")) is not None

    async def test_another_providers_mission_is_404_but_ops_see_it(self, h: Harness) -> None:
        offer = await offered_to_p1(h)
        mission = (await h.client.post(f"/v1/offers/{offer['id']}/accept", headers=h.provider("p1"))).json()
        assert (
            await h.client.get(f"/v1/missions/{mission['id']}", headers=h.provider("p2"))
        ).status_code == 404
        start = await h.client.post(
            f"/v1/missions/{mission['id']}/start", json={"code": "123456"}, headers=h.provider("p2")
        )
        assert start.status_code == 404
        assert (await h.client.get("/v1/missions", headers=h.provider("p2"))).json() == []
        everyone = (await h.client.get("/v1/missions", headers=h.ops())).json()
        assert [m["id"] for m in everyone] == [mission["id"]]

    async def test_unknown_ids_are_404(self, h: Harness) -> None:
        assert (await h.client.post("/v1/offers/nope/accept", headers=h.provider("p1"))).status_code == 404
        assert (await h.client.get("/v1/missions/nope", headers=h.ops())).status_code == 404
        reassign = await h.client.post("/v1/missions/nope/reassign", json={"reason": "abc"}, headers=h.ops())
        assert reassign.status_code == 404
        assert (await h.client.get("/v1/dispatch/decisions/nope", headers=h.ops())).status_code == 404


class TestDecisions:
    async def test_ops_read_the_chosen_pair_and_the_rejected_alternatives(self, h: Harness) -> None:
        await offered_to_p1(h)
        body = (await h.client.get("/v1/dispatch/decisions/o1", headers=h.ops())).json()
        decision = body["decisions"][0]
        assert decision["outcome"] == "offered" and decision["chosen"]["provider_id"] == "p1"
        assert "travel" in decision["chosen"]["components"]
        assert decision["summary"]
        assert [a["provider_id"] for a in decision["alternatives"]] == ["p2"]

    async def test_the_chosen_provider_reads_why_without_other_ids(self, h: Harness) -> None:
        await offered_to_p1(h)
        body = (await h.client.get("/v1/dispatch/decisions/o1", headers=h.provider("p1"))).json()
        decision = body["decisions"][0]
        assert decision["is_chosen"] is True and decision["summary"].startswith("You got")
        assert all(a["provider_id"] == "another provider" for a in decision["alternatives"])

    async def test_a_provider_not_involved_gets_404(self, h: Harness) -> None:
        await offered_to_p1(h)
        await h.given(provider_activated("p9", categories=["gardening"]))
        response = await h.client.get("/v1/dispatch/decisions/o1", headers=h.provider("p9"))
        assert response.status_code == 404


class TestWeightsAndDryRun:
    async def test_weights_put_are_persisted_audited_and_used(self, h: Harness) -> None:
        new = {"travel": 2.0, "lateness": 1.0, "reputation": 0.0, "fairness": 5.0, "supplement": 1.0}
        response = await h.client.put("/v1/dispatch/weights", json={**new, "reason": "test"}, headers=h.ops())
        assert response.status_code == 200
        got = (await h.client.get("/v1/dispatch/weights", headers=h.provider("p1"))).json()
        assert got["weights"] == new and got["updated_by"] == "ops-1"
        await h.given(provider_activated("p1"), on_duty("p1"), order_confirmed("o1", now=h.clock.now))
        preview = (await h.client.post("/v1/dispatch/dry-run", headers=h.ops())).json()
        assert preview["weights"] == new
        audit = (await h.client.get("/v1/dispatch/audit", headers=h.ops())).json()["entries"]
        assert audit[0]["action"] == "dispatch.weights" and audit[0]["details"]["after"] == new

    async def test_dry_run_previews_and_changes_nothing(self, h: Harness) -> None:
        await h.given(provider_activated("p1"), on_duty("p1"), order_confirmed("o1", now=h.clock.now))
        preview = (await h.client.post("/v1/dispatch/dry-run", headers=h.ops())).json()
        assert [(a["order_id"], a["provider_id"]) for a in preview["assignments"]] == [("o1", "p1")]
        assert await h.live_offer("p1") is None
        assert await h.events("mission-offered") == []
        assert (await h.batch()).offered == 1


class TestFairness:
    async def comparable_providers(self, h: Harness) -> None:
        """Offers over the period: c1 3, c2 1, c0 none (cleaning, home 75004, zone "paris" from
        the orders of 75011); g1 5 (gardening only); lyon 2 (69003, no order known there);
        busy 4 (cleaning in Paris, but 48 h on duty: another band)."""
        await h.given(
            order_confirmed("o1", now=h.clock.now),
            *(provider_activated(p) for p in ("c0", "c1", "c2", "busy")),
            provider_activated("g1", categories=["gardening"]),
            provider_activated("lyon", postcode="69003", home_lat=45.76, home_lng=4.84),
        )
        day = timedelta(days=1)
        async with h.component.database.unit_of_work() as uow:
            for provider_id, count in (("c1", 3), ("c2", 1), ("g1", 5), ("lyon", 2), ("busy", 4)):
                for k in range(count):
                    uow.session.add(
                        Offer(
                            id=f"{provider_id}-{k}",
                            order_id=f"old-{provider_id}-{k}",
                            provider_id=provider_id,
                            status="declined",
                            zone="lyon" if provider_id == "lyon" else "paris",
                            created_at=h.clock.now - day,
                            expires_at=h.clock.now - day,
                            scheduled_start=h.clock.now - day,
                        )
                    )
            uow.session.add(
                DutyPeriod(provider_id="busy", started_at=h.clock.now - 3 * day, ended_at=h.clock.now - day)
            )
            await uow.commit()

    async def test_a_provider_without_offers_sees_the_median_of_their_peers(self, h: Harness) -> None:
        await self.comparable_providers(h)
        me = (await h.client.get("/v1/dispatch/fairness/me", headers=h.provider("c0"))).json()
        assert (me["zone"], me["offers"], me["peers"], me["peer_median"]) == ("paris", 0, 2, 2.0)
        assert me["ratio"] == 0.0

    async def test_ops_see_each_provider_against_their_peers(self, h: Harness) -> None:
        await self.comparable_providers(h)
        rows = (await h.client.get("/v1/dispatch/fairness", headers=h.ops())).json()["providers"]
        seen = {r["provider_id"]: (r["zone"], r["offers"], r["peers"], r["peer_median"]) for r in rows}
        assert seen == {
            "c0": ("paris", 0, 2, 2.0),  # c1 and c2
            "c1": ("paris", 3, 2, 0.5),  # c0 and c2
            "c2": ("paris", 1, 2, 1.5),  # c0 and c1
            "busy": ("paris", 4, 0, None),  # 48 h on duty: nobody in that band
            "g1": ("paris", 5, 0, None),  # nobody else in gardening
            "lyon": ("dept:69", 2, 0, None),  # no order known near home: the département
        }


def test_the_home_zone_follows_the_orders_postcodes_then_the_departement() -> None:
    known = {"75011": {"paris": 4}, "75012": {"paris": 1, "paris-est": 2}, "92100": {"hauts-de-seine": 1}}
    assert home_zone("75011", known) == "paris", "the same postcode first"
    assert home_zone("75013", known) == "paris", "then the zones sharing the longest prefix: 5 to 2"
    assert home_zone("92300", known) == "hauts-de-seine"
    assert home_zone("69003", known) == "dept:69"
    assert home_zone("75012", {"75012": {"b": 1, "a": 1}}) == "a", "a tie goes to the first by name"


WRITE_ENDPOINTS = [
    ("post", "/v1/offers/{offer}/decline", "p1"),
    ("post", "/v1/offers/{offer}/propose", "p1"),
    ("post", "/v1/offers/{offer}/accept", "p2"),
    ("post", "/v1/missions/{mission}/start", "p1"),
    ("post", "/v1/missions/{mission}/cancel", "p1"),
    ("post", "/v1/missions/{mission}/reassign", None),
    ("put", "/v1/dispatch/weights", None),
    ("put", "/v1/dispatch/floor-policy", None),
]

GARBAGE: list[tuple[str, Any]] = [
    ("raw", b""),
    ("raw", b"{not json"),
    ("raw", b"\xff\xfe\x00"),
    ("raw", b"[" * 500),
    ("json", None),
    ("json", []),
    ("json", "text"),
    ("json", 12),
    ("json", {"reason": None}),
    ("json", {"reason": 12}),
    ("json", {"reason": "x" * 5000}),
    ("json", {"reason": ["a"]}),
    ("json", {"unknown": 1}),
    ("json", {"start_at": "yesterday"}),
    ("json", {"start_at": "2026-11-27T10:00:00"}),  # naive
    ("json", {"start_at": "9999-12-31T23:59:59+14:00"}),
    ("json", {"start_at": "0001-01-01T00:00:00-12:00"}),
    ("json", {"start_at": 1e308}),
    ("json", {"code": "12ab56"}),
    ("json", {"code": 123456}),
    ("json", {"code": ""}),
    ("json", {"code": "1" * 100}),
    ("json", {"reason": "ok reason", "provider_id": ""}),
    ("json", {"reason": "ok reason", "provider_id": {"$ne": 1}}),
    ("json", {"reason": "ok reason", "provider_id": "x" * 500}),
    ("json", {"travel": -1, "lateness": 1, "reputation": 1, "fairness": 1, "supplement": 1, "reason": "abc"}),
    (
        "json",
        {"travel": "NaN", "lateness": 1, "reputation": 1, "fairness": 1, "supplement": 1, "reason": "abc"},
    ),
    (
        "raw",
        b'{"travel": 1e400, "lateness": 1, "reputation": 1, "fairness": 1, "supplement": 1, "reason": "abc"}',
    ),
    (
        "raw",
        b'{"travel": NaN, "lateness": 1, "reputation": 1, "fairness": 1, "supplement": 1, "reason": "abc"}',
    ),
    ("json", {"travel": 1, "lateness": 1, "reputation": 1, "fairness": 1, "supplement": 1}),
    ("json", {"travel": True, "lateness": 1, "reputation": 1, "fairness": 1, "supplement": 1, "reason": "a"}),
    ("json", {"mode": "pay", "reason": "abc"}),
    ("json", {"mode": ["rule_out"], "reason": "abc"}),
    ("json", {"mode": "rule_out"}),
]


def random_json(rng: random.Random, depth: int = 0) -> Any:
    """Return a random JSON value (seeded: the same every run)."""
    kind = rng.randrange(7 if depth < 3 else 5)
    if kind == 0:
        return None
    if kind == 1:
        return rng.choice([True, False])
    if kind == 2:
        return rng.choice([0, -1, 2**63, rng.randint(-(10**9), 10**9)])
    if kind == 3:
        return rng.choice([0.5, -1e308, 1e-308, rng.random()])
    if kind == 4:
        return "".join(chr(rng.randrange(32, 0x2FFF)) for _ in range(rng.randrange(0, 30)))
    if kind == 5:
        return [random_json(rng, depth + 1) for _ in range(rng.randrange(0, 4))]
    keys = ["reason", "start_at", "code", "provider_id", "travel", "fairness", "mode", "x"]
    return {rng.choice(keys): random_json(rng, depth + 1) for _ in range(rng.randrange(0, 5))}


class TestGarbage:
    @pytest.mark.parametrize(("method", "path", "who"), WRITE_ENDPOINTS)
    async def test_garbage_bodies_never_give_500(
        self, h: Harness, method: str, path: str, who: str | None
    ) -> None:
        offer = await offered_to_p1(h)
        mission = (await h.client.get("/v1/missions", headers=h.ops())).json()
        url = path.format(offer=offer["id"], mission=mission[0]["id"] if mission else "m-unknown")
        headers = h.provider(who) if who else h.ops()
        rng = random.Random(f"{method} {path}")
        bodies = GARBAGE + [("json", random_json(rng)) for _ in range(40)]
        for kind, value in bodies:
            kwargs: dict[str, Any] = {"content": value} if kind == "raw" else {"json": value}
            response = await h.client.request(method, url, headers=headers, **kwargs)
            assert response.status_code < 500, (value, response.text)
