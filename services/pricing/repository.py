"""Queries of the pricing service; never commits."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.pricing.models import AuditRow, GridCommentRow, GridRow, LedgerRow, QuoteRow, ZoneRow


class PricingRepository:
    """Zones, grids, comments, quotes and ledger lines in one session."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, row: object) -> None:
        self.session.add(row)

    async def flush(self) -> None:
        await self.session.flush()

    # zones
    async def zones(self) -> Sequence[ZoneRow]:
        return (await self.session.scalars(select(ZoneRow).order_by(ZoneRow.code))).all()

    async def zone(self, code: str) -> ZoneRow | None:
        return await self.session.get(ZoneRow, code)

    async def delete(self, row: object) -> None:
        await self.session.delete(row)

    # grids
    async def grid(self, grid_id: str) -> GridRow | None:
        return await self.session.get(GridRow, grid_id)

    async def grid_version(self, version: int) -> GridRow | None:
        return await self.session.scalar(select(GridRow).where(GridRow.version == version))

    async def grids(self, *, published_only: bool = False) -> Sequence[GridRow]:
        query = select(GridRow).order_by(GridRow.version.desc().nulls_first(), GridRow.created_at.desc())
        if published_only:
            query = query.where(GridRow.version.is_not(None))
        return (await self.session.scalars(query)).all()

    async def latest_version(self) -> int:
        value = await self.session.scalar(select(func.max(GridRow.version)))
        return int(value or 0)

    async def grid_in_force(self, at: datetime) -> GridRow | None:
        """Return the highest published version whose effective date has come."""
        return await self.session.scalar(
            select(GridRow)
            .where(GridRow.version.is_not(None), GridRow.effective_at <= at)
            .order_by(GridRow.version.desc())
            .limit(1)
        )

    async def version_in_force(self, at: datetime) -> int | None:
        """Return the number of the version in force at `at` (without loading its cells)."""
        value = await self.session.scalar(
            select(GridRow.version)
            .where(GridRow.version.is_not(None), GridRow.effective_at <= at)
            .order_by(GridRow.version.desc())
            .limit(1)
        )
        return int(value) if value is not None else None

    async def quoting_state(self, at: datetime) -> tuple[int | None, tuple[int, datetime | None]]:
        """Return the version in force at `at` and a stamp of the zones, in one round trip.

        The stamp (how many zones, latest change) moves on every zone created, edited or
        deleted, so a quote can reuse the zones it parsed last while the stamp stays the same.
        """
        version = (
            select(GridRow.version)
            .where(GridRow.version.is_not(None), GridRow.effective_at <= at)
            .order_by(GridRow.version.desc())
            .limit(1)
            .scalar_subquery()
        )
        count = select(func.count()).select_from(ZoneRow).scalar_subquery()
        latest = select(func.max(ZoneRow.updated_at)).scalar_subquery()
        row = (await self.session.execute(select(version, count, latest))).one()
        return (int(row[0]) if row[0] is not None else None), (int(row[1]), row[2])

    async def grids_using_zone(self, code: str) -> list[GridRow]:
        rows = (await self.session.scalars(select(GridRow))).all()
        return [r for r in rows if any(c.get("zone") == code for c in r.cells)]

    # comments
    async def comments(self, grid_id: str, author_id: str | None = None) -> Sequence[GridCommentRow]:
        query = select(GridCommentRow).where(GridCommentRow.grid_id == grid_id)
        if author_id is not None:
            query = query.where(GridCommentRow.author_id == author_id)
        return (await self.session.scalars(query.order_by(GridCommentRow.created_at))).all()

    # quotes
    async def quote(self, quote_id: str) -> QuoteRow | None:
        return await self.session.get(QuoteRow, quote_id)

    async def quotes(self, quote_ids: list[str]) -> list[QuoteRow]:
        rows = await self.session.scalars(select(QuoteRow).where(QuoteRow.id.in_(quote_ids)))
        return list(rows)

    # ledger
    async def ledger_entry(self, entry_id: str) -> LedgerRow | None:
        return await self.session.get(LedgerRow, entry_id)

    async def has_ledger_key(self, dedup_key: str) -> bool:
        found = await self.session.scalar(select(LedgerRow.id).where(LedgerRow.dedup_key == dedup_key))
        return found is not None

    async def ledger(
        self, provider_id: str, start: datetime | None = None, end: datetime | None = None
    ) -> Sequence[LedgerRow]:
        query = select(LedgerRow).where(LedgerRow.provider_id == provider_id)
        if start is not None:
            query = query.where(LedgerRow.occurred_at >= start)
        if end is not None:
            query = query.where(LedgerRow.occurred_at < end)
        return (await self.session.scalars(query.order_by(LedgerRow.occurred_at, LedgerRow.id))).all()

    # audit
    async def audit(self, subject: str | None = None, limit: int = 200) -> Sequence[AuditRow]:
        query = select(AuditRow).order_by(AuditRow.at.desc(), AuditRow.id).limit(limit)
        if subject is not None:
            query = query.where(AuditRow.subject == subject)
        return (await self.session.scalars(query)).all()
