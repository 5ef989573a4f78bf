"""Ops policies the next batch reads: stored in `setting` by key, audited when changed, defaulted.

The engine weights and the fair-pay floor mode are both such policies; they share
`read_setting` / `write_setting` so that each is stored and audited the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from services.matching import planner
from services.matching.config import FloorMode, MatchingSettings
from services.matching.engine import Weights
from services.matching.models import AuditEntry, Setting
from services.matching.repository import MatchingRepository

WEIGHTS_KEY = "weights"
FLOOR_POLICY_KEY = "floor_policy"


@dataclass(frozen=True)
class StoredSetting:
    """An ops setting's value (its default until ops set it) and who set it last."""

    value: dict[str, Any]
    updated_at: datetime | None = None
    updated_by: str | None = None


@dataclass(frozen=True)
class BatchPolicy:
    """What ops chose for the next batch."""

    weights: Weights
    floor_mode: FloorMode


def default_weights() -> dict[str, Any]:
    """Return the engine's default weights as stored."""
    return planner.weights_to_dict(Weights())


def default_floor_policy(settings: MatchingSettings) -> dict[str, Any]:
    """Return the floor policy used until ops choose one: the service's setting."""
    return {"mode": settings.floor_policy}


async def read_setting(repo: MatchingRepository, key: str, default: dict[str, Any]) -> StoredSetting:
    """Return the stored ops setting, or its default."""
    row = await repo.setting(key)
    if row is None:
        return StoredSetting(default)
    return StoredSetting(row.value, row.updated_at, row.updated_by)


async def write_setting(
    repo: MatchingRepository,
    key: str,
    value: dict[str, Any],
    *,
    default: dict[str, Any],
    actor: str,
    reason: str,
    now: datetime,
) -> StoredSetting:
    """Store an ops setting with an audit entry `dispatch.<key>` (before, after); the caller commits."""
    row = await repo.setting(key)
    before = row.value if row else default
    if row is None:
        repo.add(Setting(key=key, value=value, updated_at=now, updated_by=actor))
    else:
        row.value, row.updated_at, row.updated_by = value, now, actor
    repo.add(
        AuditEntry(
            at=now,
            actor=actor,
            action=f"dispatch.{key}",
            subject_id=key,
            reason=reason,
            details={"before": before, "after": value},
        )
    )
    return StoredSetting(value, now, actor)


async def load_policy(repo: MatchingRepository, settings: MatchingSettings) -> BatchPolicy:
    """Return the weights and floor mode ops set last (the defaults until then)."""
    weights = await read_setting(repo, WEIGHTS_KEY, default_weights())
    floor = await read_setting(repo, FLOOR_POLICY_KEY, default_floor_policy(settings))
    return BatchPolicy(planner.weights_from(weights.value), cast(FloorMode, floor.value["mode"]))
