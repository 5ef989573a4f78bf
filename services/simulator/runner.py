"""Run a simulated day end to end: set up, play, collect, report (console, JSON, PNG)."""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from services.demo.city import load_city
from services.simulator.agents import (
    FINAL,
    OrderRecord,
    SimClock,
    SimSettings,
    World,
    client_app,
    distance_km,
    provider_app,
)
from services.simulator.api import Api, SimulationError, Tokens, check_loopback, read_secret
from services.simulator.charts import write_charts
from services.simulator.demand import MINUTES_PER_DAY, plan_day
from services.simulator.report import (
    OrderOutcome,
    ProviderOutcome,
    ReportInputs,
    compute_report,
    latency_summary,
    render_text,
)
from services.simulator.setup import (
    AS_OPS,
    adopt,
    ensure_market,
    list_active,
    onboard_all,
    plan_providers,
    set_duty,
)
from shared.auth import Role, TokenSettings
from shared.fairpay import FairPaySettings


@dataclass(frozen=True)
class SimConfig:
    """The options of `dispatch simulate`."""

    base_url: str = "http://127.0.0.1:8000"
    orders: int = 200
    providers: int = 40
    duration_s: float = 180.0
    seed: int = 1
    out: Path = Path("var/sim")
    secret_file: Path | None = None
    decline_share: float = 0.15
    cancel_share: float = 0.03
    concurrency: int = 16
    lead_s: float = 45.0
    patience_s: float = 60.0
    grace_s: float = 45.0
    floor_cents_per_hour: int = FairPaySettings().floor_cents_per_hour
    request_timeout_s: float = 15.0
    charts: bool = True


def run_simulation(
    config: SimConfig | None = None, console: Console | None = None, **options: Any
) -> dict[str, Any]:
    """Play a simulated day against a running platform; return the report (also written to `out`)."""
    config = config or SimConfig(**options)
    return asyncio.run(simulate(config, console or Console()))


async def simulate(config: SimConfig, console: Console) -> dict[str, Any]:
    """Set up through the API, play the day with bounded concurrency, collect and report."""
    _check(config)
    base_url = check_loopback(config.base_url)
    tokens = Tokens(TokenSettings(secret=read_secret(config.secret_file)))
    rng = random.Random(config.seed)
    city = load_city()
    settings = SimSettings(
        duration_s=config.duration_s,
        lead_s=config.lead_s,
        patience_s=config.patience_s,
        decline_share=config.decline_share,
        cancel_share=config.cancel_share,
        grace_s=config.grace_s,
    )
    limits = httpx.Limits(
        max_connections=config.concurrency + 4, max_keepalive_connections=config.concurrency
    )
    started_at = datetime.now(UTC)
    wall = time.monotonic()
    async with httpx.AsyncClient(
        base_url=base_url, timeout=config.request_timeout_s, limits=limits
    ) as client:
        api = Api(client, tokens, concurrency=config.concurrency)
        health = await api.call("GET", "/healthz")
        if health.status_code != 200:
            raise SimulationError(f"{base_url}/healthz answered {health.status_code}")
        market = await ensure_market(api, city)
        if not market.categories:
            raise SimulationError("the grid in force sells no category")
        # A grid published by someone else may sell in part of the city only (a test's one zone):
        # clients and new providers are then drawn there, not refused a quote everywhere else.
        city_postcodes = set(city.postcodes)
        where = None if city_postcodes <= set(market.postcodes) else city_postcodes & set(market.postcodes)
        if where is not None and not where:
            raise SimulationError(f"the grid in force sells in none of {city.name}'s postcodes")
        active = await list_active(api)
        adopted = [adopt(r, rng) for r in active[: config.providers]]
        taken = {p.id for p in adopted}
        planned = plan_providers(city, rng, config.providers, market.categories, f"sim-p{config.seed}", where)
        providers = adopted + [p for p in planned if p.id not in taken][: config.providers - len(adopted)]
        # Providers on duty whom nobody drives would receive offers and let them lapse: their apps
        # go off duty for the run and back on duty (at home) at the end.
        idle = [r for r in active[config.providers :] if r.get("on_duty")]
        paused = [
            r
            for r, ok in zip(
                idle,
                await asyncio.gather(*(set_duty(api, str(r["id"]), False, 0.0, 0.0) for r in idle)),
                strict=True,
            )
            if ok
        ]
        run_tag = uuid.uuid4().hex[:6]
        plan = plan_day(
            city, rng, config.orders, market.categories, client_prefix=f"sim-c{run_tag}", where=where
        )
        with _progress(console) as progress:
            onboarding = progress.add_task("onboarding providers (apply, vet, train)", total=len(providers))
            problems = await onboard_all(
                api, providers, rng, city, min(8, config.concurrency), lambda: progress.advance(onboarding)
            )
            driven = [p for p in providers if not p.notes]
            if not driven:
                raise SimulationError(f"no provider could be onboarded: {problems[:3]}")
            world = World(api=api, settings=settings, clock=SimClock(config.duration_s), rng=rng)
            records = [OrderRecord(planned=p) for p in plan]
            day = progress.add_task("simulated day 00:00", total=config.duration_s)
            placed = progress.add_task("orders placed", total=len(plan))
            settled = progress.add_task("orders settled", total=len(plan))
            provider_tasks = [asyncio.create_task(provider_app(world, p, rng.random())) for p in driven]
            client_tasks = [asyncio.create_task(client_app(world, r, rng.random())) for r in records]
            hard_limit = (
                config.duration_s
                + settings.lead_s
                + settings.patience_s
                + settings.max_mission_real_s
                + 3 * settings.grace_s
                + 60
            )
            while not all(t.done() for t in client_tasks) and world.clock.elapsed() < hard_limit:
                minute = min(world.clock.sim_minute(), MINUTES_PER_DAY - 1)
                progress.update(
                    day,
                    completed=min(world.clock.elapsed(), config.duration_s),
                    description=f"simulated day {int(minute // 60):02d}:{int(minute % 60):02d}",
                )
                progress.update(placed, completed=world.placed)
                progress.update(settled, completed=world.settled)
                world.sample_supply()
                await asyncio.sleep(0.25)
            progress.update(day, completed=config.duration_s, description="simulated day over")
            progress.update(placed, completed=world.placed)
            progress.update(settled, completed=world.settled)
            await _finish(client_tasks, 5.0)
            await _finish(provider_tasks, settings.max_mission_real_s + 30)
            await _finish(list(world.background), 15.0)
        await _refresh(api, records)
        # everyone who was on duty before the run is on duty again (driven ones went off at shift end)
        was_on_duty = paused + [r for r in active[: config.providers] if r.get("on_duty")]
        restored = await asyncio.gather(
            *(
                set_duty(api, str(r["id"]), True, float(r["home_lat"]), float(r["home_lng"]))
                for r in was_on_duty
            )
        )
        elapsed = round(time.monotonic() - wall, 1)
        outcomes = [_outcome(r) for r in records]
        provider_outcomes = [
            ProviderOutcome(
                id=p.id,
                categories=tuple(p.categories),
                on_duty_hours=round(p.shift.hours, 3),
                offers=world.tallies[p.id].offers if p.id in world.tallies else 0,
                accepted=world.tallies[p.id].accepted if p.id in world.tallies else 0,
                declined=world.tallies[p.id].declined if p.id in world.tallies else 0,
                lost=world.tallies[p.id].lost if p.id in world.tallies else 0,
                onboarding_error=p.notes[0] if p.notes else None,
            )
            for p in providers
        ]
        report = compute_report(
            ReportInputs(
                orders=outcomes,
                providers=provider_outcomes,
                floor_cents_per_hour=config.floor_cents_per_hour,
                run={
                    "base_url": base_url,
                    "seed": config.seed,
                    "orders_planned": config.orders,
                    "providers_planned": config.providers,
                    "duration_s": config.duration_s,
                    "compression": round(settings.compression, 1),
                    "started_at": started_at.isoformat(),
                    "elapsed_s": elapsed,
                    "grid_version": market.grid_version,
                    "grid_published_by_simulator": market.created,
                    "categories": market.categories,
                    "postcodes_on_sale": len(city_postcodes if where is None else where),
                    "city_postcodes": len(city_postcodes),
                    "lead_s": settings.lead_s,
                    "patience_s": settings.patience_s,
                    "decline_share": settings.decline_share,
                    "cancel_share": settings.cancel_share,
                    "providers_reused": sum(1 for p in providers if not p.is_new),
                    "providers_paused": len(paused),
                    "providers_restored": sum(restored),
                    "onboarding_problems": problems[:10],
                },
                ratings=world.ratings,
                supply=world.supply,
                http={
                    "requests": api.stats.requests,
                    "retries": api.stats.retries,
                    "latency_ms": {
                        k: None if v is None else round(v * 1000, 1)
                        for k, v in latency_summary(api.stats.durations_s).items()
                        if k in ("p50", "p95", "p99", "max")
                    },
                    "errors_by_status": dict(sorted(api.stats.errors_by_status.items())),
                },
            )
        )
    config.out.mkdir(parents=True, exist_ok=True)
    (config.out / "report.json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    files = [config.out / "report.json"]
    if config.charts:
        earnings = _earnings(outcomes, [p.id for p in driven])
        files += write_charts(config.out, city, outcomes, report, earnings)
    for line in render_text(report):
        console.print(line)
    console.print("written: " + ", ".join(str(f) for f in files))
    report["files"] = [str(f) for f in files]
    return report


def _check(config: SimConfig) -> None:
    if config.orders < 0 or config.providers < 1:
        raise ValueError("orders must be >= 0 and providers >= 1")
    if not 5 <= config.duration_s <= 24 * 3600:
        raise ValueError("duration must be between 5 s and a real day")
    if not 0 <= config.decline_share <= 1 or not 0 <= config.cancel_share <= 1:
        raise ValueError("shares must be within 0..1")
    if config.lead_s <= 0 or config.patience_s <= 0 or config.grace_s < 0:
        raise ValueError("lead and patience must be > 0 s, grace >= 0 s")
    if not 1 <= config.concurrency <= 256:
        raise ValueError("concurrency must be within 1..256")


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("{task.description:<38}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


async def _finish(tasks: list[asyncio.Task[None]], timeout_s: float) -> None:
    """Wait for tasks up to a bound, then cancel the rest."""
    pending = [t for t in tasks if not t.done()]
    if pending:
        await asyncio.wait(pending, timeout=timeout_s)
    for task in tasks:
        if not task.done():
            task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _refresh(api: Api, records: list[OrderRecord]) -> None:
    """Read every confirmed order once more as its client (the final status and history)."""
    slots = asyncio.Semaphore(8)

    async def one(record: OrderRecord) -> None:
        async with slots:
            try:
                response = await api.call(
                    "GET", f"/v1/orders/{record.order_id}", who=(Role.client, record.planned.client_id)
                )
            except SimulationError:
                return
            if response.status_code == 200:
                order = response.json()
                record.status = order["status"]
                record.history = order.get("history") or record.history
            # when the platform first offered it (ops may read every dispatch decision)
            try:
                decisions = await api.call("GET", f"/v1/dispatch/decisions/{record.order_id}", who=AS_OPS)
            except SimulationError:
                return
            if decisions.status_code == 200:
                offered = [
                    d["decided_at"]
                    for d in decisions.json().get("decisions", [])
                    if d.get("outcome") == "offered"
                ]
                record.first_offer_at = min(offered) if offered else None

    await asyncio.gather(*(one(r) for r in records if r.order_id is not None))


def _entry(history: list[dict[str, Any]], status: str) -> dict[str, Any] | None:
    return next((h for h in history if h.get("to_status") == status), None)


def _at(entry: dict[str, Any] | None) -> datetime | None:
    return None if entry is None else datetime.fromisoformat(str(entry["at"]).replace("Z", "+00:00"))


def _outcome(record: OrderRecord) -> OrderOutcome:
    plan = record.planned
    confirmed, assigned = _at(_entry(record.history, "confirmed")), _at(_entry(record.history, "assigned"))
    latency = (assigned - confirmed).total_seconds() if confirmed and assigned else None
    offered = _at({"at": record.first_offer_at} if record.first_offer_at else None)
    offer_latency = (offered - confirmed).total_seconds() if confirmed and offered else None
    reason = None
    if record.status == "unfulfilled":
        reason = (_entry(record.history, "unfulfilled") or {}).get("reason") or "no reason given"
    elif record.status == "cancelled":
        reason = record.cancel_reason or (_entry(record.history, "cancelled") or {}).get("reason")
    travel_km = None
    if record.provider_lat is not None and record.provider_lng is not None:
        travel_km = round(distance_km(record.provider_lat, record.provider_lng, plan.lat, plan.lng), 3)
    is_served = record.status == "completed"
    return OrderOutcome(
        index=plan.index,
        category=plan.category,
        zone=record.zone,
        lat=plan.lat,
        lng=plan.lng,
        sim_minute=plan.sim_minute,
        status=record.status if record.order_id is not None else None,
        refused=record.refused if record.order_id is None else None,
        reason=_short(reason),
        dispatch_latency_s=latency,
        offer_latency_s=offer_latency,
        provider_id=record.provider_id if is_served else None,
        provider_lat=record.provider_lat if is_served else None,
        provider_lng=record.provider_lng if is_served else None,
        travel_min=record.travel_min if is_served else None,
        travel_km=travel_km if is_served else None,
        duration_min=plan.duration_min,
        price_cents=record.price_cents,
        payout_cents=record.payout_cents if is_served else None,
        net_payout_cents=record.net_payout_cents if is_served else None,
        supplement_cents=record.supplement_cents if is_served else 0,
    )


def _short(reason: str | None) -> str | None:
    """Return a reason with its figures replaced by N, so that alike reasons count together."""
    return None if reason is None else re.sub(r"\d+", "N", reason.strip())[:200]


def _earnings(outcomes: list[OrderOutcome], provider_ids: list[str]) -> dict[str, tuple[int, int]]:
    totals = {pid: (0, 0) for pid in provider_ids}
    for o in outcomes:
        if o.provider_id is not None and o.status == "completed":
            gross, net = totals.get(o.provider_id, (0, 0))
            totals[o.provider_id] = (gross + (o.payout_cents or 0), net + (o.net_payout_cents or 0))
    return totals


__all__ = ["FINAL", "SimConfig", "run_simulation", "simulate"]
