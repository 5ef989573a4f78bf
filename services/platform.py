"""The composition root: which components a process runs, in which mode."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from fastapi import FastAPI
from rich.console import Console

from services.matching.app import MatchingComponent
from services.orders.app import OrdersComponent
from services.pricing.app import PricingComponent
from services.providers.app import ProvidersComponent
from shared.app import create_app
from shared.auth import Role, TokenSettings, issue_token
from shared.component import Component
from shared.config import PlatformSettings

COMPONENTS: dict[str, type[Component]] = {
    "providers": ProvidersComponent,
    "pricing": PricingComponent,
    "orders": OrdersComponent,
    "matching": MatchingComponent,
}


def build_components(settings: PlatformSettings, names: Sequence[str] | None = None) -> list[Component]:
    """Instantiate the named components (all four when `names` is empty)."""
    chosen = list(names) if names else list(COMPONENTS)
    unknown = [n for n in chosen if n not in COMPONENTS]
    if unknown:
        raise ValueError(f"unknown service(s): {', '.join(unknown)}; known: {', '.join(COMPONENTS)}")
    return [COMPONENTS[n](settings) for n in chosen]


def demo_seeder(providers: int, console: Console | None = None) -> Callable[[FastAPI], Awaitable[None]]:
    """Return a start-up hook that seeds the demo city once and prints development tokens."""

    async def seed(app: FastAPI) -> None:
        from services.demo.seed import demo_provider_id, seed_demo

        out = console or Console(stderr=True)
        with out.status(f"seeding the demo city ({providers} providers)…"):
            summary = await seed_demo(app.state.components, providers=providers)
        if summary.seeded:
            out.print(
                f"demo city seeded: {summary.zones} zones, a published grid, {summary.providers} providers"
            )
        token_settings: TokenSettings = app.state.token_settings
        out.print("[bold]development tokens[/] (Authorization: Bearer …):")
        for role, subject in ((Role.ops, "ops-demo"), (Role.client, "client-demo"),
                              (Role.provider, demo_provider_id(1))):
            token = issue_token(token_settings, subject, role)
            out.print(f"  {role.value:<8} {subject:<14} {token}", soft_wrap=True)

    return seed


def create_platform_app(
    settings: PlatformSettings | None = None,
    names: Sequence[str] | None = None,
    *,
    demo_providers: int = 0,
    server_process: bool = False,
) -> FastAPI:
    """Build one app serving the named services (all four: the embedded mode), optionally seeded.

    `server_process`: the app is this process's whole life (`dispatch serve`), see `create_app`.
    """
    settings = settings or PlatformSettings()
    components = build_components(settings, names)
    is_whole_platform = len(components) == len(COMPONENTS)
    hooks = [demo_seeder(demo_providers)] if is_whole_platform and demo_providers > 0 else []
    app = create_app(
        components,
        settings,
        title="Coup de main" if is_whole_platform else None,
        on_started=hooks,
        freeze_heap=server_process,
    )
    if is_whole_platform:  # the distributed mode's reverse proxy serves these files itself
        from fastapi.staticfiles import StaticFiles

        from services.console import CONSOLE_DIR

        app.mount("/console", StaticFiles(directory=CONSOLE_DIR, html=True), name="console")
    return app
