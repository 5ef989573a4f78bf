"""The HTTP surface: roles, ownership, garbage bodies, and the ops dispatch views."""

from __future__ import annotations

import random
from typing import Any

import pytest

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
    async def test_a_provider_sees_their_offers_against_comparable_peers(self, h: Harness) -> None:
        await offered_to_p1(h)
        me = (await h.client.get("/v1/dispatch/fairness/me", headers=h.provider("p2"))).json()
        assert me["offers"] == 0 and me["peers"] >= 0
        spread = (await h.client.get("/v1/dispatch/fairness", headers=h.ops())).json()["providers"]
        by_id = {row["provider_id"]: row for row in spread}
        assert by_id["p1"]["offers"] == 1 and by_id["p2"]["offers"] == 0


WRITE_ENDPOINTS = [
    ("post", "/v1/offers/{offer}/decline", "p1"),
    ("post", "/v1/offers/{offer}/propose", "p1"),
    ("post", "/v1/offers/{offer}/accept", "p2"),
    ("post", "/v1/missions/{mission}/start", "p1"),
    ("post", "/v1/missions/{mission}/cancel", "p1"),
    ("post", "/v1/missions/{mission}/reassign", None),
    ("put", "/v1/dispatch/weights", None),
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
    keys = ["reason", "start_at", "code", "provider_id", "travel", "fairness", "x"]
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
