"""Availability rules, pure: weekly schedules and the no-position-off-duty rule."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from shared.errors import Conflict, Invalid


@dataclass(frozen=True)
class Slot:
    weekday: int  # 0 = Monday
    start: str  # HH:MM, Europe/Paris
    end: str  # HH:MM, or 24:00


def minutes_of(hhmm: str, field: str) -> int:
    """Return the minutes since midnight of HH:MM (24:00 allowed as an end of day)."""
    try:
        hours, minutes = (int(p) for p in hhmm.split(":"))
    except ValueError as exc:
        raise Invalid(f"{hhmm!r} is not a time HH:MM", field=field) from exc
    if not (0 <= minutes < 60) or not (0 <= hours <= 24) or (hours == 24 and minutes):
        raise Invalid(f"{hhmm!r} is not a time of day", field=field)
    return hours * 60 + minutes


def validate_schedule(slots: Sequence[Slot]) -> list[Slot]:
    """Check each slot starts before it ends and no two of a day overlap; return them sorted."""
    spans: list[tuple[int, int, int, int]] = []
    for index, slot in enumerate(slots):
        start = minutes_of(slot.start, f"weekly_schedule.{index}.start")
        end = minutes_of(slot.end, f"weekly_schedule.{index}.end")
        if start >= 24 * 60:
            raise Invalid("a slot cannot start at 24:00", field=f"weekly_schedule.{index}.start")
        if end <= start:
            raise Invalid("a slot must end after it starts", field=f"weekly_schedule.{index}.end")
        spans.append((slot.weekday, start, end, index))
    spans.sort()
    for previous, current in zip(spans, spans[1:], strict=False):
        if previous[0] == current[0] and current[1] < previous[2]:
            raise Invalid(
                f"slot overlaps another slot of the same day (weekday {current[0]})",
                field=f"weekly_schedule.{current[3]}",
            )
    return [slots[index] for *_, index in spans]


def ensure_position_allowed(on_duty: bool) -> None:
    """Refuse a position while off duty: none is collected outside working time."""
    if not on_duty:
        raise Conflict(
            "you are off duty: no position is collected; go on duty first",
            extra={"current_state": "off_duty"},
        )
