"""Client notifications of every status change, through a port, after commit, with retries.

The history rows written in the order's own transaction are the notification outbox:
a background dispatcher sends the pending ones (a webhook when the client set one,
the log otherwise), retries with back-off, and gives up after a bounded number of
attempts. A failing webhook never blocks nor fails an order.

Webhooks go out from inside the platform's network, so a client could aim one at an
internal service (SSRF): unless ORDERS_WEBHOOK_ALLOW_PRIVATE_HOSTS is set, a URL naming a
non-public host is refused when set, and the addresses its name resolves to are checked
again before each send (a public name may later point inside).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.orders.config import OrdersSettings
from services.orders.domain import OrderStatus
from services.orders.models import Order
from services.orders.repository import OrdersRepository, PendingNotification
from shared.db import Database
from shared.errors import Invalid

log = structlog.get_logger(__name__)


# ---------------------------------------------------------------- which hosts a webhook may target

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def address_refusal(address: IpAddress) -> str | None:
    """Return why a webhook may not target `address` (loopback, private...), None if public."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:10.0.0.1 reaches 10.0.0.1
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private address"
    if address.is_reserved or not address.is_global:
        return "a reserved address"
    return None


def host_refusal(host: str) -> str | None:
    """Return why a webhook may not target `host` as written, None when it may.

    A name other than localhost passes here: what it resolves to is checked before each send.
    """
    name = host.strip("[]").rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):  # RFC 6761: always loopback
        return "localhost"
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return None
    return address_refusal(address)


def check_webhook_url(url: str, *, allow_private: bool) -> None:
    """Refuse (422, field `url`) a webhook whose host is localhost or a non-public IP literal."""
    if allow_private:
        return
    host = urlsplit(url).hostname or ""
    refusal = host_refusal(host)
    if refusal is not None:
        raise Invalid(
            f"the webhook host {host} is {refusal}; a webhook must target a public host",
            field="url",
        )


class WebhookHostRefused(Exception):
    """The webhook's host resolves to an address webhooks may not target: never sent."""


async def check_resolved_host(url: str) -> None:
    """Resolve the webhook's host and refuse it if any of its addresses is not public.

    Raises WebhookHostRefused (final), or OSError when the name does not resolve (retried).
    """
    parts = urlsplit(url)
    host = parts.hostname or ""
    refusal = host_refusal(host)
    if refusal is not None:
        raise WebhookHostRefused(f"webhook host {host} is {refusal}: not sent")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])  # drop an IPv6 zone
        refusal = address_refusal(address)
        if refusal is not None:
            raise WebhookHostRefused(f"webhook host {host} resolves to {address}, {refusal}: not sent")


# ---------------------------------------------------------------- notifications


@dataclass(frozen=True)
class Notification:
    order_id: str
    client_id: str
    from_status: str | None
    to_status: str
    at: datetime
    reason: str
    start_code: str | None = None  # on `assigned` only: the client gives it to the provider

    def as_json(self) -> dict[str, str | None]:
        body = {
            "type": "order-status-changed",
            "order_id": self.order_id,
            "from_status": self.from_status,
            "status": self.to_status,
            "at": self.at.isoformat(),
            "message": self.reason,
        }
        if self.start_code is not None:
            body["start_code"] = self.start_code
        return body


class NotificationTransport(Protocol):
    async def send(self, notification: Notification, webhook_url: str | None) -> None:
        """Deliver or raise."""
        ...


class LogTransport:
    """The default transport: one structured log line per notification."""

    async def send(self, notification: Notification, webhook_url: str | None) -> None:
        # The start code proves the provider is at the client's: it is for the client, not the logs.
        fields: dict[str, Any] = notification.as_json()
        fields.pop("start_code", None)
        fields["has_start_code"] = notification.start_code is not None
        log.info("client_notified", transport="log", **fields)


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


@dataclass(frozen=True)
class DueNotifications:
    """One round's rows due for sending, with what sending them needs."""

    rows: list[PendingNotification]
    hooks: dict[str, str]  # client id -> webhook URL
    codes: dict[str, str]  # order id -> start code, for `assigned` rows


@dataclass
class SendOutcomes:
    """What a round of sending decided for each row, written once the sends are over.

    Same calls as the repository's, so the sending code reads as if it wrote them at once.
    """

    sent: list[int] = field(default_factory=list)
    failures: list[tuple[int, int, str, bool, datetime | None]] = field(default_factory=list)
    put_off: list[tuple[list[int], datetime]] = field(default_factory=list)

    async def record_notify_failure(
        self, row_id: int, attempts: int, error: str, *, abandoned: bool, retry_at: datetime | None
    ) -> None:
        self.failures.append((row_id, attempts, error, abandoned, retry_at))

    async def put_off_notifications(self, row_ids: list[int], retry_at: datetime) -> None:
        if row_ids:
            self.put_off.append((row_ids, retry_at))

    async def write(self, repo: OrdersRepository) -> None:
        for row_id, attempts, error, abandoned, retry_at in self.failures:
            await repo.record_notify_failure(row_id, attempts, error, abandoned=abandoned, retry_at=retry_at)
        for row_ids, retry_at in self.put_off:
            await repo.put_off_notifications(row_ids, retry_at)
        await repo.mark_notified(self.sent)


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

    async def send_now(self, notification: Notification) -> None:
        """Send at once the notification of a client without a webhook (no row left to send).

        Failures never block the order: they are logged.
        """
        try:
            await self.transport.send(notification, None)
        except Exception as exc:
            log.warning("client_notification_failed", order_id=notification.order_id,
                        status=notification.to_status, error=repr(exc)[:500])

    async def deliver_pending(self, batch: int = 100) -> int:
        """Send what is due now; return how many rows were handled (sent, rescheduled or failed)."""
        now = self.clock()
        if self.database.is_postgres:
            # The due rows stay locked (FOR UPDATE SKIP LOCKED) while they are sent, so another
            # orders process skips them: one transaction from the read to the outcomes.
            async with self.database.unit_of_work() as uow:
                due = await self._due(uow.session, now, batch)
                if due is None:
                    return 0
                outcomes = await self._send(due, now)
                await outcomes.write(OrdersRepository(uow.session))
                await uow.commit()
                return len(due.rows)
        # SQLite (embedded mode, one process): a writing transaction holds the database's one
        # write lock, so none is open while webhooks are awaited; the outcomes are written after.
        async with self.database.sessions() as session:
            due = await self._due(session, now, batch)
        if due is None:
            return 0
        outcomes = await self._send(due, now)
        async with self.database.unit_of_work() as uow:
            await outcomes.write(OrdersRepository(uow.session))
            await uow.commit()
        return len(due.rows)

    async def _due(self, session: AsyncSession, now: datetime, batch: int) -> DueNotifications | None:
        """Read the rows due for sending, with their clients' webhooks and start codes."""
        repo = OrdersRepository(session)
        rows = await repo.pending_notifications(now, batch)
        if not rows:
            return None
        hooks = await repo.webhooks({r.client_id for r in rows})
        return DueNotifications(rows, hooks, await self._start_codes(session, rows))

    async def _send(self, due: DueNotifications, now: datetime) -> SendOutcomes:
        """Send the due rows, in order per order; return what to record of each."""
        by_order: dict[str, list[PendingNotification]] = defaultdict(list)
        for row in due.rows:
            by_order[row.order_id].append(row)
        outcomes = SendOutcomes()
        # Webhooks are awaited side by side; the orders of clients without one only make
        # log lines, sent inline (a task per order cost more than the line itself).
        with_hook = [g for g in by_order.values() if g[0].client_id in due.hooks]
        for group in by_order.values():
            if group[0].client_id not in due.hooks:
                await self._send_in_order(outcomes, group, due.hooks, due.codes, now)
        await asyncio.gather(
            *(self._send_in_order(outcomes, group, due.hooks, due.codes, now) for group in with_hook)
        )
        return outcomes

    @staticmethod
    async def _start_codes(session: AsyncSession, rows: list[PendingNotification]) -> dict[str, str]:
        """Return the start codes of the orders whose `assigned` notification is in `rows`."""
        # Read here rather than kept on the history row: the code stays in one place, the order.
        assigned = {r.order_id for r in rows if r.to_status == OrderStatus.assigned.value}
        if not assigned:
            return {}
        found = await session.execute(select(Order.id, Order.start_code).where(Order.id.in_(assigned)))
        return {order_id: code for order_id, code in found}

    async def _host_refusal(self, webhook_url: str | None) -> str | None:
        """Return why this webhook may not be sent to now (its host resolves inside), if so."""
        if webhook_url is None or self.settings.webhook_allow_private_hosts:
            return None
        try:
            await check_resolved_host(webhook_url)
        except WebhookHostRefused as exc:
            return str(exc)
        return None

    async def _send_in_order(
        self,
        repo: SendOutcomes,
        rows: list[PendingNotification],
        hooks: dict[str, str],
        codes: dict[str, str],
        now: datetime,
    ) -> None:
        webhook_url = hooks.get(rows[0].client_id)
        refusal: str | None = None
        resolve_error: OSError | None = None
        try:
            refusal = await self._host_refusal(webhook_url)
        except OSError as exc:  # the name does not resolve (now): retried like a failed send
            resolve_error = exc
        for position, row in enumerate(rows):
            if refusal is not None:
                # Never sent, not retried: the host would still be an internal one.
                await repo.record_notify_failure(row.id, row.attempts, refusal, abandoned=True,
                                                 retry_at=None)
                log.warning("client_notification_refused", order_id=row.order_id,
                            status=row.to_status, error=refusal)
                continue
            code = codes.get(row.order_id) if row.to_status == OrderStatus.assigned.value else None
            notification = Notification(row.order_id, row.client_id, row.from_status, row.to_status,
                                        row.at, row.reason, start_code=code)
            try:
                if resolve_error is not None:
                    raise resolve_error
                await self.transport.send(notification, webhook_url)
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
            repo.sent.append(row.id)
