"""Wiring of the matching service: its component for the platform, and a stand-alone app."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI

from services.matching.models import Base
from shared.app import create_app
from shared.component import Component
from shared.config import PlatformSettings


class MatchingComponent(Component):
    name = "matching"
    metadata = Base.metadata
    migrations_dir = Path(__file__).parent / "migrations"

    def routers(self) -> list[APIRouter]:
        return []


def create_matching_app(settings: PlatformSettings | None = None) -> FastAPI:
    """Build the matching service alone (distributed mode)."""
    settings = settings or PlatformSettings()
    return create_app([MatchingComponent(settings)], settings)
