"""The composition root: which components a process runs, in which mode."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import FastAPI

from services.matching.app import MatchingComponent
from services.orders.app import OrdersComponent
from services.pricing.app import PricingComponent
from services.providers.app import ProvidersComponent
from shared.app import create_app
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


def create_platform_app(
    settings: PlatformSettings | None = None, names: Sequence[str] | None = None
) -> FastAPI:
    """Build one app serving the named services (all four: the embedded mode)."""
    settings = settings or PlatformSettings()
    components = build_components(settings, names)
    title = "Coup de main" if len(components) == len(COMPONENTS) else None
    return create_app(components, settings, title=title)
