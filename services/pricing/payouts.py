"""Use cases of the payout ledger: lines from events (idempotent), reading, statements."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from services.pricing import views
from services.pricing.config import PricingSettings
from services.pricing.domain.quote import PARIS
from services.pricing.domain.statement import (
    EntryKind,
    LedgerEntry,
    annual_statement,
    monthly_statement,
)
from services.pricing.errors import LedgerEntryNotFound
from services.pricing.models import LedgerRow
from services.pricing.repository import PricingRepository
from services.pricing.service import new_id
from shared.auth import Principal
from shared.db import Database, UnitOfWork
from shared.errors import Invalid, NotFound
from shared.events.envelope import Envelope
from shared.events.matching import MissionCompleted
from shared.events.orders import OrderCancelled
from shared.events.pricing import PayoutRecorded
from shared.events.providers import BonusAwarded


def entry_of(row: LedgerRow) -> LedgerEntry:
    return LedgerEntry(
        id=row.id,
        provider_id=row.provider_id,
        kind=EntryKind(row.kind),
        amount_cents=row.amount_cents,
        gross_cents=row.gross_cents,
        commission_cents=row.commission_cents,
        occurred_at=row.occurred_at,
        order_id=row.order_id,
        mission_id=row.mission_id,
        reference=row.reference,
        description=row.description,
    )


async def append_line(
    uow: UnitOfWork,
    *,
    dedup_key: str,
    provider_id: str,
    kind: EntryKind,
    amount_cents: int,
    gross_cents: int,
    commission_cents: int,
    occurred_at: datetime,
    recorded_at: datetime,
    envelope: Envelope | None,
    order_id: str | None = None,
    mission_id: str | None = None,
    reference: str | None = None,
    description: str = "",
) -> bool:
    """Append one ledger line and its payout-recorded event; False when the fact is already in."""
    repo = PricingRepository(uow.session)
    if await repo.has_ledger_key(dedup_key):
        return False
    row = LedgerRow(
        id=new_id(),
        dedup_key=dedup_key,
        provider_id=provider_id,
        kind=kind.value,
        amount_cents=amount_cents,
        gross_cents=gross_cents,
        commission_cents=commission_cents,
        occurred_at=occurred_at,
        recorded_at=recorded_at,
        order_id=order_id,
        mission_id=mission_id,
        reference=reference,
        description=description,
        source_event_id=str(envelope.event_id) if envelope else None,
    )
    repo.add(row)
    uow.add_event(
        PayoutRecorded(
            entry_id=row.id,
            provider_id=provider_id,
            kind=kind.value,
            amount_cents=amount_cents,
            order_id=order_id,
            mission_id=mission_id,
        )
    )
    return True


class LedgerHandlers:
    """Event handlers that write the ledger (one transaction each, opened by the EventRouter)."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock

    async def on_mission_completed(self, uow: UnitOfWork, p: MissionCompleted, env: Envelope) -> None:
        """Record the mission's payout, and its travel supplement as a line of its own."""
        await append_line(
            uow,
            dedup_key=f"mission:{p.mission_id}",
            provider_id=p.provider_id,
            kind=EntryKind.mission,
            amount_cents=p.payout_cents,
            gross_cents=p.price_cents,
            commission_cents=p.price_cents - p.payout_cents,
            occurred_at=p.completed_at,
            recorded_at=self.clock(),
            envelope=env,
            order_id=p.order_id,
            mission_id=p.mission_id,
            description=f"{p.category} in {p.zone}, {p.worked_min} min",
        )
        if p.travel_supplement_cents > 0:
            await append_line(
                uow,
                dedup_key=f"travel_supplement:{p.mission_id}",
                provider_id=p.provider_id,
                kind=EntryKind.travel_supplement,
                amount_cents=p.travel_supplement_cents,
                gross_cents=0,
                commission_cents=0,
                occurred_at=p.completed_at,
                recorded_at=self.clock(),
                envelope=env,
                order_id=p.order_id,
                mission_id=p.mission_id,
                description=f"travel supplement ({p.travel_min:.0f} min travel)",
            )

    async def on_order_cancelled(self, uow: UnitOfWork, p: OrderCancelled, env: Envelope) -> None:
        """Credit the provider's share of a cancellation fee, when there is one."""
        if p.provider_id is None or p.provider_share_cents <= 0:
            return
        await append_line(
            uow,
            dedup_key=f"cancellation:{p.order_id}",
            provider_id=p.provider_id,
            kind=EntryKind.cancellation,
            amount_cents=p.provider_share_cents,
            gross_cents=p.fee_cents,
            commission_cents=max(p.fee_cents - p.provider_share_cents, 0),
            occurred_at=env.occurred_at,
            recorded_at=self.clock(),
            envelope=env,
            order_id=p.order_id,
            description=f"cancellation fee share (cancelled by {p.cancelled_by})",
        )

    async def on_bonus_awarded(self, uow: UnitOfWork, p: BonusAwarded, env: Envelope) -> None:
        """Credit a bonus award."""
        if p.amount_cents <= 0:
            return
        await append_line(
            uow,
            dedup_key=f"bonus:{p.award_id}",
            provider_id=p.provider_id,
            kind=EntryKind.bonus,
            amount_cents=p.amount_cents,
            gross_cents=0,
            commission_cents=0,
            occurred_at=env.occurred_at,
            recorded_at=self.clock(),
            envelope=env,
            reference=p.award_id,
            description=f"bonus {p.rule_id} for {p.period}",
        )


def owner_of(principal: Principal, provider_id: str | None) -> str:
    """Return whose ledger the caller may read: their own (provider) or any named one (ops)."""
    if principal.is_ops:
        if not provider_id:
            raise Invalid("ops must name the provider", field=["query", "provider_id"])
        return provider_id
    if provider_id is not None and provider_id != principal.subject:
        raise NotFound(f"no ledger for provider {provider_id}")
    return principal.subject


def parse_period(period: str) -> tuple[datetime, datetime]:
    """Return the UTC bounds of a Europe/Paris month `YYYY-MM`."""
    try:
        year, month = (int(x) for x in period.split("-"))
        start = datetime(year, month, 1, tzinfo=PARIS)
    except ValueError as exc:
        raise Invalid("period must be YYYY-MM", field=["path", "period"]) from exc
    if not 2000 <= year <= 2100:
        raise Invalid("period must be YYYY-MM", field=["path", "period"])
    end = datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=PARIS)
    return start, end


class LedgerService:
    """Read side of the ledger: lines and statements, only for their owner or ops."""

    def __init__(self, database: Database, settings: PricingSettings) -> None:
        self.database = database
        self.settings = settings

    async def list_lines(
        self, principal: Principal, provider_id: str | None, period: str | None
    ) -> dict[str, Any]:
        """Return a provider's ledger lines (a month, or everything)."""
        owner = owner_of(principal, provider_id)
        start, end = parse_period(period) if period else (None, None)
        async with self.database.unit_of_work() as uow:
            rows = await PricingRepository(uow.session).ledger(owner, start, end)
            return {
                "provider_id": owner,
                "period": period,
                "entries": [views.ledger_view(r) for r in rows],
                "total_cents": sum(r.amount_cents for r in rows),
            }

    async def get_line(self, principal: Principal, entry_id: str) -> dict[str, Any]:
        """Return one ledger line of the caller's (ops: anyone's)."""
        async with self.database.unit_of_work() as uow:
            row = await PricingRepository(uow.session).ledger_entry(entry_id)
            if row is None or (not principal.is_ops and row.provider_id != principal.subject):
                raise LedgerEntryNotFound(f"no ledger entry {entry_id}", field=["path", "entry_id"])
            return views.ledger_view(row)

    async def monthly(self, principal: Principal, provider_id: str, period: str) -> dict[str, Any]:
        """Return a provider's monthly statement."""
        owner = owner_of(principal, provider_id)
        start, end = parse_period(period)
        year_start = datetime(start.year, 1, 1, tzinfo=PARIS)
        async with self.database.unit_of_work() as uow:
            rows = await PricingRepository(uow.session).ledger(owner, year_start, end)
            entries = [entry_of(r) for r in rows]
        return monthly_statement(owner, period, entries, entries, self.settings.statement_rules())

    async def annual(self, principal: Principal, provider_id: str, year: int) -> dict[str, Any]:
        """Return a provider's annual income statement (DAC7 figures)."""
        owner = owner_of(principal, provider_id)
        if not 2000 <= year <= 2100:
            raise Invalid("year out of range", field=["path", "year"])
        start = datetime(year, 1, 1, tzinfo=PARIS)
        end = datetime(year + 1, 1, 1, tzinfo=PARIS)
        async with self.database.unit_of_work() as uow:
            rows = await PricingRepository(uow.session).ledger(owner, start, end)
            entries = [entry_of(r) for r in rows]
        return annual_statement(owner, year, entries, self.settings.statement_rules())
