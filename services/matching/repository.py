"""Queries of the matching service; never commits."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.matching.domain import MissionStatus, OfferStatus, OrderState
from services.matching.models import (
    AuditEntry,
    Decision,
    DutyPeriod,
    Exclusion,
    Mission,
    Offer,
    Order,
    Provider,
    Setting,
)

HELD = (MissionStatus.assigned.value, MissionStatus.started.value)
# What the engine needs of a provider (planner.provider_state)
DISPATCH_COLUMNS = (
    "provider_id",
    "categories",
    "lat",
    "lng",
    "travel_radius_km",
    "is_on_duty",
    "weekly_schedule",
    "rating_average",
    "rating_count",
    "weekly_hours_target",
)


class MatchingRepository:
    """Reads and writes of matching's tables inside one unit of work.

    Every locking read (`for_update=True`) also reloads the row into the session
    (`populate_existing`): a copy loaded earlier in the transaction, before the
    lock, may be stale, and deciding on it would overwrite another transaction's
    committed change (e.g. a cancellation).
    """

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # providers
    async def provider(self, provider_id: str, *, for_update: bool = False) -> Provider | None:
        query = select(Provider).where(Provider.provider_id == provider_id)
        if for_update:
            query = query.with_for_update().execution_options(populate_existing=True)
        return (await self.session.scalars(query)).one_or_none()

    async def providers(self, provider_ids: Sequence[str]) -> dict[str, Provider]:
        if not provider_ids:
            return {}
        rows = await self.session.scalars(select(Provider).where(Provider.provider_id.in_(provider_ids)))
        return {p.provider_id: p for p in rows}

    async def free_active_providers(self, categories: Iterable[str]) -> list[Any]:
        """Return the active providers of any of `categories` without a live offer, as rows.

        Every zone of every batch reads them all: as column rows rather than ORM objects
        (no identity map, no change tracking), which cost a few times more, and without
        the busy ones in the database rather than after the transfer.
        """
        busy = select(Offer.provider_id).where(
            Offer.provider_id == Provider.provider_id, Offer.status == OfferStatus.pending.value
        )
        rows = await self.session.execute(
            select(*(getattr(Provider, name) for name in DISPATCH_COLUMNS))
            .where(Provider.status == "active", ~busy.exists())
            .order_by(Provider.provider_id)
        )
        wanted = set(categories)
        return [p for p in rows if wanted & set(p.categories)]

    async def all_providers(self) -> list[Provider]:
        return list(await self.session.scalars(select(Provider).order_by(Provider.provider_id)))

    async def open_duty_period(self, provider_id: str) -> DutyPeriod | None:
        return (
            await self.session.scalars(
                select(DutyPeriod).where(DutyPeriod.provider_id == provider_id, DutyPeriod.ended_at.is_(None))
            )
        ).first()

    async def duty_periods_since(self, since: datetime) -> list[DutyPeriod]:
        rows = await self.session.scalars(
            select(DutyPeriod).where((DutyPeriod.ended_at.is_(None)) | (DutyPeriod.ended_at > since))
        )
        return list(rows)

    # orders
    async def order(self, order_id: str, *, for_update: bool = False) -> Order | None:
        query = select(Order).where(Order.order_id == order_id)
        if for_update:
            query = query.with_for_update().execution_options(populate_existing=True)
        return (await self.session.scalars(query)).one_or_none()

    async def orders_in(
        self, states: Sequence[str], zone: str | None = None, *, for_update: bool = False
    ) -> list[Order]:
        query = select(Order).where(Order.status.in_(states))
        if zone is not None:
            query = query.where(Order.zone == zone)
        query = query.order_by(Order.dispatch_deadline, Order.order_id)
        if for_update:
            query = query.with_for_update().execution_options(populate_existing=True)
        return list(await self.session.scalars(query))

    async def orders_by_id(self, order_ids: Sequence[str]) -> dict[str, Order]:
        if not order_ids:
            return {}
        rows = await self.session.scalars(select(Order).where(Order.order_id.in_(set(order_ids))))
        return {o.order_id: o for o in rows}

    async def pool_zones(self, now: datetime) -> list[str]:
        rows = await self.session.scalars(
            select(Order.zone)
            .where(Order.status == OrderState.pool.value, Order.dispatch_deadline > now)
            .distinct()
            .order_by(Order.zone)
        )
        return list(rows)

    async def pool_size(self) -> int:
        count = await self.session.scalar(
            select(func.count()).select_from(Order).where(Order.status == OrderState.pool.value)
        )
        return int(count or 0)

    async def lock_overdue_pool(self, now: datetime) -> list[Order]:
        """Lock and return the pooled orders past their deadline, fresh from the database.

        Rows another transaction holds (a cancellation, a zone's batch, another
        process's sweep) are skipped, not waited for: the next sweep sees them as
        they are then. PostgreSQL re-checks the WHERE on the latest committed
        version of each row it locks, so an order cancelled meanwhile is not returned.
        """
        rows = await self.session.scalars(
            select(Order)
            .where(Order.status == OrderState.pool.value, Order.dispatch_deadline <= now)
            .order_by(Order.order_id)
            .with_for_update(skip_locked=True)
            .execution_options(populate_existing=True)
        )
        return list(rows)

    async def exclusions(self, order_ids: Sequence[str]) -> dict[str, set[str]]:
        result: dict[str, set[str]] = {}
        if not order_ids:
            return result
        rows = await self.session.execute(
            select(Exclusion.order_id, Exclusion.provider_id).where(Exclusion.order_id.in_(order_ids))
        )
        for order_id, provider_id in rows:
            result.setdefault(order_id, set()).add(provider_id)
        return result

    async def exclude(self, order_id: str, provider_id: str, cause: str, reason: str, at: datetime) -> None:
        existing = await self.session.get(Exclusion, (order_id, provider_id))
        if existing is None:
            self.session.add(
                Exclusion(order_id=order_id, provider_id=provider_id, cause=cause, reason=reason, at=at)
            )

    # offers
    async def offer(self, offer_id: str) -> Offer | None:
        return await self.session.get(Offer, offer_id)

    async def live_offer_for_order(self, order_id: str) -> Offer | None:
        return (
            await self.session.scalars(
                select(Offer).where(Offer.order_id == order_id, Offer.status == OfferStatus.pending.value)
            )
        ).first()

    async def live_offers(self, provider_id: str | None = None) -> list[Offer]:
        query = select(Offer).where(Offer.status == OfferStatus.pending.value)
        if provider_id is not None:
            query = query.where(Offer.provider_id == provider_id)
        return list(await self.session.scalars(query.order_by(Offer.created_at, Offer.id)))

    async def offers_of(self, provider_id: str, statuses: Sequence[str]) -> list[Offer]:
        rows = await self.session.scalars(
            select(Offer)
            .where(Offer.provider_id == provider_id, Offer.status.in_(statuses))
            .order_by(Offer.created_at.desc(), Offer.id)
        )
        return list(rows)

    async def providers_with_live_offer(self) -> set[str]:
        rows = await self.session.scalars(
            select(Offer.provider_id).where(Offer.status == OfferStatus.pending.value)
        )
        return set(rows)

    async def lapsed_offers(self, now: datetime) -> list[Offer]:
        rows = await self.session.scalars(
            select(Offer)
            .where(Offer.status == OfferStatus.pending.value, Offer.expires_at <= now)
            .order_by(Offer.order_id)
        )
        return list(rows)

    async def move_offer(
        self, offer_id: str, source: str, target: str, now: datetime, reason: str = ""
    ) -> bool:
        """Compare-and-set an offer's state: True when this transaction made the move."""
        result = await self.session.execute(
            update(Offer)
            .where(Offer.id == offer_id, Offer.status == source)
            .values(status=target, decided_at=now, reason=reason)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def offer_counts_since(self, since: datetime) -> dict[str, int]:
        rows = await self.session.execute(
            select(Offer.provider_id, func.count())
            .where(Offer.created_at >= since)
            .group_by(Offer.provider_id)
        )
        return {provider_id: int(count) for provider_id, count in rows}

    async def zones_by_postcode(self) -> dict[str, dict[str, int]]:
        """Return, per order postcode, how many orders each zone had (the zones matching knows)."""
        rows = await self.session.execute(
            select(Order.postcode, Order.zone, func.count()).group_by(Order.postcode, Order.zone)
        )
        result: dict[str, dict[str, int]] = {}
        for postcode, zone, count in rows:
            result.setdefault(postcode, {})[zone] = int(count)
        return result

    # missions
    async def mission(self, mission_id: str, *, for_update: bool = False) -> Mission | None:
        query = select(Mission).where(Mission.id == mission_id)
        if for_update:
            query = query.with_for_update().execution_options(populate_existing=True)
        return (await self.session.scalars(query)).one_or_none()

    async def held_mission_for_order(self, order_id: str) -> Mission | None:
        return (
            await self.session.scalars(
                select(Mission).where(Mission.order_id == order_id, Mission.status.in_(HELD))
            )
        ).first()

    async def missions(
        self, provider_id: str | None = None, statuses: Sequence[str] | None = None
    ) -> list[Mission]:
        query = select(Mission)
        if provider_id is not None:
            query = query.where(Mission.provider_id == provider_id)
        if statuses:
            query = query.where(Mission.status.in_(statuses))
        return list(await self.session.scalars(query.order_by(Mission.scheduled_start, Mission.id)))

    async def held_missions_of(self, provider_ids: Sequence[str]) -> list[Mission]:
        if not provider_ids:
            return []
        rows = await self.session.scalars(
            select(Mission).where(Mission.provider_id.in_(provider_ids), Mission.status.in_(HELD))
        )
        return list(rows)

    async def hours_between(self, start: datetime, end: datetime) -> dict[str, float]:
        """Return hours of missions (held or completed) scheduled from `start` to before `end`,
        per provider."""
        rows = await self.session.execute(
            select(Mission.provider_id, func.sum(Mission.duration_min))
            .where(
                Mission.status != MissionStatus.cancelled.value,
                Mission.scheduled_start >= start,
                Mission.scheduled_start < end,
            )
            .group_by(Mission.provider_id)
        )
        return {provider_id: float(total or 0) / 60 for provider_id, total in rows}

    async def move_mission(self, mission_id: str, source: str, target: str, values: dict[str, Any]) -> bool:
        """Compare-and-set a mission's state: True when this transaction made the move."""
        result = await self.session.execute(
            update(Mission)
            .where(Mission.id == mission_id, Mission.status == source)
            .values(status=target, **values)
            .execution_options(synchronize_session=False)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    # decisions, settings, audit
    async def decisions(self, order_id: str) -> list[Decision]:
        rows = await self.session.scalars(
            select(Decision)
            .where(Decision.order_id == order_id)
            .order_by(Decision.decided_at.desc(), Decision.id.desc())
        )
        return list(rows)

    async def setting(self, key: str) -> Setting | None:
        return await self.session.get(Setting, key)

    async def audit(self) -> list[AuditEntry]:
        return list(await self.session.scalars(select(AuditEntry).order_by(AuditEntry.id)))

    def add(self, row: object) -> None:
        self.session.add(row)

    def detach(self) -> None:
        """Keep loaded rows readable after a read-only unit of work rolls back."""
        self.session.expunge_all()
