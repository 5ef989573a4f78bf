"""The dispatch loop: lapse old offers, give up past deadlines, solve each zone's pool, send offers.

Scale-out: each zone's pool is solved under a PostgreSQL advisory lock
(`pg_try_advisory_xact_lock`) held by the batch's transaction, so one process
at a time solves a zone; a dead process's transaction (and lock) dies with its
connection and the next batch anywhere takes the zone over. The unique partial
indexes on live offers (one per order, one per provider) are the last line of
defence when two zones' batches pick the same provider: the loser's offer is
rolled back to its savepoint and the order waits for the next batch.
"""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from services.matching import planner
from services.matching.config import MatchingSettings
from services.matching.domain import OrderState, week_bounds
from services.matching.engine import ProviderState
from services.matching.lifecycle import expire_offer, make_offer, record_decision
from services.matching.metrics import BATCH_SECONDS, OFFERS, ZONES
from services.matching.models import Order
from services.matching.policy import BatchPolicy, load_policy
from services.matching.repository import MatchingRepository
from shared.db import Database
from shared.events.matching import OrderUnassignable
from shared.ids import new_id

log = structlog.get_logger(__name__)

NO_TAKER = "nobody accepted before the dispatch deadline"


def zone_lock_key(zone: str) -> int:
    """Return the advisory-lock key of a zone (stable across processes, signed 32-bit)."""
    return zlib.crc32(f"matching.zone:{zone}".encode()) - 2**31


@dataclass
class BatchReport:
    """What one batch did, for logs and tests."""

    offered: int = 0
    expired: int = 0
    unassignable: int = 0
    zones_solved: list[str] = field(default_factory=list)
    zones_skipped: list[str] = field(default_factory=list)
    zones_failed: list[str] = field(default_factory=list)
    collisions: int = 0


class Dispatcher:
    """Runs batches against the database; many dispatchers may share one PostgreSQL schema."""

    def __init__(self, database: Database, settings: MatchingSettings, clock: Callable[[], datetime]) -> None:
        self.database = database
        self.settings = settings
        self.clock = clock
        # 2 once the service has started the engine's worker process; 1 solves in this process.
        self.workers = 1
        # provider id -> (what the description was made from, the engine's description)
        self._states: dict[str, tuple[Any, ProviderState]] = {}

    async def run_batch(self) -> BatchReport:
        """Run one full batch: lapses, deadlines, then every zone with a pool."""
        report = BatchReport()
        started = time.perf_counter()
        now = self.clock()
        report.expired = await self.expire_lapsed(now)
        report.unassignable = await self.give_up_overdue(now)
        async with self.database.unit_of_work() as uow:
            zones = await MatchingRepository(uow.session).pool_zones(now)
        for zone in zones:
            try:
                await self.dispatch_zone(zone, now, report)
            except Exception as exc:  # one zone's failure must not stop the others
                # A lost lock or connection (DBAPIError), or a row the engine refuses (ValueError):
                # the zone's transaction rolls back and waits for the next batch.
                log.warning("dispatch_zone_failed", zone=zone, error=repr(exc), exc_info=exc)
                report.zones_failed.append(zone)
        BATCH_SECONDS.observe(time.perf_counter() - started)
        OFFERS.labels("offered").inc(report.offered)
        OFFERS.labels("expired").inc(report.expired)
        OFFERS.labels("collision").inc(report.collisions)
        for outcome, zones_ in (
            ("solved", report.zones_solved),
            ("skipped", report.zones_skipped),
            ("failed", report.zones_failed),
        ):
            ZONES.labels(outcome).inc(len(zones_))
        if report.offered or report.expired or report.unassignable:
            log.info("dispatch_batch", **{k: v for k, v in report.__dict__.items() if v})
        return report

    async def pool_size(self) -> int:
        """Return how many orders wait in the pool."""
        async with self.database.unit_of_work() as uow:
            return await MatchingRepository(uow.session).pool_size()

    async def expire_lapsed(self, now: datetime) -> int:
        """Lapse every offer past its deadline: each order goes back to the pool without its provider.

        Another process may lapse the same offers at once: `expire_offer` locks (and
        reloads) the order, then moves the offer with a compare-and-set, so only one
        transaction lapses each offer and publishes `mission-expired`.
        """
        async with self.database.unit_of_work() as uow:
            repo = MatchingRepository(uow.session)
            count = 0
            for offer in await repo.lapsed_offers(now):
                count += await expire_offer(uow, repo, offer, now)
            await uow.commit()
        return count

    async def give_up_overdue(self, now: datetime) -> int:
        """Declare unassignable every pooled order past its dispatch deadline, with the reason."""
        async with self.database.unit_of_work() as uow:
            repo = MatchingRepository(uow.session)
            count = 0
            # Locked (and reloaded) by the read itself: a second process's sweep skips these
            # rows instead of deciding on a copy read before this one commits.
            for order in await repo.lock_overdue_pool(now):
                if order.status != OrderState.pool.value or order.dispatch_deadline > now:
                    continue  # re-checked under the lock
                reason = order.last_reason or NO_TAKER
                declines = len((await repo.exclusions([order.order_id])).get(order.order_id, set()))
                if declines:
                    reason = f"{reason} ({declines} provider(s) declined or let the offer lapse)"
                order.status = OrderState.unassignable.value
                order.closed_at = now
                order.last_reason = reason
                record_decision(
                    repo,
                    order.order_id,
                    batch_id="deadline",
                    now=now,
                    provider_id=None,
                    summary=f"Given up at the dispatch deadline: {reason}.",
                    details={"outcome": "unassignable", "reason": reason},
                )
                uow.add_event(OrderUnassignable(order_id=order.order_id, reason=reason))
                count += 1
            await uow.commit()
        return count

    async def _lock_zone(self, repo: MatchingRepository, zone: str) -> bool:
        if not self.database.is_postgres:
            return True  # one embedded process: nothing to share
        got = await repo.session.scalar(select(func.pg_try_advisory_xact_lock(zone_lock_key(zone))))
        return bool(got)

    async def _plan(
        self,
        orders: list[Order],
        states: list[ProviderState],
        exclusions: dict[str, set[str]],
        now: datetime,
        policy: BatchPolicy,
    ) -> planner.Plan:
        """Solve a pool off the event loop (CPU-bound)."""
        return await asyncio.to_thread(
            planner.plan_batch,
            orders,
            states,
            exclusions,
            now=now,
            weights=policy.weights,
            floor_mode=policy.floor_mode,
            settings=self.settings,
            workers=self.workers,
        )

    async def _load(
        self, repo: MatchingRepository, zone: str | None, now: datetime, *, lock: bool
    ) -> tuple[list[Order], list[ProviderState], dict[str, set[str]]]:
        """Load a pool (one zone or all), the free qualified providers, and past declines."""
        # Locked so that a cancellation or the deadline sweep waits for this batch's commit.
        candidates = await repo.orders_in([OrderState.pool.value], zone, for_update=lock)
        orders = [o for o in candidates if o.dispatch_deadline > now]
        if not orders:
            return [], [], {}
        rows = await repo.free_active_providers({o.category for o in orders})
        held = await repo.held_missions_of([p.provider_id for p in rows])
        held_orders = await repo.orders_by_id([m.order_id for m in held])
        # This week's missions only: one booked for a later week counts in that week.
        hours = await repo.hours_between(*week_bounds(now, self.settings.time_zone))
        by_provider: dict[str, list[Any]] = {}
        for mission in held:
            by_provider.setdefault(mission.provider_id, []).append(mission)
        states = []
        for p in rows:
            try:
                missions, worked = by_provider.get(p.provider_id, []), hours.get(p.provider_id, 0.0)
                state = self._state(p, missions, held_orders, worked)
            except ValueError as exc:  # a row the engine refuses must not stop every zone's dispatch
                log.warning("provider_not_dispatchable", provider_id=p.provider_id, error=str(exc))
                continue
            states.append(state)
        exclusions = await repo.exclusions([o.order_id for o in orders])
        return orders, states, exclusions

    def _state(
        self, row: Any, missions: list[Any], held_orders: dict[str, Order], hours: float
    ) -> ProviderState:
        """Describe a provider to the engine, reusing the description of an unchanged one.

        Every zone of every batch describes every free provider; most are the same as last
        time (same row, no mission held, same hours), and ProviderState is immutable.
        """
        if missions:
            return planner.provider_state(row, missions, held_orders, hours)
        key = (tuple(row), hours)
        cached = self._states.get(row.provider_id)
        if cached is not None and cached[0] == key:
            return cached[1]
        state = planner.provider_state(row, missions, held_orders, hours)
        self._states[row.provider_id] = (key, state)
        return state

    async def dispatch_zone(self, zone: str, now: datetime, report: BatchReport) -> None:
        """Solve one zone's pool under its lock and send the offers, in one transaction."""
        async with self.database.unit_of_work() as uow:
            repo = MatchingRepository(uow.session)
            if not await self._lock_zone(repo, zone):
                report.zones_skipped.append(zone)
                return
            orders, states, exclusions = await self._load(repo, zone, now, lock=True)
            if not orders:
                return
            policy = await load_policy(repo, self.settings)
            plan = await self._plan(orders, states, exclusions, now, policy)
            by_id = {o.order_id: o for o in orders}
            batch_id = new_id()
            # Offers go in by provider id in every process: waits on a contested provider never cycle.
            chosen = sorted(plan.assignments, key=lambda pair: pair[0].provider_id)
            made = await self._offer_all(uow, repo, by_id, chosen, now, batch_id)
            for (assignment, factor), is_made in zip(chosen, made, strict=True):
                if is_made:
                    record_decision(
                        repo,
                        assignment.order_id,
                        batch_id=batch_id,
                        now=now,
                        provider_id=assignment.provider_id,
                        summary=planner.summarise(assignment),
                        details=planner.assignment_details(assignment, factor),
                    )
                    report.offered += 1
                else:
                    report.collisions += 1
            for order_id, reason in plan.unassigned.items():
                order = by_id[order_id]
                if order.last_reason != reason:
                    order.last_reason = reason
                    record_decision(
                        repo,
                        order_id,
                        batch_id=batch_id,
                        now=now,
                        provider_id=None,
                        summary=f"Not offered yet: {reason}.",
                        details={"outcome": "waiting", "reason": reason},
                    )
            await uow.commit()
            report.zones_solved.append(zone)

    async def _offer_all(
        self,
        uow: Any,
        repo: MatchingRepository,
        by_id: dict[str, Order],
        chosen: list[tuple[Any, float]],
        now: datetime,
        batch_id: str,
    ) -> list[bool]:
        """Create the batch's offers with one flush; whether each one was made.

        A lost race is rare (two zones' batches picking one provider), so every offer goes in
        at once under one savepoint; only when a unique index refuses one are they redone one
        savepoint each, so that the lost race skips that order alone.
        """
        if not chosen:
            return []
        if not self.database.is_postgres:
            return [await self._offer(uow, repo, by_id[a.order_id], a, now, batch_id) for a, _ in chosen]
        try:
            async with uow.session.begin_nested():
                for assignment, _ in chosen:
                    make_offer(uow, repo, by_id[assignment.order_id], assignment.provider_id,
                               **self._offer_args(assignment, now, batch_id))
                await uow.session.flush()
            return [True] * len(chosen)
        except IntegrityError:
            for assignment, _ in chosen:  # the savepoint's rollback expired them
                await uow.session.refresh(by_id[assignment.order_id])
        return [await self._offer(uow, repo, by_id[a.order_id], a, now, batch_id) for a, _ in chosen]

    def _offer_args(self, assignment: Any, now: datetime, batch_id: str) -> dict[str, Any]:
        return {
            "now": now,
            "ttl_s": self.settings.offer_ttl_s,
            "start_at": assignment.start_at,
            "travel_min": assignment.travel_min,
            "supplement_cents": assignment.supplement_cents,
            "batch_id": batch_id,
        }

    async def _offer(
        self, uow: Any, repo: MatchingRepository, order: Order, assignment: Any, now: datetime, batch_id: str
    ) -> bool:
        """Create one offer; on PostgreSQL inside a savepoint so a lost race skips only this order."""
        kwargs = self._offer_args(assignment, now, batch_id)
        if not self.database.is_postgres:
            make_offer(uow, repo, order, assignment.provider_id, **kwargs)
            await uow.session.flush()
            return True
        try:
            async with uow.session.begin_nested():
                make_offer(uow, repo, order, assignment.provider_id, **kwargs)
                await uow.session.flush()
            return True
        except IntegrityError:
            await uow.session.refresh(order)
            log.info("offer_collision", order_id=order.order_id, provider_id=assignment.provider_id)
            return False

    async def preview(self) -> dict[str, Any]:
        """Return what the next batch would decide, changing nothing (ops dry run).

        Each zone is solved on its own, as a batch does; a zone whose solve fails is
        named in `zones_failed` with the error, and the others are still shown.
        """
        now = self.clock()
        async with self.database.unit_of_work() as uow:
            repo = MatchingRepository(uow.session)
            orders, states, exclusions = await self._load(repo, None, now, lock=False)
            policy = await load_policy(repo, self.settings)
            repo.detach()
        by_zone: dict[str, list[Order]] = {}
        for order in orders:
            by_zone.setdefault(order.zone, []).append(order)
        assignments: list[tuple[Any, float]] = []
        unassigned: dict[str, str] = {}
        failed: list[dict[str, str]] = []
        for zone in sorted(by_zone):
            try:
                plan = await self._plan(by_zone[zone], states, exclusions, now, policy)
            except Exception as exc:  # the other zones are still worth showing
                log.warning("dispatch_preview_zone_failed", zone=zone, error=repr(exc))
                failed.append({"zone": zone, "error": str(exc) or type(exc).__name__})
                continue
            assignments.extend(plan.assignments)
            unassigned.update(plan.unassigned)
        return {
            "at": now.isoformat(),
            "pool": len(orders),
            "providers_free": len(states),
            "weights": planner.weights_to_dict(policy.weights),
            "floor_policy": policy.floor_mode,
            "zones_solved": sorted(set(by_zone) - {f["zone"] for f in failed}),
            "zones_failed": failed,
            "assignments": [
                {
                    "order_id": a.order_id,
                    "provider_id": a.provider_id,
                    "start_at": a.start_at.isoformat(),
                    "summary": planner.summarise(a),
                    **planner.assignment_details(a, factor),
                }
                for a, factor in assignments
            ],
            "unassigned": [{"order_id": k, "reason": v} for k, v in sorted(unassigned.items())],
        }
