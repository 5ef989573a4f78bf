"""The event registry: one pydantic payload model per (type, version).

Producing services declare their events with `@event("order-confirmed", 1)`
in `shared/events/<service>.py`; consumers import those modules and never
define events themselves. The registry refuses unknown types, unknown
versions and payloads that do not match their model, with a clear message.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from shared.events.envelope import Envelope
from shared.observability import current_trace_id

SERVICES = ("providers", "pricing", "orders", "matching")


def topic_for(service: str) -> str:
    """Return the topic a service publishes to: one per owning service."""
    return f"{service}.events"


def dead_letter_topic(topic: str) -> str:
    """Return the dead-letter topic of a topic."""
    return f"{topic}.dlq"


class EventError(ValueError):
    """An envelope the registry refuses."""


class UnknownEventType(EventError):
    pass


class UnsupportedEventVersion(EventError):
    pass


class InvalidEventPayload(EventError):
    pass


class EventPayload(BaseModel):
    """Base of every payload model; `type`, `version` and `service` set by @event."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_type: ClassVar[str]
    event_version: ClassVar[int]
    service: ClassVar[str]

    def aggregate_key(self) -> str:
        """Return the aggregate id this event is keyed by (the first *_id field)."""
        for name in type(self).model_fields:
            if name.endswith("_id"):
                return str(getattr(self, name))
        raise NotImplementedError(f"{type(self).__name__} has no *_id field to key by")


@dataclass(frozen=True)
class EventKind:
    service: str
    type: str
    version: int
    model: builtins.type[EventPayload]

    @property
    def topic(self) -> str:
        return topic_for(self.service)


class EventRegistry:
    """Maps (type, version) to its payload model and owning service."""

    def __init__(self) -> None:
        self._kinds: dict[tuple[str, int], EventKind] = {}

    def register(self, service: str, type_: str, version: int, model: type[EventPayload]) -> None:
        key = (type_, version)
        if key in self._kinds and self._kinds[key].model is not model:
            raise ValueError(f"event {type_} v{version} is already registered")
        if service not in SERVICES:
            raise ValueError(f"unknown producing service {service!r}")
        self._kinds[key] = EventKind(service, type_, version, model)

    def kinds(self) -> list[EventKind]:
        return sorted(self._kinds.values(), key=lambda k: (k.service, k.type, k.version))

    def kind(self, type_: str, version: int) -> EventKind:
        """Return the kind of (type, version) or raise a clear error."""
        versions = sorted(v for (t, v) in self._kinds if t == type_)
        if not versions:
            raise UnknownEventType(f"unknown event type {type_!r}")
        if version not in versions:
            raise UnsupportedEventVersion(
                f"event {type_!r} has no version {version} (known: {versions})"
            )
        return self._kinds[(type_, version)]

    def parse(self, envelope: Envelope) -> EventPayload:
        """Return the envelope's payload validated by its model."""
        kind = self.kind(envelope.type, envelope.version)
        try:
            payload: EventPayload = kind.model.model_validate(envelope.payload)
            return payload
        except ValidationError as exc:
            raise InvalidEventPayload(
                f"bad payload for {envelope.type} v{envelope.version}: {exc}"
            ) from exc

    def envelope(
        self, payload: EventPayload, *, aggregate_id: str | None = None, trace_id: str | None = None
    ) -> Envelope:
        """Wrap a payload in a new envelope, carrying the current trace id."""
        kind = self.kind(payload.event_type, payload.event_version)
        if type(payload) is not kind.model:
            raise EventError(f"{type(payload).__name__} is not the model of {kind.type}")
        return Envelope(
            type=kind.type,
            version=kind.version,
            aggregate_id=aggregate_id or payload.aggregate_key(),
            payload=payload.model_dump(mode="json"),
            trace_id=trace_id or current_trace_id(),
        )


registry = EventRegistry()

P = TypeVar("P", bound=type[EventPayload])


def event(service: str, type_: str, version: int = 1) -> Callable[[P], P]:
    """Declare a payload model as the event (type, version) of a service."""

    def decorate(model: P) -> P:
        model.event_type = type_
        model.event_version = version
        model.service = service
        registry.register(service, type_, version, model)
        return model

    return decorate


def to_envelope(payload: EventPayload, **kwargs: Any) -> Envelope:
    """Wrap a payload with the global registry."""
    return registry.envelope(payload, **kwargs)
