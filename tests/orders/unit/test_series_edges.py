"""Series edge cases: an occurrence already past its dispatch deadline is not made; skipping an
occurrence whose order is already cancelled (or given up) is simply recorded."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from structlog.testing import capture_logs

from shared.events.matching import OrderUnassignable
from shared.outbox import OutboxRow
from shared.testing import Tokens
from tests.orders.support import Harness, order_body
from tests.orders.unit.test_api_series import book_series, occurrences, paris_day


@pytest.fixture
def h(h_on_both_databases: Harness) -> Harness:
    """Every test here runs on SQLite and on PostgreSQL (series and rating jobs lock rows there)."""
    return h_on_both_databases


async def book_tight_series(h: Harness, tokens: Tokens) -> dict[str, Any]:
    """A weekly series whose window is the job's length: its deadline is 30 min before the start."""
    start = h.clock.now + timedelta(days=2)
    quote = h.stub.add_quote(h.clock.now, start_at=start)
    window = {"start": start.isoformat(), "end": (start + timedelta(minutes=120)).isoformat()}
    body = order_body(quote, window=window, recurrence={"frequency": "weekly"})
    r = await h.http.post("/v1/orders", json=body, headers={**tokens.client("c1"), "Idempotency-Key": "t"})
    assert r.status_code == 201, r.text
    return dict(r.json())


async def cancelled_events(h: Harness, order_id: str) -> list[dict[str, Any]]:
    async with h.component.database.sessions() as session:
        rows = await session.scalars(select(OutboxRow.envelope).where(OutboxRow.type == "order-cancelled"))
        return [p for p in (json.loads(r)["payload"] for r in rows) if p["order_id"] == order_id]


class TestOccurrencePastItsDeadline:
    async def test_is_passed_over_with_a_logged_reason_and_the_next_one_is_made(
        self, h: Harness, tokens: Tokens
    ) -> None:
        first = await book_tight_series(h, tokens)
        sid = first["series_id"]
        series = (await h.http.get(f"/v1/orders/series/{sid}", headers=tokens.client("c1"))).json()
        second_start = datetime.fromisoformat(series["upcoming"][0])
        # 10 min before the second occurrence: it starts ahead, but its deadline passed 20 min ago
        # (the series job was down, say).
        h.clock.advance(seconds=(second_start - h.clock.now).total_seconds() - 600)
        uc = h.component.use_cases.series
        with capture_logs() as logs:
            assert await uc.generate_due_occurrences() == 0
        passed_over = [e for e in logs if e["event"] == "series_occurrence_passed_over"]
        assert [(e["series_id"], e["index"]) for e in passed_over] == [(sid, 1)]
        assert "deadline" in passed_over[0]["reason"]
        assert [o.occurrence_index for o in await occurrences(h, sid)] == [0]
        series = (await h.http.get(f"/v1/orders/series/{sid}", headers=tokens.client("c1"))).json()
        assert series["next_index"] == 2 and series["skipped"] == []

        with capture_logs() as logs:  # not reported again on the next run
            assert await uc.generate_due_occurrences() == 0
        assert not [e for e in logs if e["event"] == "series_occurrence_passed_over"]

        h.clock.advance(hours=1)  # the third occurrence enters the horizon, well before its deadline
        assert await uc.generate_due_occurrences() == 1
        made = await occurrences(h, sid)
        assert [o.occurrence_index for o in made] == [0, 2]
        assert made[1].dispatch_deadline > h.clock.now and made[1].status == "confirmed"


class TestSkipAnOccurrenceAlreadyOver:
    async def _made_second_occurrence(self, h: Harness, tokens: Tokens) -> tuple[str, str, str]:
        first = await book_series(h, tokens)
        sid = first["series_id"]
        h.clock.advance(days=3)
        assert await h.component.use_cases.series.generate_due_occurrences() == 1
        second = (await occurrences(h, sid))[1]
        return sid, second.id, paris_day(second.window_start.isoformat())

    async def test_skipping_an_order_the_client_already_cancelled_is_ok(
        self, h: Harness, tokens: Tokens
    ) -> None:
        sid, order_id, day = await self._made_second_occurrence(h, tokens)
        r = await h.http.post(f"/v1/orders/{order_id}/cancel", json={"reason": "away that week"},
                              headers=tokens.client("c1"))
        assert r.status_code == 200, r.text

        r = await h.http.post(f"/v1/orders/series/{sid}/skip", json={"day": day}, headers=tokens.client("c1"))
        assert r.status_code == 200, r.text
        assert r.json()["skipped"] == [1]
        order = (await h.http.get(f"/v1/orders/{order_id}", headers=tokens.client("c1"))).json()
        assert [e["to_status"] for e in order["history"]] == ["confirmed", "cancelled"]
        assert order["cancel_reason"] == "away that week"  # the first cancellation stands
        assert len(await cancelled_events(h, order_id)) == 1  # no second cancellation sent

    async def test_skipping_an_order_already_given_up_is_ok(self, h: Harness, tokens: Tokens) -> None:
        sid, order_id, day = await self._made_second_occurrence(h, tokens)
        await h.emit(OrderUnassignable(order_id=order_id, reason="no provider in range"))
        r = await h.http.post(f"/v1/orders/series/{sid}/skip", json={"day": day}, headers=tokens.client("c1"))
        assert r.status_code == 200, r.text
        assert r.json()["skipped"] == [1]
        order = (await h.http.get(f"/v1/orders/{order_id}", headers=tokens.client("c1"))).json()
        assert order["status"] == "unfulfilled" and await cancelled_events(h, order_id) == []

    async def test_skipping_a_live_order_still_cancels_it(self, h: Harness, tokens: Tokens) -> None:
        sid, order_id, day = await self._made_second_occurrence(h, tokens)
        r = await h.http.post(f"/v1/orders/series/{sid}/skip", json={"day": day}, headers=tokens.client("c1"))
        assert r.status_code == 200, r.text
        order = (await h.http.get(f"/v1/orders/{order_id}", headers=tokens.client("c1"))).json()
        assert order["status"] == "cancelled" and order["cancel_reason"] == "occurrence skipped"
        assert len(await cancelled_events(h, order_id)) == 1
