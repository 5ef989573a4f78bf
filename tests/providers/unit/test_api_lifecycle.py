"""API: application, vetting, decisions and the lifecycle, including every refusal."""

from __future__ import annotations

import pytest

from tests.providers.unit.conftest import Harness, application


class TestApply:
    async def test_applies_with_token_subject_as_id(self, h: Harness) -> None:
        response = await h.apply("p1")
        assert response.status_code == 201
        body = response.json()
        assert body["id"] == "p1" and body["status"] == "applied"
        assert body["siren"] == "732829320" and body["vat_number"] == "FR44732829320"
        assert {m["item"] for m in body["qualifications"]["missing_for_all"]} == {
            "identity",
            "right_to_work",
            "siret",
            "insurance",
        }

    @pytest.mark.parametrize(
        ("siret", "message"),
        [
            ("7328293200007", "SIRET must be 14 digits (got 13)"),
            ("73282932000075", "SIRET checksum is wrong (Luhn over the 14 digits fails)"),
            ("7328293200007A", "SIRET must contain digits only"),
        ],
    )
    async def test_refuses_bad_siret_naming_the_reason(self, h: Harness, siret: str, message: str) -> None:
        response = await h.apply("p1", siret=siret)
        assert response.status_code == 422
        (error,) = response.json()["detail"]
        assert error["loc"] == ["body", "siret"] and error["msg"] == message
        assert (await h.http.get("/v1/providers/p1", headers=h.ops)).status_code == 404

    async def test_refuses_second_application(self, h: Harness) -> None:
        await h.apply("p1")
        assert (await h.apply("p1")).status_code == 409

    async def test_refuses_minor(self, h: Harness) -> None:
        response = await h.apply("p1", date_of_birth="2010-01-01")
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "date_of_birth"]

    async def test_refuses_unknown_category(self, h: Harness) -> None:
        response = await h.apply("p1", categories=["plumbing"])
        assert response.status_code == 422 and "plumbing" in response.json()["detail"][0]["msg"]

    @pytest.mark.parametrize("role", ["client", "ops"])
    async def test_wrong_role_is_403(self, h: Harness, role: str) -> None:
        headers = h.tokens.client("c1") if role == "client" else h.ops
        response = await h.http.post("/v1/providers", json=application(), headers=headers)
        assert response.status_code == 403

    async def test_no_token_is_401(self, h: Harness) -> None:
        assert (await h.http.post("/v1/providers", json=application())).status_code == 401


class TestVetting:
    async def test_queue_shows_what_is_missing(self, h: Harness) -> None:
        await h.apply("p1")
        await h.check("p1", "identity")
        response = await h.http.get("/v1/vetting/queue", headers=h.ops)
        (entry,) = response.json()
        assert entry["status"] == "under_review"  # the first check starts the review
        missing = {m["item"] for m in entry["qualifications"]["missing_for_all"]}
        assert missing == {"right_to_work", "siret", "insurance"}

    async def test_queue_is_ops_only(self, h: Harness) -> None:
        assert (await h.http.get("/v1/vetting/queue", headers=h.tokens.provider("p1"))).status_code == 403

    async def test_check_records_who_when_evidence_outcome(self, h: Harness) -> None:
        await h.apply("p1")
        response = await h.check("p1", "identity", evidence_ref="passport-scan-42", note="seen in person")
        assert response.status_code == 201
        body = response.json()
        assert body["checked_by"] == "ops-7" and body["evidence_ref"] == "passport-scan-42"
        assert body["outcome"] == "passed" and body["checked_at"].startswith("2026-11-26T09:00")

    async def test_insurance_needs_future_expiry(self, h: Harness) -> None:
        await h.apply("p1")
        response = await h.check("p1", "insurance", expires_at=None)
        assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body", "expires_at"]
        past = await h.check("p1", "insurance", expires_at="2026-01-01T00:00:00Z")
        assert past.status_code == 422

    async def test_unknown_check_kind(self, h: Harness) -> None:
        await h.apply("p1")
        assert (await h.check("p1", "horoscope")).status_code == 422

    async def test_approve_refused_when_a_check_is_missing(self, h: Harness) -> None:
        await h.apply("p1")
        await h.vet("p1", ("identity", "right_to_work", "siret"))
        response = await h.http.post("/v1/vetting/p1/approve", json={}, headers=h.ops)
        assert response.status_code == 409
        error = response.json()["detail"][0]
        assert error["missing"] == ["insurance"] and "insurance" in error["msg"]
        provider = (await h.http.get("/v1/providers/p1", headers=h.ops)).json()
        assert provider["status"] == "under_review"

    async def test_failed_check_blocks_approval(self, h: Harness) -> None:
        await h.apply("p1")
        await h.vet("p1")
        await h.check("p1", "siret", outcome="failed")
        response = await h.http.post("/v1/vetting/p1/approve", json={}, headers=h.ops)
        assert response.status_code == 409 and response.json()["detail"][0]["missing"] == ["siret"]

    async def test_approve_activates_and_publishes(self, h: Harness) -> None:
        provider = await h.activate("p1")
        assert provider["status"] == "active" and provider["qualifications"]["qualified"] == ["cleaning"]
        await h.settle()
        activated = h.events("provider-activated")[0]
        assert activated["aggregate_id"] == "p1"
        assert activated["payload"]["categories"] == ["cleaning"]
        assert activated["payload"]["postcode"] == "69003"
        changed = h.events("qualifications-changed")[0]["payload"]
        assert changed["status"] == "active" and changed["categories"] == ["cleaning"]

    async def test_approved_but_not_active_until_category_check(self, h: Harness) -> None:
        await h.apply("p1", categories=["childcare"])
        await h.vet("p1")
        response = await h.http.post("/v1/vetting/p1/approve", json={}, headers=h.ops)
        assert response.json()["status"] == "approved"
        (category,) = response.json()["qualifications"]["categories"]
        assert category["missing"][0]["item"] == "criminal_record"
        await h.check("p1", "criminal_record", category="childcare")
        provider = (await h.http.get("/v1/providers/p1", headers=h.ops)).json()
        assert provider["status"] == "active"

    async def test_illegal_transition_names_current_state(self, h: Harness) -> None:
        await h.activate("p1")
        response = await h.http.post("/v1/vetting/p1/approve", json={}, headers=h.ops)
        assert response.status_code == 409
        error = response.json()["detail"][0]
        assert error["current_state"] == "active" and "active" in error["msg"]
        again = await h.http.post("/v1/vetting/p1/start-review", headers=h.ops)
        assert again.status_code == 409 and again.json()["detail"][0]["current_state"] == "active"

    async def test_reject_needs_a_written_reason(self, h: Harness) -> None:
        await h.apply("p1")
        short = await h.http.post("/v1/vetting/p1/reject", json={"reason": "no"}, headers=h.ops)
        assert short.status_code == 422 and short.json()["detail"][0]["loc"] == ["body", "reason"]
        missing = await h.http.post("/v1/vetting/p1/reject", json={}, headers=h.ops)
        assert missing.status_code == 422
        ok = await h.http.post(
            "/v1/vetting/p1/reject", json={"reason": "identity document is forged"}, headers=h.ops
        )
        assert ok.status_code == 200 and ok.json()["status"] == "rejected"
        final = await h.check("p1", "identity")
        assert final.status_code == 409 and final.json()["detail"][0]["current_state"] == "rejected"

    async def test_vetting_actions_are_ops_only(self, h: Harness) -> None:
        await h.apply("p1")
        me = h.tokens.provider("p1")
        for path in ("/v1/vetting/p1/approve", "/v1/vetting/p1/reject", "/v1/vetting/p1/start-review"):
            assert (await h.http.post(path, json={"reason": "x" * 20}, headers=me)).status_code == 403
        assert (await h.http.post("/v1/vetting/p1/checks", json={}, headers=me)).status_code == 403

    async def test_unknown_provider_is_404(self, h: Harness) -> None:
        assert (await h.check("nobody", "identity")).status_code == 404
        response = await h.http.post("/v1/vetting/nobody/approve", json={}, headers=h.ops)
        assert response.status_code == 404


class TestDecisions:
    reason = {"reason": "repeated no-shows reported by clients"}

    async def test_suspend_reinstate_with_events_and_decisions(self, h: Harness) -> None:
        await h.activate("p1")
        response = await h.http.post("/v1/providers/p1/suspend", json=self.reason, headers=h.ops)
        assert response.status_code == 200
        assert (response.json()["status"], response.json()["suspension"]) == ("suspended", "decision")
        back = await h.http.post(
            "/v1/providers/p1/reinstate", json={"reason": "explained: hospital stay"}, headers=h.ops
        )
        assert back.json()["status"] == "active"
        await h.settle()
        suspended = h.events("provider-suspended")[0]["payload"]
        assert suspended == {"provider_id": "p1", "status": "suspended", "reason": self.reason["reason"]}
        assert len(h.events("provider-activated")) == 2
        decisions = (await h.http.get("/v1/providers/p1/decisions", headers=h.tokens.provider("p1"))).json()
        assert [d["action"] for d in decisions] == ["approve", "suspend", "reinstate"]
        assert decisions[1]["reason"] == self.reason["reason"] and decisions[1]["decided_by"] == "ops-7"

    async def test_offboard_is_final(self, h: Harness) -> None:
        await h.activate("p1")
        response = await h.http.post("/v1/providers/p1/offboard", json=self.reason, headers=h.ops)
        assert response.json()["status"] == "offboarded"
        again = await h.http.post("/v1/providers/p1/suspend", json=self.reason, headers=h.ops)
        assert again.status_code == 409 and again.json()["detail"][0]["current_state"] == "offboarded"
        await h.settle()
        assert h.events("provider-suspended")[0]["payload"]["status"] == "offboarded"

    async def test_suspend_needs_ops_and_reason(self, h: Harness) -> None:
        await h.activate("p1")
        me = h.tokens.provider("p1")
        assert (
            await h.http.post("/v1/providers/p1/suspend", json=self.reason, headers=me)
        ).status_code == 403
        assert (await h.http.post("/v1/providers/p1/suspend", json={}, headers=h.ops)).status_code == 422

    async def test_reinstate_refused_when_not_suspended(self, h: Harness) -> None:
        await h.activate("p1")
        response = await h.http.post("/v1/providers/p1/reinstate", json=self.reason, headers=h.ops)
        assert response.status_code == 409 and response.json()["detail"][0]["current_state"] == "active"

    async def test_suspension_takes_provider_off_duty(self, h: Harness) -> None:
        await h.activate("p1")
        me = h.tokens.provider("p1")
        await h.http.put("/v1/providers/p1/availability", json={"on_duty": True}, headers=me)
        await h.http.put("/v1/providers/p1/position", json={"lat": 45.7, "lng": 4.8}, headers=me)
        await h.http.post("/v1/providers/p1/suspend", json=self.reason, headers=h.ops)
        availability = (await h.http.get("/v1/providers/p1/availability", headers=me)).json()
        assert availability["on_duty"] is False and availability["position"] is None

    async def test_audit_log_keeps_every_ops_action(self, h: Harness) -> None:
        await h.activate("p1")
        await h.http.post("/v1/providers/p1/suspend", json=self.reason, headers=h.ops)
        entries = (await h.http.get("/v1/vetting/audit?provider_id=p1", headers=h.ops)).json()
        actions = [e["action"] for e in reversed(entries)]
        assert actions[:1] == ["applied"]
        assert actions.count("check_recorded") == 4
        assert "approve" in actions and actions[-1] == "suspend"
        assert entries[0]["actor"] == "ops-7" and entries[0]["reason"] == self.reason["reason"]
        forbidden = await h.http.get("/v1/vetting/audit", headers=h.tokens.provider("p1"))
        assert forbidden.status_code == 403


class TestPrivacy:
    async def test_someone_elses_id_is_404(self, h: Harness) -> None:
        await h.activate("p1")
        await h.apply("p2")
        other = h.tokens.provider("p2")
        for path in (
            "/v1/providers/p1",
            "/v1/providers/p1/qualifications",
            "/v1/providers/p1/checks",
            "/v1/providers/p1/decisions",
            "/v1/providers/p1/availability",
            "/v1/providers/p1/bonuses",
            "/v1/providers/p1/reputation",
            "/v1/providers/p1/record",
            "/v1/providers/p1/turnover-watch",
            "/v1/providers/p1/dependency-watch",
        ):
            assert (await h.http.get(path, headers=other)).status_code == 404, path
        put = await h.http.put("/v1/providers/p1/availability", json={"on_duty": False}, headers=other)
        assert put.status_code == 404
        pos = await h.http.put("/v1/providers/p1/position", json={"lat": 1, "lng": 1}, headers=other)
        assert pos.status_code == 404

    async def test_clients_see_nothing(self, h: Harness) -> None:
        await h.activate("p1")
        assert (await h.http.get("/v1/providers/p1", headers=h.tokens.client())).status_code == 403

    async def test_ops_list_all(self, h: Harness) -> None:
        await h.activate("p1")
        await h.apply("p2")
        listed = (await h.http.get("/v1/providers?status=active", headers=h.ops)).json()
        assert [p["id"] for p in listed] == ["p1"]
        assert (await h.http.get("/v1/providers", headers=h.tokens.provider("p1"))).status_code == 403


class TestReviews:
    async def test_review_deadline_and_overdue(self, h: Harness) -> None:
        await h.activate("p1")
        await h.http.post("/v1/providers/p1/suspend", json=TestDecisions.reason, headers=h.ops)
        me = h.tokens.provider("p1")
        decision = (await h.http.get("/v1/providers/p1/decisions", headers=me)).json()[-1]
        body = {"decision_id": decision["id"], "message": "I was in hospital, here is the certificate"}
        response = await h.http.post("/v1/providers/p1/reviews", json=body, headers=me)
        assert response.status_code == 201
        review = response.json()
        assert review["due_at"].startswith("2026-12-10") and review["is_overdue"] is False
        assert (await h.http.post("/v1/providers/p1/reviews", json=body, headers=me)).status_code == 409
        h.clock.advance(days=15)
        overdue = (await h.http.get("/v1/vetting/reviews?overdue_only=true", headers=h.ops)).json()
        assert [r["id"] for r in overdue] == [review["id"]]
        answer = {"answer": "certificate accepted, suspension lifted", "outcome": "overturned"}
        answered = await h.http.post(f"/v1/vetting/reviews/{review['id']}/answer", json=answer, headers=h.ops)
        assert answered.status_code == 200 and answered.json()["is_overdue"] is False
        twice = await h.http.post(f"/v1/vetting/reviews/{review['id']}/answer", json=answer, headers=h.ops)
        assert twice.status_code == 409

    async def test_review_of_unknown_decision_is_404(self, h: Harness) -> None:
        await h.apply("p1")
        body = {"decision_id": "nope", "message": "please review this decision"}
        response = await h.http.post("/v1/providers/p1/reviews", json=body, headers=h.tokens.provider("p1"))
        assert response.status_code == 404


async def test_audit_log_refuses_update_and_delete(h: Harness) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    await h.apply("p1")
    for statement in ("UPDATE audit_entry SET reason = 'x'", "DELETE FROM audit_entry"):
        async with h.component.database.sessions() as session:
            with pytest.raises(DBAPIError, match="append-only"):
                await session.execute(text(statement))


async def test_concurrent_applications_one_wins(h: Harness) -> None:
    import asyncio

    responses = await asyncio.gather(*(h.apply("twin") for _ in range(4)))
    assert sorted(r.status_code for r in responses) == [201, 409, 409, 409]
