"""API: training requirements, completions, re-evaluation on change, expiry lapses."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from services.providers.config import ProvidersSettings
from services.providers.training import run_expiry_check
from shared.db import wait_for
from tests.providers.unit.conftest import Harness


async def make_module(h: Harness, code: str = "hygiene", **overrides: Any) -> str:
    body = {"code": code, "title": code.title(), "validity_days": 30, "min_score": 60, **overrides}
    response = await h.http.post("/v1/trainings/modules", json=body, headers=h.ops)
    assert response.status_code == 201, response.text
    module_id: str = response.json()["id"]
    return module_id


async def require(h: Harness, category: str, *module_ids: str) -> dict[str, Any]:
    response = await h.http.put(
        f"/v1/trainings/requirements/{category}", json={"module_ids": list(module_ids)}, headers=h.ops
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def complete(h: Harness, provider_id: str, module_id: str, score: int = 80) -> Any:
    return await h.http.post(
        f"/v1/providers/{provider_id}/trainings",
        json={"module_id": module_id, "score": score},
        headers=h.tokens.provider(provider_id),
    )


class TestRequirements:
    async def test_only_ops_define(self, h: Harness) -> None:
        body = {"code": "x1", "title": "X"}
        me = h.tokens.provider("p1")
        assert (await h.http.post("/v1/trainings/modules", json=body, headers=me)).status_code == 403
        put = await h.http.put("/v1/trainings/requirements/cleaning", json={"module_ids": []}, headers=me)
        assert put.status_code == 403

    async def test_unknown_module_or_category(self, h: Harness) -> None:
        bad = await h.http.put(
            "/v1/trainings/requirements/cleaning", json={"module_ids": ["nope"]}, headers=h.ops
        )
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "module_ids", "0"]
        unknown = await h.http.put(
            "/v1/trainings/requirements/plumbing", json={"module_ids": []}, headers=h.ops
        )
        assert unknown.status_code == 404

    async def test_requirement_change_reevaluates_existing_providers(self, h: Harness) -> None:
        await h.activate("p1")
        await h.activate("p2", categories=["cleaning", "gardening"])
        module_id = await make_module(h)
        changed = await require(h, "cleaning", module_id)
        assert changed["providers_changed"] == 2
        p1 = (await h.http.get("/v1/providers/p1", headers=h.ops)).json()
        assert (p1["status"], p1["suspension"]) == ("suspended", "lapsed")
        p2 = (await h.http.get("/v1/providers/p2", headers=h.ops)).json()
        assert p2["status"] == "active" and p2["qualifications"]["qualified"] == ["gardening"]
        await h.settle()
        lapses = {e["aggregate_id"]: e["payload"] for e in h.events("qualifications-changed")[-2:]}
        assert lapses["p1"]["lapsed"] == ["cleaning"] and lapses["p1"]["status"] == "suspended"
        assert lapses["p2"]["lapsed"] == ["cleaning"] and lapses["p2"]["categories"] == ["gardening"]
        assert [e["aggregate_id"] for e in h.events("provider-suspended")] == ["p1"]

    async def test_completion_requalifies_and_reactivates(self, h: Harness) -> None:
        await h.activate("p1")
        module_id = await make_module(h)
        await require(h, "cleaning", module_id)
        low = await complete(h, "p1", module_id, score=40)
        assert low.status_code == 201
        assert (await h.http.get("/v1/providers/p1", headers=h.ops)).json()["status"] == "suspended"
        await complete(h, "p1", module_id, score=90)
        provider = (await h.http.get("/v1/providers/p1", headers=h.ops)).json()
        assert provider["status"] == "active" and provider["suspension"] is None
        await h.settle()
        assert len(h.events("provider-activated")) == 2

    async def test_scored_module_needs_a_score(self, h: Harness) -> None:
        await h.apply("p1")
        module_id = await make_module(h)
        response = await h.http.post(
            "/v1/providers/p1/trainings", json={"module_id": module_id}, headers=h.tokens.provider("p1")
        )
        assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "score"]

    async def test_catalogue_visible_to_providers(self, h: Harness) -> None:
        module_id = await make_module(h)
        await require(h, "cleaning", module_id)
        body = (await h.http.get("/v1/trainings/modules", headers=h.tokens.provider("p1"))).json()
        assert body["requirements"] == {"cleaning": [module_id]}


class TestExpiry:
    async def test_training_expiry_lapses_qualification_and_emits(self, h: Harness) -> None:
        module_id = await make_module(h, validity_days=30)
        await require(h, "cleaning", module_id)
        assert (await h.apply("p1", categories=["cleaning", "gardening"])).status_code == 201
        await h.vet("p1")
        await complete(h, "p1", module_id)
        await h.http.post("/v1/vetting/p1/approve", json={}, headers=h.ops)
        h.clock.advance(days=29)
        assert await run_expiry_check(h.component.ctx) == 0
        h.clock.advance(days=2)
        assert await run_expiry_check(h.component.ctx) == 1
        await h.settle()
        changed = h.events("qualifications-changed")[-1]["payload"]
        assert changed["lapsed"] == ["cleaning"] and changed["categories"] == ["gardening"]
        assert "expired" in changed["reason"]
        qualifications = (
            await h.http.get("/v1/providers/p1/qualifications", headers=h.tokens.provider("p1"))
        ).json()
        cleaning = next(c for c in qualifications["categories"] if c["category"] == "cleaning")
        assert cleaning["missing"][0]["action"] == "renew"
        assert await run_expiry_check(h.component.ctx) == 0  # nothing twice

    async def test_insurance_expiry_suspends_as_lapsed(self, h: Harness) -> None:
        await h.activate("p1")
        h.clock.advance(days=366)
        response = await h.http.post("/v1/vetting/expiry-check", headers=h.ops)
        assert response.json() == {"providers_changed": 1}
        provider = (await h.http.get("/v1/providers/p1", headers=h.ops)).json()
        assert (provider["status"], provider["suspension"]) == ("suspended", "lapsed")
        renew = provider["qualifications"]["missing_for_all"][0]
        assert (renew["item"], renew["action"]) == ("insurance", "renew")
        await h.settle()
        assert h.events("provider-suspended")[-1]["payload"]["reason"].startswith("no qualified category")
        await h.check("p1", "insurance")
        assert (await h.http.get("/v1/providers/p1", headers=h.ops)).json()["status"] == "active"

    async def test_periodic_job_runs_by_itself(self, make_harness: Any) -> None:
        async with make_harness(ProvidersSettings(expiry_check_interval_s=0.05)) as h:
            await h.activate("p1")
            h.clock.advance(days=400)

            async def lapsed() -> bool:
                await h.settle()
                return bool(h.events("provider-suspended"))

            await wait_for(lapsed, timeout=10)
            assert h.events("qualifications-changed")[-1]["payload"]["lapsed"] == ["cleaning"]


class TestDocuments:
    async def test_renewal_document_submitted_then_checked(self, h: Harness) -> None:
        await h.activate("p1")
        me = h.tokens.provider("p1")
        h.clock.advance(days=340)
        qualifications = (await h.http.get("/v1/providers/p1/qualifications", headers=me)).json()
        assert qualifications["notices"][0]["item"] == "insurance"  # expires within 30 days
        expires = (h.clock.now + timedelta(days=400)).isoformat()
        body = {"kind": "insurance", "reference": "upload/ins-2027.pdf", "expires_at": expires}
        submitted = await h.http.post("/v1/providers/p1/documents", json=body, headers=me)
        assert submitted.status_code == 201
        document = submitted.json()
        pending = (await h.http.get("/v1/vetting/documents", headers=h.ops)).json()
        assert [d["id"] for d in pending] == [document["id"]]
        check = await h.check("p1", "insurance", expires_at=expires, document_id=document["id"])
        assert check.status_code == 201
        assert (await h.http.get("/v1/vetting/documents", headers=h.ops)).json() == []
        mine = (await h.http.get("/v1/providers/p1/documents", headers=me)).json()
        assert mine[0]["status"] == "reviewed" and mine[0]["check_id"] == check.json()["id"]
        again = await h.check("p1", "insurance", expires_at=expires, document_id=document["id"])
        assert again.status_code == 409

    async def test_document_refusals(self, h: Harness) -> None:
        await h.apply("p1")
        await h.apply("p2")
        me = h.tokens.provider("p1")
        bad_kind = {"kind": "horoscope", "reference": "x"}
        assert (await h.http.post("/v1/providers/p1/documents", json=bad_kind, headers=me)).status_code == 422
        body = {"kind": "insurance", "reference": "x"}
        other = await h.http.post("/v1/providers/p2/documents", json=body, headers=me)
        assert other.status_code == 404
        document = (
            await h.http.post("/v1/providers/p2/documents", json=body, headers=h.tokens.provider("p2"))
        ).json()
        foreign = await h.check("p1", "identity", document_id=document["id"])
        assert foreign.status_code == 404


class TestModuleChange:
    async def test_shorter_validity_reevaluates_everyone(self, h: Harness) -> None:
        module_id = await make_module(h, validity_days=365)
        await require(h, "cleaning", module_id)
        assert (await h.apply("p1")).status_code == 201
        await h.vet("p1")
        await complete(h, "p1", module_id)
        await h.http.post("/v1/vetting/p1/approve", json={}, headers=h.ops)
        h.clock.advance(days=20)
        response = await h.http.patch(
            f"/v1/trainings/modules/{module_id}", json={"validity_days": 10}, headers=h.ops
        )
        assert response.status_code == 200
        assert response.json()["providers_changed"] == 1 and response.json()["module"]["validity_days"] == 10
        assert (await h.http.get("/v1/providers/p1", headers=h.ops)).json()["status"] == "suspended"
        # null removes the validity: qualified again
        response = await h.http.patch(
            f"/v1/trainings/modules/{module_id}", json={"validity_days": None}, headers=h.ops
        )
        assert response.json()["providers_changed"] == 1
        assert (await h.http.get("/v1/providers/p1", headers=h.ops)).json()["status"] == "active"

    async def test_refusals(self, h: Harness) -> None:
        assert (await h.http.patch("/v1/trainings/modules/nope", json={}, headers=h.ops)).status_code == 404
        module_id = await make_module(h)
        me = h.tokens.provider("p1")
        assert (
            await h.http.patch(f"/v1/trainings/modules/{module_id}", json={}, headers=me)
        ).status_code == 403
        bad = await h.http.patch(f"/v1/trainings/modules/{module_id}", json={"min_score": 101}, headers=h.ops)
        assert bad.status_code == 422
