"""Benchmark of the matching engine against SciPy's exact assignment and a greedy dispatcher.

City-like instances (orders and providers placed in proportion to the population of real
communes around Lyon, 30% of pairs ruled out by skills) of 2,000 x 5,000, 20,000 x 50,000 and
a tight-supply 2,000 x 2,200, all on-demand with providers on duty; and a "mixed" 2,000 x 5,000
where 30% of orders are booked for the next day and 30% of providers work to a weekly schedule
and already hold a mission (calendars and travel between missions). Methods, all scored by the
same cost function:

- engine:    services.matching.engine.solve (candidates + min-cost flow), wall time of the call;
             a large batch's first graph is solved as two halves at once, one in the engine's
             worker process: it is started once before the runs, as a service does at start-up
             (its start time is recorded as worker_start_s, outside the engine's wall time);
- scipy:     exact dense scipy.optimize.linear_sum_assignment on the full feasible cost matrix
             (infeasible pairs at a big cost), time to build the matrix plus the solve;
- greedy:    orders in arrival order, each to its nearest free feasible provider;
- reference: the engine on a much larger candidate set, where SciPy does not fit in memory.

Writes var/bench/matching.json and var/bench/matching.png. `--quick` runs small sizes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from services.matching.engine import (  # noqa: E402
    FloorPolicy,
    HaversineTravel,
    Limits,
    OrderRequest,
    ProviderState,
    Weights,
    solve,
    workers,
)
from services.matching.engine.candidates import GridIndex, default_base_km, generate  # noqa: E402
from services.matching.engine.instances import DEFAULT_NOW, city_instance, load_places  # noqa: E402
from services.matching.engine.problem import Problem  # noqa: E402

DEFAULT_CSV = ROOT.parent / "shared" / "data" / "communes-fr.csv"
DENSE_LIMIT = 30_000_000  # matrix cells SciPy may get (float64: 240 MB)
BIG = 1e7
REFERENCE = {"max_candidates": 32, "pool": 96}  # four times the engine's candidate pool


@dataclass
class Outcome:
    """One method's choice on one instance."""

    pairs: list[tuple[str, str]]
    wall_s: float
    cpu_s: float
    extra: dict[str, Any]


def make_problem(
    orders: Sequence[OrderRequest], providers: Sequence[ProviderState], weights: Weights | None = None
) -> Problem:
    """Return the batch as arrays with the engine's default settings."""
    return Problem(
        sorted(orders, key=lambda o: o.id),
        sorted(providers, key=lambda p: p.id),
        now=DEFAULT_NOW,
        weights=weights or Weights(),
        floor=FloorPolicy(),
        travel=HaversineTravel(),
        radius_factor=1.0,
        limits=Limits(),
    )


def timed(
    run: Callable[..., tuple[list[tuple[str, str]], dict[str, Any]]], *args: Any, **options: Any
) -> Outcome:
    """Run a method once and time it (wall and process CPU)."""
    wall, cpu = time.perf_counter(), time.process_time()
    pairs, extra = run(*args, **options)
    return Outcome(pairs, time.perf_counter() - wall, time.process_time() - cpu, extra)


def run_engine(
    orders: Sequence[OrderRequest], providers: Sequence[ProviderState], **options: Any
) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """Solve with the engine."""
    result = solve(orders, providers, now=DEFAULT_NOW, alternatives=0, **options)
    return [(a.order_id, a.provider_id) for a in result.assignments], dict(result.stats)


def run_scipy(
    orders: Sequence[OrderRequest], providers: Sequence[ProviderState]
) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """Solve exactly: the dense feasible cost matrix and linear_sum_assignment."""
    from scipy.optimize import linear_sum_assignment

    started = time.perf_counter()
    problem = make_problem(orders, providers)
    n, m = len(problem.orders), len(problem.providers)
    matrix = np.full((n, m), BIG)
    chunk = max(1, 2_000_000 // max(m, 1))
    for first in range(0, n, chunk):
        rows = np.arange(first, min(n, first + chunk), dtype=np.int64)
        oi, pi = np.repeat(rows, m), np.tile(np.arange(m, dtype=np.int64), len(rows))
        pairs, _ = problem.evaluate(oi, pi)
        matrix[pairs.oi, pairs.pi] = pairs.cost
    matrix_s = time.perf_counter() - started
    rows, cols = linear_sum_assignment(matrix)
    keep = matrix[rows, cols] < BIG
    chosen = [
        (problem.orders[r].id, problem.providers[c].id) for r, c in zip(rows[keep], cols[keep], strict=True)
    ]
    return chosen, {"matrix_s": matrix_s, "lsa_s": time.perf_counter() - started - matrix_s}


def run_greedy(
    orders: Sequence[OrderRequest], providers: Sequence[ProviderState]
) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """Dispatch orders in arrival order, each to its nearest free feasible provider."""
    problem = make_problem(orders, providers, Weights(1.0, 0.0, 0.0, 0.0, 0.0))
    grid = GridIndex(problem, default_base_km(problem, 32))
    n = len(problem.orders)
    found = generate(problem, grid, np.arange(n, dtype=np.int64), pool=32)
    order = np.lexsort((found.pairs.pi, found.pairs.travel, found.pairs.oi))
    lists: dict[int, list[int]] = {}
    for o, p in zip(found.pairs.oi[order].tolist(), found.pairs.pi[order].tolist(), strict=True):
        lists.setdefault(o, []).append(p)
    taken = np.zeros(len(problem.providers), bool)
    chosen: list[tuple[str, str]] = []
    for o in range(n):
        pick = next((p for p in lists.get(o, []) if not taken[p]), None)
        if pick is None and found.truncated[o]:
            wider = generate(problem, grid, np.array([o], np.int64), pool=10**9)
            nearest = wider.pairs.pi[np.lexsort((wider.pairs.pi, wider.pairs.travel))]
            pick = next((int(p) for p in nearest if not taken[p]), None)
        if pick is not None:
            taken[pick] = True
            chosen.append((problem.orders[o].id, problem.providers[pick].id))
    return chosen, {}


def score(problem: Problem, pairs: list[tuple[str, str]]) -> tuple[float, int]:
    """Return the total cost of a set of assignments under the common cost, and its size."""
    if not pairs:
        return 0.0, 0
    order_index = {o.id: i for i, o in enumerate(problem.orders)}
    oi = np.array([order_index[o] for o, _ in pairs], np.int64)
    pi = np.array([problem.provider_index[p] for _, p in pairs], np.int64)
    if len(set(oi.tolist())) != len(oi) or len(set(pi.tolist())) != len(pi):
        raise AssertionError("an order or a provider is used twice")
    evaluated, _ = problem.evaluate(oi, pi)
    if len(evaluated) != len(pairs):
        raise AssertionError(f"{len(pairs) - len(evaluated)} assignments break the filters")
    return float(evaluated.cost.sum()), len(pairs)


def judge(records: list[dict[str, Any]]) -> list[str]:
    """Add to each engine record its case's target, whether it is met, and greedy's extra cost.

    Targets (the issue's): 2,000 x 5,000 within 0.1% of SciPy's cost in at most half its time;
    20,000 x 50,000 under 2 s; the tight 2,000 x 2,200 assigns as many orders as SciPy.
    Returns a line for each target missed.
    """
    missed = []
    for engine in (r for r in records if r["method"] == "engine"):
        case = (engine["orders"], engine["providers"], engine["kind"])
        greedy = next(r for r in records if (r["orders"], r["providers"], r["kind"]) == case
                      and r["method"] == "greedy")
        per_order = {r["method"]: r["cost"] / max(r["assigned"], 1) for r in (engine, greedy)}
        engine["greedy_extra_cost_per_order"] = round(per_order["greedy"] / per_order["engine"] - 1, 4)
        if case == (2000, 5000, "normal"):
            target = "cost <= 1.001 x scipy and time <= 0.5 x scipy"
            met = engine["cost_vs_baseline"] <= 1.001 and engine["time_vs_baseline"] <= 0.5
        elif case == (20000, 50000, "normal"):
            target, met = "wall_s < 2.0 (median of the runs)", engine["wall_s"] < 2.0
        elif case == (2000, 2200, "tight"):
            target, met = "assigns as many as scipy", engine["assigned_vs_baseline"] >= 0
        else:
            continue  # an extra case, reported without a target
        engine["target"], engine["meets_target"] = target, met
        if not met:
            missed.append(f"{case[0]:,} x {case[1]:,} {case[2]}: {target}")
    return missed


def chart(records: list[dict[str, Any]], path: Path) -> None:
    """Draw time and cost per assigned order against instance size, per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cases = sorted(
        {(r["orders"], r["providers"], r["kind"]) for r in records},
        key=lambda c: (c[2] == "mixed", c[0] * c[1]),
    )
    labels = [f"{o:,} x {p:,}" + ("" if kind == "normal" else f"\n{kind}") for o, p, kind in cases]
    figure, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for method, marker in (("engine", "o"), ("scipy", "s"), ("greedy", "^"), ("reference", "D")):
        xs, times, costs = [], [], []
        for x, case in enumerate(cases):
            found = [
                r
                for r in records
                if (r["orders"], r["providers"], r["kind"]) == case and r["method"] == method
            ]
            if found:
                xs.append(x)
                times.append(found[0]["wall_s"])
                costs.append(found[0]["cost"] / max(found[0]["assigned"], 1))
        if xs:
            left.plot(xs, times, marker=marker, label=method)
            right.plot(xs, costs, marker=marker, label=method)
    for axis, title in ((left, "wall time (s, log)"), (right, "cost per assigned order")):
        axis.set_xticks(range(len(cases)), labels, rotation=15)
        axis.set_title(title)
        axis.legend()
        axis.grid(alpha=0.3)
    left.set_yscale("log")
    figure.suptitle("Matching engine vs exact SciPy and greedy (orders x providers)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and write its figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, under 30 s")
    parser.add_argument("--csv", type=Path, default=Path(os.environ.get("COMMUNES_CSV", DEFAULT_CSV)))
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "bench")
    parser.add_argument("--repeat", type=int, default=3, help="engine runs per case (median)")
    args = parser.parse_args(argv)

    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    console = Console(width=150)
    cases = (
        [(400, 1000, "normal"), (400, 440, "tight"), (2000, 5000, "normal"), (400, 1000, "mixed")]
        if args.quick
        else [
            (2000, 5000, "normal"),
            (2000, 2200, "tight"),
            (20000, 50000, "normal"),
            (2000, 5000, "mixed"),
        ]
    )
    places = load_places(args.csv)
    records: list[dict[str, Any]] = []
    clock = time.perf_counter()
    has_worker = workers.start()
    worker_start_s = round(time.perf_counter() - clock, 4)
    with Progress(console=console, transient=False) as progress:
        task = progress.add_task("matching benchmark", total=len(cases) * 4)
        for n, m, kind in cases:
            progress.update(task, description=f"{n:,} x {m:,}: instance")
            mixed = 0.3 if kind == "mixed" else 0.0
            orders, providers = city_instance(
                args.csv, n, m, seed=n + m, places=places, booked_share=mixed, busy_share=mixed
            )
            problem = make_problem(orders, providers)
            outcomes: dict[str, Outcome] = {}
            progress.update(task, description=f"{n:,} x {m:,}: engine")
            runs = [timed(run_engine, orders, providers) for _ in range(args.repeat)]
            best = sorted(runs, key=lambda r: r.wall_s)[len(runs) // 2]
            best.extra["wall_runs"] = [round(r.wall_s, 4) for r in runs]
            outcomes["engine"] = best
            progress.advance(task)
            progress.update(task, description=f"{n:,} x {m:,}: greedy")
            outcomes["greedy"] = timed(run_greedy, orders, providers)
            progress.advance(task)
            if n * m <= DENSE_LIMIT:
                progress.update(task, description=f"{n:,} x {m:,}: scipy (dense, exact)")
                outcomes["scipy"] = timed(run_scipy, orders, providers)
            progress.advance(task)
            if n * m > DENSE_LIMIT or args.quick:
                progress.update(task, description=f"{n:,} x {m:,}: reference (wide lists)")
                outcomes["reference"] = timed(run_engine, orders, providers, **REFERENCE)
            progress.advance(task)
            exact = "scipy" if "scipy" in outcomes else "reference"
            exact_cost, exact_assigned = score(problem, outcomes[exact].pairs)
            for method, outcome in outcomes.items():
                cost, assigned = score(problem, outcome.pairs)
                record: dict[str, Any] = {
                    "orders": n,
                    "providers": m,
                    "kind": kind,
                    "method": method,
                    "wall_s": round(outcome.wall_s, 4),
                    "cpu_s": round(outcome.cpu_s, 4),
                    "cost": round(cost, 3),
                    "assigned": assigned,
                    "baseline": exact,
                    "cost_vs_baseline": round(cost / exact_cost, 6) if exact_cost else None,
                    "assigned_vs_baseline": assigned - exact_assigned,
                    "time_vs_baseline": round(outcome.wall_s / outcomes[exact].wall_s, 4),
                }
                if method in ("engine", "reference"):
                    record["cores"] = workers.available_cores()
                    record["worker_process"] = has_worker
                    record["worker_start_s"] = worker_start_s
                record.update(
                    {
                        k: v
                        for k, v in outcome.extra.items()
                        if isinstance(v, int | float | list) and k not in record
                    }
                )
                records.append(record)
    missed = judge(records)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "matching.json").write_text(json.dumps(records, indent=2))
    chart(records, args.out / "matching.png")

    table = Table(title="matching: engine vs exact (scipy / reference) vs greedy")
    for column in (
        "orders x providers",
        "method",
        "wall s",
        "cpu s",
        "assigned",
        "cost",
        "cost / exact",
        "time / exact",
    ):
        table.add_column(column, justify="right")
    for r in records:
        table.add_row(
            f"{r['orders']:,} x {r['providers']:,} {r['kind']}",
            r["method"],
            f"{r['wall_s']:.3f}",
            f"{r['cpu_s']:.3f}",
            f"{r['assigned']:,} ({r['assigned_vs_baseline']:+d})",
            f"{r['cost']:,.1f}",
            f"{r['cost_vs_baseline']:.5f}",
            f"{r['time_vs_baseline']:.3f}",
        )
    console.print(table)
    for n, m, kind in cases:
        rows = {r["method"]: r for r in records if (r["orders"], r["providers"], r["kind"]) == (n, m, kind)}
        engine, greedy = rows["engine"], rows["greedy"]
        gain = engine["greedy_extra_cost_per_order"]
        console.print(
            f"{n:,} x {m:,} {kind}: engine cost {engine['cost_vs_baseline']:.5f} x {engine['baseline']}"
            f" in {engine['time_vs_baseline']:.3f} x its time; assigned {engine['assigned']:,} vs "
            f"{rows[engine['baseline']]['assigned']:,}; greedy costs {gain:+.1%} per order "
            f"and assigns {greedy['assigned']:,}"
        )
    console.print(f"written {args.out / 'matching.json'} and {args.out / 'matching.png'}")
    for line in missed:
        console.print(f"[red]target missed: {line}[/red]")
    return 1 if missed and not args.quick else 0


if __name__ == "__main__":
    raise SystemExit(main())
