"""The `simulate` command (typer): `dispatch simulate` and `python -m services.simulator`.

Heavy imports (matplotlib, the runner) wait until the command runs, so that registering it
costs the `dispatch` CLI nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console


def simulate(
    base_url: Annotated[
        str, typer.Option(help="the public API (embedded :8000, distributed proxy :8080); loopback only")
    ] = "http://127.0.0.1:8000",
    orders: Annotated[int, typer.Option(help="orders in the simulated day")] = 200,
    providers: Annotated[
        int, typer.Option(help="providers driven (created through the API if missing)")
    ] = 40,
    duration: Annotated[float, typer.Option(help="real seconds the simulated day lasts")] = 180.0,
    seed: Annotated[int, typer.Option(help="random seed (same seed: same day, same providers)")] = 1,
    out: Annotated[Path, typer.Option(help="where report.json and the charts go")] = Path("var/sim"),
    secret_file: Annotated[
        Path | None, typer.Option(help="JWT secret file (distributed mode: var/distributed/jwt_secret)")
    ] = None,
    decline_share: Annotated[float, typer.Option(help="share of offers providers decline")] = 0.15,
    cancel_share: Annotated[float, typer.Option(help="share of orders clients cancel")] = 0.03,
    concurrency: Annotated[int, typer.Option(help="requests in flight at most")] = 16,
    lead: Annotated[
        float, typer.Option(help="real seconds between a client's quote and the start it asks for")
    ] = 45.0,
    patience: Annotated[
        float, typer.Option(help="real seconds from the window's start to the dispatch deadline")
    ] = 60.0,
    grace: Annotated[
        float, typer.Option(help="real seconds a client still waits for an answer past its deadline")
    ] = 45.0,
) -> None:
    """Play a compressed city day through the public API; report as text, JSON and PNG charts."""
    from services.simulator.api import SimulationError
    from services.simulator.runner import SimConfig, run_simulation

    console = Console()
    config = SimConfig(
        base_url=base_url,
        orders=orders,
        providers=providers,
        duration_s=duration,
        seed=seed,
        out=out,
        secret_file=secret_file,
        decline_share=decline_share,
        cancel_share=cancel_share,
        concurrency=concurrency,
        lead_s=lead,
        patience_s=patience,
        grace_s=grace,
    )
    try:
        run_simulation(config, console)
    except (SimulationError, ValueError, OSError) as exc:
        console.print(f"[bold red]simulation failed:[/] {exc}")
        raise typer.Exit(1) from exc
