"""The orders domain, pure: lifecycle, cancellation fees, ratings, disputes, series, start codes.

Nothing here knows about databases, HTTP or the clock: callers pass `now`.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from shared.errors import Conflict, IllegalTransition, Invalid

PARIS = ZoneInfo("Europe/Paris")


class OrderStatus(StrEnum):
    confirmed = "confirmed"
    assigned = "assigned"
    in_progress = "in_progress"
    completed = "completed"
    cancelled = "cancelled"
    unfulfilled = "unfulfilled"

    @property
    def is_final(self) -> bool:
        return self in FINAL_STATUSES


FINAL_STATUSES = frozenset({OrderStatus.completed, OrderStatus.cancelled, OrderStatus.unfulfilled})


class OrderAction(StrEnum):
    """What can happen to an order; each names the verb used in refusal messages."""

    assign = "assign"
    start = "start"
    complete = "complete"
    cancel = "cancel"
    give_up = "mark unfulfilled"
    release = "release the provider of"


# The lifecycle of SPEC.md, plus `release`: matching cancelled the mission on the provider's
# side before it started, so the order goes back to `confirmed` and is dispatched again.
TRANSITIONS: dict[tuple[OrderStatus, OrderAction], OrderStatus] = {
    (OrderStatus.confirmed, OrderAction.assign): OrderStatus.assigned,
    (OrderStatus.assigned, OrderAction.start): OrderStatus.in_progress,
    (OrderStatus.in_progress, OrderAction.complete): OrderStatus.completed,
    (OrderStatus.confirmed, OrderAction.cancel): OrderStatus.cancelled,
    (OrderStatus.assigned, OrderAction.cancel): OrderStatus.cancelled,
    (OrderStatus.confirmed, OrderAction.give_up): OrderStatus.unfulfilled,
    (OrderStatus.assigned, OrderAction.give_up): OrderStatus.unfulfilled,
    (OrderStatus.in_progress, OrderAction.give_up): OrderStatus.unfulfilled,
    (OrderStatus.assigned, OrderAction.release): OrderStatus.confirmed,
}


def can(current: OrderStatus, action: OrderAction) -> bool:
    """Say whether `action` is legal from `current`."""
    return (current, action) in TRANSITIONS


def next_status(current: OrderStatus, action: OrderAction) -> OrderStatus:
    """Return the status after `action`; IllegalTransition (409) naming the current state otherwise."""
    try:
        return TRANSITIONS[(current, action)]
    except KeyError:
        raise IllegalTransition("order", current.value, action.value) from None


# ---------------------------------------------------------------- start code


def make_start_code() -> str:
    """Return a fresh 6-digit start code (cryptographically random)."""
    return f"{secrets.randbelow(1_000_000):06d}"


def start_code_hash(order_id: str, code: str) -> str:
    """Return the hash matching checks the provider's code against (contract of the brief)."""
    return hashlib.sha256(f"{order_id}:{code}".encode()).hexdigest()


# ---------------------------------------------------------------- cancellation


@dataclass(frozen=True)
class CancellationTier:
    """From `min_hours_before` hours before the start (inclusive), the fee is `fee_percent`."""

    min_hours_before: float
    fee_percent: Decimal


@dataclass(frozen=True)
class CancellationPolicy:
    """Fee tiers by time left before the start, and the provider's share of a fee."""

    tiers: tuple[CancellationTier, ...]
    provider_share_percent: Decimal

    def __post_init__(self) -> None:
        if not self.tiers:
            raise Invalid("a cancellation policy needs at least one tier", field="tiers")
        hours = [t.min_hours_before for t in self.tiers]
        if len(set(hours)) != len(hours):
            raise Invalid("two tiers start at the same number of hours", field="tiers")
        if min(hours) != 0:
            raise Invalid("one tier must start at 0 hours (cancellations just before start)", field="tiers")
        for tier in self.tiers:
            if not Decimal(0) <= tier.fee_percent <= Decimal(100):
                raise Invalid("fee_percent must be between 0 and 100", field="tiers")
        if not Decimal(0) <= self.provider_share_percent <= Decimal(100):
            raise Invalid("must be between 0 and 100", field="provider_share_percent")

    def fee_percent(self, hours_left: float) -> Decimal:
        """Return the fee rate of the tier `hours_left` falls in (the highest threshold reached)."""
        ordered = sorted(self.tiers, key=lambda t: t.min_hours_before, reverse=True)
        for tier in ordered:
            if hours_left >= tier.min_hours_before:
                return tier.fee_percent
        return ordered[-1].fee_percent  # already past the start: the last tier applies


@dataclass(frozen=True)
class CancellationFee:
    fee_cents: int
    provider_share_cents: int
    fee_percent: Decimal
    hours_left: float


def percent_of(cents: int, percent: Decimal) -> int:
    """Return `percent` of `cents`, rounded half-up to the cent."""
    return int((Decimal(cents) * percent / Decimal(100)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def cancellation_fee(
    policy: CancellationPolicy,
    *,
    price_cents: int,
    start_at: datetime,
    now: datetime,
    has_provider: bool,
    waive: bool = False,
) -> CancellationFee:
    """Price a cancellation: the tier for the time left, the provider's share when one was assigned."""
    hours_left = (start_at - now).total_seconds() / 3600
    if waive:
        return CancellationFee(0, 0, Decimal(0), hours_left)
    rate = policy.fee_percent(hours_left)
    fee = percent_of(price_cents, rate)
    share = percent_of(fee, policy.provider_share_percent) if has_provider else 0
    return CancellationFee(fee, share, rate, hours_left)


# ---------------------------------------------------------------- ratings


class RaterRole(StrEnum):
    client = "client"
    provider = "provider"


@dataclass
class RatingState:
    """The ratings of one order as the reveal rule sees them."""

    completed_at: datetime
    window: timedelta
    submitted: set[RaterRole] = field(default_factory=set)
    revealed: set[RaterRole] = field(default_factory=set)

    @property
    def closes_at(self) -> datetime:
        return self.completed_at + self.window

    def check_can_rate(self, role: RaterRole, now: datetime) -> None:
        """Refuse a second rating by the same side, or one after the window closed."""
        if role in self.submitted:
            raise Conflict(f"the {role.value} has already rated this order; a rating cannot be changed")
        if now >= self.closes_at:
            raise Conflict(f"the rating window closed at {self.closes_at.isoformat()}")

    def to_reveal(self, now: datetime) -> set[RaterRole]:
        """Return the ratings to reveal now: all when both are in or when the window has closed."""
        pending = self.submitted - self.revealed
        if not pending:
            return set()
        if self.submitted == {RaterRole.client, RaterRole.provider} or now >= self.closes_at:
            return pending
        return set()


# ---------------------------------------------------------------- disputes


class DisputeStatus(StrEnum):
    open = "open"
    resolved = "resolved"


class DisputeOutcome(StrEnum):
    refund = "refund"
    partial_refund = "partial_refund"
    rejected = "rejected"


def check_can_open_dispute(status: OrderStatus, completed_at: datetime | None, now: datetime,
                           window: timedelta) -> None:
    """Only a completed order, within the dispute window, can be disputed."""
    if status is not OrderStatus.completed:
        raise IllegalTransition("order", status.value, "open a dispute on")
    if completed_at is not None and now >= completed_at + window:
        raise Conflict(f"the dispute window closed at {(completed_at + window).isoformat()}")


def refund_for(outcome: DisputeOutcome, price_cents: int, requested_cents: int | None) -> int:
    """Return the refund of a resolution: all, the partial amount (0 < x < price), or nothing."""
    if outcome is DisputeOutcome.refund:
        if requested_cents not in (None, price_cents):
            raise Invalid("a full refund is the order's price; use partial_refund", field="refund_cents")
        return price_cents
    if outcome is DisputeOutcome.rejected:
        if requested_cents not in (None, 0):
            raise Invalid("a rejected dispute refunds nothing", field="refund_cents")
        return 0
    if requested_cents is None or not 0 < requested_cents < price_cents:
        raise Invalid(
            f"a partial refund is more than 0 and less than the price ({price_cents} cents)",
            field="refund_cents",
        )
    return requested_cents


def check_can_resolve(status: DisputeStatus) -> None:
    if status is not DisputeStatus.open:
        raise IllegalTransition("dispute", status.value, "resolve")


# ---------------------------------------------------------------- recurring series


class Frequency(StrEnum):
    weekly = "weekly"
    fortnightly = "fortnightly"

    @property
    def days(self) -> int:
        return 7 if self is Frequency.weekly else 14


class SeriesStatus(StrEnum):
    active = "active"
    ended = "ended"


def occurrence_start(first_start: datetime, frequency: Frequency, index: int) -> datetime:
    """Return the UTC start of occurrence `index` (0 = first): same Paris wall-clock time, DST-safe."""
    local = first_start.astimezone(PARIS)
    shifted = (local.replace(tzinfo=None) + timedelta(days=frequency.days * index)).replace(tzinfo=PARIS)
    return shifted.astimezone(first_start.tzinfo)


@dataclass(frozen=True)
class OccurrencePlan:
    """What the series job does with the occurrences up to its horizon."""

    to_make: list[tuple[int, datetime]]
    # Start still ahead but dispatch deadline already passed: made, the order would be born
    # unfulfillable (matching gives up at once), so the occurrence is passed over instead.
    too_late: list[tuple[int, datetime]]
    next_index: int  # the first occurrence the next run looks at


def plan_occurrences(
    first_start: datetime,
    frequency: Frequency,
    next_index: int,
    now: datetime,
    horizon: timedelta,
    deadline_after_start: timedelta = timedelta(0),
) -> OccurrencePlan:
    """Sort the occurrences from `next_index` starting within `horizon` of now: to make, too late.

    `deadline_after_start` is the dispatch deadline's offset from an occurrence's start
    (negative when the deadline comes before the start, as with a window no wider than the job).
    """
    to_make: list[tuple[int, datetime]] = []
    too_late: list[tuple[int, datetime]] = []
    index = next_index
    while True:
        start = occurrence_start(first_start, frequency, index)
        if start > now + horizon:
            return OccurrencePlan(to_make, too_late, index)
        if start > now:  # an occurrence already past (the job was down) is not created late
            if start + deadline_after_start > now:
                to_make.append((index, start))
            else:
                too_late.append((index, start))
        index += 1
        if len(to_make) > 1000:  # a horizon this long is a configuration error, not a booking
            return OccurrencePlan(to_make, too_late, index)


def occurrence_index_of(first_start: datetime, frequency: Frequency, start: datetime) -> int | None:
    """Return the index of the occurrence starting on `start`'s Paris date, if there is one."""
    target = start.astimezone(PARIS).date()
    first = first_start.astimezone(PARIS).date()
    days = (target - first).days
    if days < 0 or days % frequency.days:
        return None
    return days // frequency.days


# ---------------------------------------------------------------- geography and windows


def distance_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Return the great-circle distance in km (haversine)."""
    r = 6371.0
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(min(1.0, a)))


def check_window(
    window_start: datetime,
    window_end: datetime,
    duration_min: int,
    now: datetime,
    max_window: timedelta,
) -> None:
    """Refuse a window that is reversed, in the past, too short for the job, or too wide."""
    if window_start.tzinfo is None or window_end.tzinfo is None:
        raise Invalid("must carry a timezone", field="window.start")
    if window_end <= window_start:
        raise Invalid("the window must end after it starts", field="window.end")
    if window_start <= now:
        raise Invalid("the window must start in the future", field="window.start")
    if window_end - window_start < timedelta(minutes=duration_min):
        raise Invalid(
            f"the window is shorter than the job ({duration_min} min)", field="window.end"
        )
    if window_end - window_start > max_window + timedelta(minutes=duration_min):
        raise Invalid(
            f"the window may leave at most {int(max_window.total_seconds() // 60)} min of slack",
            field="window.end",
        )


# ---------------------------------------------------------------- the provider's position


@dataclass(frozen=True)
class ProviderVisit:
    """One of a provider's orders still ahead or under way, as the position rule sees it."""

    order_id: str
    status: OrderStatus
    window_start: datetime


def order_following_provider(
    visits: list[ProviderVisit], *, now: datetime, lead: timedelta
) -> str | None:
    """Return the one order whose client may follow the provider now, if any.

    A provider's position says where they are, and so whose home they are in: it is shown
    only to the client they are on their way to. That is their next assigned order (earliest
    window start), only while none of their orders is in progress (they are at a client's),
    and only from `lead` before that order's window start (not days before the visit).
    """
    if any(v.status is OrderStatus.in_progress for v in visits):
        return None
    assigned = [v for v in visits if v.status is OrderStatus.assigned]
    if not assigned:
        return None
    upcoming = min(assigned, key=lambda v: (v.window_start, v.order_id))
    if now < upcoming.window_start - lead:
        return None
    return upcoming.order_id


def is_position_shown(
    order_id: str,
    recorded_at: datetime,
    visits: list[ProviderVisit],
    *,
    now: datetime,
    lead: timedelta,
) -> bool:
    """Say whether the client of `order_id` may see a position of its provider recorded at `recorded_at`.

    Besides being the order the provider is on their way to, the position must have been
    recorded within the lead time: an older one (kept from before) may be another client's home.
    """
    if order_following_provider(visits, now=now, lead=lead) != order_id:
        return False
    this = next(v for v in visits if v.order_id == order_id)
    return recorded_at >= this.window_start - lead
