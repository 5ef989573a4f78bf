"""Plain data the assignment engine reads and returns: frozen dataclasses, no I/O.

Costs are in one common unit, "minutes-equivalent": a minute of travel costs
1 at the default weights, and every other component is converted to it.
All datetimes are UTC-aware; weekly schedules are Europe/Paris local time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from numbers import Real
from typing import Literal

from shared.fairpay import FairPaySettings


def _check_place(lat: float, lng: float, what: str) -> None:
    """Refuse a position that is not on the globe."""
    # Any real number will do (float, int, Decimal from a Numeric column); None or text will not.
    is_number = all(isinstance(v, Real | Decimal) and not isinstance(v, bool) for v in (lat, lng))
    if not (is_number and -90.0 <= float(lat) <= 90.0 and -180.0 <= float(lng) <= 180.0):
        raise ValueError(f"{what}: position ({lat}, {lng}) is not a latitude/longitude")


COMPONENTS: tuple[str, ...] = (
    "travel",
    "lateness",
    "reputation",
    "fairness",
    "supplement",
    "preference",
)


@dataclass(frozen=True)
class Commitment:
    """A mission the provider already holds: busy from start to end at (lat, lng)."""

    order_id: str
    start: datetime
    end: datetime
    lat: float
    lng: float


@dataclass(frozen=True)
class ProviderState:
    """What the engine knows of one qualified, active provider."""

    id: str
    categories: frozenset[str]
    lat: float
    lng: float
    travel_radius_km: float
    on_duty: bool
    # (weekday 0=Monday..6=Sunday, start_minute, end_minute) in Europe/Paris local time;
    # end_minute may be 1440 (midnight); a block never spans midnight.
    weekly_schedule: tuple[tuple[int, int, int], ...] = ()
    commitments: tuple[Commitment, ...] = ()
    rating: float | None = None  # mean rating out of 5
    rating_count: int = 0
    hours_this_week: float = 0.0
    weekly_target_h: float = 0.0  # 0 = no target set: counts as met (fairness share 1)
    zone: str = ""

    def __post_init__(self) -> None:
        _check_place(self.lat, self.lng, f"provider {self.id}")
        if not self.travel_radius_km >= 0 or not self.rating_count >= 0:
            raise ValueError(f"provider {self.id}: radius and rating count must be >= 0")
        for day, start, end in self.weekly_schedule:
            if not (0 <= day <= 6 and 0 <= start <= end <= 1440):
                raise ValueError(f"provider {self.id}: bad schedule block {(day, start, end)}")
        for c in self.commitments:
            if c.start.tzinfo is None or c.end.tzinfo is None or c.end < c.start:
                raise ValueError(
                    f"provider {self.id}: commitment {c.order_id} needs aware "
                    "datetimes and an end after its start"
                )


@dataclass(frozen=True)
class OrderRequest:
    """One order of the pool: the mission should start between window_start and window_end."""

    id: str
    category: str
    lat: float
    lng: float
    window_start: datetime
    window_end: datetime
    duration_min: float
    payout_cents: int
    declined_by: frozenset[str] = frozenset()
    zone: str = ""
    # An accepted mission: kept out of re-solving, its provider is held busy for it.
    pinned_provider_id: str | None = None
    # A provider to keep when possible (e.g. the one a booked order was given before).
    preferred_provider_id: str | None = None

    def __post_init__(self) -> None:
        _check_place(self.lat, self.lng, f"order {self.id}")
        if self.window_start.tzinfo is None or self.window_end.tzinfo is None:
            raise ValueError(f"order {self.id}: window datetimes must be timezone-aware")
        if self.window_end < self.window_start:
            raise ValueError(f"order {self.id}: window ends before it starts")
        if not self.duration_min > 0 or self.payout_cents < 0:
            raise ValueError(f"order {self.id}: duration must be > 0 and payout >= 0")


@dataclass(frozen=True)
class Weights:
    """How much each cost component weighs, in minutes-equivalent per unit (ops can change them).

    - travel: per minute of travel to the job;
    - lateness: per minute the start falls after the client's window;
    - reputation: per star below 5 (providers with too few ratings count as neutral);
    - fairness: per share of the provider's own weekly target already worked (0 none, 1 at target);
    - supplement: per euro of travel supplement the operator pays to hold the fair-pay floor.
    Declines never appear in the cost.
    """

    travel: float = 1.0
    lateness: float = 3.0
    reputation: float = 10.0
    fairness: float = 20.0
    supplement: float = 2.0

    def __post_init__(self) -> None:
        for name in ("travel", "lateness", "reputation", "fairness", "supplement"):
            value = getattr(self, name)
            if not value >= 0 or value == float("inf"):
                raise ValueError(f"weight {name} must be a finite number >= 0, got {value!r}")


@dataclass(frozen=True)
class FloorPolicy:
    """The fair-pay floor held per mission: rule a pair out, or pay a travel supplement."""

    mode: Literal["rule_out", "supplement"] = "supplement"
    fair_pay: FairPaySettings = field(default_factory=FairPaySettings)

    def __post_init__(self) -> None:
        if self.mode not in ("rule_out", "supplement"):
            raise ValueError(f"floor mode must be rule_out or supplement, got {self.mode!r}")


@dataclass(frozen=True)
class Limits:
    """Engine limits and neutral values (settings, not weights)."""

    max_late_min: float = 60.0  # a start later than window_end + this is not feasible
    on_duty_horizon_min: float = 240.0  # on duty covers missions starting within this of now
    min_rating_count: int = 5  # below it the rating gives no verdict (neutral)
    neutral_rating: float = 4.5  # the rating a provider without verdict counts as
    preferred_bonus: float = 10.0  # minutes-equivalent taken off for the preferred provider


@dataclass(frozen=True)
class CandidateScore:
    """One scored (order, provider) pair."""

    provider_id: str
    cost: float
    travel_min: float
    start_at: datetime
    components: dict[str, float]
    supplement_cents: int
    net_hourly_cents: int
    note: str = ""  # for rejected alternatives: why another provider was chosen


@dataclass(frozen=True)
class Assignment:
    """The engine's choice for one order, with the score and the best rejected alternatives.

    start_at is when the mission starts (UTC); travel_min is from the provider's position or
    previous mission; supplement_cents is the gross travel supplement the operator pays (0 when
    none is needed, always 0 under the rule_out policy); net_hourly_cents is the provider's
    all-in net pay per hour of travel plus work, supplement included.
    """

    order_id: str
    provider_id: str
    start_at: datetime
    travel_min: float
    cost: float
    components: dict[str, float]
    supplement_cents: int
    net_hourly_cents: int
    alternatives: list[CandidateScore] = field(default_factory=list)

    def chosen(self) -> CandidateScore:
        """Return the chosen pair in the form of its alternatives (to explain them alike)."""
        return CandidateScore(
            provider_id=self.provider_id,
            cost=self.cost,
            travel_min=self.travel_min,
            start_at=self.start_at,
            components=self.components,
            supplement_cents=self.supplement_cents,
            net_hourly_cents=self.net_hourly_cents,
        )


@dataclass(frozen=True)
class BatchResult:
    """Assignments, unassigned orders with their reason in plain words, and pinned orders kept."""

    assignments: list[Assignment]
    unassigned: dict[str, str]
    pinned: list[str] = field(default_factory=list)
    stats: dict[str, float] = field(default_factory=dict)

    @property
    def total_cost(self) -> float:
        """Return the sum of the costs of the assignments."""
        return sum(a.cost for a in self.assignments)
