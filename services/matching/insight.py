"""What ops and providers read about dispatch: pool, board, weights, floor policy, fairness, explanations."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from services.matching import planner
from services.matching.config import FloorMode, MatchingSettings
from services.matching.domain import MissionStatus, OrderState, home_zone, spread
from services.matching.engine import Weights
from services.matching.errors import DecisionNotFound
from services.matching.models import Provider
from services.matching.policy import (
    FLOOR_POLICY_KEY,
    WEIGHTS_KEY,
    StoredSetting,
    default_floor_policy,
    default_weights,
    read_setting,
    write_setting,
)
from services.matching.repository import MatchingRepository
from shared.auth import Principal
from shared.db import Database
from shared.errors import Invalid


class DispatchInsight:
    """Read-side use cases of /v1/dispatch, plus the policies ops change (weights, floor)."""

    def __init__(self, database: Database, settings: MatchingSettings, clock: Callable[[], datetime]) -> None:
        self.database = database
        self.settings = settings
        self.clock = clock

    async def pool(self) -> list[dict[str, Any]]:
        """Return the orders waiting for a provider, with why they wait."""
        async with self.database.unit_of_work() as uow:
            repo = MatchingRepository(uow.session)
            orders = await repo.orders_in([OrderState.pool.value, OrderState.offered.value])
            exclusions = await repo.exclusions([o.order_id for o in orders])
            return [
                {
                    "order_id": o.order_id,
                    "status": o.status,
                    "category": o.category,
                    "zone": o.zone,
                    "district": o.district,
                    "window_start": o.window_start,
                    "window_end": o.window_end,
                    "dispatch_deadline": o.dispatch_deadline,
                    "declined_by": sorted(exclusions.get(o.order_id, set())),
                    "reason": o.last_reason,
                }
                for o in orders
            ]

    async def board(self) -> dict[str, Any]:
        """Return the live board: counts, live offers, missions under way, unassignable orders."""
        async with self.database.unit_of_work() as uow:
            repo = MatchingRepository(uow.session)
            offers = await repo.live_offers()
            missions = await repo.missions(None, [MissionStatus.assigned.value, MissionStatus.started.value])
            unassignable = await repo.orders_in([OrderState.unassignable.value])
            pool = await repo.orders_in([OrderState.pool.value])
            live = {
                o.order_id: o
                for o in await repo.orders_in(
                    [OrderState.offered.value, OrderState.assigned.value, OrderState.started.value]
                )
            }
            providers = await repo.all_providers()
            repo.detach()

        def where(order_id: str) -> dict[str, Any]:
            order = live.get(order_id)
            if order is None:
                return {"category": None, "lat": None, "lng": None}
            return {"category": order.category, "lat": order.lat, "lng": order.lng}

        return {
            "at": self.clock(),
            "counts": {
                "pool": len(pool),
                "live_offers": len(offers),
                "missions_assigned": sum(m.status == MissionStatus.assigned.value for m in missions),
                "missions_started": sum(m.status == MissionStatus.started.value for m in missions),
                "unassignable": len(unassignable),
                "providers_active": sum(p.status == "active" for p in providers),
                "providers_on_duty": sum(p.status == "active" and p.is_on_duty for p in providers),
            },
            "pool": [
                {
                    "order_id": o.order_id,
                    "zone": o.zone,
                    "category": o.category,
                    "lat": o.lat,
                    "lng": o.lng,
                    "dispatch_deadline": o.dispatch_deadline,
                    "reason": o.last_reason,
                }
                for o in pool
            ],
            "live_offers": [
                {
                    "offer_id": o.id,
                    "order_id": o.order_id,
                    "provider_id": o.provider_id,
                    "zone": o.zone,
                    "expires_at": o.expires_at,
                    **where(o.order_id),
                }
                for o in offers
            ],
            "missions": [
                {
                    "mission_id": m.id,
                    "order_id": m.order_id,
                    "provider_id": m.provider_id,
                    "status": m.status,
                    "scheduled_start": m.scheduled_start,
                    **where(m.order_id),
                }
                for m in missions
            ],
            "unassignable": [
                {
                    "order_id": o.order_id,
                    "zone": o.zone,
                    "reason": o.last_reason,
                    "category": o.category,
                    "lat": o.lat,
                    "lng": o.lng,
                }
                for o in unassignable
            ],
            "providers": [
                {"provider_id": p.provider_id, "lat": p.lat, "lng": p.lng, "on_duty": p.is_on_duty}
                for p in providers
                if p.status == "active" and p.is_on_duty
            ],
        }

    async def _read_setting(self, key: str, default: dict[str, Any]) -> StoredSetting:
        async with self.database.unit_of_work() as uow:
            return await read_setting(MatchingRepository(uow.session), key, default)

    async def _write_setting(
        self, key: str, value: dict[str, Any], default: dict[str, Any], actor: str, reason: str
    ) -> StoredSetting:
        async with self.database.unit_of_work() as uow:
            stored = await write_setting(
                MatchingRepository(uow.session),
                key,
                value,
                default=default,
                actor=actor,
                reason=reason,
                now=self.clock(),
            )
            await uow.commit()
        return stored

    async def weights(self) -> dict[str, Any]:
        """Return the weights the next batch uses."""
        stored = await self._read_setting(WEIGHTS_KEY, default_weights())
        weights = planner.weights_from(stored.value)
        return {
            "weights": planner.weights_to_dict(weights),
            "updated_at": stored.updated_at,
            "updated_by": stored.updated_by,
        }

    async def set_weights(self, values: dict[str, float], actor: str, reason: str) -> dict[str, Any]:
        """Ops: change the weights (audited); the next batch uses them."""
        try:
            weights = Weights(**values)
        except (TypeError, ValueError) as exc:
            raise Invalid(str(exc), field="weights") from exc
        value = planner.weights_to_dict(weights)
        stored = await self._write_setting(WEIGHTS_KEY, value, default_weights(), actor, reason)
        return {"weights": stored.value, "updated_at": stored.updated_at, "updated_by": stored.updated_by}

    async def floor_policy(self) -> dict[str, Any]:
        """Return the fair-pay floor policy the next batch uses."""
        stored = await self._read_setting(FLOOR_POLICY_KEY, default_floor_policy(self.settings))
        return self._floor_policy_read(stored)

    async def set_floor_policy(self, mode: FloorMode, actor: str, reason: str) -> dict[str, Any]:
        """Ops: choose what a below-floor pair gets, a supplement or ruled out (audited)."""
        default = default_floor_policy(self.settings)
        stored = await self._write_setting(FLOOR_POLICY_KEY, {"mode": mode}, default, actor, reason)
        return self._floor_policy_read(stored)

    def _floor_policy_read(self, stored: StoredSetting) -> dict[str, Any]:
        return {
            "mode": stored.value["mode"],
            "floor_cents_per_hour": self.settings.floor_cents_per_hour,
            "updated_at": stored.updated_at,
            "updated_by": stored.updated_by,
        }

    async def audit(self) -> list[dict[str, Any]]:
        """Return the audit log of ops decisions in matching."""
        async with self.database.unit_of_work() as uow:
            rows = await MatchingRepository(uow.session).audit()
            return [
                {
                    "id": r.id,
                    "at": r.at,
                    "actor": r.actor,
                    "action": r.action,
                    "subject_id": r.subject_id,
                    "reason": r.reason,
                    "details": r.details,
                }
                for r in rows
            ]

    async def decisions(self, order_id: str, principal: Principal) -> dict[str, Any]:
        """Explain a dispatch decision: ops any order; a provider only where they were a candidate."""
        async with self.database.unit_of_work() as uow:
            repo = MatchingRepository(uow.session)
            rows = await repo.decisions(order_id)
            repo.detach()
        if not principal.is_ops:
            rows = [d for d in rows if planner.concerns(d.details, principal.subject)]
        if not rows:
            raise DecisionNotFound(order_id)
        items = []
        for d in rows:
            if principal.is_ops:
                items.append(
                    {
                        "decided_at": d.decided_at,
                        "batch_id": d.batch_id,
                        "provider_id": d.provider_id,
                        "summary": d.summary,
                        **d.details,
                    }
                )
            else:
                assignment = planner.assignment_from(d.details, order_id)
                items.append(
                    {
                        "decided_at": d.decided_at,
                        "is_chosen": d.provider_id == principal.subject,
                        "summary": planner.explain_to_provider(assignment, principal.subject),
                        **planner.for_provider(d.details, principal.subject),
                    }
                )
        return {"order_id": order_id, "decisions": items}

    async def fairness(self, provider_id: str | None = None) -> dict[str, Any]:
        """Compare each provider's offers with the median of comparable providers.

        Comparable: the same home zone (from the provider's home postcode, offers
        or none, so that a provider who got no offer is compared too), a shared
        category, and hours on duty in the same band over the period.
        """
        now = self.clock()
        since = now - timedelta(days=self.settings.fairness_period_days)
        async with self.database.unit_of_work() as uow:
            repo = MatchingRepository(uow.session)
            providers = [p for p in await repo.all_providers() if p.status == "active"]
            counts = await repo.offer_counts_since(since)
            zones_by_postcode = await repo.zones_by_postcode()
            periods = await repo.duty_periods_since(since)
            repo.detach()
        duty_h: dict[str, float] = {}
        for period in periods:
            start = max(period.started_at, since)
            end = period.ended_at or now
            if end > start:
                duty_h[period.provider_id] = (
                    duty_h.get(period.provider_id, 0.0) + (end - start).total_seconds() / 3600
                )

        zones = {p.provider_id: home_zone(p.postcode, zones_by_postcode) for p in providers}

        def zone_of(p: Provider) -> str:
            return zones[p.provider_id]

        def band(p: Provider) -> int:
            return int(duty_h.get(p.provider_id, 0.0) // self.settings.fairness_duty_band_h)

        rows = []
        for p in providers:
            if provider_id is not None and p.provider_id != provider_id:
                continue
            peers = [
                counts.get(q.provider_id, 0)
                for q in providers
                if q.provider_id != p.provider_id
                and zone_of(q) == zone_of(p)
                and set(q.categories) & set(p.categories)
                and band(q) == band(p)
            ]
            rows.append(
                {
                    "provider_id": p.provider_id,
                    "zone": zone_of(p),
                    "categories": list(p.categories),
                    "duty_hours": round(duty_h.get(p.provider_id, 0.0), 2),
                    **spread(counts.get(p.provider_id, 0), peers),
                }
            )
        return {"since": since, "until": now, "providers": rows}
