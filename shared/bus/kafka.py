"""The Kafka transport (aiokafka): idempotent producer with acks=all, consumer groups,
offsets committed only after the handler's transaction has committed."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from shared.bus.base import DeliveryPolicy, EventBus, OutgoingMessage, Subscription
from shared.events.registry import SERVICES, dead_letter_topic, topic_for

log = structlog.get_logger(__name__)

BATCH_SIZE = 100  # messages of one partition handled in one transaction at most


class KafkaBus(EventBus):
    """Kafka behind the EventBus interface."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        client_id: str = "coupdemain",
        policy: DeliveryPolicy | None = None,
        partitions: int = 4,
        request_timeout_ms: int = 10_000,
        topic_prefix: str = "",
    ) -> None:
        super().__init__(policy)
        # A prefix isolates one platform (or one test) from others on the same broker.
        self.topic_prefix = topic_prefix
        self.bootstrap_servers = bootstrap_servers
        self.client_id = client_id
        self.partitions = partitions
        self.request_timeout_ms = request_timeout_ms
        self._producer: AIOKafkaProducer | None = None
        self._consumers: list[AIOKafkaConsumer] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._producer_lock = asyncio.Lock()

    async def ensure_topics(self, topics: Sequence[str]) -> None:
        """Create topics (and their dead-letter topics) if missing."""
        admin = AIOKafkaAdminClient(
            bootstrap_servers=self.bootstrap_servers, request_timeout_ms=self.request_timeout_ms
        )
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            wanted = [t for t in topics if t not in existing]
            if wanted:
                try:
                    await admin.create_topics(
                        [NewTopic(t, num_partitions=self.partitions, replication_factor=1) for t in wanted]
                    )
                except TopicAlreadyExistsError:
                    pass
        finally:
            await admin.close()

    async def start(self) -> None:
        topics = {topic_for(s) for s in SERVICES}
        topics |= {t for s in self.subscriptions for t in s.topics}
        await self.ensure_topics(
            sorted(self._physical(t) for t in topics | {dead_letter_topic(t) for t in topics})
        )
        for subscription in self.subscriptions:
            consumer = AIOKafkaConsumer(
                *(self._physical(t) for t in subscription.topics),
                bootstrap_servers=self.bootstrap_servers,
                group_id=subscription.group,
                client_id=f"{self.client_id}-{subscription.group}",
                enable_auto_commit=False,
                auto_offset_reset="earliest",
                max_poll_records=500,
                session_timeout_ms=10_000,
                heartbeat_interval_ms=1_000,
            )
            await consumer.start()
            self._consumers.append(consumer)
            self._tasks.append(asyncio.create_task(self._consume(subscription, consumer)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for consumer in self._consumers:
            await consumer.stop()
        self._consumers.clear()
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    def _physical(self, topic: str) -> str:
        return f"{self.topic_prefix}{topic}"

    def _logical(self, topic: str) -> str:
        return topic[len(self.topic_prefix):] if topic.startswith(self.topic_prefix) else topic

    async def _get_producer(self) -> AIOKafkaProducer:
        async with self._producer_lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self.bootstrap_servers,
                    client_id=self.client_id,
                    enable_idempotence=True,
                    acks="all",
                    linger_ms=2,
                    request_timeout_ms=self.request_timeout_ms,
                )
                try:
                    await producer.start()
                except Exception:
                    await producer.stop()
                    raise
                self._producer = producer
            return self._producer

    async def _reset_producer(self) -> None:
        async with self._producer_lock:
            if self._producer is not None:
                try:
                    await self._producer.stop()
                except Exception as exc:
                    log.warning("kafka_producer_stop_failed", error=repr(exc))
                self._producer = None

    async def publish(self, messages: Sequence[OutgoingMessage]) -> tuple[int, Exception | None]:
        if not messages:
            return 0, None
        try:
            producer = await self._get_producer()
            futures = [
                await producer.send(
                    self._physical(m.topic),
                    value=m.value,
                    key=m.key.encode(),
                    headers=[(k, v.encode()) for k, v in m.headers.items()],
                )
                for m in messages
            ]
        except (KafkaError, OSError) as exc:
            await self._reset_producer()
            return 0, exc
        delivered = 0
        for future in futures:
            try:
                await future
            except (KafkaError, OSError) as exc:
                await self._reset_producer()
                return delivered, exc
            delivered += 1
        return delivered, None

    async def ping(self) -> None:
        producer = await self._get_producer()
        await producer.client.fetch_all_metadata()

    async def _consume(self, subscription: Subscription, consumer: AIOKafkaConsumer) -> None:
        while True:
            try:
                batches = await consumer.getmany(timeout_ms=500, max_records=500)
                if not batches:
                    continue
                # Partitions are independent: handle them concurrently, each one in order.
                await asyncio.gather(
                    *(self._handle_partition(subscription, consumer, tp, records)
                      for tp, records in batches.items())
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # broker hiccup: aiokafka reconnects; do not die
                log.warning("kafka_consume_failed", group=subscription.group, error=repr(exc))
                await asyncio.sleep(1.0)

    async def _handle_partition(
        self,
        subscription: Subscription,
        consumer: AIOKafkaConsumer,
        tp: TopicPartition,
        records: list[ConsumerRecord[bytes, bytes]],
    ) -> None:
        messages = [(record.key.decode() if record.key else "", record.value or b"") for record in records]
        topic = self._logical(tp.topic)
        # Chunks bound how long one transaction holds its locks (and what a failure redoes one by one).
        for start in range(0, len(messages), BATCH_SIZE):
            await self.deliver_many(subscription, topic, messages[start : start + BATCH_SIZE])
        # Every handler's transaction has committed: now the offset may move on. A crash
        # before this line redelivers the batch, which the idempotent consumers absorb.
        await consumer.commit({tp: records[-1].offset + 1})
