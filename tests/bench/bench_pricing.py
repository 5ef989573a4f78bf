"""Benchmark: quote latency in-process (the domain function) and over HTTP (uvicorn + PostgreSQL).

    .venv/bin/python tests/bench/bench_pricing.py [--quick]

In-process: `price_mission` on random cells, start times and durations, against a
baseline of the bare base-price arithmetic. Over HTTP: the pricing service alone in
a uvicorn subprocess on 127.0.0.1, on its own schema of TEST_DATABASE_URL, driven by
httpx: POST /v1/quotes and GET /v1/quotes/{id}, sequentially (latency percentiles) and
with concurrent clients (rate), against GET /healthz on the same server as baseline.
Writes var/bench/pricing.json and var/bench/pricing_latency.png.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from services.pricing.domain.grid import SURCHARGES, Cell, Surcharges  # noqa: E402
from services.pricing.domain.money import prorate  # noqa: E402
from services.pricing.domain.quote import TaxCreditRules, TimeRules, price_mission  # noqa: E402
from shared.categories import CATEGORIES  # noqa: E402
from shared.testing import Tokens  # noqa: E402

console = Console()
OUT = REPO / "var" / "bench"


def percentiles(samples_ns: list[int]) -> dict[str, float]:
    """Return p50/p90/p99/max/mean in microseconds."""
    data = sorted(samples_ns)

    def at(q: float) -> float:
        return data[min(len(data) - 1, int(q * len(data)))] / 1000

    return {
        "n": len(data),
        "p50_us": at(0.50),
        "p90_us": at(0.90),
        "p99_us": at(0.99),
        "max_us": data[-1] / 1000,
        "mean_us": statistics.fmean(data) / 1000,
    }


def random_cell(rng: random.Random) -> Cell:
    return Cell(
        category=rng.choice(sorted(CATEGORIES)),
        zone="z",
        hourly_rate_cents=rng.randint(2000, 6000),
        min_billable_min=rng.choice([30, 60, 90]),
        travel_fee_cents=rng.randint(0, 800),
        commission_rate=Decimal(rng.randint(10, 30)) / 100,
        avg_travel_min=rng.randint(5, 40),
        surcharges=Surcharges(**{s: Decimal(rng.randint(0, 50)) / 100 for s in SURCHARGES}),
    )


def bench_in_process(n: int, progress: Progress) -> dict[str, Any]:
    """Time price_mission against the bare base arithmetic, per call."""
    rng = random.Random(42)
    rules, tax = TimeRules(), TaxCreditRules()
    cells = [random_cell(rng) for _ in range(64)]
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    cases = [
        (rng.choice(cells), t0 + timedelta(minutes=rng.randint(0, 3 * 365 * 24 * 60)), rng.randint(15, 480))
        for _ in range(n)
    ]
    quote_ns: list[int] = []
    base_ns: list[int] = []
    task = progress.add_task("in-process quotes", total=n)
    for i, (cell, start, duration) in enumerate(cases):
        a = time.perf_counter_ns()
        price_mission(cell, start, duration, start - timedelta(days=1), rules, tax)
        b = time.perf_counter_ns()
        prorate(cell.hourly_rate_cents, max(duration, cell.min_billable_min))
        c = time.perf_counter_ns()
        quote_ns.append(b - a)
        base_ns.append(c - b)
        if i % 500 == 0:
            progress.update(task, completed=i)
    progress.update(task, completed=n)
    began = time.perf_counter()
    for cell, start, duration in cases:
        price_mission(cell, start, duration, start - timedelta(days=1), rules, tax)
    elapsed = time.perf_counter() - began
    quote, base = percentiles(quote_ns), percentiles(base_ns)
    return {
        "quote": quote,
        "baseline_base_arithmetic": base,
        "rate_per_s": n / elapsed,
        "ratio_p50_quote_vs_baseline": quote["p50_us"] / base["p50_us"],
        "samples_us": [x / 1000 for x in quote_ns[:20000]],
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


SERVER = """
import asyncio, sys, uvicorn
from services.pricing.app import PricingComponent
from shared.app import create_app
from shared.bus.memory import InMemoryBus
from shared.config import PlatformSettings
from shared.db import Database
url, schema, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
settings = PlatformSettings(database_url=url, log_level="WARNING")
component = PricingComponent(settings, Database(url, schema=schema))
app = create_app([component], settings, bus=InMemoryBus())
uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
"""


async def wait_ready(client: httpx.AsyncClient, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if (await client.get("/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise TimeoutError("the pricing server did not become ready")


async def seed(client: httpx.AsyncClient) -> None:
    ops = Tokens().ops()
    zones = [("paris-centre", ["75001", "75002", "75003", "75004"]), ("paris", ["75"])]
    for code, postcodes in zones:
        r = await client.post(
            "/v1/zones", json={"code": code, "name": code, "postcodes": postcodes}, headers=ops
        )
        r.raise_for_status()
    cells = [
        {
            "category": cat,
            "zone": zone,
            "hourly_rate_cents": 3000,
            "min_billable_min": 60,
            "travel_fee_cents": 300,
            "commission_rate": "0.2",
            "avg_travel_min": 20,
            "surcharges": {
                "evening": "0.1",
                "night": "0.25",
                "sunday": "0.2",
                "holiday": "0.5",
                "urgent": "0.15",
            },
        }
        for zone, _ in zones
        for cat in CATEGORIES
    ]
    r = await client.post("/v1/price-grids", json={"name": "bench", "cells": cells}, headers=ops)
    r.raise_for_status()
    r = await client.post(f"/v1/price-grids/{r.json()['id']}/publish", json={}, headers=ops)
    r.raise_for_status()


def quote_body(rng: random.Random) -> dict[str, Any]:
    start = datetime.now(UTC) + timedelta(hours=rng.randint(3, 24 * 60))
    return {
        "category": rng.choice(sorted(CATEGORIES)),
        "postcode": rng.choice(["75001", "75002", "75011", "75015", "75020"]),
        "start_at": start.isoformat(),
        "duration_min": rng.choice([60, 90, 120, 180]),
    }


async def timed(n: int, call: Callable[[int], Awaitable[None]], progress: Progress, label: str) -> list[int]:
    samples: list[int] = []
    task = progress.add_task(label, total=n)
    for i in range(n):
        a = time.perf_counter_ns()
        await call(i)
        samples.append(time.perf_counter_ns() - a)
        progress.advance(task)
    return samples


async def concurrent_rate(
    client: httpx.AsyncClient, n: int, workers: int, make: Callable[[], Awaitable[httpx.Response]]
) -> float:
    remaining = n

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            r = await make()
            assert r.status_code < 300, r.text

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return n / (time.perf_counter() - began)


async def bench_http(url: str, n: int, concurrent_n: int, workers: int, progress: Progress) -> dict[str, Any]:
    """Run the service in uvicorn on PostgreSQL and time quotes over HTTP."""
    from shared.db import Database

    schema = f"bench_pricing_{uuid.uuid4().hex[:8]}"
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SERVER, url, schema, str(port), cwd=REPO, env=env
    )
    rng = random.Random(7)
    try:
        limits = httpx.Limits(max_connections=workers, max_keepalive_connections=workers)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=30
        ) as client:
            await wait_ready(client)
            await seed(client)
            for _ in range(50):  # warm up
                (await client.post("/v1/quotes", json=quote_body(rng))).raise_for_status()
            ids: list[str] = []

            async def post(_: int) -> None:
                r = await client.post("/v1/quotes", json=quote_body(rng))
                assert r.status_code == 201, r.text
                ids.append(r.json()["id"])

            async def get(i: int) -> None:
                r = await client.get(f"/v1/quotes/{ids[i % len(ids)]}")
                assert r.status_code == 200, r.text

            async def health(_: int) -> None:
                assert (await client.get("/healthz")).status_code == 200

            post_ns = await timed(n, post, progress, "HTTP POST /v1/quotes")
            get_ns = await timed(n, get, progress, "HTTP GET /v1/quotes/{id}")
            health_ns = await timed(n, health, progress, "HTTP GET /healthz (baseline)")
            task = progress.add_task(f"concurrent quotes ({workers} clients)", total=2)
            post_rate = await concurrent_rate(
                client, concurrent_n, workers, lambda: client.post("/v1/quotes", json=quote_body(rng))
            )
            progress.advance(task)
            health_rate = await concurrent_rate(client, concurrent_n, workers, lambda: client.get("/healthz"))
            progress.advance(task)
    finally:
        server.terminate()
        await asyncio.wait_for(server.wait(), timeout=10)
        database = Database(url, schema=schema)
        await database.drop_schema()
        await database.dispose()
    post_p, get_p, health_p = percentiles(post_ns), percentiles(get_ns), percentiles(health_ns)
    return {
        "post_quote": post_p,
        "get_quote": get_p,
        "baseline_healthz": health_p,
        "ratio_p50_post_vs_healthz": post_p["p50_us"] / health_p["p50_us"],
        "ratio_p50_get_vs_healthz": get_p["p50_us"] / health_p["p50_us"],
        "concurrent": {
            "workers": workers,
            "requests": concurrent_n,
            "post_quote_rate_per_s": post_rate,
            "healthz_rate_per_s": health_rate,
            "ratio_rate_post_vs_healthz": post_rate / health_rate,
        },
        "samples_us": [x / 1000 for x in post_ns],
    }


def chart(in_process: dict[str, Any], http: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    panels = (
        (axes[0], in_process["samples_us"], "price_mission (in-process)", "µs", "#3465a4"),
        (
            axes[1],
            [x / 1000 for x in http["samples_us"]],
            "POST /v1/quotes over HTTP (uvicorn + PostgreSQL)",
            "ms",
            "#cc0000",
        ),
    )
    for ax, samples, title, unit, colour in panels:
        cut = sorted(samples)[int(0.99 * (len(samples) - 1))] * 1.5  # GC pauses would flatten the rest
        shown = [x for x in samples if x <= cut]
        ax.hist(shown, bins=80, color=colour)
        ax.set_title(
            f"{title}\n({len(samples) - len(shown)} samples beyond {cut:.1f} {unit} not drawn)", fontsize=9
        )
        ax.set_xlabel(unit)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes, finishes in < 30 s")
    args = parser.parse_args()
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        console.print("[red]TEST_DATABASE_URL is not set (run through `make bench`)[/]")
        raise SystemExit(2)
    n_local, n_http, n_conc, workers = (5_000, 300, 600, 8) if args.quick else (50_000, 2_000, 5_000, 16)
    with Progress(console=console, transient=True) as progress:
        local = bench_in_process(n_local, progress)
        http = asyncio.run(bench_http(url, n_http, n_conc, workers, progress))
    OUT.mkdir(parents=True, exist_ok=True)
    chart(local, http, OUT / "pricing_latency.png")
    result = {
        "benchmark": "pricing",
        "quick": args.quick,
        "measured_at": datetime.now(UTC).isoformat(),
        "in_process": {k: v for k, v in local.items() if k != "samples_us"},
        "http": {k: v for k, v in http.items() if k != "samples_us"},
        "chart": "var/bench/pricing_latency.png",
    }
    (OUT / "pricing.json").write_text(json.dumps(result, indent=2))
    table = Table(title="pricing: quote latency")
    for col in ("what", "n", "p50", "p90", "p99", "rate"):
        table.add_column(col, justify="right" if col != "what" else "left")
    lp = local["quote"]
    table.add_row(
        "price_mission (in-process)",
        str(lp["n"]),
        f"{lp['p50_us']:.1f} µs",
        f"{lp['p90_us']:.1f} µs",
        f"{lp['p99_us']:.1f} µs",
        f"{local['rate_per_s']:,.0f}/s",
    )
    bp = local["baseline_base_arithmetic"]
    table.add_row(
        "  baseline: base arithmetic",
        str(bp["n"]),
        f"{bp['p50_us']:.2f} µs",
        f"{bp['p90_us']:.2f} µs",
        f"{bp['p99_us']:.2f} µs",
        "",
    )
    for label, key in (
        ("POST /v1/quotes", "post_quote"),
        ("GET /v1/quotes/{id}", "get_quote"),
        ("  baseline: GET /healthz", "baseline_healthz"),
    ):
        p = http[key]
        table.add_row(
            label,
            str(p["n"]),
            f"{p['p50_us'] / 1000:.2f} ms",
            f"{p['p90_us'] / 1000:.2f} ms",
            f"{p['p99_us'] / 1000:.2f} ms",
            "",
        )
    c = http["concurrent"]
    table.add_row(
        f"POST /v1/quotes x{c['workers']} clients",
        str(c["requests"]),
        "",
        "",
        "",
        f"{c['post_quote_rate_per_s']:,.0f}/s",
    )
    table.add_row(
        f"  baseline: /healthz x{c['workers']}",
        str(c["requests"]),
        "",
        "",
        "",
        f"{c['healthz_rate_per_s']:,.0f}/s",
    )
    console.print(table)
    console.print(
        f"ratios: in-process quote / base arithmetic p50 = {local['ratio_p50_quote_vs_baseline']:.0f}x; "
        f"POST quote / healthz p50 = {http['ratio_p50_post_vs_healthz']:.1f}x; "
        f"GET quote / healthz p50 = {http['ratio_p50_get_vs_healthz']:.1f}x; "
        f"concurrent rate POST / healthz = {c['ratio_rate_post_vs_healthz']:.2f}"
    )
    console.print(f"written {OUT / 'pricing.json'} and {OUT / 'pricing_latency.png'}")


if __name__ == "__main__":
    main()
