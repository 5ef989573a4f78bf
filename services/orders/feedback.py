"""Use cases after the mission: double-blind ratings both ways, and disputes handled by ops."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.exc import IntegrityError

from services.orders import domain
from services.orders.domain import DisputeOutcome, DisputeStatus, OrderStatus, RaterRole
from services.orders.errors import DisputeNotFound
from services.orders.idempotency import Answer, IdempotentRequest
from services.orders.models import Dispute, DisputeAudit, Order, Rating
from services.orders.repository import OrdersRepository
from services.orders.schemas import DisputeCreate, DisputeResolve, RatingCreate
from services.orders.service import OrdersUseCases
from services.orders.views import dispute_read, dump, rating_read
from shared.auth import Principal, Role
from shared.db import UnitOfWork
from shared.errors import Conflict, Forbidden, IllegalTransition
from shared.events.orders import DisputeResolved, RatingRevealed
from shared.ids import new_id

log = structlog.get_logger(__name__)


class FeedbackService(OrdersUseCases):
    """Ratings and disputes; reuses the orders service's visibility rules."""

    async def _answer_after_race(self, idem: IdempotentRequest | None, exc: Exception) -> Answer:
        """Answer a request that lost a race: the winner's answer if it came with the same key.

        The stored key is looked up before the order's row lock, so a twin request sent at the
        same time finds the first one's rating or dispute (a conflict) or its key (an insert
        clash) only once it is past that lookup: the key is looked up again, after the winner's
        commit. A key used at once for two orders is refused with 422 by the replay.
        """
        if idem is not None:
            stored = await self.orders.stored_answer(idem.subject, idem.key)
            if stored is not None:
                return idem.replay(stored)
        if isinstance(exc, IntegrityError):
            raise Conflict("a concurrent request changed this order first; retry") from exc
        raise exc

    # ------------------------------------------------------------ ratings

    def _state(self, order: Order, ratings: list[Rating]) -> domain.RatingState:
        assert order.completed_at is not None
        return domain.RatingState(
            completed_at=order.completed_at,
            window=timedelta(days=self.settings.rating_window_days),
            submitted={RaterRole(r.rater_role) for r in ratings},
            revealed={RaterRole(r.rater_role) for r in ratings if r.revealed_at is not None},
        )

    def _reveal(self, uow: UnitOfWork, order: Order, ratings: list[Rating], now: datetime) -> int:
        state = self._state(order, ratings)
        due = state.to_reveal(now)
        for rating in ratings:
            if RaterRole(rating.rater_role) in due:
                rating.revealed_at = now
                uow.add_event(
                    RatingRevealed(
                        rating_id=rating.id,
                        order_id=order.id,
                        rater_role=rating.rater_role,
                        provider_id=rating.provider_id,
                        client_id=rating.client_id,
                        score=rating.score,
                        comment=rating.comment,
                    )
                )
        return len(due)

    async def rate_order(self, principal: Principal, order_id: str, body: RatingCreate,
                         idem: IdempotentRequest | None = None) -> Answer:
        """Rate the other side of a completed order, once; hidden until both are in or time is up."""
        if principal.role is Role.ops:
            raise Forbidden("only the client or the provider of the order may rate it")
        try:
            return await self._rate_order(principal, order_id, body, idem)
        except (Conflict, IntegrityError) as exc:
            return await self._answer_after_race(idem, exc)

    async def _rate_order(self, principal: Principal, order_id: str, body: RatingCreate,
                          idem: IdempotentRequest | None) -> Answer:
        role = RaterRole.client if principal.role is Role.client else RaterRole.provider
        now = self.clock()
        async with self.database.unit_of_work() as uow:
            repo = OrdersRepository(uow.session)
            if idem is not None and (stored := await repo.get_idempotency(idem.subject, idem.key)):
                return idem.replay(stored)
            # The row lock serialises the two sides, so that the second one always sees the first.
            order = await self.orders.visible_order(repo, principal, order_id, lock=True)
            if OrderStatus(order.status) is not OrderStatus.completed or order.provider_id is None:
                raise IllegalTransition("order", order.status, "rate")
            ratings = list(await repo.ratings_of(order_id))
            state = self._state(order, ratings)
            state.check_can_rate(role, now)
            rating = Rating(
                id=new_id(),
                order_id=order_id,
                rater_role=role.value,
                rater_id=principal.subject,
                client_id=order.client_id,
                provider_id=order.provider_id,
                score=body.score,
                comment=body.comment,
                created_at=now,
                closes_at=state.closes_at,
                revealed_at=None,
            )
            uow.session.add(rating)
            ratings.append(rating)
            self._reveal(uow, order, ratings, now)
            answer = Answer(201, dump(rating_read(rating)))
            if idem is not None:
                uow.session.add(idem.record(answer, now))
            await uow.commit()
            return answer

    async def order_ratings(self, principal: Principal, order_id: str) -> list[dict[str, Any]]:
        """Return the ratings of an order the caller may read: their own, and the other once revealed."""
        async with self.database.unit_of_work() as uow:
            repo = OrdersRepository(uow.session)
            await self.orders.visible_order(repo, principal, order_id)
            ratings = await repo.ratings_of(order_id)
            mine = {Role.client: RaterRole.client.value, Role.provider: RaterRole.provider.value}
            return [
                dump(rating_read(r))
                for r in ratings
                if principal.is_ops or r.rater_role == mine.get(principal.role)
                or r.revealed_at is not None
            ]

    async def list_ratings(
        self, principal: Principal, provider_id: str | None, client_id: str | None,
        limit: int, offset: int,
    ) -> list[dict[str, Any]]:
        """List revealed ratings about the caller (ops: any, filtered)."""
        about_client = about_provider = None
        if principal.role is Role.client:
            about_client = principal.subject
        elif principal.role is Role.provider:
            about_provider = principal.subject
        else:
            about_client, about_provider = client_id, provider_id
        async with self.database.unit_of_work() as uow:
            rows = await OrdersRepository(uow.session).revealed_ratings(
                about_client=about_client, about_provider=about_provider, limit=limit, offset=offset
            )
            return [dump(rating_read(r)) for r in rows]

    async def reveal_due_ratings(self, batch: int = 200) -> int:
        """Reveal ratings whose window has closed (periodic job); return how many."""
        now = self.clock()
        async with self.database.unit_of_work() as uow:
            order_ids = await OrdersRepository(uow.session).orders_with_closed_rating_window(now, batch)
        revealed = 0
        for order_id in order_ids:
            async with self.database.unit_of_work() as uow:
                repo = OrdersRepository(uow.session)
                order = await repo.get_order(order_id, lock=True)
                if order is None or order.completed_at is None:
                    continue
                revealed += self._reveal(uow, order, list(await repo.ratings_of(order_id)), now)
                await uow.commit()
        if revealed:
            log.info("ratings_revealed_by_window", count=revealed)
        return revealed

    # ------------------------------------------------------------ disputes

    def _audit(self, uow: UnitOfWork, dispute_id: str, principal: Principal, action: str,
               note: str, now: datetime) -> None:
        uow.session.add(DisputeAudit(dispute_id=dispute_id, at=now, actor=principal.subject,
                                     actor_role=principal.role.value, action=action, note=note))

    async def open_dispute(self, principal: Principal, order_id: str, body: DisputeCreate,
                           idem: IdempotentRequest | None = None) -> Answer:
        """Open a dispute on a completed order of the client's."""
        try:
            return await self._open_dispute(principal, order_id, body, idem)
        except (Conflict, IntegrityError) as exc:
            return await self._answer_after_race(idem, exc)

    async def _open_dispute(self, principal: Principal, order_id: str, body: DisputeCreate,
                            idem: IdempotentRequest | None) -> Answer:
        now = self.clock()
        async with self.database.unit_of_work() as uow:
            repo = OrdersRepository(uow.session)
            if idem is not None and (stored := await repo.get_idempotency(idem.subject, idem.key)):
                return idem.replay(stored)
            order = await self.orders.visible_order(repo, principal, order_id, lock=True)
            domain.check_can_open_dispute(
                OrderStatus(order.status), order.completed_at, now,
                timedelta(days=self.settings.dispute_window_days),
            )
            if await repo.disputes_of_order(order_id):
                raise Conflict("this order already has a dispute")
            dispute = Dispute(
                id=new_id(), order_id=order_id, client_id=order.client_id, provider_id=order.provider_id,
                status=DisputeStatus.open.value, reason=body.reason, outcome=None, refund_cents=0,
                opened_at=now, resolved_at=None, resolved_by=None,
            )
            uow.session.add(dispute)
            self._audit(uow, dispute.id, principal, "opened", body.reason, now)
            await uow.session.flush()
            answer = Answer(201, dump(dispute_read(dispute, await repo.audit_of(dispute.id))))
            if idem is not None:
                uow.session.add(idem.record(answer, now))
            await uow.commit()
            return answer

    async def _visible_dispute(self, repo: OrdersRepository, principal: Principal, dispute_id: str,
                               *, lock: bool = False) -> Dispute:
        dispute = await repo.get_dispute(dispute_id, lock=lock)
        if dispute is None or (not principal.is_ops and dispute.client_id != principal.subject):
            raise DisputeNotFound(dispute_id)
        return dispute

    async def get_dispute(self, principal: Principal, dispute_id: str) -> dict[str, Any]:
        """Return a dispute with its audit trail (its client or ops)."""
        async with self.database.unit_of_work() as uow:
            repo = OrdersRepository(uow.session)
            dispute = await self._visible_dispute(repo, principal, dispute_id)
            return dump(dispute_read(dispute, await repo.audit_of(dispute_id)))

    async def list_disputes(self, principal: Principal, status: DisputeStatus | None,
                            limit: int, offset: int) -> list[dict[str, Any]]:
        """List disputes: the client's own, or all for ops."""
        async with self.database.unit_of_work() as uow:
            rows = await OrdersRepository(uow.session).list_disputes(
                client_id=None if principal.is_ops else principal.subject,
                status=status.value if status else None, limit=limit, offset=offset,
            )
            return [dump(dispute_read(d, [])) for d in rows]

    async def note_dispute(self, principal: Principal, dispute_id: str, note: str) -> dict[str, Any]:
        """Add an ops note to a dispute's audit trail."""
        async with self.database.unit_of_work() as uow:
            repo = OrdersRepository(uow.session)
            dispute = await self._visible_dispute(repo, principal, dispute_id, lock=True)
            self._audit(uow, dispute_id, principal, "noted", note, self.clock())
            await uow.commit()
            return dump(dispute_read(dispute, await repo.audit_of(dispute_id)))

    async def resolve_dispute(self, principal: Principal, dispute_id: str,
                              body: DisputeResolve) -> dict[str, Any]:
        """Resolve a dispute (ops): refund, partial refund or reject; `dispute-resolved` out."""
        now = self.clock()
        async with self.database.unit_of_work() as uow:
            repo = OrdersRepository(uow.session)
            dispute = await self._visible_dispute(repo, principal, dispute_id, lock=True)
            domain.check_can_resolve(DisputeStatus(dispute.status))
            order = await repo.get_order(dispute.order_id)
            assert order is not None
            refund = domain.refund_for(body.outcome, order.price_cents, body.refund_cents)
            dispute.status = DisputeStatus.resolved.value
            dispute.outcome = body.outcome.value
            dispute.refund_cents = refund
            dispute.resolved_at = now
            dispute.resolved_by = principal.subject
            self._audit(uow, dispute_id, principal, f"resolved:{body.outcome.value}",
                        f"{body.note} (refund {refund} cents)", now)
            uow.add_event(DisputeResolved(
                dispute_id=dispute_id, order_id=order.id, outcome=body.outcome.value,
                refund_cents=refund, provider_id=order.provider_id,
            ))
            await uow.commit()
            return dump(dispute_read(dispute, await repo.audit_of(dispute_id)))


__all__ = ["DisputeOutcome", "FeedbackService"]
