"""Wiring of the orders service: its component for the platform, and a stand-alone app."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI

from services.orders.models import Base
from shared.app import create_app
from shared.component import Component
from shared.config import PlatformSettings


class OrdersComponent(Component):
    name = "orders"
    metadata = Base.metadata
    migrations_dir = Path(__file__).parent / "migrations"

    def routers(self) -> list[APIRouter]:
        return []


def create_orders_app(settings: PlatformSettings | None = None) -> FastAPI:
    """Build the orders service alone (distributed mode)."""
    settings = settings or PlatformSettings()
    return create_app([OrdersComponent(settings)], settings)
