"""The event envelope of SPEC.md and its JSON serialisation."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field


def utcnow() -> datetime:
    """Return the current time, timezone-aware in UTC."""
    return datetime.now(UTC)


class Envelope(BaseModel):
    """A fact that happened, as it travels on the bus: ids, type, version, payload."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: uuid.UUID = Field(default_factory=uuid.uuid4)
    type: str = Field(min_length=1)
    version: int = Field(ge=1)
    occurred_at: AwareDatetime = Field(default_factory=utcnow)
    aggregate_id: str = Field(min_length=1)
    payload: dict[str, Any]
    trace_id: str | None = None

    def to_json(self) -> bytes:
        """Serialise to UTF-8 JSON bytes (the wire format on every transport)."""
        return self.model_dump_json().encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> Envelope:
        """Parse wire bytes; raises pydantic.ValidationError on a malformed envelope."""
        return cls.model_validate(json.loads(raw))
