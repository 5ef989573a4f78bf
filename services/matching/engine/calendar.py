"""Fit one mission into a provider's day: availability, commitments and travel between them.

Times are float minutes relative to the batch's `now` (UTC), so that the hot path does no
datetime arithmetic; weekly schedules (Europe/Paris local time) are converted once per batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")

Interval = tuple[float, float]
TravelFn = Callable[[float, float, float, float], float]


@dataclass(frozen=True)
class Busy:
    """A commitment in minutes relative to now, with its place."""

    start: float
    end: float
    lat: float
    lng: float


def minutes_from(now: datetime, moment: datetime) -> float:
    """Return the minutes from now to a moment (negative in the past)."""
    return (moment - now).total_seconds() / 60.0


def schedule_intervals(
    schedule: Sequence[tuple[int, int, int]], now: datetime, first_min: float, last_min: float
) -> list[Interval]:
    """Return the weekly schedule's blocks between two offsets from now, merged and sorted."""
    if not schedule:
        return []
    first_local = (now + timedelta(minutes=first_min)).astimezone(PARIS).date() - timedelta(days=1)
    last_local = (now + timedelta(minutes=last_min)).astimezone(PARIS).date() + timedelta(days=1)
    blocks: list[Interval] = []
    day = first_local
    while day <= last_local:
        midnight = datetime.combine(day, time(0), tzinfo=PARIS)
        for weekday, start_minute, end_minute in schedule:
            if weekday != day.weekday() or end_minute <= start_minute:
                continue
            # Wall-clock arithmetic on an aware datetime, then UTC: DST days keep local times.
            start = (midnight + timedelta(minutes=start_minute)).astimezone(now.tzinfo)
            if end_minute >= 1440:
                end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=PARIS)
            else:
                end = midnight + timedelta(minutes=end_minute)
            blocks.append((minutes_from(now, start), minutes_from(now, end.astimezone(now.tzinfo))))
        day += timedelta(days=1)
    blocks.sort()
    merged: list[Interval] = []
    for start_min, end_min in blocks:
        if merged and start_min <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end_min))
        else:
            merged.append((start_min, end_min))
    return merged


@dataclass(frozen=True)
class Fit:
    """Where a mission fits: its start (minutes from now) and the travel to reach it."""

    start: float
    travel_min: float
    late_min: float


def _earliest_available(
    earliest: float,
    duration: float,
    latest_start: float,
    on_duty_until: float | None,
    blocks: Sequence[Interval],
) -> float | None:
    """Return the earliest start >= earliest at which the provider is available for the mission."""
    if on_duty_until is not None and earliest <= on_duty_until:
        return earliest
    for block_start, block_end in blocks:
        start = max(earliest, block_start)
        if start > latest_start:
            return None
        if start + duration <= block_end:
            return start
    return None


def fit_mission(
    *,
    lat: float,
    lng: float,
    window_start: float,
    window_end: float,
    max_late: float,
    duration: float,
    home_lat: float,
    home_lng: float,
    on_duty_until: float | None,
    blocks: Sequence[Interval],
    busy: Sequence[Busy],
    travel: TravelFn,
    travel_weight: float,
    lateness_weight: float,
) -> Fit | None:
    """Return the best place for a mission between the provider's commitments, or None.

    The provider leaves from home (or their live position) now, or from the place of the
    previous commitment when it ends, and must reach the next commitment in time.
    """
    latest_start = window_end + max_late
    origins: list[tuple[float, float, float]] = [(0.0, home_lat, home_lng)]
    origins += [(b.end, b.lat, b.lng) for b in busy]
    best: Fit | None = None
    best_cost = float("inf")
    for i, (free_from, from_lat, from_lng) in enumerate(origins):
        following = busy[i] if i < len(busy) else None
        if following is not None and following.end <= max(free_from, window_start):
            continue
        travel_in = travel(from_lat, from_lng, lat, lng)
        earliest = max(window_start, free_from + travel_in)
        if earliest > latest_start:
            continue
        start = _earliest_available(earliest, duration, latest_start, on_duty_until, blocks)
        if start is None:
            continue
        if following is not None:
            travel_out = travel(lat, lng, following.lat, following.lng)
            if start + duration + travel_out > following.start:
                continue
        if any(b.start < start + duration and start < b.end for b in busy):
            continue
        late = max(0.0, start - window_end)
        cost = travel_weight * travel_in + lateness_weight * late
        if cost < best_cost:
            best, best_cost = Fit(start, travel_in, late), cost
    return best
