"""Opaque identifiers for every aggregate the services create."""

from __future__ import annotations

import uuid


def new_id() -> str:
    """Return a fresh opaque id (a UUID4 as 32 hex characters)."""
    return uuid.uuid4().hex
