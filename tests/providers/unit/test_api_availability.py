"""API: weekly schedule, duty, position (never collected off duty)."""

from __future__ import annotations

from services.providers.models import Provider
from tests.providers.unit.conftest import Harness


class TestAvailability:
    async def test_schedule_and_duty_publish_availability(self, h: Harness) -> None:
        await h.activate("p1")
        me = h.tokens.provider("p1")
        body = {
            "on_duty": True,
            "weekly_schedule": [
                {"weekday": 1, "start": "14:00", "end": "18:00"},
                {"weekday": 0, "start": "08:00", "end": "12:00"},
            ],
            "travel_radius_km": 12,
        }
        response = await h.http.put("/v1/providers/p1/availability", json=body, headers=me)
        assert response.status_code == 200
        assert [s["weekday"] for s in response.json()["weekly_schedule"]] == [0, 1]
        await h.settle()
        event = h.events("availability-changed")[-1]["payload"]
        assert event["on_duty"] is True and event["travel_radius_km"] == 12
        assert event["weekly_schedule"][0] == {"weekday": 0, "start": "08:00", "end": "12:00"}

    async def test_bad_schedule_is_422_naming_the_slot(self, h: Harness) -> None:
        await h.activate("p1")
        body = {"weekly_schedule": [{"weekday": 2, "start": "10:00", "end": "09:00"}]}
        response = await h.http.put(
            "/v1/providers/p1/availability", json=body, headers=h.tokens.provider("p1")
        )
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["body", "weekly_schedule", "0", "end"]
        bad_day = {"weekly_schedule": [{"weekday": 7, "start": "10:00", "end": "11:00"}]}
        response = await h.http.put(
            "/v1/providers/p1/availability", json=bad_day, headers=h.tokens.provider("p1")
        )
        assert response.status_code == 422

    async def test_on_duty_only_when_active(self, h: Harness) -> None:
        await h.apply("p1")
        response = await h.http.put(
            "/v1/providers/p1/availability", json={"on_duty": True}, headers=h.tokens.provider("p1")
        )
        assert response.status_code == 409 and response.json()["detail"][0]["current_state"] == "applied"

    async def test_no_position_off_duty(self, h: Harness) -> None:
        await h.activate("p1")
        response = await h.http.put(
            "/v1/providers/p1/position", json={"lat": 45.7, "lng": 4.8}, headers=h.tokens.provider("p1")
        )
        assert response.status_code == 409
        await h.settle()
        assert h.events("position-updated") == []

    async def test_position_on_duty_then_forgotten_off_duty(self, h: Harness) -> None:
        await h.activate("p1")
        me = h.tokens.provider("p1")
        await h.http.put("/v1/providers/p1/availability", json={"on_duty": True}, headers=me)
        response = await h.http.put("/v1/providers/p1/position", json={"lat": 45.7, "lng": 4.8}, headers=me)
        assert response.status_code == 200 and response.json()["position"]["lat"] == 45.7
        await h.settle()
        event = h.events("position-updated")[-1]
        assert event["aggregate_id"] == "p1" and event["payload"]["lng"] == 4.8
        await h.http.put("/v1/providers/p1/availability", json={"on_duty": False}, headers=me)
        availability = (await h.http.get("/v1/providers/p1/availability", headers=h.ops)).json()
        assert availability["position"] is None
        async with h.component.ctx.database.sessions() as session:
            row = await session.get(Provider, "p1")
            assert row is not None and row.position_lat is None and row.position_at is None

    async def test_bad_coordinates_are_422(self, h: Harness) -> None:
        await h.activate("p1")
        me = h.tokens.provider("p1")
        await h.http.put("/v1/providers/p1/availability", json={"on_duty": True}, headers=me)
        for body in ({"lat": 91, "lng": 0}, {"lat": 0, "lng": -181}, {"lat": "x", "lng": 0}, {"lat": 1}):
            response = await h.http.put("/v1/providers/p1/position", json=body, headers=me)
            assert response.status_code == 422, body

    async def test_future_position_refused(self, h: Harness) -> None:
        await h.activate("p1")
        me = h.tokens.provider("p1")
        await h.http.put("/v1/providers/p1/availability", json={"on_duty": True}, headers=me)
        body = {"lat": 1, "lng": 1, "recorded_at": "2027-01-01T00:00:00Z"}
        assert (await h.http.put("/v1/providers/p1/position", json=body, headers=me)).status_code == 422

    async def test_ops_cannot_set_a_providers_position(self, h: Harness) -> None:
        await h.activate("p1")
        response = await h.http.put("/v1/providers/p1/position", json={"lat": 1, "lng": 1}, headers=h.ops)
        assert response.status_code == 403
