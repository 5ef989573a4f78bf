"""`Idempotency-Key` on creating POSTs: the first answer is stored with what it created."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.orders.models import IdempotencyKey
from shared.errors import Invalid


@dataclass(frozen=True)
class Answer:
    """A use case's HTTP answer: what a replay returns as it was."""

    status_code: int
    body: dict[str, Any]
    raw: str | None = None  # the same body already serialised (the intake hot path)


def request_hash(endpoint: str, body: Any) -> str:
    """Fingerprint a request: its endpoint (with path ids) and canonical JSON body."""
    canonical = json.dumps([endpoint, body], sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def replay(stored: IdempotencyKey, endpoint: str, fingerprint: str) -> Answer:
    """Return the stored answer, or refuse a key reused for another request (422)."""
    if stored.endpoint != endpoint or stored.request_hash != fingerprint:
        raise Invalid(
            "this Idempotency-Key was already used with a different request; use a new key",
            field=["header", "Idempotency-Key"],
        )
    return Answer(stored.status_code, stored.response)


def record(
    subject: str, key: str, endpoint: str, fingerprint: str, answer: Answer, now: datetime
) -> IdempotencyKey:
    return IdempotencyKey(
        subject=subject,
        key=key,
        endpoint=endpoint,
        request_hash=fingerprint,
        status_code=answer.status_code,
        response=answer.body,
        created_at=now,
    )


@dataclass(frozen=True)
class IdempotentRequest:
    """Who sent which key for which request."""

    subject: str
    key: str
    endpoint: str
    fingerprint: str

    @classmethod
    def of(cls, subject: str, key: str | None, endpoint: str, body: Any) -> IdempotentRequest | None:
        if key is None:
            return None
        return cls(subject, key, endpoint, request_hash(endpoint, body))

    def replay(self, stored: IdempotencyKey) -> Answer:
        return replay(stored, self.endpoint, self.fingerprint)

    def record(self, answer: Answer, now: datetime) -> IdempotencyKey:
        return record(self.subject, self.key, self.endpoint, self.fingerprint, answer, now)
