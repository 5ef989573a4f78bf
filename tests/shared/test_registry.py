"""The event registry refuses unknown types, wrong versions and bad payloads; every event round-trips."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from shared.events import (
    Envelope,
    InvalidEventPayload,
    UnknownEventType,
    UnsupportedEventVersion,
    registry,
    to_envelope,
)
from shared.events.orders import OrderCancelled
from shared.events.registry import EventPayload, EventRegistry, event

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


def sample_payload(model: type[EventPayload]) -> dict[str, Any]:
    """Build a valid payload for any event model from its JSON schema."""
    schema = model.model_json_schema()
    defs = schema.get("$defs", {})
    values: dict[str, Any] = {}
    for name in schema.get("required", []):
        prop = schema["properties"][name]
        values[name] = _sample(prop, defs)
    return values


def _sample(prop: dict[str, Any], defs: dict[str, Any]) -> Any:
    if "anyOf" in prop:
        return _sample(next(p for p in prop["anyOf"] if p.get("type") != "null"), defs)
    if "$ref" in prop:
        ref = defs[prop["$ref"].split("/")[-1]]
        return {k: _sample(ref["properties"][k], defs) for k in ref.get("required", [])}
    kind = prop.get("type")
    if prop.get("format") == "date-time":
        return NOW.isoformat()
    if kind == "string":
        return "09:00" if prop.get("pattern") else "x-1"
    if kind == "integer":
        if "maximum" in prop:
            return prop["maximum"]
        return max(1, prop.get("minimum", 1), prop.get("exclusiveMinimum", 0) + 1)
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    raise AssertionError(f"no sample for {prop}")


@pytest.mark.parametrize("kind", registry.kinds(), ids=lambda k: f"{k.type}.v{k.version}")
def test_every_event_round_trips_through_the_wire_format(kind: Any) -> None:
    payload = kind.model.model_validate(sample_payload(kind.model))
    envelope = to_envelope(payload)
    decoded = Envelope.from_json(envelope.to_json())
    assert decoded == envelope
    assert registry.parse(decoded) == payload
    assert kind.topic == f"{kind.service}.events"


class TestRegistryRefusals:
    def envelope(self, **overrides: Any) -> Envelope:
        fields: dict[str, Any] = {
            "type": "order-cancelled",
            "version": 1,
            "aggregate_id": "o-1",
            "payload": {"order_id": "o-1", "cancelled_by": "client", "reason": "changed my mind"},
        }
        fields.update(overrides)
        return Envelope(**fields)

    def test_parses_a_valid_envelope(self) -> None:
        parsed = registry.parse(self.envelope())
        assert isinstance(parsed, OrderCancelled)
        assert parsed.cancelled_by == "client"

    def test_refuses_an_unknown_type(self) -> None:
        with pytest.raises(UnknownEventType, match="unknown event type 'order-teleported'"):
            registry.parse(self.envelope(type="order-teleported"))

    def test_refuses_an_unknown_version(self) -> None:
        with pytest.raises(UnsupportedEventVersion, match=r"no version 7 \(known: \[1\]\)"):
            registry.parse(self.envelope(version=7))

    def test_refuses_a_payload_missing_a_field(self) -> None:
        with pytest.raises(InvalidEventPayload, match="reason"):
            registry.parse(self.envelope(payload={"order_id": "o-1", "cancelled_by": "client"}))

    def test_refuses_a_payload_with_a_wrong_type(self) -> None:
        bad = {"order_id": "o-1", "cancelled_by": "client", "reason": "x", "fee_cents": "lots"}
        with pytest.raises(InvalidEventPayload, match="fee_cents"):
            registry.parse(self.envelope(payload=bad))

    def test_refuses_unknown_payload_fields(self) -> None:
        bad = {"order_id": "o-1", "cancelled_by": "client", "reason": "x", "secret": 1}
        with pytest.raises(InvalidEventPayload, match="secret"):
            registry.parse(self.envelope(payload=bad))

    def test_refuses_a_malformed_envelope(self) -> None:
        with pytest.raises(ValidationError):
            Envelope.from_json(b'{"type": "order-cancelled", "version": 0}')

    def test_refuses_a_naive_timestamp(self) -> None:
        with pytest.raises(ValidationError, match="occurred_at"):
            self.envelope(occurred_at=datetime(2026, 1, 1, 12, 0))

    def test_refuses_registering_a_type_twice_with_another_model(self) -> None:
        local = EventRegistry()

        class First(EventPayload):
            thing_id: str

        class Second(EventPayload):
            thing_id: str

        local.register("orders", "thing-happened", 1, First)
        with pytest.raises(ValueError, match="already registered"):
            local.register("orders", "thing-happened", 1, Second)

    def test_refuses_an_unknown_producing_service(self) -> None:
        with pytest.raises(ValueError, match="unknown producing service"):

            @event("billing", "invoice-sent")
            class InvoiceSent(EventPayload):
                invoice_id: str


def test_envelope_carries_the_current_trace_id() -> None:
    from shared.observability import bind_trace_id

    bind_trace_id("trace-abc")
    try:
        envelope = to_envelope(OrderCancelled(order_id="o-9", cancelled_by="ops", reason="duplicate"))
    finally:
        bind_trace_id(None)
    assert envelope.trace_id == "trace-abc"
    assert envelope.aggregate_id == "o-9"
    assert isinstance(envelope.event_id, uuid.UUID)
