"""Candidate generation on a multi-level uniform grid: never every order against every provider.

Level L has square cells of side C_L = base * sqrt(2)**L km (equirectangular projection around the
batch's latitude). The 3 x 3 cells around an order hold every provider within C_L of it. An
order is settled at the first level where it has `pool` feasible providers within C_L (or C_L
covers the farthest reach); its candidates are the `k` cheapest feasible pairs seen there.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from services.matching.engine.problem import BoolArray, IntArray, Pairs, Problem

LEVEL_STEP = 2**0.5
FEASIBLE_SHARE = 0.8  # a guess of the share of nearby qualified providers that pass every filter
MAX_PAIRS_PER_CHUNK = 2_000_000  # bounds the memory of one evaluation
# Cell keys: category * 2**42 + column * 2**21 + row, so that the providers of one category
# in three vertically adjacent cells are one range of the sorted keys.
_SHIFT = np.int64(1 << 21)
_CATEGORY = np.int64(1 << 42)
_OFFSET = np.int64(1 << 19)


@dataclass
class Candidates:
    """The candidate pairs of some orders, and per-order facts."""

    pairs: Pairs
    seen_feasible: IntArray  # per order of the problem: feasible pairs found
    truncated: BoolArray  # per order: farther feasible providers may exist


class GridIndex:
    """Providers bucketed per grid level, sorted by cell key for range look-ups."""

    def __init__(self, problem: Problem, base_km: float) -> None:
        self.problem = problem
        self.base_km = base_km
        self._levels: dict[int, tuple[IntArray, IntArray]] = {}
        self._lock = threading.Lock()  # two threads may search at once (generate_in_halves)
        # One entry per (category, provider): an order only looks at its own category.
        if problem.category_codes is None:
            self.entry_provider = np.arange(len(problem.providers), dtype=np.int64)
            self.entry_category = np.zeros(len(problem.providers), np.int64)
            self.order_category = np.zeros(len(problem.orders), np.int64)
        else:
            holders = [np.flatnonzero(problem.p_cat & (1 << c)) for c in range(len(problem.category_codes))]
            self.entry_provider = np.concatenate([np.zeros(0, np.int64), *holders])
            self.entry_category = np.repeat(
                np.arange(len(holders), dtype=np.int64), [len(h) for h in holders]
            )
            self.order_category = np.log2(np.maximum(problem.o_cat, 1)).astype(np.int64)
        self.entry_x = problem.p_x[self.entry_provider]
        self.entry_y = problem.p_y[self.entry_provider]
        # A provider with missions is also found from where those missions are: the next
        # mission may start from there, however far from home that is.
        places = [
            (p, b.lng * problem.kx, b.lat * problem.ky) for p, items in enumerate(problem.busy) for b in items
        ]
        self.has_extra = bool(places)
        if places:
            where = np.array(places, np.float64)
            busy_provider = where[:, 0].astype(np.int64)
            extra = np.flatnonzero(np.isin(self.entry_provider, busy_provider))
            # Repeat each (category, provider) entry of a busy provider at each mission place.
            by_provider: dict[int, list[int]] = {}
            for place, p in enumerate(busy_provider.tolist()):
                by_provider.setdefault(p, []).append(place)
            rows = [(e, r) for e in extra.tolist() for r in by_provider[int(self.entry_provider[e])]]
            entry, at = (np.array(x, np.int64) for x in zip(*rows, strict=True))
            self.entry_provider = np.concatenate([self.entry_provider, self.entry_provider[entry]])
            self.entry_category = np.concatenate([self.entry_category, self.entry_category[entry]])
            self.entry_x = np.concatenate([self.entry_x, where[at, 1]])
            self.entry_y = np.concatenate([self.entry_y, where[at, 2]])

    def cell_km(self, level: int) -> float:
        """Return the side of a cell at a level (each level sqrt(2) times the one below)."""
        return self.base_km * LEVEL_STEP**level

    def _cells(self, x: np.ndarray, y: np.ndarray, level: int) -> tuple[IntArray, IntArray]:
        """Return the (column, row) of the cells of points at a level."""
        size = self.cell_km(level)
        ix = np.floor(x / size).astype(np.int64) + _OFFSET
        iy = np.floor(y / size).astype(np.int64) + _OFFSET
        return ix, iy

    def _keys(
        self, x: np.ndarray, y: np.ndarray, category: IntArray, level: int
    ) -> tuple[IntArray, IntArray]:
        """Return (category and column part, row) of the cell keys of points."""
        ix, iy = self._cells(x, y, level)
        return category * _CATEGORY + ix * _SHIFT, iy

    def _order_keys(self, orders: IntArray, level: int) -> tuple[IntArray, IntArray]:
        return self._keys(
            self.problem.o_x[orders], self.problem.o_y[orders], self.order_category[orders], level
        )

    def level(self, level: int) -> tuple[IntArray, IntArray]:
        """Return (sorted keys, provider indices in key order) at a level."""
        with self._lock:
            if level not in self._levels:
                ix, iy = self._cells(self.entry_x, self.entry_y, level)
                keys = self.entry_category * _CATEGORY + ix * _SHIFT + iy
                order = _stable_order(keys, (self.entry_category, ix, iy))
                self._levels[level] = (keys[order], self.entry_provider[order])
            return self._levels[level]

    def neighbourhood_counts(self, orders: IntArray, level: int) -> IntArray:
        """Return how many providers the 3 x 3 cells around each order hold."""
        keys, _ = self.level(level)
        column, iy = self._order_keys(orders, level)
        total = np.zeros(len(orders), np.int64)
        for dx in (-1, 0, 1):
            low_key = column + dx * _SHIFT + iy - 1
            total += np.searchsorted(keys, low_key + 2, side="right")
            total -= np.searchsorted(keys, low_key, side="left")
        return total

    def neighbourhood_pairs(self, orders: IntArray, level: int) -> tuple[IntArray, IntArray]:
        """Return (order, provider) index pairs for every provider in the 3 x 3 cells of each order."""
        keys, providers = self.level(level)
        column, iy = self._order_keys(orders, level)
        o_parts: list[IntArray] = []
        p_parts: list[IntArray] = []
        for dx in (-1, 0, 1):
            # One range per column of three cells: keys of (ix+dx, iy-1..iy+1) are consecutive.
            low_key = column + dx * _SHIFT + iy - 1
            lo = np.searchsorted(keys, low_key, side="left")
            hi = np.searchsorted(keys, low_key + 2, side="right")
            counts = hi - lo
            total = int(counts.sum())
            if total == 0:
                continue
            starts = np.repeat(lo - np.cumsum(counts) + counts, counts)
            positions = starts + np.arange(total)
            o_parts.append(np.repeat(orders, counts))
            p_parts.append(providers[positions])
        if not o_parts:
            empty = np.zeros(0, np.int64)
            return empty, empty
        oi, pi = np.concatenate(o_parts), np.concatenate(p_parts)
        if self.has_extra:
            key = np.unique(oi * len(self.problem.providers) + pi)
            oi, pi = key // len(self.problem.providers), key % len(self.problem.providers)
        return oi, pi


def _stable_order(keys: IntArray, parts: tuple[IntArray, ...]) -> IntArray:
    """Return the stable sort order of keys made of parts (most significant first).

    When each part spans fewer than 2**16 values (a city's cells), the parts are sorted as
    16-bit integers, which numpy radix-sorts: five times faster than the 64-bit keys.
    """
    if len(keys) and all(int(part.max()) - int(part.min()) < 1 << 16 for part in parts):
        small = [(part - part.min()).astype(np.uint16) for part in reversed(parts)]
        order: IntArray = np.lexsort(small)
        return order
    order = np.argsort(keys, kind="stable")
    return order


def default_base_km(problem: Problem, pool: int) -> float:
    """Return a base cell size so that a dense area's 3 x 3 cells hold about the pool."""
    n = len(problem.providers)
    if n == 0:
        return 1.0
    # Density where providers are dense: the 90th percentile over occupied 1 km cells.
    ix = np.floor(problem.p_x).astype(np.int64)
    iy = np.floor(problem.p_y).astype(np.int64)
    _, counts = np.unique(ix * _SHIFT + iy, return_counts=True)
    dense = float(np.percentile(counts, 90))
    # 9 C^2 * density * feasible share ~ pool
    return float(np.clip(np.sqrt(pool / (9 * max(dense, 1e-6) * FEASIBLE_SHARE)), 0.1, 50.0))


def generate(problem: Problem, grid: GridIndex, orders: IntArray, *, pool: int | IntArray) -> Candidates:
    """Return every feasible pair of each order's neighbourhood, searched level by level.

    An order settles at the first level whose 3 x 3 cells hold `pool` feasible providers, or
    whose cells are as large as the farthest reach (then nothing feasible was left out).
    """
    n = len(problem.orders)
    seen = np.zeros(n, np.int64)
    truncated = np.zeros(n, bool)
    done = np.zeros(n, bool)
    parts: list[Pairs] = []
    max_reach = float(problem.p_reach.max(initial=0.0))
    pending = np.unique(np.asarray(orders, np.int64))
    wanted = np.broadcast_to(np.asarray(pool, np.int64), (n,))  # per order of the problem
    need = np.ceil(wanted / FEASIBLE_SHARE).astype(np.int64)
    level = 0
    while len(pending):
        covers_all = grid.cell_km(level) * 0.995 >= max_reach
        # Evaluate an order only once its cells hold enough providers to hope for the pool.
        around = grid.neighbourhood_counts(pending, level)
        enough = around >= need[pending]
        ready = pending if covers_all else pending[enough]
        around = around if covers_all else around[enough]
        bounds = np.searchsorted(
            np.cumsum(around), np.arange(MAX_PAIRS_PER_CHUNK, int(around.sum()) + 1, MAX_PAIRS_PER_CHUNK)
        )
        for chunk in np.split(ready, np.unique(np.maximum(bounds, 1))):
            if not len(chunk):
                continue
            oi, pi = grid.neighbourhood_pairs(chunk, level)
            pairs, _ = problem.evaluate(oi, pi)
            count = np.bincount(pairs.oi, minlength=n)
            settled = np.zeros(n, bool)
            settled[chunk] = covers_all | (count[chunk] >= wanted[chunk])
            parts.append(pairs.take(settled[pairs.oi]))
            seen[settled] = count[settled]
            truncated[settled] = not covers_all
            done |= settled
        pending = pending[~done[pending]]
        level += 1
    return Candidates(Pairs.concat(parts), seen, truncated)


def generate_in_halves(
    problem: Problem, grid: GridIndex, orders: IntArray, *, pool: int | IntArray, use_threads: bool
) -> Candidates:
    """Return what `generate` returns, searched for the east and west halves of the orders apart.

    The same pairs and facts for each order, whichever way; with `use_threads` the halves are
    searched at once (numpy releases the GIL in its array work), the east one in a thread.
    """
    orders = np.unique(np.asarray(orders, np.int64))
    cut = float(np.median(problem.o_x[orders])) if len(orders) else 0.0
    east, west = orders[problem.o_x[orders] >= cut], orders[problem.o_x[orders] < cut]
    if use_threads:
        with ThreadPoolExecutor(max_workers=1) as thread:
            future = thread.submit(generate, problem, grid, east, pool=pool)
            second = generate(problem, grid, west, pool=pool)
            first = future.result()
    else:
        first = generate(problem, grid, east, pool=pool)
        second = generate(problem, grid, west, pool=pool)
    return Candidates(
        Pairs.concat([first.pairs, second.pairs]),
        first.seen_feasible + second.seen_feasible,
        first.truncated | second.truncated,
    )
