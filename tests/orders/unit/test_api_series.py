"""Recurring series: occurrences made ahead of time, preferred provider, skip, end."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from services.orders.domain import PARIS
from services.orders.models import Order
from shared.outbox import OutboxRow
from shared.testing import Tokens
from tests.orders.support import Harness, order_body
from tests.orders.unit.test_api_orders import assigned


@pytest.fixture
def h(h_on_both_databases: Harness) -> Harness:
    """Every test here runs on SQLite and on PostgreSQL (series and rating jobs lock rows there)."""
    return h_on_both_databases


async def book_series(h: Harness, tokens: Tokens, frequency: str = "weekly") -> dict[str, Any]:
    quote = h.stub.add_quote(h.clock.now)
    body = order_body(quote, recurrence={"frequency": frequency})
    r = await h.http.post("/v1/orders", json=body, headers={**tokens.client("c1"), "Idempotency-Key": "s"})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def occurrences(h: Harness, series_id: str) -> list[Order]:
    async with h.component.database.sessions() as session:
        rows = await session.scalars(select(Order).where(Order.series_id == series_id)
                                     .order_by(Order.occurrence_index))
        return list(rows)


def paris_day(value: str) -> str:
    return datetime.fromisoformat(value).astimezone(PARIS).date().isoformat()


class TestSeries:
    async def test_occurrences_made_ahead_with_preferred_provider(self, h: Harness, tokens: Tokens) -> None:
        first = await book_series(h, tokens)
        sid = first["series_id"]
        assert sid is not None
        await h.emit(assigned(first["id"], provider="p7"))
        series = (await h.http.get(f"/v1/orders/series/{sid}", headers=tokens.client("c1"))).json()
        assert series["preferred_provider_id"] == "p7" and len(series["upcoming"]) == 4
        uc = h.component.use_cases.series
        assert await uc.generate_due_occurrences() == 0  # next one is 9 days away, horizon is 7
        h.clock.advance(days=3)
        assert await uc.generate_due_occurrences() == 1
        assert await uc.generate_due_occurrences() == 0  # made once
        rows = await occurrences(h, sid)
        assert [r.occurrence_index for r in rows] == [0, 1]
        second = rows[1]
        assert second.window_start - rows[0].window_start in (timedelta(days=7), timedelta(days=7, hours=1),
                                                              timedelta(days=6, hours=23))
        assert second.price_cents == rows[0].price_cents and second.start_code != ""
        async with h.component.database.sessions() as session:
            envelopes = await session.scalars(select(OutboxRow.envelope)
                                              .where(OutboxRow.type == "order-confirmed"))
            payloads = [json.loads(e)["payload"] for e in envelopes]
        made = [p for p in payloads if p["order_id"] == second.id]
        assert made and made[0]["preferred_provider_id"] == "p7" and made[0]["series_id"] == sid

    async def test_skip_and_end(self, h: Harness, tokens: Tokens) -> None:
        first = await book_series(h, tokens)
        sid = first["series_id"]
        series = (await h.http.get(f"/v1/orders/series/{sid}", headers=tokens.client("c1"))).json()
        second_day = paris_day(series["upcoming"][0])
        r = await h.http.post(f"/v1/orders/series/{sid}/skip", json={"day": second_day},
                              headers=tokens.client("c1"))
        assert r.status_code == 200 and r.json()["skipped"] == [1]
        again = await h.http.post(f"/v1/orders/series/{sid}/skip", json={"day": second_day},
                                  headers=tokens.client("c1"))
        assert again.status_code == 422
        not_a_day = (datetime.fromisoformat(series["upcoming"][0]) + timedelta(days=2)).date().isoformat()
        bad = await h.http.post(f"/v1/orders/series/{sid}/skip", json={"day": not_a_day},
                                headers=tokens.client("c1"))
        assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "day"]
        h.clock.advance(days=10)
        await h.component.use_cases.series.generate_due_occurrences()
        assert [r.occurrence_index for r in await occurrences(h, sid)] == [0, 2]
        # Skipping an occurrence already made cancels its order.
        third_day = paris_day(series["upcoming"][1])
        r = await h.http.post(f"/v1/orders/series/{sid}/skip", json={"day": third_day},
                              headers=tokens.client("c1"))
        assert r.status_code == 200
        rows = await occurrences(h, sid)
        assert rows[1].status == "cancelled"
        end = f"/v1/orders/series/{sid}/end"
        assert (await h.http.post(end, headers=tokens.client("c2"))).status_code == 404
        r = await h.http.post(end, headers=tokens.client("c1"))
        assert r.status_code == 200 and r.json()["status"] == "ended" and r.json()["upcoming"] == []
        assert (await h.http.post(end, headers=tokens.client("c1"))).status_code == 409
        h.clock.advance(days=30)
        assert await h.component.use_cases.series.generate_due_occurrences() == 0
        listed = (await h.http.get("/v1/orders/series", headers=tokens.client("c1"))).json()
        assert [s["id"] for s in listed] == [sid]
        assert (await h.http.get("/v1/orders/series", headers=tokens.client("c2"))).json() == []

    async def test_fortnightly(self, h: Harness, tokens: Tokens) -> None:
        first = await book_series(h, tokens, "fortnightly")
        series = (await h.http.get(f"/v1/orders/series/{first['series_id']}",
                                   headers=tokens.client("c1"))).json()
        gap = datetime.fromisoformat(series["upcoming"][1]) - datetime.fromisoformat(series["upcoming"][0])
        assert timedelta(days=13, hours=22) < gap < timedelta(days=14, hours=2)
