"""Errors of the providers service, each with its HTTP status (rendered by shared.errors)."""

from __future__ import annotations

from shared.errors import Conflict, NotFound


class ProviderNotFound(NotFound):
    def __init__(self, provider_id: str = "") -> None:
        super().__init__("provider not found")


class AlreadyApplied(Conflict):
    code = "already_applied"


class RequirementsNotMet(Conflict):
    """A step refused because checks or trainings are missing; lists them."""

    code = "requirements_not_met"
