"""API: counters, bonuses (once per period), reputation, excused absences, watches."""

from __future__ import annotations

from datetime import timedelta

from tests.providers.unit.conftest import Harness
from tests.providers.unit.events import deliver, mission_completed, rating

RULE = {"name": "Ten a month", "min_missions": 3, "amount_cents": 5000, "peak_supplement_cents": 300}


class TestBonusRules:
    async def test_ops_publish_providers_read(self, h: Harness) -> None:
        created = await h.http.post("/v1/bonus-rules", json=RULE, headers=h.ops)
        assert created.status_code == 201
        me = h.tokens.provider("p1")
        assert (await h.http.post("/v1/bonus-rules", json=RULE, headers=me)).status_code == 403
        listed = (await h.http.get("/v1/bonus-rules", headers=me)).json()
        assert [r["name"] for r in listed] == ["Ten a month"]
        off = await h.http.patch(
            f"/v1/bonus-rules/{listed[0]['id']}", json={"is_active": False}, headers=h.ops
        )
        assert off.json()["is_active"] is False
        assert (
            await h.http.patch("/v1/bonus-rules/nope", json={"is_active": True}, headers=h.ops)
        ).status_code == 404

    async def test_award_once_per_period_even_when_delivered_twice(self, h: Harness) -> None:
        await h.activate("p1")
        rule = (await h.http.post("/v1/bonus-rules", json=RULE, headers=h.ops)).json()
        now = h.clock.now
        for index in range(4):
            event = mission_completed("p1", f"m{index}", now - timedelta(hours=index), is_peak=index == 0)
            await deliver(h.bus, event, times=2)  # every event redelivered
        # the same mission again under a new event id counts once too
        await deliver(h.bus, mission_completed("p1", "m0", now))
        awards = (await h.http.get("/v1/providers/p1/bonuses", headers=h.tokens.provider("p1"))).json()
        assert len(awards) == 1
        assert awards[0] == awards[0] | {"rule_id": rule["id"], "period": "2026-11", "amount_cents": 5300}
        await h.settle()
        bonus_events = h.events("bonus-awarded")
        assert len(bonus_events) == 1 and bonus_events[0]["payload"]["amount_cents"] == 5300

    async def test_next_month_is_a_new_period(self, h: Harness) -> None:
        await h.activate("p1")
        await h.http.post("/v1/bonus-rules", json=RULE | {"min_missions": 1}, headers=h.ops)
        await deliver(h.bus, mission_completed("p1", "a", h.clock.now))
        await deliver(h.bus, mission_completed("p1", "b", h.clock.now + timedelta(days=10)))
        awards = (await h.http.get("/v1/providers/p1/bonuses", headers=h.ops)).json()
        assert [a["period"] for a in awards] == ["2026-11", "2026-12"]

    async def test_rating_condition_waits_for_ratings(self, h: Harness) -> None:
        await h.activate("p1")
        await h.http.post(
            "/v1/bonus-rules", json=RULE | {"min_missions": 1, "min_rating": 4.5}, headers=h.ops
        )
        await deliver(h.bus, mission_completed("p1", "a", h.clock.now))
        assert (await h.http.get("/v1/providers/p1/bonuses", headers=h.ops)).json() == []
        await deliver(h.bus, rating("p1", "r1", 5), at=h.clock.now)
        assert len((await h.http.get("/v1/providers/p1/bonuses", headers=h.ops)).json()) == 1


class TestReputation:
    async def test_aggregate_and_no_verdict_on_three(self, h: Harness) -> None:
        await h.activate("p1")
        for index, score in enumerate([1, 2, 1]):
            await deliver(h.bus, rating("p1", f"r{index}", score), times=2)
        await deliver(h.bus, rating("p1", "about-client", 1, rater_role="provider"))
        rep = (await h.http.get("/v1/providers/p1/reputation", headers=h.tokens.provider("p1"))).json()
        assert rep["rating_count"] == 3 and rep["verdict"] == "insufficient"
        assert rep["distribution"]["1"] == 2
        assert (await h.http.get("/v1/providers/p1/recommendations", headers=h.ops)).json() == []
        await h.settle()
        assert h.events("reputation-changed")[-1]["payload"] == {
            "provider_id": "p1",
            "rating_average": 1.33,
            "rating_count": 3,
        }

    async def test_low_average_recommends_retraining_ops_confirm(self, h: Harness) -> None:
        await h.activate("p1")
        policy = {"threshold": 4.0, "min_count": 5, "window": 10}
        assert (
            await h.http.put("/v1/providers/reputation-policy", json=policy, headers=h.ops)
        ).status_code == 200
        for index in range(6):
            await deliver(h.bus, rating("p1", f"r{index}", 3))
        recs = (await h.http.get("/v1/providers/p1/recommendations", headers=h.tokens.provider("p1"))).json()
        assert len(recs) == 1 and recs[0]["status"] == "open" and "below 4.0" in recs[0]["reason"]
        queue = (await h.http.get("/v1/vetting/recommendations", headers=h.ops)).json()
        assert [r["id"] for r in queue] == [recs[0]["id"]]
        # the system only recommends: the provider is still active
        assert (await h.http.get("/v1/providers/p1", headers=h.ops)).json()["status"] == "active"
        module = (
            await h.http.post(
                "/v1/trainings/modules", json={"code": "quality", "title": "Quality"}, headers=h.ops
            )
        ).json()
        decision = {
            "confirm": True,
            "reason": "ratings below threshold: refresher",
            "module_id": module["id"],
            "due_days": 10,
        }
        url = f"/v1/providers/p1/recommendations/{recs[0]['id']}/decision"
        assert (await h.http.post(url, json=decision, headers=h.tokens.provider("p1"))).status_code == 403
        confirmed = await h.http.post(url, json=decision, headers=h.ops)
        assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"
        assert (await h.http.post(url, json=decision, headers=h.ops)).status_code == 409
        qualifications = (await h.http.get("/v1/providers/p1/qualifications", headers=h.ops)).json()
        assert qualifications["notices"][0]["item"] == f"retraining:{module['id']}"
        h.clock.advance(days=11)
        await h.http.post("/v1/vetting/expiry-check", headers=h.ops)
        assert (await h.http.get("/v1/providers/p1", headers=h.ops)).json()["status"] == "suspended"

    async def test_excused_absence_never_counts(self, h: Harness) -> None:
        from shared.events.matching import MissionAccepted, MissionDeclined

        await h.activate("p1")
        me = h.tokens.provider("p1")
        start = h.clock.now - timedelta(days=1)
        absence = {
            "start_at": start.isoformat(),
            "end_at": (start + timedelta(days=3)).isoformat(),
            "reason": "illness",
        }
        assert (await h.http.post("/v1/providers/p1/absences", json=absence, headers=me)).status_code == 201
        await deliver(h.bus, MissionAccepted(order_id="o1", offer_id="f1", provider_id="p1"), at=h.clock.now)
        await deliver(h.bus, MissionDeclined(order_id="o2", offer_id="f2", provider_id="p1"), at=h.clock.now)
        await deliver(
            h.bus,
            MissionDeclined(order_id="o3", offer_id="f3", provider_id="p1"),
            at=h.clock.now + timedelta(days=5),
        )
        rep = (await h.http.get("/v1/providers/p1/reputation", headers=me)).json()
        assert rep["reliability"] == {"accepted": 1, "missed": 1, "excused": 1, "rate": 0.5}

    async def test_bad_absence(self, h: Harness) -> None:
        await h.activate("p1")
        me = h.tokens.provider("p1")
        now = h.clock.now.isoformat()
        bad = {"start_at": now, "end_at": now, "reason": "illness"}
        assert (await h.http.post("/v1/providers/p1/absences", json=bad, headers=me)).status_code == 422
        wrong = {"start_at": now, "end_at": now, "reason": "holiday"}
        assert (await h.http.post("/v1/providers/p1/absences", json=wrong, headers=me)).status_code == 422


class TestWatches:
    async def test_turnover_and_dependency(self, h: Harness) -> None:
        await h.activate("p1")
        me = h.tokens.provider("p1")
        big = mission_completed("p1", "big", h.clock.now, payout_cents=6_700_000, worked_min=600)
        await deliver(h.bus, big)
        watch = (await h.http.get("/v1/providers/p1/turnover-watch", headers=me)).json()
        assert watch["alert"] == "approaching" and watch["ceiling_cents"] == 8_360_000
        assert watch["platform_obligations_apply"] is True
        declared = {"year": 2026, "turnover_cents": 7_000_000}
        assert (
            await h.http.put("/v1/providers/p1/declared-activity", json=declared, headers=me)
        ).status_code == 204
        dependency = (await h.http.get("/v1/providers/p1/dependency-watch", headers=me)).json()
        assert dependency["platform_share"] == round(6_700_000 / 7_000_000, 4) and dependency["is_dependent"]
        assert dependency["week_worked_hours"] == 10.0
        everyone = (await h.http.get("/v1/providers/turnover-watch", headers=h.ops)).json()
        assert everyone[0]["provider_id"] == "p1" and everyone[0]["alert"] == "approaching"

    async def test_urssaf_certificate_required_past_threshold(self, h: Harness) -> None:
        await h.activate("p1")
        await deliver(h.bus, mission_completed("p1", "m1", h.clock.now, payout_cents=500_001))
        qualifications = (await h.http.get("/v1/providers/p1/qualifications", headers=h.ops)).json()
        assert qualifications["notices"][0]["item"] == "urssaf_vigilance"
        h.clock.advance(days=31)
        await h.http.post("/v1/vetting/expiry-check", headers=h.ops)
        provider = (await h.http.get("/v1/providers/p1", headers=h.ops)).json()
        assert provider["status"] == "suspended"
        assert provider["qualifications"]["missing_for_all"][0]["item"] == "urssaf_vigilance"
        certificate = await h.check("p1", "urssaf_vigilance")
        assert certificate.status_code == 201
        assert certificate.json()["expires_at"].startswith("2027-06")  # six months later
        assert (await h.http.get("/v1/providers/p1", headers=h.ops)).json()["status"] == "active"
