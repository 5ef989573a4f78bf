"""Wiring of the orders service: its component for the platform, and a stand-alone app."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi import APIRouter, FastAPI

from services.orders.config import OrdersSettings
from services.orders.feedback import FeedbackService
from services.orders.handlers import DispatchSafetyNet, EventHandlers
from services.orders.intake import PostgresIntake
from services.orders.models import Base
from services.orders.notifications import (
    NotificationDispatcher,
    NotificationTransport,
    WebhookTransport,
)
from services.orders.pricing import HttpPricing, Quote
from services.orders.repository import POSITION_RULE, PositionRule
from services.orders.routes import ROUTERS, ChangeFeed, UseCases
from services.orders.series import SeriesService
from services.orders.service import OrdersService
from shared.app import create_app
from shared.bus.base import Subscription
from shared.component import Component, Runtime
from shared.config import PlatformSettings
from shared.db import Database
from shared.errors import Unavailable
from shared.events import topic_for
from shared.events.matching import (
    MissionAssigned,
    MissionCancelled,
    MissionCompleted,
    MissionStarted,
    OrderUnassignable,
)
from shared.events.providers import PositionUpdated
from shared.inbox import EventRouter


class _NotStarted:
    async def fetch_quote(self, quote_id: str) -> Quote:
        raise Unavailable("the orders service is starting")


class OrdersComponent(Component):
    name = "orders"
    metadata = Base.metadata
    migrations_dir = Path(__file__).parent / "migrations"

    def __init__(
        self,
        settings: PlatformSettings,
        database: Database | None = None,
        *,
        orders_settings: OrdersSettings | None = None,
        transport: NotificationTransport | None = None,
    ) -> None:
        self.settings = orders_settings or OrdersSettings()
        if database is None and settings.database_url:
            database = Database(settings.database_url_for(self.name), schema=self.name,
                                pool_size=self.settings.db_pool_size)
        super().__init__(settings, database)
        self._transport = transport
        clock = lambda: self.clock()  # noqa: E731  (follows a clock the tests set later)
        self.orders = OrdersService(self.database, self.settings, _NotStarted(), clock)
        position_lead = timedelta(minutes=self.settings.position_lead_min)
        # Every read of an order checks the position rule with this lead time and clock.
        self.database.sessions.configure(info={POSITION_RULE: PositionRule(position_lead, clock)})
        self.handlers = EventHandlers(clock, position_lead)
        self.safety_net = DispatchSafetyNet(
            self.database, self.handlers, timedelta(minutes=self.settings.stuck_grace_min), clock
        )
        self.feed = ChangeFeed()
        self.database.on_commit(self.feed.notify)
        self.use_cases = UseCases(
            orders=self.orders,
            feedback=FeedbackService(self.orders, self.settings, clock),
            series=SeriesService(self.orders, self.settings, clock),
            feed=self.feed,
            settings=self.settings,
        )
        self.dispatcher: NotificationDispatcher | None = None
        self.pricing: HttpPricing | None = None
        self.intake: PostgresIntake | None = None

    def routers(self) -> list[APIRouter]:
        return list(ROUTERS)

    def subscriptions(self) -> list[Subscription]:
        router = EventRouter(self.database, consumer="orders")
        handlers = self.handlers
        router.add(MissionAssigned, handlers.on_mission_assigned, many=handlers.on_missions_assigned)
        router.add(MissionStarted, handlers.on_mission_started)
        router.add(MissionCompleted, handlers.on_mission_completed)
        router.add(MissionCancelled, handlers.on_mission_cancelled)
        router.add(OrderUnassignable, handlers.on_order_unassignable)
        router.add(PositionUpdated, handlers.on_position_updated)
        return [
            Subscription(
                group=self.settings.consumer_group,
                topics=[topic_for("matching"), topic_for("providers")],
                handler=router,
            )
        ]

    async def on_start(self, runtime: Runtime) -> None:
        self.pricing = HttpPricing(
            self.settings.pricing_url or runtime.settings.public_url,
            timeout_s=self.settings.pricing_timeout_s,
            attempts=self.settings.pricing_attempts,
            backoff_s=self.settings.pricing_retry_backoff_s,
        )
        self.orders.pricing = self.pricing
        transport = self._transport or WebhookTransport(runtime.http, self.settings.notify_timeout_s)
        self.dispatcher = NotificationDispatcher(self.database, transport, self.settings,
                                                 lambda: self.clock())
        self.dispatcher.start()
        if self.database.is_postgres:
            self.intake = PostgresIntake(self.database, self.settings.db_pool_size)
            await self.intake.start()
            self.orders.intake = self.intake
            self.orders.notify_now = self.dispatcher.send_now
        self.run_periodically("reveal-ratings", self.settings.ratings_job_interval_s,
                              self.use_cases.feedback.reveal_due_ratings)
        self.run_periodically("series-occurrences", self.settings.series_job_interval_s,
                              self.use_cases.series.generate_due_occurrences)
        self.run_periodically("stuck-orders", self.settings.stuck_job_interval_s,
                              self.safety_net.give_up_stuck_orders)

    async def on_stop(self) -> None:
        if self.dispatcher is not None:
            await self.dispatcher.stop()
        if self.pricing is not None:
            await self.pricing.aclose()
        if self.intake is not None:
            self.orders.intake = self.orders.notify_now = None
            await self.intake.stop()


def create_orders_app(settings: PlatformSettings | None = None) -> FastAPI:
    """Build the orders service alone (distributed mode)."""
    settings = settings or PlatformSettings()
    return create_app([OrdersComponent(settings)], settings)
