"""Client notifications of every status change, through a port, after commit, with retries.

The history rows written in the order's own transaction are the notification outbox:
a background dispatcher sends the pending ones (a webhook when the client set one,
the log otherwise), retries with back-off, and gives up after a bounded number of
attempts. A failing webhook never blocks nor fails an order.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import httpx
import structlog

from services.orders.config import OrdersSettings
from services.orders.repository import OrdersRepository, PendingNotification
from shared.db import Database

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Notification:
    order_id: str
    client_id: str
    from_status: str | None
    to_status: str
    at: datetime
    reason: str

    def as_json(self) -> dict[str, str | None]:
        return {
            "type": "order-status-changed",
            "order_id": self.order_id,
            "from_status": self.from_status,
            "status": self.to_status,
            "at": self.at.isoformat(),
            "message": self.reason,
        }


class NotificationTransport(Protocol):
    async def send(self, notification: Notification, webhook_url: str | None) -> None:
        """Deliver or raise."""
        ...


class LogTransport:
    """The default transport: one structured log line per notification."""

    async def send(self, notification: Notification, webhook_url: str | None) -> None:
        log.info("client_notified", transport="log", **notification.as_json())


class WebhookTransport:
    """POST the notification to the client's webhook when set; log it otherwise."""

    def __init__(self, http: httpx.AsyncClient, timeout_s: float) -> None:
        self.http = http
        self.timeout = httpx.Timeout(timeout_s)
        self.fallback = LogTransport()

    async def send(self, notification: Notification, webhook_url: str | None) -> None:
        if webhook_url is None:
            await self.fallback.send(notification, None)
            return
        response = await self.http.post(webhook_url, json=notification.as_json(), timeout=self.timeout)
        if response.status_code >= 300:
            raise RuntimeError(f"webhook answered {response.status_code}")


class NotificationDispatcher:
    """Sends pending notifications in order per order; reschedules failures with back-off."""

    def __init__(
        self,
        database: Database,
        transport: NotificationTransport,
        settings: OrdersSettings,
        clock: Callable[[], datetime],
    ) -> None:
        self.database = database
        self.transport = transport
        self.settings = settings
        self.clock = clock
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        # Polled rather than woken by every commit: under load one pass sends hundreds of
        # notifications in a few statements instead of a few notifications per pass.
        self._task = asyncio.create_task(self._run(), name="orders-notifications")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            try:
                while await self.deliver_pending() > 0:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("notification_dispatch_failed", error=repr(exc))
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.settings.notify_interval_s)
            except TimeoutError:
                pass

    async def deliver_pending(self, batch: int = 100) -> int:
        """Send what is due now; return how many rows were handled (sent, rescheduled or failed)."""
        now = self.clock()
        async with self.database.unit_of_work() as uow:
            repo = OrdersRepository(uow.session)
            rows = await repo.pending_notifications(now, batch)
            if not rows:
                return 0
            hooks = await repo.webhooks({r.client_id for r in rows})
            by_order: dict[str, list[PendingNotification]] = defaultdict(list)
            for row in rows:
                by_order[row.order_id].append(row)
            sent: list[int] = []
            # Webhooks are awaited side by side; the orders of clients without one only make
            # log lines, sent inline (a task per order cost more than the line itself).
            with_hook = [g for g in by_order.values() if g[0].client_id in hooks]
            for group in by_order.values():
                if group[0].client_id not in hooks:
                    await self._send_in_order(repo, group, hooks, now, sent)
            await asyncio.gather(
                *(self._send_in_order(repo, group, hooks, now, sent) for group in with_hook)
            )
            await repo.mark_notified(sent)
            await uow.commit()
            return len(rows)

    async def _send_in_order(
        self,
        repo: OrdersRepository,
        rows: list[PendingNotification],
        hooks: dict[str, str],
        now: datetime,
        sent: list[int],
    ) -> None:
        for position, row in enumerate(rows):
            notification = Notification(row.order_id, row.client_id, row.from_status, row.to_status,
                                        row.at, row.reason)
            try:
                await self.transport.send(notification, hooks.get(row.client_id))
            except Exception as exc:
                attempts, error = row.attempts + 1, repr(exc)[:500]
                if attempts >= self.settings.notify_attempts:
                    await repo.record_notify_failure(row.id, attempts, error, abandoned=True, retry_at=None)
                    log.warning("client_notification_abandoned", order_id=row.order_id,
                                status=row.to_status, error=error)
                    continue  # the later ones may still go out
                retry_at = now + timedelta(seconds=self.settings.notify_backoff_s * 2 ** (attempts - 1))
                await repo.record_notify_failure(row.id, attempts, error, abandoned=False, retry_at=retry_at)
                # keep the order: the later ones wait too
                await repo.put_off_notifications([later.id for later in rows[position + 1 :]], retry_at)
                return
            sent.append(row.id)
