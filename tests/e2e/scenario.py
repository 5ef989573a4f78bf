"""The end-to-end scenario, driven only through the public HTTP API (httpx).

One scenario, run as it is against every mode (see conftest.py): ops publish zones and a
grid (one refused for the fair-pay floor), a provider is vetted, trained and goes on duty,
a client quotes and orders (idempotently), matching offers, the provider accepts, starts
with the client's code and completes, pricing records the payout, both sides rate each
other; a second order is cancelled (fee per policy, mission cancelled, provider's share in
the ledger); a third, in a category nobody serves, becomes `unfulfilled` with the reason.
At the end, no order was offered, assigned or given a mission more than once.

Every step asserts its status code and body; anything asynchronous is awaited with
`wait_until` (polling with a timeout), never with a fixed sleep.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import httpx

from shared.auth import Role, TokenSettings, issue_token

T = TypeVar("T")
PARIS = ZoneInfo("Europe/Paris")

# Lyon 1er: the provider lives here, every order is placed here.
POSTCODE = "69001"
HOME = (45.7675, 4.8340)
SERVED = "cleaning"  # the provider's category
UNSERVED = "transport"  # priced in the grid, nobody qualified for it
SURCHARGES = {"evening": "0.10", "night": "0.25", "sunday": "0.20", "holiday": "0.50", "urgent": "0.15"}


@dataclass(frozen=True)
class Stack:
    """A running platform: where its public API is and the secret its tokens are signed with."""

    mode: str
    base_url: str
    jwt_secret: str
    dispatch_margin_min: int  # ORDERS_DISPATCH_MARGIN_MIN the stack runs with


class StepFailed(AssertionError):
    pass


async def wait_until(
    probe: Callable[[], Awaitable[T | None]], *, timeout_s: float, what: str, interval_s: float = 0.1
) -> T:
    """Poll `probe` until it returns something truthy; fail naming `what` after the timeout."""
    deadline = time.monotonic() + timeout_s
    last: Any = None
    while True:
        last = await probe()
        if last:
            return last
        if time.monotonic() >= deadline:
            raise StepFailed(f"timed out after {timeout_s:.0f}s waiting for {what} (last: {last!r})")
        await asyncio.sleep(interval_s)


@dataclass
class Api:
    """A thin HTTP client: bearer tokens per (role, subject), status codes always checked."""

    http: httpx.AsyncClient
    stack: Stack
    _tokens: dict[tuple[Role, str], str] = field(default_factory=dict)

    def headers(self, role: Role | None, subject: str = "") -> dict[str, str]:
        if role is None:
            return {}
        key = (role, subject)
        if key not in self._tokens:
            self._tokens[key] = issue_token(TokenSettings(secret=self.stack.jwt_secret), subject, role)
        return {"Authorization": f"Bearer {self._tokens[key]}"}

    async def call(
        self,
        method: str,
        path: str,
        *,
        who: tuple[Role, str] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        all_headers = self.headers(*who) if who else {}
        all_headers.update(headers or {})
        return await self.http.request(method, path, json=json, headers=all_headers, params=params)

    async def expect(self, status: int, method: str, path: str, **kwargs: Any) -> Any:
        """Call and assert the status code; return the JSON body (None when empty)."""
        response = await self.call(method, path, **kwargs)
        if response.status_code != status:
            raise StepFailed(
                f"{method} {path}: expected {status}, got {response.status_code}: {response.text[:2000]}"
            )
        return response.json() if response.content else None


def ops(subject: str = "e2e-ops") -> tuple[Role, str]:
    return (Role.ops, subject)


def client(subject: str) -> tuple[Role, str]:
    return (Role.client, subject)


def provider(subject: str) -> tuple[Role, str]:
    return (Role.provider, subject)


def cell(category: str, zone: str, hourly_rate_cents: int) -> dict[str, Any]:
    return {
        "category": category,
        "zone": zone,
        "hourly_rate_cents": hourly_rate_cents,
        "min_billable_min": 60,
        "travel_fee_cents": 300,
        "commission_rate": "0.20",
        "avg_travel_min": 20,
        "surcharges": SURCHARGES,
    }


def start_code_hash(order_id: str, code: str) -> str:
    return hashlib.sha256(f"{order_id}:{code}".encode()).hexdigest()


class Scenario:
    """The main flow of SPEC.md, step by step; `run()` plays it all and returns what it saw."""

    def __init__(self, api: Api, *, event_timeout_s: float = 20.0) -> None:
        self.api = api
        self.timeout = event_timeout_s
        run = uuid.uuid4().hex[:8]
        self.zone = f"e2e-{run}"
        self.provider_id = f"e2e-provider-{run}"
        self.client_id = f"e2e-client-{run}"
        self.other_client_id = f"e2e-other-{run}"
        self.module_id = ""
        self.log: list[str] = []
        # every order the scenario placed, by what happened to it
        self.orders: dict[str, str] = {}

    def note(self, text: str) -> None:
        self.log.append(f"{time.strftime('%H:%M:%S')} {text}")

    async def run(self) -> list[str]:
        await self.health()
        await self.publish_market()
        await self.vet_provider()
        await self.go_on_duty()
        first = await self.order_and_complete()
        await self.rate_each_other(first)
        await self.cancel_an_order()
        await self.unfulfilled_order()
        await self.nothing_assigned_twice()
        return self.log

    # ------------------------------------------------------------------ 0. the stack answers

    async def health(self) -> None:
        assert (await self.api.expect(200, "GET", "/healthz"))["status"] == "ok"
        await self.api.expect(401, "GET", "/v1/providers")  # no token
        await self.api.expect(403, "GET", "/v1/providers", who=client(self.client_id))  # wrong role
        self.note("stack answers; 401 without a token, 403 for the wrong role")

    # ------------------------------------------------------------------ 1. zones and a grid

    async def publish_market(self) -> None:
        api = self.api
        zone = await api.expect(
            201,
            "POST",
            "/v1/zones",
            who=ops(),
            json={"code": self.zone, "name": "Lyon presqu'île (e2e)", "postcodes": ["69001", "69002"]},
        )
        assert zone["code"] == self.zone and sorted(zone["postcodes"]) == ["69001", "69002"]
        await api.expect(
            403,
            "POST",
            "/v1/zones",
            who=client(self.client_id),
            json={"code": "x-zone", "name": "x", "postcodes": ["69003"]},
        )
        resolved = await api.expect(200, "GET", "/v1/zones/resolve", params={"postcode": POSTCODE})
        assert resolved["code"] == self.zone, resolved

        # A grid below the fair-pay floor: refused with the offending cell, nothing published.
        low = await api.expect(
            201,
            "POST",
            "/v1/price-grids",
            who=ops(),
            json={"name": "e2e too cheap", "cells": [cell(SERVED, self.zone, 900)]},
        )
        refused = await api.expect(
            422,
            "POST",
            f"/v1/price-grids/{low['id']}/publish",
            who=ops(),
            json={"reason": "e2e: should be refused"},
        )
        assert SERVED in str(refused) and self.zone in str(refused), refused
        current = await api.call("GET", "/v1/price-grids/current", who=ops())
        assert current.status_code == 404, (current.status_code, current.text)
        self.note("a grid below the fair-pay floor is refused (422 naming the cell); nothing in force")

        good = await api.expect(
            201,
            "POST",
            "/v1/price-grids",
            who=ops(),
            json={
                "name": "e2e grid",
                "cells": [cell(SERVED, self.zone, 2800), cell(UNSERVED, self.zone, 3000)],
            },
        )
        published = await api.expect(
            200,
            "POST",
            f"/v1/price-grids/{good['id']}/publish",
            who=ops(),
            json={"reason": "e2e: first grid"},
        )
        assert published["status"] == "published" and published["version"] == 1, published
        current = await api.expect(200, "GET", "/v1/price-grids/current", who=ops())
        assert current["version"] == 1 and {c["category"] for c in current["cells"]} == {SERVED, UNSERVED}
        self.note("zone created, grid v1 published and in force")

    # ------------------------------------------------------------------ 2. vetting and training

    async def vet_provider(self) -> None:
        api, pid = self.api, self.provider_id
        me = provider(pid)
        module = await api.expect(
            201,
            "POST",
            "/v1/trainings/modules",
            who=ops(),
            json={
                "code": f"clean-{pid[-8:]}",
                "title": "Cleaning basics (e2e)",
                "validity_days": 365,
                "min_score": 70,
            },
        )
        self.module_id = module["id"]
        reqs = await api.expect(
            200,
            "PUT",
            f"/v1/trainings/requirements/{SERVED}",
            who=ops(),
            json={"module_ids": [self.module_id]},
        )
        assert reqs["module_ids"] == [self.module_id], reqs

        applied = await api.expect(
            201,
            "POST",
            "/v1/providers",
            who=me,
            json={
                "first_name": "Amina",
                "last_name": "Diallo",
                "email": f"{pid}@example.org",
                "phone": "+33612345678",
                "date_of_birth": "1990-04-12",
                "nationality": "FR",
                "right_to_work_ref": "CNI-123456",
                "siret": "73282932000074",
                "categories": [SERVED],
                "address": "12 rue de la République, Lyon",
                "postcode": POSTCODE,
                "home_lat": HOME[0],
                "home_lng": HOME[1],
                "travel_radius_km": 10,
                "weekly_hours_target": 30,
            },
        )
        assert applied["id"] == pid and applied["status"] == "applied", applied
        assert applied["qualifications"]["qualified"] == []
        # an application is not approved before its review: 409 naming the state
        refused = await api.expect(409, "POST", f"/v1/vetting/{pid}/approve", who=ops(), json={})
        assert "applied" in str(refused), refused

        expires = (datetime.now(UTC) + timedelta(days=365)).isoformat()
        for i, kind in enumerate(("identity", "right_to_work", "siret", "insurance")):
            if i == 1:  # under review with checks missing: refused, naming what is missing
                refused = await api.expect(409, "POST", f"/v1/vetting/{pid}/approve", who=ops(), json={})
                assert "insurance" in str(refused) and "siret" in str(refused), refused
            check = await api.expect(
                201,
                "POST",
                f"/v1/vetting/{pid}/checks",
                who=ops(),
                json={
                    "kind": kind,
                    "outcome": "passed",
                    "evidence_ref": f"e2e:{kind}",
                    "expires_at": expires,
                },
            )
            assert check["kind"] == kind and check["outcome"] == "passed", check
        record = await api.expect(200, "GET", f"/v1/providers/{pid}", who=me)
        assert record["status"] == "under_review", record
        approved = await api.expect(
            200, "POST", f"/v1/vetting/{pid}/approve", who=ops(), json={"reason": "all checks passed (e2e)"}
        )
        # approved, but the category's training is still missing: not active yet
        assert approved["status"] == "approved", approved
        missing = [m["item"] for c in approved["qualifications"]["categories"] for m in c["missing"]]
        assert any(self.module_id in item or "training" in item for item in missing), missing

        done = await api.expect(
            201,
            "POST",
            f"/v1/providers/{pid}/trainings",
            who=ops(),
            json={"module_id": self.module_id, "score": 92},
        )
        assert done["module_id"] == self.module_id, done
        active = await api.expect(200, "GET", f"/v1/providers/{pid}", who=me)
        assert active["status"] == "active", active
        assert active["qualifications"]["qualified"] == [SERVED], active["qualifications"]
        self.note("provider applied, checked, approved, trained: active, qualified for cleaning")

    async def go_on_duty(self) -> None:
        api, pid = self.api, self.provider_id
        me = provider(pid)
        # no position while off duty
        await api.expect(
            409, "PUT", f"/v1/providers/{pid}/position", who=me, json={"lat": HOME[0], "lng": HOME[1]}
        )
        week = [{"weekday": d, "start": "08:00", "end": "20:00"} for d in range(7)]
        duty = await api.expect(
            200,
            "PUT",
            f"/v1/providers/{pid}/availability",
            who=me,
            json={"on_duty": True, "weekly_schedule": week},
        )
        assert duty["on_duty"] is True and len(duty["weekly_schedule"]) == 7, duty
        pos = await api.expect(
            200,
            "PUT",
            f"/v1/providers/{pid}/position",
            who=me,
            json={"lat": HOME[0] + 0.001, "lng": HOME[1] + 0.001},
        )
        assert pos["position"] is not None and abs(pos["position"]["lat"] - (HOME[0] + 0.001)) < 1e-6, pos
        self.note("provider on duty with a weekly schedule and a position")

    # ------------------------------------------------------------------ 3. quote and order

    async def quote(self, who: str, category: str, start_at: datetime, duration_min: int) -> dict[str, Any]:
        quote = await self.api.expect(
            201,
            "POST",
            "/v1/quotes",
            who=client(who),
            json={
                "category": category,
                "postcode": POSTCODE,
                "start_at": start_at.isoformat(),
                "duration_min": duration_min,
            },
        )
        assert quote["client_id"] == who and quote["zone"] == self.zone, quote
        assert quote["grid_version"] == 1 and quote["category"] == category, quote
        assert quote["price_cents"] == quote["payout_cents"] + quote["commission_cents"], quote
        again = await self.api.expect(200, "GET", f"/v1/quotes/{quote['id']}")  # public read
        assert again["price_cents"] == quote["price_cents"]
        return quote

    async def confirm(
        self, who: str, quote: dict[str, Any], window_start: datetime, window_end: datetime, key: str
    ) -> dict[str, Any]:
        body = {
            "quote_id": quote["id"],
            "address": {
                "street": "3 place des Terreaux",
                "postcode": POSTCODE,
                "city": "Lyon",
                "lat": quote["lat"],
                "lng": quote["lng"],
            },
            "access_notes": "code 1234, 2nd floor",
            "window": {"start": window_start.isoformat(), "end": window_end.isoformat()},
        }
        order = await self.api.expect(
            201, "POST", "/v1/orders", who=client(who), json=body, headers={"Idempotency-Key": key}
        )
        assert order["status"] == "confirmed" and order["client_id"] == who, order
        assert order["price_cents"] == quote["price_cents"] and order["quote_id"] == quote["id"], order
        assert order["start_code"] is None, "the start code is shown only once assigned"
        return order

    async def order_status(self, order_id: str, who: str, status: str) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            order = await self.api.expect(200, "GET", f"/v1/orders/{order_id}", who=client(who))
            return order if order["status"] == status else None

        return await wait_until(probe, timeout_s=self.timeout, what=f"order {order_id} to be {status}")

    async def live_offer(self, order_id: str) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            offers = await self.api.expect(200, "GET", "/v1/offers", who=provider(self.provider_id))
            return next((o for o in offers if o["order_id"] == order_id), None)

        return await wait_until(probe, timeout_s=self.timeout, what=f"an offer for order {order_id}")

    async def order_and_complete(self) -> dict[str, Any]:
        api, cid, pid = self.api, self.client_id, self.provider_id
        start = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
        quote = await self.quote(cid, SERVED, start, 120)
        key = f"e2e-{uuid.uuid4().hex}"
        order = await self.confirm(cid, quote, start, start + timedelta(hours=3), key)
        replay = await self.confirm(cid, quote, start, start + timedelta(hours=3), key)
        assert replay["id"] == order["id"], (replay["id"], order["id"])
        mine = await api.expect(200, "GET", "/v1/orders", who=client(cid))
        assert [o["id"] for o in mine] == [order["id"]], "the replay made no second order"
        self.orders["completed"] = order["id"]
        # a client never sees another's order
        await api.expect(404, "GET", f"/v1/orders/{order['id']}", who=client(self.other_client_id))
        self.note(f"order {order['id']} confirmed; replayed Idempotency-Key returned the same order")

        offer = await self.live_offer(order["id"])
        assert offer["status"] == "pending" and offer["category"] == SERVED, offer
        assert offer["payout_cents"] == quote["payout_cents"], (offer, quote)
        assert offer["address"] is None, "the address is shown only once the offer is accepted"
        mission = await api.expect(200, "POST", f"/v1/offers/{offer['id']}/accept", who=provider(pid))
        assert mission["status"] == "assigned" and mission["order_id"] == order["id"], mission
        assert mission["provider_id"] == pid and mission["address"].startswith("3 place des Terreaux"), (
            mission
        )
        again = await api.expect(409, "POST", f"/v1/offers/{offer['id']}/accept", who=provider(pid))
        assert "accepted" in str(again), again
        self.note(f"offer {offer['id']} made and accepted: mission {mission['id']}")

        assigned = await self.order_status(order["id"], cid, "assigned")
        code = assigned["start_code"]
        assert code and code.isdigit() and len(code) == 6, assigned
        assert assigned["provider"]["provider_id"] == pid and assigned["provider"]["first_name"] == "Amina"
        self.note("order assigned; the client reads the start code")

        wrong = "000000" if code != "000000" else "111111"
        bad = await api.call(
            "POST", f"/v1/missions/{mission['id']}/start", who=provider(pid), json={"code": wrong}
        )
        assert bad.status_code in (403, 409, 422), (bad.status_code, bad.text)
        started = await api.expect(
            200, "POST", f"/v1/missions/{mission['id']}/start", who=provider(pid), json={"code": code}
        )
        assert started["status"] == "started" and started["started_at"], started
        await self.order_status(order["id"], cid, "in_progress")
        completed = await api.expect(200, "POST", f"/v1/missions/{mission['id']}/complete", who=provider(pid))
        assert completed["status"] == "completed" and completed["completed_at"], completed
        done = await self.order_status(order["id"], cid, "completed")
        assert done["completed_at"], done
        self.note("mission started with the code and completed; order completed")

        period = datetime.now(UTC).strftime("%Y-%m")

        async def payout() -> dict[str, Any] | None:
            ledger = await api.expect(200, "GET", "/v1/payouts", who=provider(pid), params={"period": period})
            lines = [
                e
                for e in ledger["entries"]
                if e.get("kind") == "mission" and e.get("order_id") == order["id"]
            ]
            return ledger if lines else None

        ledger = await wait_until(payout, timeout_s=self.timeout, what="the mission's payout in the ledger")
        line = next(e for e in ledger["entries"] if e.get("kind") == "mission")
        assert line["amount_cents"] == quote["payout_cents"], (line, quote["payout_cents"])
        assert line["mission_id"] == mission["id"], line
        self.note(f"pricing's ledger shows the payout ({line['amount_cents']} cents)")
        return {"order": order, "mission": mission}

    # ------------------------------------------------------------------ 4. reciprocal ratings

    async def rate_each_other(self, first: dict[str, Any]) -> None:
        api, cid, pid = self.api, self.client_id, self.provider_id
        order_id = first["order"]["id"]
        mine = await api.expect(
            201,
            "POST",
            f"/v1/orders/{order_id}/rating",
            who=client(cid),
            json={"score": 5, "comment": "parfait"},
        )
        assert mine["rater_role"] == "client" and mine["revealed"] is False, mine
        # double-blind: the provider does not see the client's rating yet
        seen = await api.expect(200, "GET", f"/v1/orders/{order_id}/ratings", who=provider(pid))
        assert seen == [], seen
        await api.expect(409, "POST", f"/v1/orders/{order_id}/rating", who=client(cid), json={"score": 4})
        theirs = await api.expect(
            201,
            "POST",
            f"/v1/orders/{order_id}/rating",
            who=provider(pid),
            json={"score": 4, "comment": "client accueillant"},
        )
        assert theirs["rater_role"] == "provider", theirs

        async def revealed() -> list[dict[str, Any]] | None:
            rows = await api.expect(200, "GET", f"/v1/orders/{order_id}/ratings", who=client(cid))
            return rows if len(rows) == 2 and all(r["revealed"] for r in rows) else None

        rows = await wait_until(revealed, timeout_s=self.timeout, what="both ratings revealed")
        assert {(r["rater_role"], r["score"]) for r in rows} == {("client", 5), ("provider", 4)}, rows
        seen = await api.expect(200, "GET", f"/v1/orders/{order_id}/ratings", who=provider(pid))
        assert {r["rater_role"] for r in seen} == {"client", "provider"}, seen

        async def reputation() -> dict[str, Any] | None:
            rep = await api.expect(200, "GET", f"/v1/providers/{pid}/reputation", who=provider(pid))
            return rep if rep.get("rating_count") == 1 else None

        rep = await wait_until(
            reputation, timeout_s=self.timeout, what="the provider's reputation to count the rating"
        )
        assert rep["rating_average"] == 5.0, rep
        self.note("both rated; ratings revealed; the provider's reputation counts the client's 5")

    # ------------------------------------------------------------------ 5. a cancellation

    async def cancel_an_order(self) -> None:
        api, cid, pid = self.api, self.client_id, self.provider_id
        start = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
        quote = await self.quote(cid, SERVED, start, 60)
        order = await self.confirm(cid, quote, start, start + timedelta(hours=2), f"e2e-{uuid.uuid4().hex}")
        self.orders["cancelled_when_assigned"] = order["id"]
        offer = await self.live_offer(order["id"])
        mission = await api.expect(200, "POST", f"/v1/offers/{offer['id']}/accept", who=provider(pid))
        await self.order_status(order["id"], cid, "assigned")

        policy = await api.expect(200, "GET", "/v1/orders/cancellation-policy", who=client(cid))
        hours_left = (start - datetime.now(UTC)).total_seconds() / 3600
        tier = next(
            t
            for t in sorted(policy["tiers"], key=lambda t: -t["min_hours_before"])
            if hours_left >= t["min_hours_before"]
        )
        fee = int(
            (Decimal(order["price_cents"]) * Decimal(str(tier["fee_percent"])) / 100).quantize(
                Decimal(1), rounding=ROUND_HALF_UP
            )
        )
        share = int(
            (Decimal(fee) * Decimal(str(policy["provider_share_percent"])) / 100).quantize(
                Decimal(1), rounding=ROUND_HALF_UP
            )
        )
        assert fee > 0, (policy, hours_left)

        await api.expect(
            404,
            "POST",
            f"/v1/orders/{order['id']}/cancel",
            who=client(self.other_client_id),
            json={"reason": "not mine"},
        )
        cancelled = await api.expect(
            200, "POST", f"/v1/orders/{order['id']}/cancel", who=client(cid), json={"reason": "plans changed"}
        )
        assert cancelled["status"] == "cancelled" and cancelled["cancelled_by"] == "client", cancelled
        assert cancelled["fee_cents"] == fee, (cancelled["fee_cents"], fee, policy)
        await api.expect(
            409, "POST", f"/v1/orders/{order['id']}/cancel", who=client(cid), json={"reason": "twice"}
        )
        self.note(
            f"order {order['id']} cancelled by the client with a {fee}-cent fee ({tier['fee_percent']} %)"
        )

        async def mission_cancelled() -> dict[str, Any] | None:
            m = await api.expect(200, "GET", f"/v1/missions/{mission['id']}", who=provider(pid))
            return m if m["status"] == "cancelled" else None

        m = await wait_until(mission_cancelled, timeout_s=self.timeout, what="the mission to be cancelled")
        assert m["address"] is None, "no address once the mission is not live"
        await api.expect(
            409, "POST", f"/v1/missions/{mission['id']}/start", who=provider(pid), json={"code": "123456"}
        )
        period = datetime.now(UTC).strftime("%Y-%m")

        async def share_line() -> dict[str, Any] | None:
            ledger = await api.expect(200, "GET", "/v1/payouts", who=provider(pid), params={"period": period})
            return next(
                (
                    e
                    for e in ledger["entries"]
                    if e.get("kind") == "cancellation" and e.get("order_id") == order["id"]
                ),
                None,
            )

        line = await wait_until(share_line, timeout_s=self.timeout, what="the provider's share of the fee")
        assert line["amount_cents"] == share, (line, share)
        self.note(f"mission cancelled; the provider's share ({share} cents) is in the ledger")

        # an order cancelled while its offer is pending: the offer is withdrawn
        # two days ahead at 14:00 Paris time: inside the provider's weekly schedule, > 24 h ahead
        paris = datetime.now(PARIS) + timedelta(days=2)
        start = paris.replace(hour=14, minute=0, second=0, microsecond=0).astimezone(UTC)
        quote = await self.quote(cid, SERVED, start, 60)
        order = await self.confirm(cid, quote, start, start + timedelta(hours=2), f"e2e-{uuid.uuid4().hex}")
        self.orders["cancelled_when_offered"] = order["id"]
        offer = await self.live_offer(order["id"])
        cancelled = await api.expect(
            200,
            "POST",
            f"/v1/orders/{order['id']}/cancel",
            who=client(cid),
            json={"reason": "found someone else"},
        )
        assert cancelled["status"] == "cancelled" and cancelled["fee_cents"] == 0, cancelled

        async def withdrawn() -> dict[str, Any] | None:
            o = await api.expect(200, "GET", f"/v1/offers/{offer['id']}", who=provider(pid))
            return o if o["status"] == "withdrawn" else None

        await wait_until(withdrawn, timeout_s=self.timeout, what="the pending offer to be withdrawn")
        await api.expect(409, "POST", f"/v1/offers/{offer['id']}/accept", who=provider(pid))
        self.note("an order cancelled more than 24 h ahead: no fee, its pending offer withdrawn")

    # ------------------------------------------------------------------ 6. nobody can take it

    async def unfulfilled_order(self) -> None:
        cid = self.client_id
        margin = timedelta(minutes=self.api.stack.dispatch_margin_min)
        duration = 15
        # the dispatch deadline (window end - duration - margin) falls a few seconds from now
        start = datetime.now(UTC) + timedelta(seconds=10)
        end = start + timedelta(minutes=duration) + margin
        quote = await self.quote(cid, UNSERVED, start, duration)
        order = await self.confirm(cid, quote, start, end, f"e2e-{uuid.uuid4().hex}")
        self.orders["unfulfilled"] = order["id"]
        assert datetime.fromisoformat(order["dispatch_deadline"]) <= start + timedelta(seconds=1), order
        gone = await self.order_status(order["id"], cid, "unfulfilled")
        last = gone["history"][-1]
        assert last["to_status"] == "unfulfilled" and last["reason"], gone["history"]
        # the reason says why: nobody is qualified for the category (not "nobody is active")
        assert UNSERVED in last["reason"], last
        self.note(f"order in {UNSERVED} (nobody qualified) unfulfilled: {last['reason']!r}")

    # ------------------------------------------------------------------ 7. one assignment per order

    async def nothing_assigned_twice(self) -> None:
        """Each order got at most one offer and one mission, and went to `assigned` at most once."""
        api, cid = self.api, self.client_id
        assigned = {self.orders["completed"], self.orders["cancelled_when_assigned"]}
        offered = assigned | {self.orders["cancelled_when_offered"]}
        missions = await api.expect(200, "GET", "/v1/missions", who=ops())
        offers = await api.expect(
            200, "GET", "/v1/offers", who=provider(self.provider_id), params={"status": "all"}
        )
        for what, order_id in self.orders.items():
            order = await api.expect(200, "GET", f"/v1/orders/{order_id}", who=client(cid))
            times_assigned = sum(1 for h in order["history"] if h["to_status"] == "assigned")
            its_missions = [m["id"] for m in missions if m["order_id"] == order_id]
            its_offers = [o["id"] for o in offers if o["order_id"] == order_id]
            expected = 1 if order_id in assigned else 0
            assert times_assigned == expected, (what, order["history"])
            assert len(its_missions) == expected, (what, its_missions)
            assert len(its_offers) == (1 if order_id in offered else 0), (what, its_offers)
        self.note(f"{len(self.orders)} orders: each offered and assigned at most once, one mission each")
