"""The event bus: one interface, a Kafka and an in-process transport."""

from shared.bus.base import DeliveryPolicy, EventBus, Handler, OutgoingMessage, Subscription
from shared.bus.memory import InMemoryBus

__all__ = ["DeliveryPolicy", "EventBus", "Handler", "InMemoryBus", "OutgoingMessage", "Subscription"]
