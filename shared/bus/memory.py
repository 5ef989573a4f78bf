"""The in-process transport: same delivery contract as Kafka, for the embedded mode and tests."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from shared.bus.base import DeliveryPolicy, EventBus, OutgoingMessage, Subscription


@dataclass(frozen=True)
class StoredMessage:
    topic: str
    key: str
    value: bytes
    headers: dict[str, str]


class InMemoryBus(EventBus):
    """Append-only topics in memory; one offset per (group, topic), advanced after handling."""

    def __init__(self, policy: DeliveryPolicy | None = None) -> None:
        super().__init__(policy)
        self.topics: dict[str, list[StoredMessage]] = defaultdict(list)
        self.offsets: dict[tuple[str, str], int] = defaultdict(int)
        self._changed = asyncio.Condition()
        self._tasks: list[asyncio.Task[None]] = []
        self._busy: set[str] = set()
        self.is_down = False  # tests flip it to simulate a broker outage

    def subscribe(self, subscription: Subscription) -> None:
        if any(s.group == subscription.group for s in self.subscriptions):
            raise ValueError(f"group {subscription.group!r} already has a subscriber on this bus")
        super().subscribe(subscription)
        if self._tasks:  # already started: run this one too
            self._tasks.append(asyncio.create_task(self._consume(subscription)))

    async def start(self) -> None:
        for subscription in self.subscriptions:
            self._tasks.append(asyncio.create_task(self._consume(subscription)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def ping(self) -> None:
        if self.is_down:
            raise ConnectionError("in-memory bus is down")

    async def publish(self, messages: Sequence[OutgoingMessage]) -> tuple[int, Exception | None]:
        if self.is_down:
            return 0, ConnectionError("in-memory bus is down")
        for m in messages:
            self.topics[m.topic].append(StoredMessage(m.topic, m.key, m.value, dict(m.headers)))
        async with self._changed:
            self._changed.notify_all()
        return len(messages), None

    async def _consume(self, subscription: Subscription) -> None:
        while True:
            progressed = False
            self._busy.add(subscription.group)
            for topic in subscription.topics:
                log_ = self.topics[topic]
                key = (subscription.group, topic)
                while self.offsets[key] < len(log_):
                    message = log_[self.offsets[key]]
                    await self.deliver(subscription, topic, message.key, message.value)
                    self.offsets[key] += 1  # commit only after the handler returned
                    progressed = True
            if progressed:
                continue
            async with self._changed:
                self._busy.discard(subscription.group)
                if not self._has_backlog(subscription):
                    await self._changed.wait()

    def _has_backlog(self, subscription: Subscription) -> bool:
        return any(
            self.offsets[(subscription.group, t)] < len(self.topics[t]) for t in subscription.topics
        )

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait until every subscription has handled everything published so far (tests)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while any(self._has_backlog(s) for s in self.subscriptions) or self._busy:
            if loop.time() > deadline:
                raise TimeoutError("bus did not drain in time")
            await asyncio.sleep(0.005)

    def messages(self, topic: str) -> list[StoredMessage]:
        return list(self.topics[topic])
