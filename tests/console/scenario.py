"""Data for the console tests, made through the public API only (ops, provider and client tokens).

Also a script: `python -m tests.console.scenario http://127.0.0.1:8600` fills a running platform.
"""

from __future__ import annotations

import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from shared.testing import Tokens

VALID_SIRET = "73282932000074"
ZONES = {
    "paris-centre": ("Paris Centre", ["75001", "75002", "75003", "75004"]),
    "paris-est": ("Paris Est", ["75010", "75011", "75012", "75019", "75020"]),
    "paris-ouest": ("Paris Ouest", ["75015", "75016", "75017"]),
}
CATEGORIES = ["cleaning", "gardening", "handyman"]
RATES = {"cleaning": 2800, "gardening": 3200, "handyman": 3600}


def cell(category: str, zone: str, **overrides: Any) -> dict[str, Any]:
    """Return a publishable grid cell."""
    data: dict[str, Any] = {
        "category": category,
        "zone": zone,
        "hourly_rate_cents": RATES.get(category, 3000) + (200 if zone == "paris-ouest" else 0),
        "min_billable_min": 60,
        "travel_fee_cents": 300,
        "commission_rate": "0.20",
        "avg_travel_min": 20,
        "surcharges": {
            "evening": "0.10",
            "night": "0.25",
            "sunday": "0.20",
            "holiday": "0.50",
            "urgent": "0",
        },
    }
    data.update(overrides)
    return data


def application(**overrides: Any) -> dict[str, Any]:
    """Return a provider's application body."""
    body: dict[str, Any] = {
        "first_name": "Awa",
        "last_name": "Diallo",
        "email": "awa@example.org",
        "phone": "+33612345678",
        "date_of_birth": "1990-05-01",
        "nationality": "FR",
        "right_to_work_ref": "id-card-123",
        "siret": VALID_SIRET,
        "categories": ["cleaning"],
        "address": "3 rue Oberkampf, Paris",
        "postcode": "75011",
        "home_lat": 48.8647,
        "home_lng": 2.3780,
        "travel_radius_km": 8,
        "weekly_hours_target": 25,
    }
    body.update(overrides)
    return body


def ok(response: httpx.Response, *statuses: int) -> Any:
    """Return the JSON of a response whose status is expected; fail loudly otherwise."""
    if response.status_code not in (statuses or (200, 201)):
        raise AssertionError(
            f"{response.request.method} {response.request.url}: {response.status_code} {response.text}"
        )
    return response.json() if response.content else None


@dataclass
class Scenario:
    """What the data set holds: ids the tests refer to."""

    grid_version: int = 0
    applicant_id: str = ""
    courier_id: str = ""
    module_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class Api:
    """The public API with a token per role."""

    def __init__(self, base_url: str, tokens: Tokens | None = None) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=15)
        self.tokens = tokens or Tokens()
        self.ops = self.tokens.ops("ops-console")

    def close(self) -> None:
        self.http.close()

    def vet(
        self, provider_id: str, kinds: tuple[str, ...] = ("identity", "right_to_work", "siret", "insurance")
    ) -> None:
        """Record passed checks (insurance valid a year)."""
        for kind in kinds:
            body: dict[str, Any] = {
                "kind": kind,
                "outcome": "passed",
                "evidence_ref": f"doc-{kind}-{provider_id}",
            }
            if kind == "insurance":
                body["expires_at"] = (datetime.now(UTC) + timedelta(days=365)).isoformat()
            ok(self.http.post(f"/v1/vetting/{provider_id}/checks", json=body, headers=self.ops))

    def apply(self, provider_id: str, **overrides: Any) -> dict[str, Any]:
        body = application(**overrides)
        result: dict[str, Any] = ok(
            self.http.post("/v1/providers", json=body, headers=self.tokens.provider(provider_id))
        )
        return result

    def on_duty(self, provider_id: str, lat: float, lng: float) -> None:
        me = self.tokens.provider(provider_id)
        ok(self.http.put(f"/v1/providers/{provider_id}/availability", json={"on_duty": True}, headers=me))
        position = {"lat": lat, "lng": lng, "recorded_at": datetime.now(UTC).isoformat()}
        ok(self.http.put(f"/v1/providers/{provider_id}/position", json=position, headers=me))

    def order(self, client_id: str, category: str, postcode: str, lat: float, lng: float) -> dict[str, Any]:
        """Quote and confirm an order starting in about an hour; return the order."""
        client = self.tokens.client(client_id)
        start = (datetime.now(UTC) + timedelta(minutes=70)).replace(second=0, microsecond=0)
        quote = ok(
            self.http.post(
                "/v1/quotes",
                json={
                    "category": category,
                    "lat": lat,
                    "lng": lng,
                    "start_at": start.isoformat(),
                    "duration_min": 120,
                },
                headers=client,
            )
        )
        body = {
            "quote_id": quote["id"],
            "address": {
                "street": "12 rue de la Roquette",
                "postcode": quote["postcode"],
                "city": "Paris",
                "lat": lat,
                "lng": lng,
            },
            "access_notes": "code 1234",
            "window": {
                "start": (start - timedelta(minutes=30)).isoformat(),
                "end": (start + timedelta(hours=2)).isoformat(),
            },
        }
        headers = {**client, "Idempotency-Key": uuid.uuid4().hex}
        result: dict[str, Any] = ok(self.http.post("/v1/orders", json=body, headers=headers), 201)
        return result


def build(api: Api) -> Scenario:
    """Zones, a published grid, a training module, an active provider on duty, an applicant."""
    scenario = Scenario()
    for code, (name, postcodes) in ZONES.items():
        ok(
            api.http.post(
                "/v1/zones", json={"code": code, "name": name, "postcodes": postcodes}, headers=api.ops
            )
        )
    cells = [cell(c, z) for c in CATEGORIES for z in ZONES]
    grid = ok(api.http.post("/v1/price-grids", json={"name": "Paris 2026", "cells": cells}, headers=api.ops))
    published = ok(
        api.http.post(f"/v1/price-grids/{grid['id']}/publish", json={"reason": "first grid"}, headers=api.ops)
    )
    scenario.grid_version = published["version"]
    module = ok(
        api.http.post(
            "/v1/trainings/modules",
            json={
                "code": "garden-safety",
                "title": "Garden tools safety",
                "validity_days": 365,
                "min_score": 70,
            },
            headers=api.ops,
        )
    )
    scenario.module_id = module["id"]
    scenario.courier_id = "prov-lea"
    api.apply(
        scenario.courier_id,
        first_name="Léa",
        last_name="Martin",
        email="lea@example.org",
        categories=["cleaning", "gardening"],
        home_lat=48.858,
        home_lng=2.38,
    )
    api.vet(scenario.courier_id)
    ok(api.http.post(f"/v1/vetting/{scenario.courier_id}/approve", json={}, headers=api.ops))
    api.on_duty(scenario.courier_id, 48.8595, 2.3790)
    scenario.extra["west_id"] = "prov-karim"
    api.apply(
        "prov-karim",
        first_name="Karim",
        last_name="Benali",
        email="karim@example.org",
        categories=["cleaning"],
        postcode="75016",
        home_lat=48.8637,
        home_lng=2.2769,
    )
    api.vet("prov-karim")
    ok(api.http.post("/v1/vetting/prov-karim/approve", json={}, headers=api.ops))
    api.on_duty("prov-karim", 48.8610, 2.2800)
    scenario.extra["doubtful_id"] = "prov-max"
    api.apply("prov-max", first_name="Max", last_name="Durand", email="max@example.org", postcode="75003")
    scenario.applicant_id = "prov-awa"
    api.apply(scenario.applicant_id)
    api.vet(scenario.applicant_id, ("identity", "right_to_work", "siret"))
    return scenario


if __name__ == "__main__":
    target = Api(sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8600")
    made = build(target)
    print(made)
    print("ops token:", target.ops["Authorization"].removeprefix("Bearer "))
