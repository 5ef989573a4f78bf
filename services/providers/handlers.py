"""Event handlers: idempotent (the inbox dedups by event id), calling the activity use cases."""

from __future__ import annotations

from typing import Any

from services.providers import activity
from services.providers.service import Context
from shared.db import Database, UnitOfWork
from shared.events.envelope import Envelope
from shared.events.matching import MissionAccepted, MissionCompleted, MissionDeclined, MissionExpired
from shared.events.orders import RatingRevealed
from shared.inbox import EventRouter


def build_router(database: Database, ctx: Context) -> EventRouter:
    """Route the mission and rating events this service consumes."""
    router = EventRouter(database, consumer="providers")

    async def mission_completed(uow: UnitOfWork, payload: Any, envelope: Envelope) -> None:
        await activity.on_mission_completed(ctx, uow, payload)

    async def rating_revealed(uow: UnitOfWork, payload: Any, envelope: Envelope) -> None:
        await activity.on_rating_revealed(ctx, uow, payload, envelope)

    def outcome(kind: str) -> Any:
        async def handle(uow: UnitOfWork, payload: Any, envelope: Envelope) -> None:
            await activity.on_offer_outcome(uow, payload, kind, envelope.occurred_at)

        return handle

    router.add(MissionCompleted, mission_completed)
    router.add(RatingRevealed, rating_revealed)
    router.add(MissionAccepted, outcome("accepted"))
    router.add(MissionDeclined, outcome("declined"))
    router.add(MissionExpired, outcome("expired"))
    return router
