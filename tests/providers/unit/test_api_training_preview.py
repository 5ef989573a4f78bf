"""API: the dry run of a training change (how many providers it would disqualify), used by the console."""

from __future__ import annotations

from tests.providers.unit.conftest import Harness
from tests.providers.unit.test_api_training import complete, make_module, require


class TestPreviewChange:
    async def test_counts_providers_a_new_requirement_would_disqualify_and_changes_nothing(
        self, h: Harness
    ) -> None:
        await h.activate("p1")
        await h.activate("p2", categories=["cleaning", "gardening"])
        await h.activate("p3", categories=["gardening"])
        module_id = await make_module(h)
        preview = await h.http.post(
            "/v1/trainings/preview", json={"category": "cleaning", "module_ids": [module_id]}, headers=h.ops
        )
        assert preview.status_code == 200, preview.text
        body = preview.json()
        assert body["providers_disqualified"] == 2 and body["providers_left_with_none"] == 1
        assert {x["provider_id"]: x["categories"] for x in body["disqualified"]} == {
            "p1": ["cleaning"],
            "p2": ["cleaning"],
        }
        p1 = (await h.http.get("/v1/providers/p1", headers=h.ops)).json()
        assert p1["status"] == "active" and p1["qualifications"]["qualified"] == ["cleaning"]
        catalogue = (await h.http.get("/v1/trainings/modules", headers=h.ops)).json()
        assert catalogue["requirements"] == {}
        saved = await require(h, "cleaning", module_id)
        assert saved["providers_changed"] == body["providers_disqualified"]

    async def test_module_change_preview_counts_who_falls_below_the_new_pass_score(self, h: Harness) -> None:
        await h.activate("p1")
        await h.activate("p2")
        module_id = await make_module(h, min_score=50)
        await require(h, "cleaning", module_id)
        assert (await complete(h, "p1", module_id, score=70)).status_code == 201
        assert (await complete(h, "p2", module_id, score=90)).status_code == 201
        preview = await h.http.post(
            "/v1/trainings/preview", json={"module_id": module_id, "min_score": 80}, headers=h.ops
        )
        assert preview.status_code == 200, preview.text
        assert [x["provider_id"] for x in preview.json()["disqualified"]] == ["p1"]
        removed = await h.http.post(
            "/v1/trainings/preview", json={"category": "cleaning", "module_ids": []}, headers=h.ops
        )
        assert removed.json()["providers_disqualified"] == 0

    async def test_refuses_bad_previews_and_non_ops(self, h: Harness) -> None:
        for body in (
            {},
            {"category": "cleaning"},
            {"category": "cleaning", "module_ids": ["nope"]},
            {"module_id": "nope"},
            {"category": "cleaning", "module_ids": [], "module_id": "x"},
            {"category": "plumbing", "module_ids": []},
            {"module_id": "x", "min_score": 101},
        ):
            response = await h.http.post("/v1/trainings/preview", json=body, headers=h.ops)
            assert response.status_code == 422, (body, response.text)
        forbidden = await h.http.post(
            "/v1/trainings/preview",
            json={"category": "cleaning", "module_ids": []},
            headers=h.tokens.provider("p1"),
        )
        assert forbidden.status_code == 403


class TestCatalogueChecks:
    async def test_lists_the_checks_all_and_each_category_need(self, h: Harness) -> None:
        catalogue = (await h.http.get("/v1/trainings/modules", headers=h.ops)).json()
        assert catalogue["base_checks"] == ["identity", "right_to_work", "siret", "insurance"]
        assert catalogue["category_checks"] == {"childcare": ["criminal_record"]}
