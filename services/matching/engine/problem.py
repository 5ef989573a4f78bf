"""The batch as arrays, and the vectorised evaluation of (order, provider) pairs.

Every filter of the spec and every cost component is computed here, for many pairs at once
with numpy; the pairs that need a provider's calendar (commitments, weekly schedule) take a
per-pair path. Providers are indexed in id order, so that index order is id order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import numpy as np
import numpy.typing as npt

from services.matching.engine.calendar import Busy, Fit, Interval, fit_mission, minutes_from
from services.matching.engine.calendar import schedule_intervals as _schedule_intervals
from services.matching.engine.model import (
    FloorPolicy,
    Limits,
    OrderRequest,
    ProviderState,
    Weights,
)
from services.matching.engine.travel import EARTH_RADIUS_KM, HaversineTravel, TravelModel

IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]

OK, FAIL_CATEGORY, FAIL_RADIUS, FAIL_DECLINED, FAIL_CALENDAR, FAIL_FLOOR = range(6)
_KM_PER_DEG_LAT = np.pi * EARTH_RADIUS_KM / 180.0


@dataclass
class Pairs:
    """Evaluated feasible pairs (parallel arrays), or all pairs with a failure code each."""

    oi: IntArray
    pi: IntArray
    travel: FloatArray
    start: FloatArray
    late: FloatArray
    supplement: IntArray
    cost: FloatArray

    def __len__(self) -> int:
        return len(self.oi)

    def take(self, index: IntArray | BoolArray) -> Pairs:
        """Return the pairs selected by an index or a mask."""
        return Pairs(**{name: getattr(self, name)[index] for name in self.__dataclass_fields__})

    @staticmethod
    def concat(parts: Sequence[Pairs]) -> Pairs:
        """Return the pairs of several parts, one after the other."""
        if not parts:
            return Pairs.empty()
        return Pairs(
            **{name: np.concatenate([getattr(p, name) for p in parts]) for name in Pairs.__dataclass_fields__}
        )

    @staticmethod
    def empty() -> Pairs:
        """Return no pairs."""
        i, f = np.zeros(0, np.int64), np.zeros(0, np.float64)
        return Pairs(i, i, f, f, f, i, f)


def _busy_times(provider: ProviderState, now: datetime, extra: list[Busy]) -> list[Busy]:
    """Return a provider's commitments not yet over and the extra busy times, in time order."""
    items = [
        Busy(minutes_from(now, c.start), minutes_from(now, c.end), float(c.lat), float(c.lng))
        for c in provider.commitments
        if c.end > now
    ]
    items += extra
    items.sort(key=lambda b: (b.start, b.end))
    return items


class Problem:
    """One batch's orders and providers as arrays, with its weights, floor and limits."""

    def __init__(
        self,
        orders: Sequence[OrderRequest],
        providers: Sequence[ProviderState],
        *,
        now: datetime,
        weights: Weights,
        floor: FloorPolicy,
        travel: TravelModel,
        radius_factor: float,
        limits: Limits,
        extra_busy: dict[str, list[Busy]] | None = None,
    ) -> None:
        self.orders = list(orders)
        self.providers = list(providers)
        self.now, self.weights, self.floor, self.travel = now, weights, floor, travel
        self.radius_factor, self.limits = radius_factor, limits
        self.provider_index = {p.id: i for i, p in enumerate(self.providers)}
        n, m = len(self.orders), len(self.providers)

        category_sets = {p.categories for p in self.providers}  # a few distinct sets
        codes = sorted({o.category for o in self.orders}.union(*category_sets))
        bit = {c: 1 << i for i, c in enumerate(codes)} if len(codes) <= 62 else None
        self._category_bit = bit
        self.category_codes: list[str] | None = codes if bit else None
        self.o_cat = np.array([bit[o.category] if bit else 0 for o in self.orders], np.int64)
        masks = {cats: sum(bit[c] for c in cats) if bit else 0 for cats in category_sets}
        self.p_cat = np.fromiter((masks[p.categories] for p in self.providers), np.int64, m)
        self.o_lat = np.array([float(o.lat) for o in self.orders], np.float64)
        self.o_lng = np.array([float(o.lng) for o in self.orders], np.float64)
        self.p_lat = np.array([float(p.lat) for p in self.providers], np.float64)
        self.p_lng = np.array([float(p.lng) for p in self.providers], np.float64)
        self.p_reach = np.array([float(p.travel_radius_km) * radius_factor for p in self.providers])
        self.o_ws = np.array([minutes_from(now, o.window_start) for o in self.orders])
        self.o_we = np.array([minutes_from(now, o.window_end) for o in self.orders])
        self.o_dur = np.array([float(o.duration_min) for o in self.orders])
        self.o_payout = np.array([o.payout_cents for o in self.orders], np.float64)
        rate = float(floor.fair_pay.contribution_rate)
        self.o_net = self.o_payout * (1.0 - rate)
        self.o_pref = np.array(
            [self.provider_index.get(o.preferred_provider_id or "", -1) for o in self.orders],
            np.int64,
        )
        if isinstance(travel, HaversineTravel):
            self.o_speed: FloatArray | None = np.array([travel.speed_kmh(o.zone) for o in self.orders])
        else:
            self.o_speed = None

        rated = np.array(
            [p.rating is not None and p.rating_count >= limits.min_rating_count for p in self.providers], bool
        )
        ratings = np.array(
            [p.rating if p.rating is not None else limits.neutral_rating for p in self.providers], np.float64
        )
        effective = np.where(rated, np.clip(ratings, 0.0, 5.0), limits.neutral_rating)
        self.p_rated = rated
        self.p_reputation = weights.reputation * (5.0 - effective)
        hours = np.fromiter((p.hours_this_week for p in self.providers), np.float64, m)
        target = np.fromiter((p.weekly_target_h for p in self.providers), np.float64, m)
        has_target = target > 0  # no target set counts as met: share 1
        # min(hours, 2 target) / target is min(hours / target, 2), without overflow.
        capped = np.minimum(hours, 2.0 * target) / np.where(has_target, target, 1.0)
        share = np.where(has_target, capped, 1.0)
        self.p_share = np.clip(share, 0.0, 2.0)
        self.p_fairness = weights.fairness * self.p_share

        extra = extra_busy or {}
        # Most providers hold no mission: only the others take the per-commitment work.
        self.busy: list[list[Busy]] = [
            _busy_times(p, now, extra.get(p.id, [])) if p.commitments or p.id in extra else []
            for p in self.providers
        ]
        self.p_on_duty = np.array([p.on_duty for p in self.providers], bool)
        # On duty and free: a mission soon needs no calendar look-up.
        self.p_simple = self.p_on_duty & np.array([not b for b in self.busy], bool)
        horizon = float(max(self.o_we.max(initial=0.0), 0.0)) + limits.max_late_min
        self._horizon_end = horizon + float(self.o_dur.max(initial=0.0)) + 24 * 60
        self._blocks: dict[int, list[Interval]] = {}

        declined = [
            o * m + self.provider_index[pid]
            for o, order in enumerate(self.orders)
            for pid in order.declined_by
            if pid in self.provider_index
        ]
        self.declined_codes = np.unique(np.array(declined, np.int64))

        lat0 = float(np.mean(self.p_lat)) if m else (float(np.mean(self.o_lat)) if n else 0.0)
        self.kx = _KM_PER_DEG_LAT * float(np.cos(np.radians(lat0)))
        self.ky = _KM_PER_DEG_LAT
        self.p_x, self.p_y = self.p_lng * self.kx, self.p_lat * self.ky
        self.o_x, self.o_y = self.o_lng * self.kx, self.o_lat * self.ky
        self.p_phi, self.o_phi = np.radians(self.p_lat), np.radians(self.o_lat)
        self.p_lam, self.o_lam = np.radians(self.p_lng), np.radians(self.o_lng)
        self.p_cos, self.o_cos = np.cos(self.p_phi), np.cos(self.o_phi)
        # Planar distances are exact to well under 1% within a city; pairs are pre-filtered
        # on them with this margin, then measured on the sphere.
        span = float(np.ptp(np.concatenate([self.p_lat, self.o_lat]))) if n + m else 0.0
        self.planar_margin = 1.01 + 2.0 * np.radians(span) * (1.0 + abs(np.tan(np.radians(lat0))))

    # -- helpers -----------------------------------------------------------------------------

    def blocks(self, p: int) -> list[Interval]:
        """Return provider p's schedule blocks over the batch horizon (cached)."""
        if p not in self._blocks:
            self._blocks[p] = _schedule_intervals(
                self.providers[p].weekly_schedule, self.now, -24 * 60.0, self._horizon_end
            )
        return self._blocks[p]

    def travel_minutes(self, oi: IntArray, pi: IntArray, dist_km: FloatArray) -> FloatArray:
        """Return travel minutes from each provider's position to each order."""
        if self.o_speed is not None and isinstance(self.travel, HaversineTravel):
            result: FloatArray = dist_km * self.travel.detour_factor / self.o_speed[oi] * 60.0
            return result
        return np.array(
            [
                self.travel.minutes(
                    self.p_lat[p], self.p_lng[p], self.o_lat[o], self.o_lng[o], self.orders[o].zone
                )
                for o, p in zip(oi, pi, strict=True)
            ],
            np.float64,
        )

    def min_minutes_per_km(self) -> float:
        """Return a lower bound of travel minutes per km (0 when the model gives none)."""
        bound = getattr(self.travel, "min_minutes_per_km", None)
        return float(bound()) if callable(bound) else 0.0

    def distances(self, oi: IntArray, pi: IntArray) -> FloatArray:
        """Return great-circle km between orders and providers."""
        half_dp = (self.o_phi[oi] - self.p_phi[pi]) * 0.5
        half_dl = (self.o_lam[oi] - self.p_lam[pi]) * 0.5
        a = np.sin(half_dp) ** 2 + self.p_cos[pi] * self.o_cos[oi] * np.sin(half_dl) ** 2
        result: FloatArray = 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(a)))
        return result

    # -- evaluation --------------------------------------------------------------------------

    def evaluate(
        self, oi: IntArray, pi: IntArray, *, with_codes: bool = False
    ) -> tuple[Pairs, IntArray | None]:
        """Return the feasible pairs among (oi, pi) with their costs, and optionally each code."""
        codes = np.full(len(oi), FAIL_CATEGORY, np.int64) if with_codes else None
        idx = np.arange(len(oi))
        if self._category_bit is None:
            keep = np.array(
                [
                    self.orders[o].category in self.providers[p].categories
                    for o, p in zip(oi, pi, strict=True)
                ],
                bool,
            )
        else:
            keep = (self.o_cat[oi] & self.p_cat[pi]) != 0
        idx, oi, pi = idx[keep], oi[keep], pi[keep]

        reach = self.p_reach[pi]
        dx, dy = self.o_x[oi] - self.p_x[pi], self.o_y[oi] - self.p_y[pi]
        keep = dx * dx + dy * dy <= (reach * self.planar_margin) ** 2
        if codes is not None:
            codes[idx] = FAIL_RADIUS
        idx, oi, pi = idx[keep], oi[keep], pi[keep]

        dist = self.distances(oi, pi)
        keep = dist <= self.p_reach[pi]
        if codes is not None:
            codes[idx] = FAIL_RADIUS
        idx, oi, pi, dist = idx[keep], oi[keep], pi[keep], dist[keep]

        if len(self.declined_codes):
            keep = ~np.isin(oi * len(self.providers) + pi, self.declined_codes)
            if codes is not None:
                codes[idx] = FAIL_DECLINED
            idx, oi, pi, dist = idx[keep], oi[keep], pi[keep], dist[keep]
        if codes is not None:
            codes[idx] = FAIL_CALENDAR

        travel = self.travel_minutes(oi, pi, dist)
        start = np.maximum(self.o_ws[oi], travel)
        simple = self.p_simple[pi] & (start <= self.limits.on_duty_horizon_min)
        keep = simple & (start <= self.o_we[oi] + self.limits.max_late_min)
        slow = np.flatnonzero(~simple)
        if len(slow) and isinstance(self.travel, HaversineTravel):
            fits, fit_start, fit_travel = self.fit_many(oi[slow], pi[slow], travel[slow])
            keep[slow] = fits
            start[slow[fits]], travel[slow[fits]] = fit_start[fits], fit_travel[fits]
        elif len(slow):
            for j in slow:
                fit = self._fit(int(oi[j]), int(pi[j]))
                if fit is not None:
                    keep[j] = True
                    start[j], travel[j] = fit.start, fit.travel_min
        idx, oi, pi, dist = idx[keep], oi[keep], pi[keep], dist[keep]
        travel, start = travel[keep], start[keep]
        late = np.maximum(0.0, start - self.o_we[oi])

        fair_pay = self.floor.fair_pay
        floor_cents = float(fair_pay.floor_cents_per_hour)
        minutes = self.o_dur[oi] + travel
        hourly = np.floor(self.o_net[oi] * 60.0 / np.maximum(minutes, 1e-9) + 0.5).astype(np.int64)
        below = hourly < floor_cents
        if self.floor.mode == "rule_out":
            keep = ~below
            supplement = np.zeros(int(keep.sum()), np.int64)
            if codes is not None:
                codes[idx] = FAIL_FLOOR
            idx, oi, pi, dist = idx[keep], oi[keep], pi[keep], dist[keep]
            travel, start, late = travel[keep], start[keep], late[keep]
        else:
            rate = float(fair_pay.contribution_rate)
            needed = floor_cents * minutes / 60.0 / (1.0 - rate) - self.o_payout[oi]
            supplement = np.where(below, np.ceil(np.maximum(needed, 0.0) - 1e-9), 0).astype(np.int64)
        if codes is not None:
            codes[idx] = OK

        w = self.weights
        reputation = self.p_reputation[pi]
        fairness = self.p_fairness[pi]
        preference = np.where(self.o_pref[oi] == pi, -self.limits.preferred_bonus, 0.0)
        cost = (
            w.travel * travel
            + w.lateness * late
            + reputation
            + fairness
            + w.supplement * supplement / 100.0
            + preference
        )
        pairs = Pairs(oi, pi, travel, start, late, supplement, cost)
        return pairs, codes

    def _calendar_arrays(self, providers: IntArray) -> tuple[FloatArray, ...]:
        """Return padded (block start, block end, busy start, busy end, busy lat, busy lng)."""
        blocks = [self.blocks(int(p)) for p in providers]
        busy = [self.busy[int(p)] for p in providers]
        width_b = max(1, max(len(b) for b in blocks))
        width_c = max(1, max(len(b) for b in busy))
        k = len(providers)
        b_start = np.full((k, width_b), np.inf)
        b_end = np.full((k, width_b), -np.inf)
        c_start = np.full((k, width_c), np.inf)
        c_end = np.full((k, width_c), np.inf)
        c_lat = np.zeros((k, width_c))
        c_lng = np.zeros((k, width_c))
        for row, (bl, bu) in enumerate(zip(blocks, busy, strict=True)):
            if bl:
                b_start[row, : len(bl)], b_end[row, : len(bl)] = zip(*bl, strict=True)
            for col, item in enumerate(bu):
                c_start[row, col], c_end[row, col] = item.start, item.end
                c_lat[row, col], c_lng[row, col] = item.lat, item.lng
        return b_start, b_end, c_start, c_end, c_lat, c_lng

    def fit_many(
        self, oi: IntArray, pi: IntArray, travel_home: FloatArray
    ) -> tuple[BoolArray, FloatArray, FloatArray]:
        """Fit many (order, provider) pairs into the providers' calendars, vectorised.

        The same rules as calendar.fit_mission: leave from home now or from the previous
        commitment when it ends, be on duty or scheduled for the whole mission, reach the next
        commitment in time, overlap none; among the gaps that fit, the least travel-and-lateness.
        """
        assert isinstance(self.travel, HaversineTravel)
        providers, row = np.unique(pi, return_inverse=True)
        b_start, b_end, c_start, c_end, c_lat, c_lng = (a[row] for a in self._calendar_arrays(providers))
        n_busy = np.array([len(self.busy[int(p)]) for p in providers], np.int64)[row]
        ws, we = self.o_ws[oi], self.o_we[oi]
        latest = we + self.limits.max_late_min
        duration = self.o_dur[oi]
        duty_until = np.where(self.p_on_duty[pi], self.limits.on_duty_horizon_min, -np.inf)
        per_km = self.travel.detour_factor / self.o_speed[oi] * 60.0  # type: ignore[index]
        o_lat, o_lng = self.o_lat[oi], self.o_lng[oi]

        def minutes_to(lat: FloatArray, lng: FloatArray) -> FloatArray:
            half_dp = (np.radians(o_lat) - np.radians(lat)) * 0.5
            half_dl = (np.radians(o_lng) - np.radians(lng)) * 0.5
            a = np.sin(half_dp) ** 2 + np.cos(np.radians(lat)) * np.cos(np.radians(o_lat)) * (
                np.sin(half_dl) ** 2
            )
            km = 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(a)))
            result: FloatArray = km * per_km
            return result

        best_cost = np.full(len(oi), np.inf)
        best_start = np.zeros(len(oi))
        best_travel = np.zeros(len(oi))
        w = self.weights
        for gap in range(c_start.shape[1] + 1):
            if gap == 0:
                free_from, travel_in = np.zeros(len(oi)), travel_home
            else:
                free_from = c_end[:, gap - 1]
                travel_in = minutes_to(c_lat[:, gap - 1], c_lng[:, gap - 1])
            has_following = gap < n_busy
            column = min(gap, c_start.shape[1] - 1)
            follow_start = np.where(has_following, c_start[:, column], np.inf)
            follow_end = np.where(has_following, c_end[:, column], np.inf)
            valid = (gap <= n_busy) & ~(follow_end <= np.maximum(free_from, ws))
            earliest = np.maximum(ws, free_from + travel_in)
            valid &= earliest <= latest
            start = np.where(earliest <= duty_until, earliest, np.inf)
            for b in range(b_start.shape[1]):
                candidate = np.maximum(earliest, b_start[:, b])
                fits = np.isinf(start) & (candidate <= latest) & (candidate + duration <= b_end[:, b])
                start = np.where(fits, candidate, start)
            valid &= np.isfinite(start)
            start = np.where(valid, start, 0.0)
            travel_out = np.where(has_following, minutes_to(c_lat[:, column], c_lng[:, column]), 0.0)
            valid &= ~has_following | (start + duration + travel_out <= follow_start)
            end = start + duration
            valid &= ~((c_start < end[:, None]) & (start[:, None] < c_end)).any(axis=1)
            cost = w.travel * travel_in + w.lateness * np.maximum(0.0, start - we)
            better = valid & (cost < best_cost)
            best_cost = np.where(better, cost, best_cost)
            best_start = np.where(better, start, best_start)
            best_travel = np.where(better, travel_in, best_travel)
        return np.isfinite(best_cost), best_start, best_travel

    def _fit(self, o: int, p: int) -> Fit | None:
        """Fit order o into provider p's calendar (the per-pair path)."""
        provider = self.providers[p]
        zone = self.orders[o].zone
        travel = self.travel

        def minutes(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
            return travel.minutes(lat1, lng1, lat2, lng2, zone)

        return fit_mission(
            lat=float(self.o_lat[o]),
            lng=float(self.o_lng[o]),
            window_start=float(self.o_ws[o]),
            window_end=float(self.o_we[o]),
            max_late=self.limits.max_late_min,
            duration=float(self.o_dur[o]),
            home_lat=float(provider.lat),
            home_lng=float(provider.lng),
            on_duty_until=self.limits.on_duty_horizon_min if provider.on_duty else None,
            blocks=self.blocks(p),
            busy=self.busy[p],
            travel=minutes,
            travel_weight=self.weights.travel,
            lateness_weight=self.weights.lateness,
        )

    def exact_pays(self, oi: IntArray, travel_min: FloatArray) -> tuple[list[int], list[int]]:
        """Return exact_pay for many pairs: floats where they are sure, Decimal elsewhere.

        The net hourly pay is payout x (1 - rate) x 60 / minutes, half-up to the cent; in float
        it is off by far less than 1e-6 cent, so only a value within 1e-6 of a half cent, or a
        pair below the floor (the supplement), takes the exact Decimal path.
        """
        travel = np.round(np.asarray(travel_min, np.float64), 6)
        minutes = self.o_dur[oi] + travel
        value = self.o_net[oi] * 60.0 / np.maximum(minutes, 1e-9)
        hourly = np.floor(value + 0.5)
        unsure = (np.abs(value - np.floor(value) - 0.5) < 1e-6) | (minutes <= 0)
        unsure |= hourly < self.floor.fair_pay.floor_cents_per_hour
        supplements = [0] * len(oi)
        rates = hourly.astype(np.int64).tolist()
        for k in np.flatnonzero(unsure).tolist():
            supplements[k], rates[k] = self.exact_pay(int(oi[k]), float(travel_min[k]))
        return supplements, rates

    def exact_pay(self, o: int, travel_min: float) -> tuple[int, int]:
        """Return the exact supplement and all-in net hourly pay (cents) of order o at a travel time."""
        from shared.fairpay import net_hourly_cents, supplement_to_reach_floor

        order = self.orders[o]
        settings = self.floor.fair_pay
        travel_min = round(travel_min, 6)
        hourly = net_hourly_cents(
            order.payout_cents, order.duration_min, travel_min, Decimal(settings.contribution_rate)
        )
        if self.floor.mode == "rule_out" or hourly >= settings.floor_cents_per_hour:
            return 0, hourly
        supplement = supplement_to_reach_floor(order.payout_cents, order.duration_min, travel_min, settings)
        all_in = net_hourly_cents(
            order.payout_cents + supplement,
            order.duration_min,
            travel_min,
            Decimal(settings.contribution_rate),
        )
        return supplement, all_in
