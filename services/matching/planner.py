"""The bridge between matching's read models and the pure engine: plain data in, plain data out."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from services.matching.config import FloorMode, MatchingSettings
from services.matching.domain import latest_start, radius_factor
from services.matching.engine import (
    Assignment,
    CandidateScore,
    Commitment,
    FloorPolicy,
    HaversineTravel,
    OrderRequest,
    ProviderState,
    TravelModel,
    Weights,
    explain_assignment,
    explain_for_provider,
    solve,
)
from services.matching.engine.calendar import schedule_intervals
from services.matching.models import Mission, Order
from shared.fairpay import FairPaySettings


@dataclass(frozen=True)
class Plan:
    """What one batch would do: assignments with the radius used, unassigned orders with reasons."""

    assignments: list[tuple[Assignment, float]]
    unassigned: dict[str, str]


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def schedule_blocks(slots: Iterable[dict[str, Any]]) -> tuple[tuple[int, int, int], ...]:
    """Turn weekly slots {weekday, start, end} into engine blocks; a slot over midnight is split."""
    blocks: list[tuple[int, int, int]] = []
    for slot in slots:
        day, start, end = int(slot["weekday"]), _minutes(slot["start"]), _minutes(slot["end"])
        end = min(end, 1440)
        if end > start:
            blocks.append((day, start, end))
        elif end < start:  # runs past midnight into the next day
            blocks.append((day, start, 1440))
            if end > 0:
                blocks.append(((day + 1) % 7, 0, end))
    return tuple(sorted(blocks))


def is_scheduled(slots: Iterable[dict[str, Any]], start: datetime, duration_min: float) -> bool:
    """Say whether weekly slots cover a whole mission from `start` (the engine's own calendar)."""
    blocks = schedule_intervals(schedule_blocks(slots), start, 0.0, duration_min)
    return any(block_start <= 0.0 and duration_min <= block_end for block_start, block_end in blocks)


def provider_state(
    provider: Any, missions: Sequence[Mission], orders: dict[str, Order], hours_this_week: float
) -> ProviderState:
    """Describe a provider (a Provider or a row of DISPATCH_COLUMNS) to the engine, with the missions
    they already hold (pinned)."""
    commitments = tuple(
        Commitment(
            order_id=m.order_id,
            start=m.scheduled_start,
            end=m.scheduled_start + timedelta(minutes=m.duration_min),
            lat=orders[m.order_id].lat if m.order_id in orders else provider.lat,
            lng=orders[m.order_id].lng if m.order_id in orders else provider.lng,
        )
        for m in missions
    )
    return ProviderState(
        id=provider.provider_id,
        categories=frozenset(provider.categories),
        lat=provider.lat,
        lng=provider.lng,
        travel_radius_km=provider.travel_radius_km,
        on_duty=provider.is_on_duty,
        weekly_schedule=schedule_blocks(provider.weekly_schedule),
        commitments=commitments,
        rating=provider.rating_average,
        rating_count=provider.rating_count,
        hours_this_week=hours_this_week,
        weekly_target_h=provider.weekly_hours_target,
        zone="",
    )


def order_request(order: Order, declined_by: set[str]) -> OrderRequest:
    """Describe an order of the pool to the engine.

    The client's window is when the job happens, start to finish; the engine's window
    is when it may start: its end is the client's end minus the job's length.
    """
    return OrderRequest(
        id=order.order_id,
        category=order.category,
        lat=order.lat,
        lng=order.lng,
        window_start=order.window_start,
        window_end=latest_start(order.window_start, order.window_end, order.duration_min),
        duration_min=float(order.duration_min),
        payout_cents=order.payout_cents,
        declined_by=frozenset(declined_by),
        zone=order.zone,
        preferred_provider_id=order.preferred_provider_id,
    )


def floor_policy(settings: MatchingSettings, mode: FloorMode) -> FloorPolicy:
    """Return the fair-pay floor policy: the mode ops chose, the floor and rate of the settings."""
    fair_pay = FairPaySettings(
        floor_cents_per_hour=settings.floor_cents_per_hour, contribution_rate=settings.contribution_rate
    )
    return FloorPolicy(mode=mode, fair_pay=fair_pay)


def travel_model(settings: MatchingSettings) -> TravelModel:
    """Return the travel model of every batch, dry run and calendar check (one place to swap it)."""
    return HaversineTravel(
        detour_factor=settings.travel_detour_factor,
        speed_kmh_by_zone=settings.travel_speed_kmh_by_zone,
        default_speed_kmh=settings.travel_default_speed_kmh,
    )


def plan_batch(
    orders: Sequence[Order],
    providers: Sequence[ProviderState],
    exclusions: dict[str, set[str]],
    *,
    now: datetime,
    weights: Weights,
    floor_mode: FloorMode,
    settings: MatchingSettings,
    workers: int | None = None,
) -> Plan:
    """Solve a pool, widest radius first: orders nearer their deadline search further.

    Orders are grouped by their radius step; each group is solved in turn with
    the providers the previous groups left free. CPU-bound: call off the loop.
    `workers` goes to the engine (1: no worker process; None: the engine's default).
    """
    groups: dict[float, list[OrderRequest]] = {}
    for order in orders:
        factor = radius_factor(order.confirmed_at, order.dispatch_deadline, now, settings.radius_steps)
        groups.setdefault(factor, []).append(order_request(order, exclusions.get(order.order_id, set())))
    floor, travel = floor_policy(settings, floor_mode), travel_model(settings)
    free = list(providers)
    chosen: list[tuple[Assignment, float]] = []
    unassigned: dict[str, str] = {}
    for factor in sorted(groups, reverse=True):
        result = solve(
            groups[factor],
            free,
            now=now,
            weights=weights,
            floor=floor,
            travel=travel,
            radius_factor=factor,
            alternatives=settings.explanation_alternatives,
            workers=workers,
        )
        taken = {a.provider_id for a in result.assignments}
        free = [p for p in free if p.id not in taken]
        chosen.extend((a, factor) for a in result.assignments)
        unassigned.update(result.unassigned)
    return Plan(chosen, unassigned)


def weights_from(value: dict[str, Any] | None) -> Weights:
    """Return the persisted weights, or the engine's defaults."""
    return Weights(**value) if value else Weights()


def weights_to_dict(weights: Weights) -> dict[str, float]:
    """Return weights as plain numbers."""
    return {k: float(v) for k, v in asdict(weights).items()}


def _candidate_dict(candidate: CandidateScore) -> dict[str, Any]:
    return {
        "provider_id": candidate.provider_id,
        "cost": round(candidate.cost, 3),
        "travel_min": round(candidate.travel_min, 2),
        "start_at": candidate.start_at.isoformat(),
        "components": {k: round(v, 3) for k, v in candidate.components.items()},
        "supplement_cents": candidate.supplement_cents,
        "net_hourly_cents": candidate.net_hourly_cents,
        "note": candidate.note,
    }


def assignment_details(assignment: Assignment, factor: float) -> dict[str, Any]:
    """Return an assignment as JSON-ready numbers (what the decision keeps)."""
    chosen = _candidate_dict(assignment.chosen())
    return {
        "outcome": "offered",
        "radius_factor": factor,
        "chosen": chosen,
        "alternatives": [_candidate_dict(c) for c in assignment.alternatives],
    }


def assignment_from(details: dict[str, Any], order_id: str) -> Assignment:
    """Rebuild an Assignment from stored decision details (to explain it again)."""

    def candidate(d: dict[str, Any]) -> CandidateScore:
        return CandidateScore(
            provider_id=d["provider_id"],
            cost=float(d["cost"]),
            travel_min=float(d["travel_min"]),
            start_at=datetime.fromisoformat(d["start_at"]),
            components={k: float(v) for k, v in d["components"].items()},
            supplement_cents=int(d["supplement_cents"]),
            net_hourly_cents=int(d["net_hourly_cents"]),
            note=d.get("note", ""),
        )

    chosen = candidate(details["chosen"])
    return Assignment(
        order_id=order_id,
        provider_id=chosen.provider_id,
        start_at=chosen.start_at,
        travel_min=chosen.travel_min,
        cost=chosen.cost,
        components=chosen.components,
        supplement_cents=chosen.supplement_cents,
        net_hourly_cents=chosen.net_hourly_cents,
        alternatives=[candidate(d) for d in details.get("alternatives", [])],
    )


def summarise(assignment: Assignment) -> str:
    """Explain an assignment in plain words, with the numbers."""
    return explain_assignment(assignment)


def explain_to_provider(assignment: Assignment, provider_id: str) -> str:
    """Tell one provider why they got this mission."""
    return explain_for_provider(assignment, provider_id)


def for_provider(details: dict[str, Any], provider_id: str) -> dict[str, Any]:
    """Keep only what one provider may read of a decision: their own numbers, others anonymous."""

    def mask(candidate: dict[str, Any]) -> dict[str, Any]:
        if candidate.get("provider_id") == provider_id:
            return candidate
        masked = dict(candidate, provider_id="another provider")
        if str(candidate.get("note", "")).startswith("was given order"):
            masked["note"] = "was given another order in the same batch"  # not which one
        return masked

    return dict(
        details,
        chosen=mask(details["chosen"]),
        alternatives=[mask(alt) for alt in details.get("alternatives", [])],
    )


def concerns(details: dict[str, Any], provider_id: str) -> bool:
    """Say whether a provider was the chosen one or a rejected candidate of a decision."""
    if "chosen" not in details:
        return False
    ids = {details["chosen"].get("provider_id")} | {
        a.get("provider_id") for a in details.get("alternatives", [])
    }
    return provider_id in ids
