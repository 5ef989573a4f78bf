"""Plain builders of pricing test data."""

from __future__ import annotations

from typing import Any

from services.pricing.domain.grid import Cell, cell_from_dict


def cell_data(**overrides: Any) -> dict[str, Any]:
    """Return a publishable cell as plain data (cleaning in paris-centre by default)."""
    data: dict[str, Any] = {
        "category": "cleaning",
        "zone": "paris-centre",
        "hourly_rate_cents": 3000,
        "min_billable_min": 60,
        "travel_fee_cents": 300,
        "commission_rate": "0.20",
        "avg_travel_min": 20,
        "surcharges": {
            "evening": "0.10",
            "night": "0.25",
            "sunday": "0.20",
            "holiday": "0.50",
            "urgent": "0.15",
        },
    }
    data.update(overrides)
    return data


def make_cell(**overrides: Any) -> Cell:
    return cell_from_dict(cell_data(**overrides))


def zone_data(code: str = "paris-centre", postcodes: list[str] | None = None) -> dict[str, Any]:
    return {
        "code": code,
        "name": code.replace("-", " ").title(),
        "postcodes": postcodes or ["75001", "75002"],
    }


def grid_data(cells: list[dict[str, Any]] | None = None, name: str = "Autumn 2026") -> dict[str, Any]:
    return {"name": name, "cells": cells if cells is not None else [cell_data()]}
