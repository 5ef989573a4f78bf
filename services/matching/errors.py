"""Refusals of the matching service, each with its HTTP status."""

from __future__ import annotations

from shared.errors import Conflict, Invalid, NotFound


class OfferNotFound(NotFound):
    def __init__(self, offer_id: str) -> None:
        super().__init__(f"offer {offer_id} not found")


class MissionNotFound(NotFound):
    def __init__(self, mission_id: str) -> None:
        super().__init__(f"mission {mission_id} not found")


class DecisionNotFound(NotFound):
    def __init__(self, order_id: str) -> None:
        super().__init__(f"no dispatch decision for order {order_id}")


class ProviderNotFound(NotFound):
    def __init__(self, provider_id: str) -> None:
        super().__init__(f"provider {provider_id} not found")


class WrongStartCode(Invalid):
    def __init__(self) -> None:
        super().__init__("wrong start code", field="code")


class ProviderUnavailable(Conflict):
    code = "provider_unavailable"
