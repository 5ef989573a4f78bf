"""PNG charts of a simulated day (matplotlib, no tiles): map, latency, earnings, demand."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from services.demo.city import City  # noqa: E402
from services.simulator.demand import hourly_shares  # noqa: E402
from services.simulator.report import SERVED, OrderOutcome, percentile  # noqa: E402

CATEGORY_COLOURS = {
    "cleaning": "#1f77b4",
    "handyman": "#ff7f0e",
    "gardening": "#2ca02c",
    "tutoring": "#9467bd",
    "childcare": "#e377c2",
    "it_help": "#17becf",
    "moving_help": "#8c564b",
    "transport": "#bcbd22",
}


def write_charts(
    out: Path,
    city: City,
    orders: Sequence[OrderOutcome],
    report: dict[str, Any],
    earnings_by_provider: dict[str, tuple[int, int]],
) -> list[Path]:
    """Write every chart into `out`; return the files."""
    out.mkdir(parents=True, exist_ok=True)
    return [
        missions_map(out / "missions_map.png", city, orders),
        latency_histogram(out / "dispatch_latency.png", orders),
        earnings_spread(
            out / "earnings_spread.png",
            orders,
            earnings_by_provider,
            report["fair_pay"]["floor_cents_per_hour"],
        ),
        demand_by_hour(
            out / "demand_by_hour.png", report["orders"]["by_hour"], report.get("supply_by_hour", [])
        ),
    ]


def missions_map(path: Path, city: City, orders: Sequence[OrderOutcome]) -> Path:
    """Draw the day's missions: a line from where the provider set off to the job, over the communes."""
    fig, ax = plt.subplots(figsize=(11, 9), dpi=110)
    households = [c.households for c in city.communes]
    biggest = max(households)
    ax.scatter(
        [c.lng for c in city.communes],
        [c.lat for c in city.communes],
        s=[20 + 400 * h / biggest for h in households],
        c="#d9d9d9",
        edgecolors="#a0a0a0",
        linewidths=0.5,
        zorder=1,
        label="communes (size: households)",
    )
    for commune in sorted(city.communes, key=lambda c: -c.households)[:14]:
        ax.annotate(
            commune.name.replace(" Arrondissement", ""),
            (commune.lng, commune.lat),
            fontsize=6.5,
            color="#606060",
            xytext=(3, 3),
            textcoords="offset points",
            zorder=2,
        )
    served = [o for o in orders if o.status == SERVED and o.provider_lat is not None]
    seen: set[str] = set()
    for o in served:
        if o.provider_lat is None or o.provider_lng is None:
            continue
        colour = CATEGORY_COLOURS.get(o.category, "#333333")
        label = o.category if o.category not in seen else None
        seen.add(o.category)
        ax.plot(
            [o.provider_lng, o.lng],
            [o.provider_lat, o.lat],
            color=colour,
            linewidth=0.9,
            alpha=0.75,
            zorder=3,
            label=label,
        )
        ax.scatter([o.lng], [o.lat], s=14, color=colour, edgecolors="white", linewidths=0.4, zorder=4)
        ax.scatter([o.provider_lng], [o.provider_lat], s=7, marker="^", color="#404040", zorder=4)
    failed = [o for o in orders if o.status == "unfulfilled"]
    if failed:
        ax.scatter(
            [o.lng for o in failed],
            [o.lat for o in failed],
            s=40,
            marker="x",
            color="#d62728",
            linewidths=1.5,
            zorder=5,
            label=f"unfulfilled ({len(failed)})",
        )
    cancelled = [o for o in orders if o.status == "cancelled"]
    if cancelled:
        ax.scatter(
            [o.lng for o in cancelled],
            [o.lat for o in cancelled],
            s=30,
            marker="s",
            facecolors="none",
            edgecolors="#ff9900",
            linewidths=1.2,
            zorder=5,
            label=f"cancelled ({len(cancelled)})",
        )
    ax.scatter([], [], s=7, marker="^", color="#404040", label="provider's start")
    lat0 = city.centre[0]
    ax.set_aspect(1 / math.cos(math.radians(lat0)))
    ax.set_title(
        f"{city.name}: {len(served)} missions of the simulated day (line: provider's start → job)",
        fontsize=11,
    )
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, framealpha=0.9)
    ax.grid(alpha=0.2)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def latency_histogram(path: Path, orders: Sequence[OrderOutcome]) -> Path:
    """Histogram of confirmation → assignment latency with p50/p95/p99 marked."""
    values = [o.dispatch_latency_s for o in orders if o.dispatch_latency_s is not None]
    fig, ax = plt.subplots(figsize=(9, 5), dpi=110)
    if values:
        p99 = percentile(values, 99) or 0.0
        ceiling = max(p99 * 1.5, 1.0)
        clipped = [min(v, ceiling) for v in values]
        outliers = sum(1 for v in values if v > ceiling)
        bins = min(40, max(8, len(values) // 3))
        ax.hist(clipped, bins=bins, color="#4c72b0", edgecolor="white", label="to assignment (accepted)")
        offers = [min(o.offer_latency_s, ceiling) for o in orders if o.offer_latency_s is not None]
        if offers:
            ax.hist(
                offers,
                bins=bins,
                range=(0, ceiling),
                histtype="step",
                color="#222222",
                linewidth=1.3,
                label="to first offer (the platform's part)",
            )
        for q, style in ((50, "-"), (95, "--"), (99, ":")):
            value = percentile(values, q) or 0.0
            ax.axvline(
                value,
                color="#c44e52",
                linestyle=style,
                linewidth=1.4,
                label=f"assignment p{q} = {value:.1f} s",
            )
        ax.legend()
        extra = f", {outliers} beyond {ceiling:.0f} s drawn at the edge" if outliers else ""
        ax.set_title(
            f"Dispatch latency, confirmation → assignment ({len(values)} orders{extra})", fontsize=11
        )
    else:
        ax.text(0.5, 0.5, "no order was assigned", ha="center", va="center", transform=ax.transAxes)
        ax.set_title("Dispatch latency, confirmation → assignment")
    ax.set_xlabel("real seconds (batching + offer + the provider's answer)")
    ax.set_ylabel("orders")
    ax.grid(alpha=0.25, axis="y")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def earnings_spread(
    path: Path,
    orders: Sequence[OrderOutcome],
    earnings_by_provider: dict[str, tuple[int, int]],
    floor_cents: int,
) -> Path:
    """Left: each provider's earnings of the day, sorted; right: net hourly pay per mission vs the floor."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 5), dpi=110, gridspec_kw={"width_ratios": [3, 2]})
    rows = sorted(earnings_by_provider.values(), key=lambda r: r[0])
    xs = range(len(rows))
    left.bar(xs, [g / 100 for g, _ in rows], color="#9ecae1", label="gross (payout + supplement)")
    left.bar(xs, [n / 100 for _, n in rows], color="#3182bd", label="net of contributions")
    zero = sum(1 for g, _ in rows if g == 0)
    left.set_title(
        f"Earnings of the day per provider, sorted ({zero} of {len(rows)} earned nothing)", fontsize=10.5
    )
    left.set_xlabel("providers")
    left.set_ylabel("€")
    left.legend(fontsize=8)
    left.grid(alpha=0.25, axis="y")
    hourly = [
        o.net_payout_cents * 60 / (o.duration_min + (o.travel_min or 0)) / 100
        for o in orders
        if o.status == SERVED and o.net_payout_cents is not None and o.duration_min + (o.travel_min or 0) > 0
    ]
    if hourly:
        right.hist(hourly, bins=min(30, max(6, len(hourly) // 3)), color="#31a354", edgecolor="white")
    right.axvline(
        floor_cents / 100, color="#d62728", linewidth=1.6, label=f"floor {floor_cents / 100:.2f} €/h"
    )
    right.set_title("Net hourly pay per mission (work + travel)", fontsize=10.5)
    right.set_xlabel("€ per hour, net of contributions")
    right.set_ylabel("missions")
    right.legend(fontsize=8)
    right.grid(alpha=0.25, axis="y")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def demand_by_hour(
    path: Path, by_hour: Sequence[dict[str, int]], supply: Sequence[dict[str, Any]] = ()
) -> Path:
    """Orders and served orders per hour of the simulated day, the demand curve, and the supply."""
    fig, ax = plt.subplots(figsize=(10, 4.5), dpi=110)
    hours = [row["hour"] for row in by_hour]
    ordered = [row["ordered"] for row in by_hour]
    ax.bar(hours, ordered, color="#c6dbef", label="ordered")
    ax.bar(hours, [row["served"] for row in by_hour], width=0.5, color="#2171b5", label="served")
    total = sum(ordered)
    ax.plot(
        hours,
        [share * total for share in hourly_shares()],
        color="#e6550d",
        marker="o",
        markersize=3,
        linewidth=1.2,
        label="demand model (expected)",
    )
    if supply:
        right = ax.twinx()
        on_duty = [(r["hour"], r["on_duty"]) for r in supply if r["on_duty"] is not None]
        busy = [(r["hour"], r["busy"]) for r in supply if r["busy"] is not None]
        right.plot(
            [h for h, _ in on_duty],
            [v for _, v in on_duty],
            color="#31a354",
            linewidth=1.6,
            label="providers on duty (mean)",
        )
        right.plot(
            [h for h, _ in busy],
            [v for _, v in busy],
            color="#31a354",
            linestyle="--",
            linewidth=1.2,
            label="providers holding a mission (mean)",
        )
        right.set_ylabel("providers")
        right.set_ylim(bottom=0)
        right.legend(loc="upper right", fontsize=8, bbox_to_anchor=(1.0, 0.78))
    ax.set_xticks(hours)
    ax.set_xlabel("hour of the simulated day (Europe/Paris)")
    ax.set_ylabel("orders")
    ax.set_title("Orders by hour of the day")
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.25, axis="y")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
