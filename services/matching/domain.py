"""Pure rules of offers and missions: states, legal transitions, and small decisions."""

from __future__ import annotations

import hashlib
import hmac
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from os.path import commonprefix
from statistics import median
from zoneinfo import ZoneInfo

from shared.errors import IllegalTransition


class OfferStatus(StrEnum):
    pending = "pending"
    accepted = "accepted"
    declined = "declined"
    expired = "expired"
    withdrawn = "withdrawn"


class MissionStatus(StrEnum):
    assigned = "assigned"
    started = "started"
    completed = "completed"
    cancelled = "cancelled"


class OrderState(StrEnum):
    """Where an order stands in dispatch (matching's view, not the orders lifecycle)."""

    pool = "pool"
    offered = "offered"
    assigned = "assigned"
    started = "started"
    completed = "completed"
    cancelled = "cancelled"
    unassignable = "unassignable"


OFFER_MOVES: dict[str, tuple[OfferStatus, frozenset[OfferStatus]]] = {
    "accept": (OfferStatus.accepted, frozenset({OfferStatus.pending})),
    "decline": (OfferStatus.declined, frozenset({OfferStatus.pending})),
    "expire": (OfferStatus.expired, frozenset({OfferStatus.pending})),
    "withdraw": (OfferStatus.withdrawn, frozenset({OfferStatus.pending})),
}

MISSION_MOVES: dict[str, tuple[MissionStatus, frozenset[MissionStatus]]] = {
    "start": (MissionStatus.started, frozenset({MissionStatus.assigned})),
    "complete": (MissionStatus.completed, frozenset({MissionStatus.started})),
    "cancel": (MissionStatus.cancelled, frozenset({MissionStatus.assigned, MissionStatus.started})),
    "reassign": (MissionStatus.cancelled, frozenset({MissionStatus.assigned})),
    "drop": (MissionStatus.cancelled, frozenset({MissionStatus.assigned})),
}


def move_offer(current: str, action: str) -> OfferStatus:
    """Return the offer's state after `action`, or raise 409 naming the current state."""
    target, sources = OFFER_MOVES[action]
    if OfferStatus(current) not in sources:
        raise IllegalTransition("offer", current, action)
    return target


def move_mission(current: str, action: str) -> MissionStatus:
    """Return the mission's state after `action`, or raise 409 naming the current state."""
    target, sources = MISSION_MOVES[action]
    if MissionStatus(current) not in sources:
        raise IllegalTransition("mission", current, action)
    return target


def start_code_matches(order_id: str, code: str, expected_hash: str) -> bool:
    """Say whether `code` is the client's start code: sha256(f"{order_id}:{code}")."""
    digest = hashlib.sha256(f"{order_id}:{code}".encode()).hexdigest()
    return hmac.compare_digest(digest, expected_hash.lower())


def radius_factor(confirmed_at: datetime, deadline: datetime, now: datetime, steps: Sequence[float]) -> float:
    """Return the radius multiplier: one step further each equal slice of time toward the deadline."""
    total = (deadline - confirmed_at).total_seconds()
    if total <= 0 or not steps:
        return steps[-1] if steps else 1.0
    elapsed = min(max((now - confirmed_at).total_seconds(), 0.0), total)
    index = min(int(elapsed / total * len(steps)), len(steps) - 1)
    return steps[index]


def is_booked_later(window_start: datetime, now: datetime, after_min: int) -> bool:
    """Say whether an order starts far enough ahead to be booked for later."""
    return window_start - now > timedelta(minutes=after_min)


def latest_start(window_start: datetime, window_end: datetime, duration_min: float) -> datetime:
    """Return the latest start that finishes the job by the client's window end (orders' contract).

    Orders reads `window_end` as the time the job must be finished by; the engine reads
    an order's `window_end` as its latest start. Never before the window's start.
    """
    return max(window_start, window_end - timedelta(minutes=duration_min))


def fits_window(start: datetime, duration_min: float, window_start: datetime, window_end: datetime) -> bool:
    """Say whether a job starting at `start` runs entirely inside the client's window."""
    return window_start <= start and start + timedelta(minutes=duration_min) <= window_end


def week_bounds(now: datetime, tz: str) -> tuple[datetime, datetime]:
    """Return the UTC instants of this week's Monday 00:00 and next Monday 00:00, local time.

    Both ends are local midnights, so a week with a clock change is 167 or 169 hours long.
    """
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    monday = (local - timedelta(days=local.weekday())).date()
    start = datetime.combine(monday, datetime.min.time(), zone)
    end = datetime.combine(monday + timedelta(days=7), datetime.min.time(), zone)
    return start.astimezone(UTC), end.astimezone(UTC)


def is_peak(start: datetime, tz: str, peak_hours: Sequence[int]) -> bool:
    """Say whether a mission starting at `start` counts as peak time (local hour or Sunday)."""
    local = start.astimezone(ZoneInfo(tz))
    return local.hour in peak_hours or local.weekday() == 6


def worked_minutes(started_at: datetime, completed_at: datetime) -> int:
    """Return the minutes worked between start and completion, at least one."""
    return max(1, round((completed_at - started_at).total_seconds() / 60))


def overlaps(a_start: datetime, a_end: datetime, b_start: datetime, b_end: datetime) -> bool:
    """Say whether two half-open intervals overlap."""
    return a_start < b_end and b_start < a_end


def spread(count: int, peers: Sequence[int]) -> dict[str, float | int | None]:
    """Compare a provider's offer count with the median of comparable providers."""
    peer_median = float(median(peers)) if peers else None
    ratio = None if not peer_median else round(count / peer_median, 3)
    return {"offers": count, "peer_median": peer_median, "peers": len(peers), "ratio": ratio}


def home_zone(postcode: str, zones_by_postcode: Mapping[str, Mapping[str, int]]) -> str:
    """Return the dispatch zone of a home postcode, from the orders' (postcode -> zone: count).

    Matching holds no zone map of its own: orders carry the zone pricing resolved for
    their postcode (pricing takes the zone whose postcode prefix is the longest). The
    home postcode gets the zone of the known postcodes sharing its longest prefix, at
    least its département (two characters); the most frequent zone among them, then
    the first by name. With none, the département stands for the zone: `dept:<2 chars>`.
    """
    best_length, counts = 0, Counter[str]()
    for known, zones in zones_by_postcode.items():
        length = len(commonprefix([postcode, known]))
        if length < 2 or length < best_length:
            continue
        if length > best_length:
            best_length, counts = length, Counter()
        counts.update(zones)
    if not counts:
        return f"dept:{postcode[:2]}"
    return min(counts, key=lambda zone: (-counts[zone], zone))


def as_utc(moment: datetime) -> datetime:
    """Return a UTC-aware datetime; a naive one is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
