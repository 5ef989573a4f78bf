"""`dispatch`: the single command line of the platform."""

from __future__ import annotations

import asyncio
import os
from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from services.platform import COMPONENTS, build_components, create_platform_app
from services.simulator.command import simulate
from shared.auth import Role, TokenSettings, issue_token
from shared.config import PlatformSettings
from shared.migrations import make_revision, upgrade

app = typer.Typer(help="Coup de main: operator-model dispatch platform.", no_args_is_help=True)
console = Console(stderr=True)


@app.command()
def serve(
    service: Annotated[
        str | None, typer.Argument(help=f"one of {', '.join(COMPONENTS)}; all four when omitted")
    ] = None,
    host: str = "127.0.0.1",
    port: int = 8000,
    demo_providers: Annotated[
        int, typer.Option(help="providers to seed on first start of the whole platform (0: no demo)")
    ] = 300,
) -> None:
    """Serve all services in one process, or one named service."""
    # Unless told otherwise, the public API (which orders calls for quotes) is this server.
    public = {} if "COUPDEMAIN_PUBLIC_URL" in os.environ else {"public_url": f"http://{host}:{port}"}
    settings = PlatformSettings(**public)
    names = [service] if service else None
    build_components(settings, names)  # fail early on an unknown name
    console.print(f"[bold]Coup de main[/] {service or 'all services'} ({settings.mode.value}) "
                  f"on http://{host}:{port}  — API docs at http://{host}:{port}/docs")
    app_ = create_platform_app(settings, names, demo_providers=0 if service else demo_providers,
                               server_process=True)
    uvicorn.run(app_, host=host, port=port, log_level="warning")


@app.command()
def migrate(
    service: Annotated[str | None, typer.Argument(help="one service; all when omitted")] = None,
) -> None:
    """Bring every service's database schema up to date (Alembic)."""
    settings = PlatformSettings()

    async def run() -> None:
        for component in build_components(settings, [service] if service else None):
            assert component.migrations_dir is not None
            await upgrade(component.database, component.migrations_dir)
            await component.database.dispose()
            console.print(f"migrated {component.name}")

    asyncio.run(run())


@app.command()
def makemigration(service: str, message: Annotated[str, typer.Option("-m", "--message")]) -> None:
    """Autogenerate a migration for one service from its models (development)."""
    settings = PlatformSettings()

    async def run() -> None:
        (component,) = build_components(settings, [service])
        assert component.migrations_dir is not None
        await make_revision(component.database, component.migrations_dir, message)
        await component.database.dispose()

    asyncio.run(run())


@app.command()
def token(
    role: Annotated[Role, typer.Option(help="client, provider or ops")],
    subject: Annotated[str, typer.Option(help="the user id the token speaks for")],
    ttl: Annotated[int, typer.Option(help="lifetime in seconds")] = 12 * 3600,
) -> None:
    """Mint a development bearer token."""
    settings = PlatformSettings()
    token_settings = TokenSettings(secret=settings.jwt_secret, algorithm=settings.jwt_algorithm)
    typer.echo(issue_token(token_settings, subject, role, ttl_s=ttl))


# `dispatch simulate`: the simulator's own command, registered here so there is one entry point.
app.command(name="simulate")(simulate)


if __name__ == "__main__":
    app()
