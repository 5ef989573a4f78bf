"""The event bus interface and the delivery contract both transports keep.

Contract (at-least-once, per-key order):
- `publish` delivers messages in the order given and says how many made it;
- each subscription belongs to a consumer group; a group sees each message
  once per successful handling, in order per key;
- a message is acknowledged (offset committed) only after its handler returns;
- a failing handler is retried `max_attempts` times with back-off, then the
  message goes to `<topic>.dlq` with the error in its headers, and
  consumption goes on with the next message.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import structlog

from shared.events.envelope import Envelope
from shared.events.registry import dead_letter_topic
from shared.observability import EVENTS_HANDLED, bind_trace_id

log = structlog.get_logger(__name__)

Handler = Callable[[Envelope], Awaitable[None]]


@dataclass(frozen=True)
class OutgoingMessage:
    topic: str
    key: str
    value: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Subscription:
    group: str
    topics: Sequence[str]
    handler: Handler
    name: str = ""


@dataclass
class DeliveryPolicy:
    max_attempts: int = 3
    backoff_s: float = 0.05


class EventBus(ABC):
    """Publish envelopes by topic and key; run subscriptions by consumer group."""

    def __init__(self, policy: DeliveryPolicy | None = None) -> None:
        self.policy = policy or DeliveryPolicy()
        self.subscriptions: list[Subscription] = []

    def subscribe(self, subscription: Subscription) -> None:
        """Add a subscription; it starts consuming when the bus starts."""
        self.subscriptions.append(subscription)

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def stop(self) -> None: ...

    @abstractmethod
    async def publish(self, messages: Sequence[OutgoingMessage]) -> tuple[int, Exception | None]:
        """Publish in order; return how many leading messages were acknowledged and the error."""

    @abstractmethod
    async def ping(self) -> None:
        """Raise if the broker cannot be reached."""

    async def deliver_many(
        self, subscription: Subscription, topic: str, messages: list[tuple[str, bytes]]
    ) -> None:
        """Deliver consecutive messages of one partition (or topic), in order.

        A handler with `handle_batch` (the inbox's EventRouter) takes them in one transaction;
        if that fails for any reason nothing of it committed, and they go one by one through
        `deliver` (retries, dead-lettering), so the contract is the one of `deliver`.
        """
        handle_batch = getattr(subscription.handler, "handle_batch", None)
        if handle_batch is not None and len(messages) > 1:
            try:
                envelopes = [Envelope.from_json(value) for _, value in messages]
                await handle_batch(envelopes)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.info("event_batch_failed", group=subscription.group, count=len(messages), error=repr(exc))
            else:
                for envelope in envelopes:
                    EVENTS_HANDLED.labels(subscription.group, envelope.type, "ok").inc()
                return
        for key, value in messages:
            await self.deliver(subscription, topic, key, value)

    async def deliver(self, subscription: Subscription, topic: str, key: str, value: bytes) -> None:
        """Run the handler under the retry policy; dead-letter the message when it keeps failing."""
        try:
            envelope = Envelope.from_json(value)
        except Exception as exc:  # a malformed envelope will never succeed: dead-letter at once
            await self._dead_letter(subscription, topic, key, value, exc, attempts=0)
            return
        bind_trace_id(envelope.trace_id)
        last_error: Exception | None = None
        for attempt in range(1, self.policy.max_attempts + 1):
            try:
                await subscription.handler(envelope)
                EVENTS_HANDLED.labels(subscription.group, envelope.type, "ok").inc()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                last_error = exc
                log.warning(
                    "event_handler_failed",
                    group=subscription.group,
                    type=envelope.type,
                    event_id=str(envelope.event_id),
                    attempt=attempt,
                    error=repr(exc),
                )
                if attempt < self.policy.max_attempts:
                    await asyncio.sleep(self.policy.backoff_s * 2 ** (attempt - 1))
        assert last_error is not None
        EVENTS_HANDLED.labels(subscription.group, envelope.type, "dead_lettered").inc()
        await self._dead_letter(subscription, topic, key, value, last_error, self.policy.max_attempts)

    async def _dead_letter(
        self,
        subscription: Subscription,
        topic: str,
        key: str,
        value: bytes,
        error: Exception,
        attempts: int,
    ) -> None:
        message = OutgoingMessage(
            topic=dead_letter_topic(topic),
            key=key,
            value=value,
            headers={
                "error": f"{type(error).__name__}: {error}"[:2000],
                "error_type": type(error).__name__,
                "attempts": str(attempts),
                "original_topic": topic,
                "consumer_group": subscription.group,
            },
        )
        while True:  # the DLQ write must not be lost either: retry until the broker takes it
            delivered, exc = await self.publish([message])
            if delivered:
                log.error("event_dead_lettered", group=subscription.group, topic=topic, error=str(error))
                return
            log.warning("dead_letter_publish_failed", error=repr(exc))
            await asyncio.sleep(0.5)
