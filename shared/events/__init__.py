"""The event catalogue: importing this package registers every event type."""

from shared.events import matching, orders, pricing, providers  # noqa: F401
from shared.events.envelope import Envelope, utcnow
from shared.events.registry import (
    EventError,
    EventKind,
    EventPayload,
    InvalidEventPayload,
    UnknownEventType,
    UnsupportedEventVersion,
    dead_letter_topic,
    event,
    registry,
    to_envelope,
    topic_for,
)

__all__ = [
    "Envelope",
    "EventError",
    "EventKind",
    "EventPayload",
    "InvalidEventPayload",
    "UnknownEventType",
    "UnsupportedEventVersion",
    "dead_letter_topic",
    "event",
    "registry",
    "to_envelope",
    "topic_for",
    "utcnow",
]
