"""The day's report from what the simulated apps saw (pure: outcomes in, a JSON-able dict out)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

SERVED = "completed"
FINAL_STATUSES = ("completed", "unfulfilled", "cancelled")


@dataclass(frozen=True)
class OrderOutcome:
    """One planned order as it ended (`status` None when it was never confirmed)."""

    index: int
    category: str
    zone: str | None
    lat: float
    lng: float
    sim_minute: float
    status: str | None  # None: never confirmed (see `refused`)
    refused: str | None = None  # why the quote or the order was refused
    reason: str | None = None  # why it was unfulfilled or cancelled
    dispatch_latency_s: float | None = None  # confirmation -> assignment, real seconds
    offer_latency_s: float | None = None  # confirmation -> first offer, real seconds
    provider_id: str | None = None
    provider_lat: float | None = None  # where the provider set off from
    provider_lng: float | None = None
    travel_min: float | None = None  # matching's estimate, simulated minutes
    travel_km: float | None = None  # straight line from the provider's position
    duration_min: int = 0
    price_cents: int | None = None
    payout_cents: int | None = None  # gross, supplement included
    net_payout_cents: int | None = None
    supplement_cents: int = 0


@dataclass(frozen=True)
class ProviderOutcome:
    """One driven provider over the day."""

    id: str
    categories: tuple[str, ...]
    on_duty_hours: float  # simulated
    offers: int = 0
    accepted: int = 0
    declined: int = 0
    lost: int = 0  # accepted too late (lapsed or withdrawn)
    onboarding_error: str | None = None


@dataclass(frozen=True)
class ReportInputs:
    """Everything the report is computed from."""

    orders: Sequence[OrderOutcome]
    providers: Sequence[ProviderOutcome]
    floor_cents_per_hour: int
    run: dict[str, Any] = field(default_factory=dict)
    ratings: dict[str, list[int]] = field(default_factory=dict)  # "by_client" / "by_provider" -> scores
    http: dict[str, Any] = field(default_factory=dict)
    supply: Sequence[tuple[float, int, int]] = ()  # (simulated minute, providers on duty, busy)


def percentile(values: Sequence[float], q: float) -> float | None:
    """Return the q-th percentile (0-100) by linear interpolation between ranks; None when empty."""
    if not values:
        return None
    if not 0 <= q <= 100:
        raise ValueError("q must be within 0..100")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    if low == high:
        return float(ordered[low])
    return float(ordered[low] + (ordered[high] - ordered[low]) * (rank - low))


def spread(values: Sequence[float], digits: int = 2) -> dict[str, Any]:
    """Summarise numbers: count, mean, min, p25, p50, p75, p90, max (None when empty)."""
    if not values:
        return {
            "count": 0,
            "mean": None,
            "min": None,
            "p25": None,
            "p50": None,
            "p75": None,
            "p90": None,
            "max": None,
        }

    def r(x: float | None) -> float | None:
        return None if x is None else round(x, digits)

    return {
        "count": len(values),
        "mean": r(sum(values) / len(values)),
        "min": r(min(values)),
        "p25": r(percentile(values, 25)),
        "p50": r(percentile(values, 50)),
        "p75": r(percentile(values, 75)),
        "p90": r(percentile(values, 90)),
        "max": r(max(values)),
    }


def latency_summary(values: Sequence[float]) -> dict[str, Any]:
    """Summarise latencies in seconds with the tail percentiles."""

    def r(x: float | None) -> float | None:
        return None if x is None else round(x, 3)

    return {
        "count": len(values),
        "p50": r(percentile(values, 50)),
        "p90": r(percentile(values, 90)),
        "p95": r(percentile(values, 95)),
        "p99": r(percentile(values, 99)),
        "max": r(max(values)) if values else None,
        "mean": r(sum(values) / len(values)) if values else None,
    }


def gini(values: Iterable[float]) -> float | None:
    """Return the Gini coefficient of non-negative values (0 = equal, 1 = one takes all)."""
    ordered = sorted(values)
    n, total = len(ordered), sum(ordered)
    if n == 0 or total <= 0:
        return None if n == 0 else 0.0
    weighted = sum((i + 1) * v for i, v in enumerate(ordered))
    return round((2 * weighted) / (n * total) - (n + 1) / n, 4)


def net_hourly_cents(net_cents: int, work_min: float, travel_min: float) -> float:
    """Return net pay per hour of work plus travel (simulated minutes)."""
    minutes = work_min + travel_min
    if minutes <= 0:
        raise ValueError("work plus travel must be positive")
    return net_cents * 60 / minutes


def compute_report(inputs: ReportInputs) -> dict[str, Any]:
    """Compute the day's report: orders, reasons, latency, travel, providers' hours and pay."""
    orders = inputs.orders
    confirmed = [o for o in orders if o.status is not None]
    served = [o for o in confirmed if o.status == SERVED]
    unfulfilled = [o for o in confirmed if o.status == "unfulfilled"]
    cancelled = [o for o in confirmed if o.status == "cancelled"]
    other = [o for o in confirmed if o.status not in FINAL_STATUSES]
    refused = [o for o in orders if o.status is None]

    latencies = [o.dispatch_latency_s for o in confirmed if o.dispatch_latency_s is not None]
    missions = [o for o in served if o.provider_id is not None]
    travel_min = [o.travel_min for o in missions if o.travel_min is not None]
    travel_km = [o.travel_km for o in missions if o.travel_km is not None]

    earnings: dict[str, int] = {p.id: 0 for p in inputs.providers if p.onboarding_error is None}
    net: dict[str, int] = dict.fromkeys(earnings, 0)
    worked_min: dict[str, float] = dict.fromkeys(earnings, 0.0)
    missions_of: Counter[str] = Counter()
    hourly: list[float] = []
    below = 0
    for o in missions:
        pid = o.provider_id
        assert pid is not None
        earnings[pid] = earnings.get(pid, 0) + (o.payout_cents or 0)
        net[pid] = net.get(pid, 0) + (o.net_payout_cents or 0)
        worked_min[pid] = worked_min.get(pid, 0.0) + o.duration_min + (o.travel_min or 0.0)
        missions_of[pid] += 1
        if o.net_payout_cents is not None and o.duration_min + (o.travel_min or 0) > 0:
            value = net_hourly_cents(o.net_payout_cents, o.duration_min, o.travel_min or 0.0)
            hourly.append(value)
            below += value < inputs.floor_cents_per_hour
    duty_hours = {p.id: p.on_duty_hours for p in inputs.providers if p.onboarding_error is None}
    total_duty = sum(duty_hours.values())
    total_worked_h = sum(worked_min.values()) / 60
    provider_hourly = [net[pid] * 60 / worked_min[pid] for pid in net if worked_min[pid] > 0]

    by_client = inputs.ratings.get("by_client", [])
    by_provider = inputs.ratings.get("by_provider", [])
    driven = [p for p in inputs.providers if p.onboarding_error is None]
    return {
        "run": inputs.run,
        "orders": {
            "planned": len(orders),
            "refused_before_order": len(refused),
            "ordered": len(confirmed),
            "served": len(served),
            "unfulfilled": len(unfulfilled),
            "cancelled": len(cancelled),
            "still_open": len(other),
            "counts_add_up": len(served) + len(unfulfilled) + len(cancelled) == len(confirmed),
            "served_share": round(len(served) / len(confirmed), 4) if confirmed else None,
            "by_category": _by_category(confirmed),
            "by_hour": _by_hour(confirmed),
        },
        "why_unfulfilled": dict(Counter(o.reason or "unknown" for o in unfulfilled).most_common()),
        "why_cancelled": dict(Counter(o.reason or "unknown" for o in cancelled).most_common()),
        "why_refused": dict(Counter(o.refused or "unknown" for o in refused).most_common()),
        "dispatch_latency_s": latency_summary(latencies),
        "offer_latency_s": latency_summary(
            [o.offer_latency_s for o in confirmed if o.offer_latency_s is not None]
        ),
        "travel": {
            "missions": len(missions),
            "minutes": spread(travel_min),
            "km_straight_line": spread(travel_km),
        },
        "providers": {
            "driven": len(driven),
            "onboarding_failed": len(inputs.providers) - len(driven),
            "with_missions": len(missions_of),
            "missions_per_provider": spread([float(missions_of.get(p.id, 0)) for p in driven]),
            "on_duty_hours": round(total_duty, 2),
            "worked_hours": round(total_worked_h, 2),
            "utilisation": round(total_worked_h / total_duty, 4) if total_duty > 0 else None,
            "worked_hours_per_provider": spread([worked_min.get(p.id, 0.0) / 60 for p in driven]),
            "earnings_gross_cents": spread([float(earnings.get(p.id, 0)) for p in driven], 0),
            "earnings_net_cents": spread([float(net.get(p.id, 0)) for p in driven], 0),
            "earnings_gini": gini(earnings.get(p.id, 0) for p in driven),
            "offers": {
                "received": sum(p.offers for p in driven),
                "accepted": sum(p.accepted for p in driven),
                "declined": sum(p.declined for p in driven),
                "lost": sum(p.lost for p in driven),
            },
        },
        "fair_pay": {
            "floor_cents_per_hour": inputs.floor_cents_per_hour,
            "net_hourly_cents_per_mission": spread(hourly, 0),
            "net_hourly_cents_per_provider": spread(provider_hourly, 0),
            "missions_below_floor": below,
            "share_below_floor": round(below / len(hourly), 4) if hourly else None,
            "supplements_cents": sum(o.supplement_cents for o in missions),
            "missions_with_supplement": sum(1 for o in missions if o.supplement_cents > 0),
        },
        "ratings": {
            "by_clients": {"count": len(by_client), "mean": _mean(by_client)},
            "by_providers": {"count": len(by_provider), "mean": _mean(by_provider)},
        },
        "supply_by_hour": supply_by_hour(inputs.supply),
        "http": inputs.http,
    }


def supply_by_hour(samples: Sequence[tuple[float, int, int]]) -> list[dict[str, Any]]:
    """Average the driven providers on duty and busy (holding a mission) per hour of the day."""
    sums = [[0.0, 0.0, 0] for _ in range(24)]
    for minute, on_duty, busy in samples:
        row = sums[min(max(int(minute // 60), 0), 23)]
        row[0] += on_duty
        row[1] += busy
        row[2] += 1
    return [
        {"hour": h, "on_duty": round(d / n, 2) if n else None, "busy": round(b / n, 2) if n else None}
        for h, (d, b, n) in enumerate(sums)
    ]


def _mean(values: Sequence[int]) -> float | None:
    return round(sum(values) / len(values), 3) if values else None


def _by_category(orders: Sequence[OrderOutcome]) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = {}
    for o in orders:
        row = table.setdefault(o.category, {"ordered": 0, "served": 0, "unfulfilled": 0, "cancelled": 0})
        row["ordered"] += 1
        if o.status == SERVED:
            row["served"] += 1
        elif o.status in ("unfulfilled", "cancelled"):
            row[str(o.status)] += 1
    return dict(sorted(table.items()))


def _by_hour(orders: Sequence[OrderOutcome]) -> list[dict[str, int]]:
    rows = [{"hour": h, "ordered": 0, "served": 0} for h in range(24)]
    for o in orders:
        row = rows[min(int(o.sim_minute // 60), 23)]
        row["ordered"] += 1
        row["served"] += o.status == SERVED
    return rows


def render_text(report: dict[str, Any]) -> list[str]:
    """Return the report as console lines (rich markup)."""
    o, lat, tr, pr, fp = (
        report["orders"],
        report["dispatch_latency_s"],
        report["travel"],
        report["providers"],
        report["fair_pay"],
    )
    run = report["run"]
    lines = [
        f"[bold]Simulated day[/] — {run.get('orders_planned')} orders planned, {pr['driven']} providers, "
        f"{run.get('duration_s')} s real (x{run.get('compression')}), {run.get('elapsed_s')} s elapsed",
        f"ordered {o['ordered']} (refused before ordering {o['refused_before_order']}): "
        f"[green]served {o['served']}[/], [red]unfulfilled {o['unfulfilled']}[/], "
        f"[yellow]cancelled {o['cancelled']}[/]"
        + ("" if o["counts_add_up"] else f" [bold red]— {o['still_open']} still open[/]"),
    ]
    for title, key in (
        ("unfulfilled", "why_unfulfilled"),
        ("cancelled", "why_cancelled"),
        ("refused", "why_refused"),
    ):
        for reason, count in list(report[key].items())[:5]:
            lines.append(f"  {title}: {count} × {reason}")
    lines.append(
        f"dispatch latency (confirmation → assignment, real s): p50 {lat['p50']}  p90 {lat['p90']}  "
        f"p95 {lat['p95']}  p99 {lat['p99']}  max {lat['max']}  (n={lat['count']})"
    )
    first = report["offer_latency_s"]
    lines.append(
        f"  of which the platform's part (confirmation → first offer): p50 {first['p50']}  "
        f"p95 {first['p95']}  p99 {first['p99']}  (n={first['count']})"
    )
    lines.append(
        f"travel per mission (simulated): {tr['minutes']['p50']} min median, {tr['minutes']['p90']} min p90; "
        f"{tr['km_straight_line']['p50']} km median straight line"
    )
    eg = pr["earnings_gross_cents"]
    lines.append(
        f"providers: {pr['with_missions']} of {pr['driven']} worked; on duty {pr['on_duty_hours']} h, "
        f"worked {pr['worked_hours']} h (utilisation {pr['utilisation']}); "
        f"offers {pr['offers']['received']} (accepted {pr['offers']['accepted']}, "
        f"declined {pr['offers']['declined']}, lost {pr['offers']['lost']})"
    )
    lines.append(
        f"earnings of the day (gross €): min {_eur(eg['min'])}  median {_eur(eg['p50'])}  "
        f"p90 {_eur(eg['p90'])}  max {_eur(eg['max'])}  (Gini {pr['earnings_gini']})"
    )
    nh = fp["net_hourly_cents_per_mission"]
    lines.append(
        f"net hourly pay per mission (work + travel): median {_eur(nh['p50'])} €/h, "
        f"min {_eur(nh['min'])} €/h "
        f"— floor {_eur(fp['floor_cents_per_hour'])} €/h, {fp['missions_below_floor']} below, "
        f"{fp['missions_with_supplement']} with a travel supplement"
    )
    http = report.get("http") or {}
    if http.get("latency_ms"):
        lines.append(
            f"HTTP: {http.get('requests')} requests, answered in p50 {http['latency_ms']['p50']} ms, "
            f"p95 {http['latency_ms']['p95']} ms; errors {http.get('errors_by_status') or 'none'}"
        )
    rt = report["ratings"]
    lines.append(
        f"ratings: clients gave {rt['by_clients']['count']} (mean {rt['by_clients']['mean']}), "
        f"providers gave {rt['by_providers']['count']} (mean {rt['by_providers']['mean']})"
    )
    return lines


def _eur(cents: float | None) -> str:
    return "—" if cents is None else f"{cents / 100:.2f}"
