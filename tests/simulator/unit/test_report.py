"""The report computation: counts, reasons, latency percentiles, travel, earnings, fair pay."""

from __future__ import annotations

from typing import Any

import pytest

from services.simulator.report import (
    OrderOutcome,
    ProviderOutcome,
    ReportInputs,
    compute_report,
    gini,
    net_hourly_cents,
    percentile,
    render_text,
    spread,
)


def make_order(**overrides: Any) -> OrderOutcome:
    values: dict[str, Any] = dict(
        index=0,
        category="cleaning",
        zone="lyon-centre",
        lat=45.76,
        lng=4.84,
        sim_minute=600.0,
        status="completed",
        dispatch_latency_s=2.0,
        provider_id="p1",
        provider_lat=45.75,
        provider_lng=4.85,
        travel_min=15.0,
        travel_km=2.0,
        duration_min=120,
        price_cents=7000,
        payout_cents=5000,
        net_payout_cents=3940,
    )
    values.update(overrides)
    return OrderOutcome(**values)


def make_provider(pid: str = "p1", **overrides: Any) -> ProviderOutcome:
    values: dict[str, Any] = dict(
        id=pid, categories=("cleaning",), on_duty_hours=8.0, offers=2, accepted=1, declined=1
    )
    values.update(overrides)
    return ProviderOutcome(**values)


def report_of(
    orders: list[OrderOutcome], providers: list[ProviderOutcome] | None = None, **kwargs: Any
) -> dict[str, Any]:
    return compute_report(
        ReportInputs(
            orders=orders, providers=providers or [make_provider()], floor_cents_per_hour=952, **kwargs
        )
    )


class TestPercentile:
    def test_interpolates_between_ranks(self) -> None:
        values = [1.0, 2.0, 3.0, 4.0, 5.0]
        assert percentile(values, 50) == 3.0
        assert percentile(values, 0) == 1.0
        assert percentile(values, 100) == 5.0
        assert percentile(values, 25) == 2.0
        assert percentile([1.0, 2.0], 50) == 1.5

    def test_empty_is_none_and_bad_q_is_refused(self) -> None:
        assert percentile([], 50) is None
        with pytest.raises(ValueError):
            percentile([1.0], 101)

    def test_spread_of_nothing_has_no_figures(self) -> None:
        assert spread([])["count"] == 0
        assert spread([])["p50"] is None


class TestGini:
    def test_equal_shares_are_zero_and_one_takes_all_is_near_one(self) -> None:
        assert gini([5, 5, 5, 5]) == 0.0
        assert gini([0, 0, 0, 10]) == pytest.approx(0.75)
        assert gini([]) is None
        assert gini([0, 0]) == 0.0


class TestCounts:
    def test_served_unfulfilled_cancelled_add_up_to_ordered(self) -> None:
        orders = [
            make_order(index=0),
            make_order(
                index=1,
                status="unfulfilled",
                reason="nobody on duty",
                provider_id=None,
                dispatch_latency_s=None,
            ),
            make_order(index=2, status="cancelled", reason="client: plans changed", provider_id=None),
            make_order(index=3, status=None, refused="quote 404: not served"),
        ]
        report = report_of(orders)
        counts = report["orders"]
        assert (
            counts["planned"],
            counts["ordered"],
            counts["served"],
            counts["unfulfilled"],
            counts["cancelled"],
            counts["refused_before_order"],
        ) == (4, 3, 1, 1, 1, 1)
        assert counts["counts_add_up"] is True
        assert report["why_unfulfilled"] == {"nobody on duty": 1}
        assert report["why_refused"] == {"quote 404: not served": 1}

    def test_an_order_still_open_breaks_the_sum_and_says_so(self) -> None:
        report = report_of([make_order(), make_order(index=1, status="assigned")])
        assert report["orders"]["counts_add_up"] is False
        assert report["orders"]["still_open"] == 1

    def test_by_hour_and_by_category(self) -> None:
        report = report_of(
            [
                make_order(sim_minute=61),
                make_order(sim_minute=62, status="unfulfilled"),
                make_order(sim_minute=1439, category="tutoring"),
            ]
        )
        hours = report["orders"]["by_hour"]
        assert hours[1] == {"hour": 1, "ordered": 2, "served": 1}
        assert hours[23] == {"hour": 23, "ordered": 1, "served": 1}
        assert report["orders"]["by_category"]["cleaning"] == {
            "ordered": 2,
            "served": 1,
            "unfulfilled": 1,
            "cancelled": 0,
        }


class TestLatencyAndTravel:
    def test_latency_percentiles_over_assigned_orders(self) -> None:
        orders = [make_order(index=i, dispatch_latency_s=float(i)) for i in range(1, 101)]
        latency = report_of(orders)["dispatch_latency_s"]
        assert latency["count"] == 100
        assert latency["p50"] == pytest.approx(50.5)
        assert latency["p99"] == pytest.approx(99.01)
        assert latency["max"] == 100.0

    def test_offer_latency_is_reported_beside_the_assignment_latency(self) -> None:
        orders = [make_order(index=i, dispatch_latency_s=5.0, offer_latency_s=float(i)) for i in range(1, 5)]
        orders.append(make_order(status="unfulfilled", dispatch_latency_s=None, offer_latency_s=None))
        report = report_of(orders)
        assert report["offer_latency_s"]["count"] == 4
        assert report["offer_latency_s"]["p50"] == 2.5
        assert report["dispatch_latency_s"]["p50"] == 5.0

    def test_travel_counts_served_missions_only(self) -> None:
        orders = [
            make_order(travel_min=10.0),
            make_order(travel_min=30.0),
            make_order(status="cancelled", travel_min=None, provider_id=None),
        ]
        travel = report_of(orders)["travel"]
        assert travel["missions"] == 2
        assert travel["minutes"]["p50"] == 20.0


class TestProvidersAndPay:
    def test_hours_earnings_and_utilisation(self) -> None:
        orders = [
            make_order(
                provider_id="p1", duration_min=120, travel_min=30.0, payout_cents=5000, net_payout_cents=3940
            ),
            make_order(
                provider_id="p1", duration_min=60, travel_min=30.0, payout_cents=2500, net_payout_cents=1970
            ),
        ]
        providers = [make_provider("p1"), make_provider("p2", offers=0, accepted=0, declined=0)]
        report = report_of(orders, providers)["providers"]
        assert report["driven"] == 2
        assert report["with_missions"] == 1
        assert report["on_duty_hours"] == 16.0
        assert report["worked_hours"] == 4.0
        assert report["utilisation"] == 0.25
        assert report["earnings_gross_cents"]["max"] == 7500
        assert report["earnings_gross_cents"]["min"] == 0
        assert report["earnings_gini"] == pytest.approx(0.5)
        assert report["offers"] == {"received": 2, "accepted": 1, "declined": 1, "lost": 0}

    def test_net_hourly_pay_counts_travel_and_compares_with_the_floor(self) -> None:
        assert net_hourly_cents(3940, 120, 30) == pytest.approx(1576)
        orders = [
            make_order(net_payout_cents=3940, duration_min=120, travel_min=30.0),
            make_order(net_payout_cents=1000, duration_min=60, travel_min=30.0),
        ]
        fair = report_of(orders)["fair_pay"]
        assert fair["missions_below_floor"] == 1  # 1000 cents over 1.5 h is 6.67 €/h
        assert fair["share_below_floor"] == 0.5
        assert fair["net_hourly_cents_per_mission"]["max"] == 1576

    def test_providers_that_failed_onboarding_are_not_counted_as_driven(self) -> None:
        providers = [make_provider("p1"), make_provider("p9", onboarding_error="still applied")]
        assert report_of([make_order()], providers)["providers"]["onboarding_failed"] == 1

    def test_zero_length_work_is_refused(self) -> None:
        with pytest.raises(ValueError):
            net_hourly_cents(100, 0, 0)


class TestText:
    def test_renders_every_section_even_when_empty(self) -> None:
        lines = render_text(report_of([], run={"orders_planned": 0, "duration_s": 10, "compression": 8640}))
        text = "\n".join(lines)
        for word in ("ordered 0", "dispatch latency", "travel per mission", "earnings", "floor 9.52"):
            assert word in text
