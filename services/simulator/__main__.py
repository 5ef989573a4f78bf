"""`python -m services.simulator`: the same command as `dispatch simulate`."""

from __future__ import annotations

import typer

from services.simulator.command import simulate

app = typer.Typer(add_completion=False)
app.command()(simulate)

if __name__ == "__main__":
    app()
