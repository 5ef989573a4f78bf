from __future__ import annotations

from datetime import UTC, datetime

from shared.db import wait_for
from shared.events import topic_for
from shared.events.envelope import Envelope
from shared.events.orders import OrderCancelled
from shared.events.providers import BonusAwarded
from tests.pricing.conftest import Pricing
from tests.pricing.events import deliver, mission_completed
from tests.pricing.unit.helpers import OPS, TOKENS

P1 = TOKENS.provider("p1")


async def ledger(p: Pricing, headers: dict[str, str] = P1, **params: str) -> dict[str, object]:
    r = await p.client.get("/v1/payouts", params=params, headers=headers)
    assert r.status_code == 200, r.text
    result: dict[str, object] = r.json()
    return result


async def payout_events(p: Pricing, count: int) -> list[Envelope]:
    async def seen() -> list[Envelope] | None:
        found = [Envelope.from_json(m.value) for m in p.bus.messages(topic_for("pricing"))]
        found = [e for e in found if e.type == "payout-recorded"]
        return found if len(found) >= count else None

    result: list[Envelope] = await wait_for(seen, timeout=5)
    return result


class TestMissionCompleted:
    async def test_records_one_line_even_when_redelivered(self, pricing: Pricing) -> None:
        env = await deliver(pricing.bus, mission_completed())
        await deliver(pricing.bus, mission_completed(), env)  # the same event again
        await deliver(pricing.bus, mission_completed())  # the same fact under a new event id
        await pricing.bus.drain()
        lines = (await ledger(pricing))["entries"]
        assert isinstance(lines, list) and len(lines) == 1
        assert lines[0]["kind"] == "mission" and lines[0]["amount_cents"] == 3900
        assert lines[0]["commission_cents"] == 900 and lines[0]["mission_id"] == "m1"
        (event,) = await payout_events(pricing, 1)
        assert event.payload["provider_id"] == "p1" and event.payload["amount_cents"] == 3900
        assert event.aggregate_id == "p1"

    async def test_travel_supplement_is_its_own_line(self, pricing: Pricing) -> None:
        await deliver(pricing.bus, mission_completed(travel_supplement_cents=250))
        await pricing.bus.drain()
        lines = (await ledger(pricing))["entries"]
        assert isinstance(lines, list)
        assert sorted((x["kind"], x["amount_cents"]) for x in lines) == [
            ("mission", 3900),
            ("travel_supplement", 250),
        ]
        await payout_events(pricing, 2)


class TestCancellationAndBonus:
    async def test_fee_share_and_bonus_are_credited(self, pricing: Pricing) -> None:
        cancel = OrderCancelled(
            order_id="o9",
            cancelled_by="client",
            reason="changed plans",
            fee_cents=1000,
            provider_share_cents=600,
            provider_id="p1",
        )
        bonus = BonusAwarded(
            provider_id="p1", award_id="a1", rule_id="r1", period="2026-11", amount_cents=2000
        )
        env = await deliver(pricing.bus, cancel)
        await deliver(pricing.bus, cancel, env)
        await deliver(pricing.bus, bonus)
        await deliver(pricing.bus, OrderCancelled(order_id="o10", cancelled_by="client", reason="x"))
        await pricing.bus.drain()
        lines = (await ledger(pricing))["entries"]
        assert isinstance(lines, list)
        assert sorted((x["kind"], x["amount_cents"], x["commission_cents"]) for x in lines) == [
            ("bonus", 2000, 0),
            ("cancellation", 600, 400),
        ]


class TestLedgerAccess:
    async def test_a_provider_reads_only_their_own_ledger(self, pricing: Pricing) -> None:
        await deliver(pricing.bus, mission_completed())
        await pricing.bus.drain()
        r = await pricing.client.get(
            "/v1/payouts", params={"provider_id": "p1"}, headers=TOKENS.provider("p2")
        )
        assert r.status_code == 404
        assert (await ledger(pricing, TOKENS.provider("p2")))["entries"] == []
        entry = (await ledger(pricing))["entries"][0]  # type: ignore[index]
        assert (await pricing.client.get(f"/v1/payouts/{entry['id']}", headers=P1)).status_code == 200
        r = await pricing.client.get(f"/v1/payouts/{entry['id']}", headers=TOKENS.provider("p2"))
        assert r.status_code == 404
        r = await pricing.client.get("/v1/statements/p1/monthly/2026-11", headers=TOKENS.provider("p2"))
        assert r.status_code == 404
        r = await pricing.client.get("/v1/statements/p1/annual/2026", headers=TOKENS.provider("p2"))
        assert r.status_code == 404

    async def test_ops_read_any_named_ledger(self, pricing: Pricing) -> None:
        await deliver(pricing.bus, mission_completed())
        await pricing.bus.drain()
        assert len((await ledger(pricing, OPS, provider_id="p1"))["entries"]) == 1  # type: ignore[arg-type]
        assert (await pricing.client.get("/v1/payouts", headers=OPS)).status_code == 422

    async def test_clients_have_no_ledger(self, pricing: Pricing) -> None:
        assert (await pricing.client.get("/v1/payouts", headers=TOKENS.client("c1"))).status_code == 403
        assert (await pricing.client.get("/v1/payouts")).status_code == 401

    async def test_period_filter(self, pricing: Pricing) -> None:
        await deliver(pricing.bus, mission_completed())
        # 31 Dec 23:30 UTC is already January in Paris
        late = datetime(2026, 12, 31, 23, 30, tzinfo=UTC)
        await deliver(pricing.bus, mission_completed(mission_id="m2", completed_at=late))
        await pricing.bus.drain()
        assert len((await ledger(pricing, period="2026-11"))["entries"]) == 1  # type: ignore[arg-type]
        assert (await ledger(pricing, period="2026-12"))["entries"] == []
        assert len((await ledger(pricing, period="2027-01"))["entries"]) == 1  # type: ignore[arg-type]
        r = await pricing.client.get("/v1/payouts", params={"period": "2026-13"}, headers=P1)
        assert r.status_code == 422


class TestStatements:
    async def test_monthly_statement_in_three_formats(self, pricing: Pricing) -> None:
        await deliver(pricing.bus, mission_completed())
        await deliver(pricing.bus, mission_completed(mission_id="m2", payout_cents=5000, price_cents=6000))
        await pricing.bus.drain()
        r = await pricing.client.get("/v1/statements/p1/monthly/2026-11", headers=P1)
        s = r.json()
        assert s["totals"]["payout_cents"] == 8900 and s["totals"]["missions"] == 2
        assert s["totals"]["commission_cents"] == 1900
        assert s["totals"]["contributions_cents"] == 1887  # 21.2 % of 89.00 € = 18.868 -> 18.87
        assert s["totals"]["net_after_contributions_cents"] == 8900 - 1887
        assert s["obligations"]["threshold_reached"] is False
        csv = await pricing.client.get("/v1/statements/p1/monthly/2026-11?format=csv", headers=P1)
        assert csv.headers["content-type"].startswith("text/csv") and "total_payout_cents,8900" in csv.text
        pdf = await pricing.client.get("/v1/statements/p1/monthly/2026-11?format=pdf", headers=P1)
        assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")

    async def test_annual_statement_has_dac7_figures_and_obligations(self, pricing: Pricing) -> None:
        for i in range(3):
            await deliver(
                pricing.bus,
                mission_completed(
                    mission_id=f"m{i}",
                    payout_cents=300_000,
                    price_cents=360_000,
                    completed_at=datetime(2026, 3 + i * 3, 10, 12, tzinfo=UTC),
                ),
            )
        await pricing.bus.drain()
        s = (await pricing.client.get("/v1/statements/p1/annual/2026", headers=OPS)).json()
        assert s["dac7"]["consideration_cents"] == 900_000
        assert s["dac7"]["fees_cents"] == 180_000 and s["dac7"]["activities"] == 3
        assert [q["activities"] for q in s["dac7"]["quarters"]] == [1, 1, 1, 0]
        o = s["obligations"]
        assert o["threshold_cents"] == 624_780 and o["threshold_reached"] is True
        assert o["training_contribution_cents"] == 1800
        assert o["accident_insurance_reimbursement_cents"] == 9450
        # the monthly view shows the threshold crossed in June, not yet in March
        march = (await pricing.client.get("/v1/statements/p1/monthly/2026-03", headers=P1)).json()
        june = (await pricing.client.get("/v1/statements/p1/monthly/2026-06", headers=P1)).json()
        assert march["obligations"]["threshold_reached"] is False
        assert june["obligations"]["threshold_reached"] is False  # 6,000 € < 6,247.80 €
        sept = (await pricing.client.get("/v1/statements/p1/monthly/2026-09", headers=P1)).json()
        assert sept["obligations"]["threshold_reached"] is True
        pdf = await pricing.client.get("/v1/statements/p1/annual/2026?format=pdf", headers=P1)
        assert pdf.content.startswith(b"%PDF")
        csv = await pricing.client.get("/v1/statements/p1/annual/2026?format=csv", headers=P1)
        assert "dac7_consideration_cents,900000" in csv.text

    async def test_bad_periods_are_422(self, pricing: Pricing) -> None:
        for path in (
            "/v1/statements/p1/monthly/2026-13",
            "/v1/statements/p1/monthly/26-1",
            "/v1/statements/p1/annual/1900",
            "/v1/statements/p1/monthly/2026-11?format=doc",
        ):
            assert (await pricing.client.get(path, headers=P1)).status_code == 422, path
